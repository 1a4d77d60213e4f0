-- Nodes: registering a city's store node (its dblink server, user mapping and initial load), enabling
-- and disabling it, reloading its fragment (resync), and central's rows re-asserted after a restore.
-- Called by: POST /nodes, PATCH /nodes/{city_id}, POST /nodes/{city_id}/resync (central/src/routes/nodes.rs),
-- posctl, or an operator from psql.
-- Replaceable (CREATE OR REPLACE only): re-applied at start-up under an advisory lock when its text changes.

-- Node registration: the dblink foreign server and the user mapping holding the node's replication
-- credentials (quoted by format(), never concatenated), then an initial load of the node's fragment.
CREATE OR REPLACE FUNCTION register_node(p_city_id integer, p_host text, p_port integer, p_dbname text,
                                         p_user text, p_password text, p_central_login text) RETURNS text
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
    LOCK TABLE categories, products, promotions, stores, customers, transfers IN SHARE MODE;
    INSERT INTO nodes (city_id, server_name, central_login)
    VALUES (p_city_id, v_server, coalesce(p_central_login, 'pos_node_' || p_city_id));
    PERFORM queue_fragment_load(p_city_id);
    RETURN v_server;
END;
$$;

-- Queues LOAD entries for every row of the node's fragment (its city's customers and stores, every
-- city, category, product, promotion and cashier credential, its stores' transfers still open or ended in
-- the last 30 days: a node restored from a backup learns how those it lost ended) and for each (table, id) of p_also; returns how many. Delivery ships each row
-- as it is now, in batches, while central's writes and the node's sales go on; a LOAD entry overwrites
-- the node's row even at an equal version (a row damaged by hand), never with an older one. A row of
-- p_also that central no longer has, or has in another city, is shipped as it is now too: deleted, or
-- under its new city, so the node stops listing it.
CREATE OR REPLACE FUNCTION queue_fragment_load(p_city_id integer, p_also_tables text[] DEFAULT NULL,
                                               p_also_ids integer[] DEFAULT NULL) RETURNS bigint
LANGUAGE plpgsql AS $$
DECLARE
    v_count bigint;
BEGIN
    -- Rows go in entries of up to 1,000 ids of one table, as a statement's rows do (migration V24).
    WITH queued AS (
        INSERT INTO replication_log (table_name, record_id, record_ids, target_city_id, operation)
        SELECT f.table_name, min(f.record_id),
               CASE WHEN count(*) > 1 THEN array_agg(f.record_id ORDER BY f.record_id) END, p_city_id, 'LOAD'
        FROM (SELECT 'cities'::replicated_table AS table_name, id AS record_id FROM cities
              UNION SELECT 'cashier_tokens', id FROM cashier_tokens
              UNION SELECT 'categories', id FROM categories
              UNION SELECT 'products', id FROM products
              UNION SELECT 'promotions', id FROM promotions
              UNION SELECT 'stores', id FROM stores WHERE city_id = p_city_id
              UNION SELECT 'customers', id FROM customers WHERE city_id = p_city_id
              UNION SELECT 'transfers', id FROM transfers
                    WHERE p_city_id IN (from_city_id, to_city_id)
                      AND (status IN ('in_transit', 'cancel_requested') OR updated_at > now() - interval '30 days')
              UNION SELECT a.table_name::replicated_table, a.id
                    FROM unnest(p_also_tables, p_also_ids) AS a (table_name, id)) f
        GROUP BY f.table_name, f.record_id / 1000
        -- Transfers last, in batches after their stores': a node learns which of its stores a transfer's are.
        ORDER BY f.table_name = 'transfers', f.table_name, min(f.record_id)
        RETURNING log_entry_rows(record_ids) AS row_count)
    SELECT coalesce(sum(row_count), 0) INTO v_count FROM queued;
    PERFORM pg_notify('pos_replication', p_city_id::text);
    RETURN v_count;
END;
$$;

