-- Outbox: sales and refunds shipped to central's order_mapping over the named dblink connection.
-- Called by: the store-node service's outbox worker (store-node/src/outbox.rs) and its retry job.
-- Replaceable (CREATE OR REPLACE only): re-applied at start-up under an advisory lock when its text changes.

-- Outbox to central: sales waiting for central's order_mapping, shipped in batches over the named
-- dblink connection `pos_central` (server `pos_central`, defined by the service from its configuration).
-- One batch of the oldest waiting entries (and failed ones that are due, unless p_include_due_failed
-- is false). Returns how many were delivered, failed (left for a retry) and set aside as Dead (central
-- refused them), whether central was out of reach (or hung past central_deadline_ms()), and for each
-- delivered entry the seconds from the sale to central's answer. The back-off of failed entries is
-- capped at a minute: central is one server, and its return should be noticed soon even without the probe.
CREATE OR REPLACE FUNCTION push_outbox(p_include_due_failed boolean DEFAULT true, p_limit integer DEFAULT 500,
                                       OUT delivered integer, OUT failed integer, OUT dead integer,
                                       OUT unreachable boolean, OUT lag_seconds double precision[])
LANGUAGE plpgsql AS $$
DECLARE
    v_ids bigint[];
    v_items json[];
    v_shipped record;
BEGIN
    SELECT 0, 0, 0, false INTO delivered, failed, dead, unreachable;  -- what an empty outbox answers
    SELECT array_agg(o.id ORDER BY o.id), array_agg((o.payload || jsonb_build_object('kind', o.kind))::json ORDER BY o.id)
    INTO v_ids, v_items
    FROM (SELECT id, kind, payload FROM outbox
          WHERE status = 'Pending' OR (p_include_due_failed AND status = 'Failed' AND next_attempt_at <= clock_timestamp())
          ORDER BY id LIMIT p_limit
          FOR UPDATE SKIP LOCKED) o;
    IF v_ids IS NULL THEN
        RETURN;
    END IF;
    SELECT * INTO v_shipped
    FROM ship_batch('pos_central', 'pos_central', NULL, 'apply_order_mappings', v_items, central_deadline_ms());
    -- One statement settles the batch: every entry Failed when the call failed (central out of reach
    -- or hung), else each one Dead with central's reason or delivered.
    WITH outcome AS (
        SELECT b.id, x.error
        FROM unnest(v_ids) WITH ORDINALITY AS b (id, item)
        LEFT JOIN unnest(v_shipped.rejected, v_shipped.errors) AS x (item, error) ON x.item = b.item
    ), settled AS (
        UPDATE outbox o
        SET status = CASE WHEN v_shipped.failure IS NOT NULL THEN 'Failed'
                          WHEN r.error IS NOT NULL THEN 'Dead'
                          ELSE 'Success' END,
            attempts = o.attempts + 1,
            last_attempt_at = clock_timestamp(),
            message = coalesce(v_shipped.failure, r.error),
            next_attempt_at = CASE WHEN v_shipped.failure IS NOT NULL THEN retry_at(o.attempts, 500, 60000) END,
            delivered_at = CASE WHEN coalesce(v_shipped.failure, r.error) IS NULL THEN clock_timestamp() END
        FROM outcome r
        WHERE o.id = r.id
        RETURNING o.status, o.created_at, o.delivered_at)
    SELECT count(*) FILTER (WHERE status = 'Success'), count(*) FILTER (WHERE status = 'Failed'),
           count(*) FILTER (WHERE status = 'Dead'),
           array_agg(extract(epoch FROM delivered_at - created_at)::double precision) FILTER (WHERE status = 'Success')
    INTO delivered, failed, dead, lag_seconds
    FROM settled;
    unreachable := v_shipped.unreachable;
    IF v_shipped.failure IS NULL THEN
        -- Central answers again: what failed while it was away need not wait out its back-off.
        PERFORM make_outbox_due();
    END IF;
END;
$$;

-- How long the outbox waits for central's answer: a batch of mappings takes central milliseconds, so
-- one that has not come by then is from a central that hangs.
CREATE OR REPLACE FUNCTION central_deadline_ms() RETURNS integer
LANGUAGE sql IMMUTABLE AS $$ SELECT 10000 $$;

CREATE OR REPLACE FUNCTION make_outbox_due() RETURNS integer
LANGUAGE plpgsql AS $$
DECLARE
    v_count integer;
BEGIN
    -- Entries another session holds (pushes skip locked entries too) are left as they are: waiting for
    -- that session would stall this worker's probe.
    UPDATE outbox SET next_attempt_at = clock_timestamp()
    WHERE id IN (SELECT o.id FROM outbox o
                 WHERE o.status = 'Failed' AND o.next_attempt_at > clock_timestamp()
                 FOR UPDATE SKIP LOCKED);
    GET DIAGNOSTICS v_count = ROW_COUNT;
    RETURN v_count;
