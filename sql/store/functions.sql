-- The store node's replaceable functions. Re-applied at start-up whenever this text changes (under an
-- advisory lock), so everything here must be re-runnable: CREATE OR REPLACE only.

-- Placeholder kept re-runnable: real functions (process_order, apply_replication) follow.
CREATE OR REPLACE FUNCTION node_schema_version() RETURNS integer LANGUAGE sql IMMUTABLE AS $$ SELECT 1 $$;
