-- Central's replaceable functions and triggers. Re-applied at start-up whenever this text changes
-- (under an advisory lock), so everything here must be re-runnable: CREATE OR REPLACE only.

-- Every replicated row carries a version bumped on each update: a node applies a row only when its
-- version is newer than the one it has.
CREATE OR REPLACE FUNCTION touch_row() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    NEW.version := OLD.version + 1;
    NEW.updated_at := now();
    RETURN NEW;
END;
$$;

CREATE OR REPLACE TRIGGER trg_categories_touch BEFORE UPDATE ON categories
    FOR EACH ROW EXECUTE FUNCTION touch_row();
CREATE OR REPLACE TRIGGER trg_products_touch BEFORE UPDATE ON products
    FOR EACH ROW EXECUTE FUNCTION touch_row();
CREATE OR REPLACE TRIGGER trg_stores_touch BEFORE UPDATE ON stores
    FOR EACH ROW EXECUTE FUNCTION touch_row();
CREATE OR REPLACE TRIGGER trg_customers_touch BEFORE UPDATE ON customers
    FOR EACH ROW EXECUTE FUNCTION touch_row();

-- ---------------------------------------------------------------------------------------------------
-- Capture. Row triggers write one replication_log entry per target node in the writer's transaction
-- (a rollback leaves nothing) and wake the replicator. No remote call ever happens here: a slow or down
-- node must not slow central's writes.

-- Every captured write pays for this code, so it is one flat function per kind of table, with one
-- INSERT … SELECT and no nested calls. No pg_notify here: PostgreSQL serialises the commits of notifying
-- transactions on one database-wide lock held through the WAL flush, which measured central's durable
-- write rate at half. Each node's worker polls its queue instead (an index probe every few ms).

-- Fragmented tables (customers, stores): the row goes to its city's node; when city_id changes, the old
-- city's node is told too, so it stops listing the row as its own. The two contract names
-- replicate_customers() and replicate_stores() share one body, generated here.
DO $generate$
DECLARE
    v_table text;
BEGIN
    FOREACH v_table IN ARRAY ARRAY['customers', 'stores'] LOOP
        EXECUTE format($body$
            CREATE OR REPLACE FUNCTION %I() RETURNS trigger
            LANGUAGE plpgsql AS $fn$
            DECLARE
                v_id integer;
                v_new_city integer;
                v_old_city integer;
            BEGIN
                IF TG_OP = 'DELETE' THEN
                    v_id := OLD.id;
                    v_old_city := OLD.city_id;
                ELSE
                    v_id := NEW.id;
                    v_new_city := NEW.city_id;
                    IF TG_OP = 'UPDATE' THEN
                        v_old_city := OLD.city_id;
                    END IF;
                END IF;
                INSERT INTO replication_log (table_name, record_id, target_city_id, operation)
                SELECT TG_TABLE_NAME::replicated_table, v_id, n.city_id, TG_OP::replication_operation
                FROM nodes n
                WHERE n.enabled AND n.city_id IN (v_new_city, v_old_city);
                RETURN NULL;
            END;
            $fn$
        $body$, 'replicate_' || v_table);
    END LOOP;
END;
$generate$;

-- Catalogue tables (products, categories) go to every enabled node.
DO $generate$
DECLARE
    v_table text;
BEGIN
    FOREACH v_table IN ARRAY ARRAY['products', 'categories'] LOOP
        EXECUTE format($body$
            CREATE OR REPLACE FUNCTION %I() RETURNS trigger
            LANGUAGE plpgsql AS $fn$
            BEGIN
                INSERT INTO replication_log (table_name, record_id, target_city_id, operation)
                SELECT TG_TABLE_NAME::replicated_table, CASE WHEN TG_OP = 'DELETE' THEN OLD.id ELSE NEW.id END,
                       n.city_id, TG_OP::replication_operation
                FROM nodes n
                WHERE n.enabled;
                RETURN NULL;
            END;
            $fn$
        $body$, 'replicate_' || v_table);
    END LOOP;
END;
$generate$;

