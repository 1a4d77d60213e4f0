-- Delivery: ships replication_log entries to the nodes over named dblink connections, retries, purges.
-- Called by: the central service's replicator (one session per node, central/src/replicator.rs), its
-- retry and purge jobs, and operators from psql (retry_failed_replications(), requeue_dead_replications()).
-- Replaceable (CREATE OR REPLACE only): re-applied at start-up under an advisory lock when its text changes.

-- Delivery. One call ships one batch to one node over a named dblink connection kept open in the
-- calling session (the replicator holds one session per node). The batch carries each row as it is now
-- on central, so a retry never sends a stale snapshot, and every open single-row entry for a shipped row
-- is settled with it (an entry of a statement's rows, by its own batch: shipping its rows again is a
-- no-op at the node). The node applies version-guarded upserts: an older version never overwrites a
-- newer one.

-- How many rows a log entry names: one, or a statement's (record_ids, migration V24). Inlined where used.
CREATE OR REPLACE FUNCTION log_entry_rows(p_record_ids integer[]) RETURNS integer
LANGUAGE sql IMMUTABLE AS $$ SELECT coalesce(cardinality(p_record_ids), 1) $$;

-- Named dblink connections a session keeps open to a node, one per purpose ('replication', 'report',
-- 'resync', 'probe').
CREATE OR REPLACE FUNCTION node_connection_name(p_city_id integer, p_purpose text) RETURNS text
LANGUAGE sql IMMUTABLE AS $$ SELECT 'pos_' || p_purpose || '_' || p_city_id $$;

-- Opens the node's named connection unless this session has it already (ensure_connection()).
CREATE OR REPLACE FUNCTION ensure_node_connection(p_city_id integer, p_purpose text) RETURNS text
LANGUAGE plpgsql AS $$
DECLARE
    v_server text;
BEGIN
    SELECT server_name INTO STRICT v_server FROM nodes WHERE city_id = p_city_id;
    RETURN ensure_connection(node_connection_name(p_city_id, p_purpose), v_server,
                             (SELECT statement_timeout_ms FROM replication_settings));
END;
$$;

CREATE OR REPLACE FUNCTION drop_node_connection(p_city_id integer, p_purpose text) RETURNS void
LANGUAGE sql AS $$ SELECT drop_connection(node_connection_name(p_city_id, p_purpose)) $$;

-- How long central waits for a node's answer: the node's own statement timeout (it gives up on the
-- call by then), and a second for its error to arrive. A node that has not answered by then hangs.
CREATE OR REPLACE FUNCTION node_deadline_ms() RETURNS integer
LANGUAGE sql STABLE AS $$ SELECT statement_timeout_ms + 1000 FROM replication_settings $$;

-- Bitmap scans are off in here: reading the queue must be a plain index scan in index order (see below).
-- Every statement is planned for its call (plan_cache_mode): the log and the batches change size by
-- orders of magnitude over a session's life, and a generic plan made while the log was short would
-- settle every batch by reading the whole log instead of going to its entries' row addresses. (Turning
-- sequential scans off instead would price the one-row settings table past jit_above_cost.)
-- Returns how many changed rows were delivered, failed (left for a retry) and set aside as Dead (the
-- node refused them), whether the node was out of reach (or hung past node_deadline_ms()), and for each
-- delivered entry (not a LOAD) the seconds from its capture to the node's answer.
CREATE OR REPLACE FUNCTION deliver_replication(p_city_id integer, p_include_due_failed boolean DEFAULT true,
                                               OUT delivered integer, OUT failed integer, OUT dead integer,
                                               OUT unreachable boolean, OUT lag_seconds double precision[])
LANGUAGE plpgsql SET enable_bitmapscan = off SET plan_cache_mode = force_custom_plan AS $$
DECLARE
    s replication_settings;
    v_rows tid[];
    v_tables replicated_table[];
    v_records integer[];
    v_loads boolean[];
    -- The batch's distinct rows, and each as it is now (json, not jsonb: it is only sent as text, and
    -- building it costs a third of jsonb).
    v_item_tables replicated_table[];
    v_item_records integer[];
    v_items json[];
    v_server text;
    v_shipped record;
    -- Refused rows set aside out of statements' entries.
    v_split integer := 0;