END;
$$;

-- The outbox worker's probe of central while it cannot reach it: one round trip on the connection the
-- next push will use; when central answers, the failed entries are made due at once.
CREATE OR REPLACE FUNCTION central_answers() RETURNS boolean
LANGUAGE plpgsql AS $$
BEGIN
    IF NOT peer_answers('pos_central', 'pos_central') THEN
        RETURN false;
    END IF;
    PERFORM make_outbox_due();
    RETURN true;
END;
$$;

-- Dead entries (mappings central refused) wait for an operator; this puts them back in the queue. Head
-- office's dashboard calls it as pos_replicator.
CREATE OR REPLACE FUNCTION requeue_dead_outbox(p_ids bigint[] DEFAULT NULL) RETURNS integer
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    v_count integer;
BEGIN
    UPDATE outbox SET status = 'Pending', attempts = 0, next_attempt_at = NULL,
                      message = 'requeued by an operator after: ' || coalesce(message, '')
    WHERE status = 'Dead' AND (p_ids IS NULL OR id = ANY (p_ids));
    GET DIAGNOSTICS v_count = ROW_COUNT;
    RETURN v_count;
END;
$$;
SELECT grant_to_replicator('requeue_dead_outbox(bigint[])');

-- After central is restored from a backup taken at p_since: what this node delivered since then goes up
-- again (central keeps a mapping that arrives twice once). Returns how many entries were re-queued, and
-- how many sales and refunds made since p_since have no entry left to send (purged by retention, see
-- purge_node_history()): those central cannot get back from this node, and the operator is told so.
CREATE OR REPLACE FUNCTION resend_outbox_since(p_since timestamptz, OUT requeued integer, OUT unsendable bigint)
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
BEGIN
    UPDATE outbox SET status = 'Pending', attempts = 0, next_attempt_at = NULL,
                      message = 'sent again: central was restored from a backup'
    WHERE status = 'Success' AND delivered_at >= p_since;
    GET DIAGNOSTICS requeued = ROW_COUNT;
    SELECT (SELECT count(*) FROM orders o
            WHERE o.created_at >= p_since
              AND NOT EXISTS (SELECT 1 FROM outbox e WHERE e.kind = 'order' AND e.global_order_id = o.global_order_id))
         + (SELECT count(*) FROM refunds r
            WHERE r.created_at >= p_since
              AND NOT EXISTS (SELECT 1 FROM outbox e WHERE e.kind IN ('refund', 'return')
                                                      AND e.payload ->> 'refund_id' = r.refund_id::text))
    INTO unsendable;
END;
$$;
SELECT grant_to_replicator('resend_outbox_since(timestamptz)');

-- Retention. Delivered outbox entries older than p_older_than, and idempotency keys older than
-- p_keys_older_than, are deleted oldest first, at most p_limit of each per call (a call is one
-- transaction; call again while it deletes p_limit). Failed and Dead entries are never deleted. A key
-- is kept long enough that a till retrying a lost answer finds it (the service keeps them 30 days); the
-- sale itself stays either way. Returns how many rows were deleted.
CREATE OR REPLACE FUNCTION purge_node_history(p_older_than interval, p_keys_older_than interval,
                                              p_limit integer DEFAULT 10000) RETURNS integer
LANGUAGE plpgsql SET plan_cache_mode = force_custom_plan AS $$
DECLARE
    v_outbox integer;
    v_keys integer;
BEGIN
    -- Walks the outbox from its oldest entry and stops at the first one that is too young or not yet
    -- delivered (ids follow creation), so each call reads what it deletes and little more.
    DELETE FROM outbox WHERE id = ANY (ARRAY(
        SELECT o.id FROM outbox o
        WHERE o.status = 'Success' AND o.delivered_at < clock_timestamp() - p_older_than
          AND o.id < coalesce((SELECT min(q.id) FROM outbox q WHERE q.status IN ('Pending', 'Failed')),
                              (SELECT max(q.id) + 1 FROM outbox q))
        ORDER BY o.id LIMIT p_limit));
    GET DIAGNOSTICS v_outbox = ROW_COUNT;
    DELETE FROM idempotency_keys WHERE idempotency_key = ANY (ARRAY(
        SELECT k.idempotency_key FROM idempotency_keys k
        WHERE k.created_at < clock_timestamp() - p_keys_older_than
        ORDER BY k.created_at LIMIT p_limit));
    GET DIAGNOSTICS v_keys = ROW_COUNT;
    RETURN v_outbox + v_keys;
END;
$$;