CREATE OR REPLACE TRIGGER trg_customers AFTER INSERT OR UPDATE OR DELETE ON customers
    FOR EACH ROW EXECUTE FUNCTION replicate_customers();
CREATE OR REPLACE TRIGGER trg_stores AFTER INSERT OR UPDATE OR DELETE ON stores
    FOR EACH ROW EXECUTE FUNCTION replicate_stores();
CREATE OR REPLACE TRIGGER trg_products AFTER INSERT OR UPDATE OR DELETE ON products
    FOR EACH ROW EXECUTE FUNCTION replicate_products();
CREATE OR REPLACE TRIGGER trg_categories AFTER INSERT OR UPDATE OR DELETE ON categories
    FOR EACH ROW EXECUTE FUNCTION replicate_categories();

-- ---------------------------------------------------------------------------------------------------
-- Delivery. One call ships one batch to one node over a named dblink connection kept open in the
-- calling session (the replicator holds one session per node). The batch carries each row as it is now
-- on central, so a retry never sends a stale snapshot, and every open entry for a shipped row is settled
-- with it. The node applies version-guarded upserts: an older version never overwrites a newer one.

-- Named dblink connections a session keeps open to a node, one per purpose ('replication', 'report'):
-- opening one costs a backend and a password exchange on the node.
CREATE OR REPLACE FUNCTION node_connection_name(p_city_id integer, p_purpose text) RETURNS text
LANGUAGE sql IMMUTABLE AS $$ SELECT 'pos_' || p_purpose || '_' || p_city_id $$;

-- Opens the node's named connection unless this session has it already.
CREATE OR REPLACE FUNCTION ensure_node_connection(p_city_id integer, p_purpose text) RETURNS text
LANGUAGE plpgsql AS $$
DECLARE
    v_conn text := node_connection_name(p_city_id, p_purpose);
    v_server text;
    v_timeout integer;
BEGIN
    IF v_conn = ANY (coalesce(dblink_get_connections(), '{}')) THEN
        RETURN v_conn;
    END IF;
    SELECT server_name INTO STRICT v_server FROM nodes WHERE city_id = p_city_id;
    SELECT statement_timeout_ms INTO v_timeout FROM replication_settings;
    PERFORM dblink_connect(v_conn, v_server);
    PERFORM dblink_exec(v_conn, format('SET statement_timeout = %s', v_timeout));
    RETURN v_conn;
END;
$$;

CREATE OR REPLACE FUNCTION drop_node_connection(p_city_id integer, p_purpose text) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    v_conn text := node_connection_name(p_city_id, p_purpose);
BEGIN
    IF v_conn = ANY (coalesce(dblink_get_connections(), '{}')) THEN
        PERFORM dblink_disconnect(v_conn);
    END IF;
END;
$$;