BEGIN
    delivered := 0;
    failed := 0;
    dead := 0;
    unreachable := false;
    -- The replicator polls: an empty queue must cost one index probe and nothing more. The queue is
    -- read as a plain index scan of replication_log_open_idx in its own order, (target_city_id, id):
    -- - a plain scan marks the delivered entries it passes as dead in the index, so the next poll skips
    --   them without visiting the table; a bitmap scan (what the planner picks for a queue it believes
    --   nearly empty) revisits every one of them until VACUUM;
    -- - the node is a range rather than `target_city_id = p_city_id`, so that no other index can serve
    --   that order (with statistics taken during a backlog, the equality lets the planner walk the
    --   primary key through the whole log).
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
    SELECT server_name INTO v_server FROM nodes WHERE city_id = p_city_id AND enabled;
    IF NOT FOUND THEN
        RETURN;
    END IF;

    -- The batch: the node's oldest open entries, each taken while the rows before it are fewer than
    -- batch_size (an entry of a statement's rows names up to 1,000, so a batch holds up to batch_size +
    -- 999 rows); it ships the rows they name. Kept in arrays: a temporary table would write catalog
    -- rows on every call. The entries are kept by row address, and settling them by address costs no
    -- index lookup however long the log has grown. No row locks: the lock above keeps every other
    -- delivery off this node's entries, and nothing else changes an open entry (a purge takes delivered
    -- ones, a re-queue dead ones), so they cannot move before this transaction settles them.
    SELECT array_agg(c.ctid) FILTER (WHERE r.nth = 1), array_agg(c.table_name), array_agg(r.record_id),
           array_agg(c.operation = 'LOAD')
    INTO v_rows, v_tables, v_records, v_loads
    FROM (SELECT q.*, sum(q.row_count) OVER (ORDER BY q.id) AS rows_through
          FROM (SELECT l.ctid, l.id, l.table_name, l.record_id, l.record_ids, l.operation,
                       log_entry_rows(l.record_ids) AS row_count
                FROM replication_log l
                WHERE l.target_city_id BETWEEN p_city_id AND p_city_id  -- the queue's index range, as above
                  AND l.status IN ('Pending', 'Failed')
                  AND (l.status = 'Pending'
                       OR (p_include_due_failed AND l.status = 'Failed' AND l.next_attempt_at <= clock_timestamp()))
                ORDER BY l.target_city_id, l.id
                LIMIT s.batch_size) q) c
    CROSS JOIN LATERAL unnest(coalesce(c.record_ids, ARRAY[c.record_id])) WITH ORDINALITY AS r (record_id, nth)
    WHERE c.rows_through - c.row_count < s.batch_size;
    -- Nothing left: another delivery (the retry job's, or an operator's) took it between the look above
    -- and the lock.
    IF v_rows IS NULL THEN
        RETURN;
    END IF;
    -- Older open entries of those rows are settled with them. The batch takes the queue in capture
    -- order, so the only older ones it can leave behind are failed entries (waiting out their back-off,
    -- or all of them without p_include_due_failed). They are looked up row by row through
    -- replication_log_failed_row_idx, which capture never writes (new entries are Pending), so the cost
    -- follows the batch, not the backlog. Newer entries of the same rows stay queued: their own batch
    -- ships the row again, and the node, holding that version already, leaves it as it is. An entry of
    -- a statement's rows is settled only by its own batch (record_id names just the first of them).
    IF EXISTS (SELECT 1 FROM replication_log l WHERE l.target_city_id = p_city_id AND l.status = 'Failed') THEN
        v_rows := v_rows || ARRAY(
            SELECT o.ctid
            FROM (SELECT DISTINCT w.table_name, w.record_id FROM unnest(v_tables, v_records) AS w (table_name, record_id)) w
            CROSS JOIN LATERAL (
                SELECT l.ctid
                FROM replication_log l
                WHERE l.target_city_id = p_city_id AND l.table_name = w.table_name AND l.record_id = w.record_id
                  AND l.status = 'Failed' AND l.record_ids IS NULL AND l.ctid <> ALL (v_rows)
            ) o);
    END IF;

    -- Each row as it is now, looked up once; one that is gone is sent as deleted (no "row"). A row of a
    -- LOAD entry (initial load, resync) is marked: the node writes it even at an equal version.
    SELECT array_agg(r.table_name), array_agg(r.record_id),
           array_agg(CASE WHEN r.row IS NULL THEN json_build_object('table', r.table_name, 'id', r.record_id)
                          WHEN r.load THEN json_build_object('table', r.table_name, 'row', r.row, 'load', true)
                          ELSE json_build_object('table', r.table_name, 'row', r.row) END)
    INTO v_item_tables, v_item_records, v_items
    FROM (SELECT w.table_name, w.record_id, w.load,
                 CASE w.table_name
                     WHEN 'cities' THEN (SELECT to_json(ci) FROM cities ci WHERE ci.id = w.record_id)
                     WHEN 'cashier_tokens' THEN (SELECT to_json(ct) FROM cashier_tokens ct WHERE ct.id = w.record_id)
                     WHEN 'categories' THEN (SELECT to_json(c) FROM categories c WHERE c.id = w.record_id)
                     WHEN 'products' THEN (SELECT to_json(p) FROM products p WHERE p.id = w.record_id)
                     WHEN 'promotions' THEN (SELECT to_json(pr) FROM promotions pr WHERE pr.id = w.record_id)
                     WHEN 'stores' THEN (SELECT to_json(st) FROM stores st WHERE st.id = w.record_id)
                     WHEN 'customers' THEN (SELECT to_json(cu) FROM customers cu WHERE cu.id = w.record_id)
                     WHEN 'transfers' THEN (SELECT to_json(tr) FROM transfers tr WHERE tr.id = w.record_id)
                 END AS row
          FROM (SELECT u.table_name, u.record_id, bool_or(u.load) AS load
                FROM unnest(v_tables, v_records, v_loads) AS u (table_name, record_id, load)
                GROUP BY u.table_name, u.record_id) w) r;

    SELECT * INTO v_shipped
    FROM ship_batch(node_connection_name(p_city_id, 'replication'), v_server, s.statement_timeout_ms,
                    'apply_replication', v_items, node_deadline_ms());
    IF v_shipped.failure IS NOT NULL THEN
        -- However long the node is away, its entries wait here: only a row it refuses is ever Dead.
        WITH waiting AS (
            UPDATE replication_log
            SET status = 'Failed',
                attempts = attempts + 1,
                last_attempt_at = clock_timestamp(),
                message = v_shipped.failure,
                next_attempt_at = retry_at(attempts, s.base_backoff_ms, s.max_backoff_ms)
            WHERE ctid = ANY (v_rows)
            RETURNING log_entry_rows(record_ids) AS row_count)
        SELECT sum(row_count) INTO failed FROM waiting;
        unreachable := v_shipped.unreachable;
        RETURN;
    END IF;

    -- Rows the node refused: their entries are set aside, each with the node's reason. A refused row of
    -- a statement's entry is set aside in a Dead entry of its own, captured when that entry was; the
    -- entry's other rows arrived.
    IF v_shipped.rejected IS NOT NULL THEN
        UPDATE replication_log l
        SET status = 'Dead', attempts = l.attempts + 1, last_attempt_at = clock_timestamp(),
            message = x.error, next_attempt_at = NULL
        FROM unnest(v_shipped.rejected, v_shipped.errors) AS x (item, error)
        WHERE l.ctid = ANY (v_rows) AND l.record_ids IS NULL
          AND l.table_name = v_item_tables[x.item] AND l.record_id = v_item_records[x.item];
        GET DIAGNOSTICS dead = ROW_COUNT;
        INSERT INTO replication_log (table_name, record_id, target_city_id, operation, status, attempts,
                                     message, created_at, last_attempt_at)
        SELECT l.table_name, v_item_records[x.item], l.target_city_id, l.operation, 'Dead', l.attempts + 1,
               x.error, l.created_at, clock_timestamp()
        FROM unnest(v_shipped.rejected, v_shipped.errors) AS x (item, error)
        JOIN replication_log l ON l.ctid = ANY (v_rows) AND l.record_ids IS NOT NULL
             AND l.table_name = v_item_tables[x.item] AND v_item_records[x.item] = ANY (l.record_ids);
        GET DIAGNOSTICS v_split = ROW_COUNT;
        dead := dead + v_split;
    END IF;
    -- The rest arrived. (An entry set Dead above is a new row version at another address now, so it is
    -- not among v_rows any more.)
    WITH settled AS (
        UPDATE replication_log
        SET status = 'Success',
            attempts = attempts + 1,
            last_attempt_at = clock_timestamp(),
            delivered_at = clock_timestamp(),
            message = NULL,
            next_attempt_at = NULL
        WHERE ctid = ANY (v_rows)
        RETURNING operation, created_at, delivered_at, log_entry_rows(record_ids) AS row_count)
    SELECT coalesce(sum(row_count), 0) - v_split,
           array_agg(extract(epoch FROM delivered_at - created_at)::double precision) FILTER (WHERE operation <> 'LOAD')
    INTO delivered, lag_seconds
    FROM settled;
    UPDATE nodes SET last_success_at = clock_timestamp() WHERE city_id = p_city_id;
    -- The node answers again: what failed while it was away need not wait out its back-off.
    PERFORM make_failed_due(p_city_id);
