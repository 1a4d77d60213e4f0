-- Functions both central and the store nodes have. Replaceable like the others: CREATE OR REPLACE only.

-- Error text safe to store and show: no connection options, no password.
CREATE OR REPLACE FUNCTION redact_secrets(p_text text) RETURNS text
LANGUAGE sql IMMUTABLE AS $$
    SELECT left(regexp_replace(coalesce(p_text, ''), '(password|passwd|pwd)\s*[=:]\s*\S+', '\1=***', 'gi'), 500)
$$;

-- Creates or updates the dblink foreign server `p_server` and the current role's user mapping for it
-- (values quoted by format(), never concatenated).
CREATE OR REPLACE FUNCTION define_dblink_server(p_server text, p_host text, p_port integer, p_dbname text,
                                                p_user text, p_password text) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_foreign_server WHERE srvname = p_server) THEN
        EXECUTE format('ALTER SERVER %I OPTIONS (SET host %L, SET port %L, SET dbname %L)',
                       p_server, p_host, p_port::text, p_dbname);
        EXECUTE format('ALTER USER MAPPING FOR CURRENT_USER SERVER %I OPTIONS (SET user %L, SET password %L)',
                       p_server, p_user, p_password);
        RETURN;
    END IF;
    EXECUTE format('CREATE SERVER %I FOREIGN DATA WRAPPER dblink_fdw OPTIONS (host %L, port %L, dbname %L, '
                   'connect_timeout %L, keepalives_idle %L, application_name %L)',
                   p_server, p_host, p_port::text, p_dbname, '2', '30', 'pos-replication');
    EXECUTE format('CREATE USER MAPPING FOR CURRENT_USER SERVER %I OPTIONS (user %L, password %L)',
                   p_server, p_user, p_password);
END;
$$;

-- Makes a function callable by the peer's replication role only (PUBLIC may execute any function by
-- default). Local clusters create the role before the schema; where it does not exist yet, nothing is
-- granted.
CREATE OR REPLACE FUNCTION grant_to_replicator(p_function regprocedure) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    EXECUTE format('REVOKE ALL ON FUNCTION %s FROM PUBLIC', p_function);
    IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'pos_replicator') THEN
        EXECUTE format('GRANT EXECUTE ON FUNCTION %s TO pos_replicator', p_function);
    END IF;
END;
$$;