-- Bitmap scans are off in here: reading the queue must be a plain index scan in index order (see below).
-- Every statement is planned for its call (plan_cache_mode): the log and the batches change size by
-- orders of magnitude over a session's life. A generic plan, made once while the log was short and kept
-- for the session's life, settled every batch by reading the whole log instead of going to its entries'
-- row addresses (38,000 entries: 110 ms a batch, a third of a core at the benchmark's write rate).
-- (Turning sequential scans off instead priced the one-row settings table past jit_above_cost: 60 ms
-- of JIT compilation in a batch.)
CREATE OR REPLACE FUNCTION deliver_replication(p_city_id integer, p_include_due_failed boolean DEFAULT true,
                                               OUT delivered integer, OUT failed integer)
LANGUAGE plpgsql SET enable_bitmapscan = off SET plan_cache_mode = force_custom_plan AS $$
DECLARE
    s replication_settings;
    v_rows tid[];
    v_tables replicated_table[];
    v_records integer[];
    -- json, not jsonb: it is only sent as text, and building it costs a third of jsonb.
    v_payload json;
    v_conn text;
    v_message text;
    v_detail text;
BEGIN
    delivered := 0;
    failed := 0;
    -- The replicator polls: an empty queue must cost one index probe and nothing more. The queue is
    -- read as a plain index scan of replication_log_open_idx in its own order, (target_city_id, id):
    -- - a plain scan marks the delivered entries it passes as dead in the index, so the next poll skips
    --   them without visiting the table; a bitmap scan (what the planner picks for a queue it believes
    --   nearly empty) revisits every one of them until VACUUM, milliseconds per poll after a busy minute;
    -- - the node is a range rather than `target_city_id = p_city_id`, so that no other index can serve
    --   that order: with statistics taken during a backlog, the equality let the planner walk the
    --   primary key through the whole log on every poll.
    PERFORM 1 FROM replication_log l
    WHERE l.target_city_id BETWEEN p_city_id AND p_city_id AND l.status IN ('Pending', 'Failed')
      AND (l.status = 'Pending'
           OR (p_include_due_failed AND l.status = 'Failed' AND l.next_attempt_at <= clock_timestamp()))
    ORDER BY l.target_city_id, l.id
    LIMIT 1;
    IF NOT FOUND THEN
        RETURN;
    END IF;
    -- One delivery per node at a time: the node's worker, or an operator's retry from psql (the other
    -- finds nothing to do now).
    IF NOT pg_try_advisory_xact_lock(hashtext('deliver_replication'), p_city_id) THEN
        RETURN;
    END IF;
    SELECT * INTO s FROM replication_settings;
    PERFORM 1 FROM nodes WHERE city_id = p_city_id AND enabled;
    IF NOT FOUND THEN
        RETURN;
    END IF;

    -- The batch: the node's oldest open entries; it ships the rows they name. Kept in arrays: a
    -- temporary table would write catalog rows on every call. The entries are kept by row address, and
    -- settling them by address costs no index lookup however long the log has grown. No row locks: the
    -- lock above keeps every other delivery off this node's entries, and nothing else changes an open
    -- entry (a purge takes delivered ones, a re-queue dead ones), so they cannot move before this
    -- transaction settles them; a lock would write to every entry and its page once more.
    SELECT array_agg(c.ctid), array_agg(c.table_name), array_agg(c.record_id)
    INTO v_rows, v_tables, v_records
    FROM (SELECT l.ctid, l.table_name, l.record_id
          FROM replication_log l
          WHERE l.target_city_id BETWEEN p_city_id AND p_city_id  -- the queue's index range, as above
            AND l.status IN ('Pending', 'Failed')
            AND (l.status = 'Pending'
                 OR (p_include_due_failed AND l.status = 'Failed' AND l.next_attempt_at <= clock_timestamp()))
          ORDER BY l.target_city_id, l.id
          LIMIT s.batch_size) c;
    IF v_rows IS NULL THEN
        RETURN;
    END IF;
    -- Every open entry of those rows is settled with them. Others than the batch's own can exist only
    -- when the batch did not take the whole queue, or when failed entries wait out their back-off; then
    -- they are looked up row by row through replication_log_row_idx, so that the cost follows the batch,
    -- not the backlog.
    IF cardinality(v_rows) >= s.batch_size OR NOT p_include_due_failed
       OR EXISTS (SELECT 1 FROM replication_log l WHERE l.target_city_id = p_city_id AND l.status = 'Failed') THEN
        SELECT array_agg(o.ctid) INTO v_rows
        FROM (SELECT DISTINCT w.table_name, w.record_id FROM unnest(v_tables, v_records) AS w (table_name, record_id)) w
        CROSS JOIN LATERAL (
            SELECT l.ctid
            FROM replication_log l
            WHERE l.target_city_id = p_city_id AND l.table_name = w.table_name AND l.record_id = w.record_id
              AND l.status IN ('Pending', 'Failed')
        ) o;
    END IF;

    -- Each row as it is now, looked up once: one that is gone is sent as deleted.
    WITH wanted AS (
        SELECT DISTINCT w.table_name, w.record_id FROM unnest(v_tables, v_records) AS w (table_name, record_id)
    ), current_rows AS (
        SELECT w.table_name, w.record_id,
               CASE w.table_name
                   WHEN 'categories' THEN (SELECT to_json(c) FROM categories c WHERE c.id = w.record_id)
                   WHEN 'products' THEN (SELECT to_json(p) FROM products p WHERE p.id = w.record_id)
                   WHEN 'stores' THEN (SELECT to_json(st) FROM stores st WHERE st.id = w.record_id)
                   WHEN 'customers' THEN (SELECT to_json(cu) FROM customers cu WHERE cu.id = w.record_id)
               END AS row
        FROM wanted w
    )
    SELECT json_build_object(
        'categories', coalesce(json_agg(r.row) FILTER (WHERE r.table_name = 'categories' AND r.row IS NOT NULL), '[]'),
        'products',   coalesce(json_agg(r.row) FILTER (WHERE r.table_name = 'products' AND r.row IS NOT NULL), '[]'),
        'stores',     coalesce(json_agg(r.row) FILTER (WHERE r.table_name = 'stores' AND r.row IS NOT NULL), '[]'),
        'customers',  coalesce(json_agg(r.row) FILTER (WHERE r.table_name = 'customers' AND r.row IS NOT NULL), '[]'),
        'deleted',    coalesce(json_agg(json_build_object('table', r.table_name, 'id', r.record_id))
                                   FILTER (WHERE r.row IS NULL), '[]')
    ) INTO v_payload
    FROM current_rows r;

    BEGIN
        v_conn := ensure_node_connection(p_city_id, 'replication');
        PERFORM 1 FROM dblink(v_conn, format('SELECT apply_replication(%L::jsonb)', v_payload)) AS t(applied integer);
    EXCEPTION WHEN OTHERS THEN
        GET STACKED DIAGNOSTICS v_message = MESSAGE_TEXT, v_detail = PG_EXCEPTION_DETAIL;
        PERFORM drop_node_connection(p_city_id, 'replication');
        UPDATE replication_log
        SET attempts = attempts + 1,
            last_attempt_at = clock_timestamp(),
            message = redact_secrets(v_message || CASE WHEN coalesce(v_detail, '') <> '' THEN ': ' || v_detail ELSE '' END),
            status = CASE WHEN attempts + 1 >= s.max_attempts THEN 'Dead' ELSE 'Failed' END::replication_status,
            next_attempt_at = clock_timestamp()
                + least(s.max_backoff_ms::double precision, s.base_backoff_ms * power(2, attempts)) * interval '1 millisecond'
        WHERE ctid = ANY (v_rows);
        failed := cardinality(v_rows);
        RETURN;
    END;

    UPDATE replication_log
    SET status = 'Success',
        attempts = attempts + 1,
        last_attempt_at = clock_timestamp(),
        delivered_at = clock_timestamp(),
        message = NULL,
        next_attempt_at = NULL
    WHERE ctid = ANY (v_rows);
    UPDATE nodes SET last_success_at = clock_timestamp() WHERE city_id = p_city_id;
    -- The node answers again: what failed while it was away need not wait out its back-off.
    UPDATE replication_log SET next_attempt_at = clock_timestamp()
    WHERE target_city_id = p_city_id AND status = 'Failed' AND next_attempt_at > clock_timestamp();
    delivered := cardinality(v_rows);
END;
$$;

-- Re-attempts due Failed (and waiting Pending) entries, node by node; returns how many were delivered.
-- Callable from psql; connections it opens are closed again unless the session had them already.
CREATE OR REPLACE FUNCTION retry_failed_replications(p_city_id integer DEFAULT NULL) RETURNS integer
LANGUAGE plpgsql AS $$
DECLARE
    v_node record;
    v_result record;
    v_total integer := 0;
    v_had_connection boolean;
BEGIN
    FOR v_node IN SELECT city_id FROM nodes WHERE enabled AND (p_city_id IS NULL OR city_id = p_city_id) ORDER BY city_id LOOP
        v_had_connection := node_connection_name(v_node.city_id, 'replication') = ANY (coalesce(dblink_get_connections(), '{}'));
        LOOP
            SELECT * INTO v_result FROM deliver_replication(v_node.city_id, true);
            v_total := v_total + v_result.delivered;
            EXIT WHEN v_result.failed > 0 OR v_result.delivered = 0;
        END LOOP;
        IF NOT v_had_connection THEN
            PERFORM drop_node_connection(v_node.city_id, 'replication');
        END IF;
    END LOOP;
    RETURN v_total;
END;
$$;

-- Dead entries wait for an operator; this puts them back in the queue.
CREATE OR REPLACE FUNCTION requeue_dead_replications(p_city_id integer DEFAULT NULL) RETURNS integer
LANGUAGE plpgsql AS $$
DECLARE
    v_count integer;
BEGIN
    UPDATE replication_log
    SET status = 'Pending', attempts = 0, next_attempt_at = NULL,
        message = 'requeued by an operator after: ' || coalesce(message, '')
    WHERE status = 'Dead' AND (p_city_id IS NULL OR target_city_id = p_city_id);
    GET DIAGNOSTICS v_count = ROW_COUNT;
    IF v_count > 0 THEN
        PERFORM pg_notify('pos_replication', coalesce(p_city_id::text, '*'));
    END IF;
    RETURN v_count;
END;
$$;

-- Delivered entries are history, kept for p_older_than after delivery (GET /replication/log shows
-- them), then deleted by purge_delivered_replications(). Failed and Dead entries are never deleted:
-- they wait for delivery or an operator.

-- Where a purge stops: the first entry captured after the cut-off (no later one can have been delivered
-- before it), or past the last entry. Found by walking the entries before it, which the purge deletes.
CREATE OR REPLACE FUNCTION replication_purge_bound(p_older_than interval) RETURNS bigint
LANGUAGE sql STABLE AS $$
    SELECT coalesce((SELECT l.id FROM replication_log l WHERE l.created_at >= clock_timestamp() - p_older_than
                     ORDER BY l.id LIMIT 1),
                    (SELECT max(l.id) + 1 FROM replication_log l))
$$;

-- Deletes delivered entries older than p_older_than, oldest first, at most p_limit per call (a call is
-- one transaction; call again while a call deletes p_limit), below p_below_id (the bound; found anew
-- when not given). A series of calls should share one bound (the service's purge job does), so that
-- each call walks only what it deletes rather than every old entry still left. Returns how many
-- entries were deleted.
-- (Its first form, without the bound, would make every call with two arguments ambiguous.)
DROP FUNCTION IF EXISTS purge_delivered_replications(interval, integer);
-- Planned for each call, as deliver_replication() is and for the same reason.
CREATE OR REPLACE FUNCTION purge_delivered_replications(p_older_than interval, p_limit integer DEFAULT 10000,
                                                        p_below_id bigint DEFAULT NULL)
RETURNS integer
LANGUAGE plpgsql SET plan_cache_mode = force_custom_plan AS $$
DECLARE
    v_cutoff timestamptz := clock_timestamp() - p_older_than;
    v_bound bigint := coalesce(p_below_id, replication_purge_bound(p_older_than));
    v_count integer;
BEGIN
    DELETE FROM replication_log
    WHERE ctid = ANY (ARRAY(
        SELECT l.ctid FROM replication_log l
        WHERE l.id < v_bound AND l.status = 'Success' AND l.delivered_at < v_cutoff
        ORDER BY l.id
        LIMIT p_limit));
    GET DIAGNOSTICS v_count = ROW_COUNT;
    RETURN v_count;
END;
$$;

-- Can central reach the node right now? (A probe connection of its own, closed again.)
CREATE OR REPLACE FUNCTION probe_node(p_city_id integer) RETURNS boolean
LANGUAGE plpgsql AS $$
DECLARE
    v_server text;
BEGIN
    SELECT server_name INTO v_server FROM nodes WHERE city_id = p_city_id;
    IF NOT FOUND THEN
        RETURN false;
    END IF;
    PERFORM 1 FROM dblink(v_server, 'SELECT 1') AS t(one integer);
    RETURN true;
EXCEPTION WHEN OTHERS THEN
    RETURN false;
END;
$$;

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

-- Settings written by the service from its configuration.
CREATE OR REPLACE FUNCTION configure_replication(p_max_attempts integer, p_base_backoff_ms integer,
                                                p_max_backoff_ms integer, p_batch_size integer,
                                                p_statement_timeout_ms integer) RETURNS void
LANGUAGE sql AS $$
    UPDATE replication_settings
    SET max_attempts = p_max_attempts, base_backoff_ms = p_base_backoff_ms, max_backoff_ms = p_max_backoff_ms,
        batch_size = p_batch_size, statement_timeout_ms = p_statement_timeout_ms
$$;

-- ---------------------------------------------------------------------------------------------------
-- Sales reported by the nodes' outboxes, called over dblink as `pos_replicator` (which may do nothing
-- else). A mapping that arrives twice is kept once.
CREATE OR REPLACE FUNCTION apply_order_mappings(p_batch jsonb) RETURNS integer
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    v_count integer;
BEGIN
    INSERT INTO order_mapping (global_order_id, store_id, store_order_id, customer_id, total_amount, city_id,
                               business_date, order_time)
    SELECT (m ->> 'global_order_id')::uuid, (m ->> 'store_id')::integer, (m ->> 'store_order_id')::bigint,
           (m ->> 'customer_id')::integer, (m ->> 'total_amount')::numeric(12,2), (m ->> 'city_id')::integer,
           (m ->> 'business_date')::date, (m ->> 'order_time')::timestamptz
    FROM jsonb_array_elements(p_batch) m
    WHERE m ->> 'kind' = 'order'
    ON CONFLICT (global_order_id) DO NOTHING;
    GET DIAGNOSTICS v_count = ROW_COUNT;

    WITH arrived AS (
        INSERT INTO refund_mapping (refund_id, global_order_id, store_id, amount, business_date, refund_time)
        SELECT (m ->> 'refund_id')::uuid, (m ->> 'global_order_id')::uuid, (m ->> 'store_id')::integer,
               (m ->> 'amount')::numeric(12,2), (m ->> 'business_date')::date, (m ->> 'refund_time')::timestamptz
        FROM jsonb_array_elements(p_batch) m
        WHERE m ->> 'kind' = 'refund'
        ON CONFLICT (refund_id) DO NOTHING
        RETURNING global_order_id, amount
    ), per_order AS (
        SELECT global_order_id, sum(amount) AS amount FROM arrived GROUP BY global_order_id
    )
    UPDATE order_mapping o SET refunded_amount = o.refunded_amount + p.amount
    FROM per_order p WHERE o.global_order_id = p.global_order_id;
    RETURN v_count;
END;
$$;

SELECT grant_to_replicator('apply_order_mappings(jsonb)');

-- An order's lines, payments and refunds, asked of the node that made the sale. NULL when the node
-- does not answer (head office then shows the mapping alone).
CREATE OR REPLACE FUNCTION fetch_order_details(p_city_id integer, p_global_order_id uuid) RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
    v_server text;
    v_details jsonb;
BEGIN
    SELECT server_name INTO v_server FROM nodes WHERE city_id = p_city_id;
    IF NOT FOUND THEN
        RETURN NULL;
    END IF;
    SELECT t.details INTO v_details
    FROM dblink(v_server, format('SELECT order_details(%L::uuid)', p_global_order_id)) AS t(details jsonb);
    RETURN v_details;
EXCEPTION WHEN OTHERS THEN
    RETURN NULL;
END;
$$;

-- ---------------------------------------------------------------------------------------------------
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
            SELECT t.row FROM dblink(ensure_node_connection(p_city_id, 'report'),
                                     format('SELECT to_jsonb(q) FROM (%s) q', p_query)) AS t(row jsonb);
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
RETURNS TABLE (key text, name text, orders bigint, units bigint, revenue numeric)
LANGUAGE sql AS $$
    SELECT r.* FROM node_rows(p_city_id, format('SELECT * FROM sales_summary(%L, %L, %L)', p_from, p_to, p_group)) j,
           jsonb_to_record(j) AS r(key text, name text, orders bigint, units bigint, revenue numeric)
$$;

-- The service asks the nodes for their stock and outbox backlog directly; these wrappers are gone.
DROP FUNCTION IF EXISTS node_stock_below(integer, integer);
DROP FUNCTION IF EXISTS node_sync_backlog(integer);