END;
$$;

-- The node's failed entries may be tried at once (it answers again).
CREATE OR REPLACE FUNCTION make_failed_due(p_city_id integer) RETURNS integer
LANGUAGE plpgsql AS $$
DECLARE
    v_count integer;
BEGIN
    UPDATE replication_log SET next_attempt_at = clock_timestamp()
    WHERE target_city_id = p_city_id AND status = 'Failed' AND next_attempt_at > clock_timestamp();
    GET DIAGNOSTICS v_count = ROW_COUNT;
    RETURN v_count;
END;
$$;

-- The replicator's probe of a node it could not reach: one round trip on the named connection the next
-- delivery will use. When the node answers, its failed entries are made due, so that its backlog ships
-- at once rather than after the back-off each entry has built up.
CREATE OR REPLACE FUNCTION node_answers(p_city_id integer) RETURNS boolean
LANGUAGE plpgsql AS $$
BEGIN
    IF NOT peer_answers(node_connection_name(p_city_id, 'replication'),
                        (SELECT server_name FROM nodes WHERE city_id = p_city_id),
                        (SELECT statement_timeout_ms FROM replication_settings)) THEN
        RETURN false;
    END IF;
    PERFORM make_failed_due(p_city_id);
    RETURN true;
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
            EXIT WHEN v_result.failed > 0 OR v_result.delivered + v_result.dead = 0;
        END LOOP;
        IF NOT v_had_connection THEN
            PERFORM drop_node_connection(v_node.city_id, 'replication');
        END IF;
    END LOOP;
    RETURN v_total;
