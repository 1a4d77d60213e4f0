-- Nodes: registering a city's store node (its dblink server, user mapping and initial load).
-- Called by: POST /nodes (central/src/routes/replication.rs) and posctl, or an operator from psql.
-- Replaceable (CREATE OR REPLACE only): re-applied at start-up under an advisory lock when its text changes.

-- Node registration: the dblink foreign server and the user mapping holding the node's replication
-- credentials (quoted by format(), never concatenated), then an initial load of the node's fragment.
CREATE OR REPLACE FUNCTION register_node(p_city_id integer, p_host text, p_port integer, p_dbname text,
                                         p_user text, p_password text) RETURNS text
LANGUAGE plpgsql AS $$
DECLARE
    v_server text;
    v_slug text;
BEGIN
    SELECT 'node_' || trim(both '_' from regexp_replace(lower(name), '[^a-z0-9]+', '_', 'g')) INTO STRICT v_slug
    FROM cities WHERE id = p_city_id;
    v_server := CASE
        WHEN v_slug ~ '^node_[a-z0-9_]+$' AND length(v_slug) <= 60
             AND NOT EXISTS (SELECT 1 FROM pg_foreign_server WHERE srvname = v_slug) THEN v_slug
        ELSE 'node_' || p_city_id
    END;
    PERFORM define_dblink_server(v_server, p_host, p_port, p_dbname, p_user, p_password);
    -- No row may miss the node: a writer that commits after the initial load below has read the nodes
    -- table (in its capture trigger) before this node was visible, and its row would reach neither the
    -- load nor the log. SHARE mode waits for the writers in flight and holds new ones until this commits
    -- (registration is rare, and a write waits milliseconds); then the load sees every committed row,
    -- and every later write sees the node.
    LOCK TABLE categories, products, stores, customers IN SHARE MODE;
    INSERT INTO nodes (city_id, server_name) VALUES (p_city_id, v_server);
    INSERT INTO replication_log (table_name, record_id, target_city_id, operation)
    SELECT 'categories'::replicated_table, id, p_city_id, 'LOAD'::replication_operation FROM categories
    UNION ALL SELECT 'products', id, p_city_id, 'LOAD' FROM products
    UNION ALL SELECT 'stores', id, p_city_id, 'LOAD' FROM stores WHERE city_id = p_city_id
    UNION ALL SELECT 'customers', id, p_city_id, 'LOAD' FROM customers WHERE city_id = p_city_id;
    PERFORM pg_notify('pos_replication', p_city_id::text);
    RETURN v_server;
END;
$$;