-- Reloads a node's fragment online: afterwards the node's replicas equal central's fragment row for
-- row, and rows it lists that central does not have for its city (deleted, moved away, or written by
-- hand) are retired there (rows its sales refer to stay, no longer listed or sold). Also raises the
-- node's per-store order counters to what central has already received, so that a node restored from
-- an old backup does not number new sales as ones central holds. With p_enable, enables the node first
-- (as registration does: no row written meanwhile can miss it).
-- node_checked is false when the node could not be asked what it holds: then only central's fragment
-- was queued (the node's extra rows and counters wait for the next resync).
CREATE OR REPLACE FUNCTION resync_node(p_city_id integer, p_enable boolean DEFAULT false,
                                       OUT queued bigint, OUT node_checked boolean)
LANGUAGE plpgsql AS $$
DECLARE
    v_enabled boolean;
    v_conn text;
    v_held_tables text[];
    v_held_ids integer[];
    v_floors jsonb;
BEGIN
    SELECT enabled INTO v_enabled FROM nodes WHERE city_id = p_city_id;
    IF NOT FOUND THEN
        RAISE EXCEPTION USING ERRCODE = 'PS404', MESSAGE = format('no node is registered for city %s', p_city_id);
    END IF;
    IF NOT v_enabled AND NOT p_enable THEN
        RAISE EXCEPTION USING ERRCODE = 'PS409', MESSAGE = format('the node of city %s is disabled: enable it', p_city_id);
    END IF;
    node_checked := true;
    BEGIN
        v_conn := ensure_node_connection(p_city_id, 'resync');
        SELECT array_agg(h.row ->> 'table_name'), array_agg((h.row ->> 'id')::integer) INTO v_held_tables, v_held_ids
        FROM remote_rows(v_conn, format('SELECT table_name, id FROM listed_replicas(%s)', p_city_id),
                         node_deadline_ms()) AS h (row);
        SELECT coalesce(jsonb_agg(jsonb_build_object('store_id', s.id, 'last_order_id', m.last)), '[]')
        INTO v_floors
        FROM stores s
        CROSS JOIN LATERAL (SELECT max(o.store_order_id) AS last FROM order_mapping o WHERE o.store_id = s.id) m
        WHERE m.last IS NOT NULL;
        PERFORM remote_rows(v_conn, format('SELECT raise_order_counters(%L::jsonb)', v_floors), node_deadline_ms());
        PERFORM drop_node_connection(p_city_id, 'resync');
    EXCEPTION WHEN OTHERS THEN
        PERFORM drop_node_connection(p_city_id, 'resync');
        v_held_tables := NULL;
        v_held_ids := NULL;
        node_checked := false;
    END;
    IF p_enable AND NOT v_enabled THEN
        LOCK TABLE categories, products, promotions, stores, customers, transfers IN SHARE MODE;
        UPDATE nodes SET enabled = true, updated_at = now() WHERE city_id = p_city_id;
    END IF;
    queued := queue_fragment_load(p_city_id, v_held_tables, v_held_ids);
END;
$$;

-- A disabled node gets no new entries (the capture triggers skip it) and nothing is shipped to it; its
-- open entries wait. Enabling it resyncs it (see resync_node()); returns the resync's figures, or NULL
-- figures when disabling.
CREATE OR REPLACE FUNCTION set_node_enabled(p_city_id integer, p_enabled boolean,
                                            OUT queued bigint, OUT node_checked boolean)
LANGUAGE plpgsql AS $$
BEGIN
    IF p_enabled THEN
        SELECT r.queued, r.node_checked INTO queued, node_checked FROM resync_node(p_city_id, true) r;
        RETURN;
    END IF;
    UPDATE nodes SET enabled = false, updated_at = now() WHERE city_id = p_city_id;
    IF NOT FOUND THEN
        RAISE EXCEPTION USING ERRCODE = 'PS404', MESSAGE = format('no node is registered for city %s', p_city_id);
    END IF;
END;
$$;

-- After central is restored from a backup (posctl restore): the nodes may hold rows in versions newer
-- than the backup's, which central wrote before it was lost, and a node applies only newer versions, so
-- central's own rows would no longer reach them. Every replicated row's version moves on by p_jump (far
-- more updates than any row gets between a backup and a loss), which also queues every row for every
-- enabled node: the nodes end up with central's restored master data. Run once per restore, before the
-- service starts; resync each node afterwards for the rows central no longer has. Returns the rows moved.
CREATE OR REPLACE FUNCTION reassert_after_restore(p_jump bigint DEFAULT 1000000000) RETURNS bigint
LANGUAGE plpgsql AS $$
DECLARE
    v_table text;
    v_rows bigint;
    v_total bigint := 0;
BEGIN
    FOREACH v_table IN ARRAY ARRAY['cities', 'categories', 'products', 'promotions', 'stores', 'customers',
                                   'cashier_tokens', 'transfers'] LOOP
        EXECUTE format('UPDATE %I SET version = version + $1', v_table) USING p_jump;
        GET DIAGNOSTICS v_rows = ROW_COUNT;
        v_total := v_total + v_rows;
    END LOOP;
    RETURN v_total;
END;
$$;