END;
$$;

-- Dead entries (rows a node refused) wait for an operator; this puts them back in the queue: all of
-- them, one node's, or the ones named.
CREATE OR REPLACE FUNCTION requeue_dead_replications(p_city_id integer DEFAULT NULL, p_ids bigint[] DEFAULT NULL)
RETURNS integer
LANGUAGE plpgsql AS $$
DECLARE
    v_count integer;
BEGIN
    UPDATE replication_log
    SET status = 'Pending', attempts = 0, next_attempt_at = NULL,
        message = 'requeued by an operator after: ' || coalesce(message, '')
    WHERE status = 'Dead' AND (p_city_id IS NULL OR target_city_id = p_city_id)
      AND (p_ids IS NULL OR id = ANY (p_ids));
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
    v_answers boolean := peer_answers(node_connection_name(p_city_id, 'probe'),
                                      (SELECT server_name FROM nodes WHERE city_id = p_city_id));
BEGIN
    PERFORM drop_node_connection(p_city_id, 'probe');
    RETURN v_answers;
END;
$$;


-- Settings written by the service from its configuration.
CREATE OR REPLACE FUNCTION configure_replication(p_base_backoff_ms integer, p_max_backoff_ms integer,
                                                p_batch_size integer, p_statement_timeout_ms integer) RETURNS void
LANGUAGE sql AS $$
    UPDATE replication_settings
    SET base_backoff_ms = p_base_backoff_ms, max_backoff_ms = p_max_backoff_ms,
        batch_size = p_batch_size, statement_timeout_ms = p_statement_timeout_ms
$$;
