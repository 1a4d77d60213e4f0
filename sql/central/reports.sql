-- Reports asked of one node over dblink, for operators in psql. The service asks the nodes' databases
-- directly instead (central/src/fanout.rs).
-- Replaceable (CREATE OR REPLACE only): re-applied at start-up under an advisory lock when its text changes.

-- Reports. The service asks each node's database directly (see central/src/fanout.rs); this is the same
-- question asked from psql, as an operator would, over a dblink connection kept by this session:
--   SELECT * FROM node_sales_summary(2, current_date - 7, current_date, 'store');
-- A kept connection may have gone stale (the node restarted): one fresh attempt before giving up.
CREATE OR REPLACE FUNCTION node_rows(p_city_id integer, p_query text) RETURNS SETOF jsonb
LANGUAGE plpgsql AS $$
BEGIN
    FOR attempt IN 1..2 LOOP
        BEGIN
            RETURN QUERY
            SELECT remote_rows(ensure_node_connection(p_city_id, 'report'), p_query, node_deadline_ms());
            RETURN;
        EXCEPTION WHEN OTHERS THEN
            PERFORM drop_node_connection(p_city_id, 'report');
            IF attempt = 2 THEN
                RAISE;
            END IF;
        END;
    END LOOP;
END;
$$;

CREATE OR REPLACE FUNCTION node_sales_summary(p_city_id integer, p_from date, p_to date, p_group text)
RETURNS TABLE (key text, name text, orders bigint, units bigint, revenue numeric, tax numeric, discounts numeric)
LANGUAGE sql AS $$
    SELECT r.* FROM node_rows(p_city_id, format('SELECT * FROM sales_summary(%L, %L, %L)', p_from, p_to, p_group)) j,
           jsonb_to_record(j) AS r(key text, name text, orders bigint, units bigint, revenue numeric, tax numeric,
                                   discounts numeric)
$$;

-- The service asks the nodes for their stock and outbox backlog directly; these wrappers are gone.
