-- Transfers: stock moved between stores, as the nodes of the stores report each step through their
-- outboxes (sql/store/transfers.sql tells the whole protocol). Central keeps each transfer's furthest
-- step and relays every change to the nodes of both stores (capture.sql, delivery.sql): the destination's
-- node hears of a shipment, and the source's node of its answer.
-- Called by: apply_order_mappings() (orders.sql), in the batch a node's outbox ships.
-- Replaceable (CREATE OR REPLACE only): re-applied at start-up under an advisory lock when its text changes.

-- How far a transfer has gone. A step reported again, or overtaken while it waited in an outbox, changes
-- nothing: received and cancelled are final, and only the destination's node can take either (or the
-- source's, when both stores are its own), so they never both happen.
CREATE OR REPLACE FUNCTION transfer_step(p_status text) RETURNS integer
LANGUAGE sql IMMUTABLE AS $$
    SELECT CASE p_status WHEN 'in_transit' THEN 0 WHEN 'cancel_requested' THEN 1 ELSE 2 END
$$;

-- The transfer steps of a batch of outbox entries ({"kind": "transfer", the transfer as its node has it,
-- "store_id": the store whose step it is}), in the batch's order. A shipment central first hears of is
-- refused, and so cancelled (its source's node puts the stock back), when its destination is no open
-- store of the chain or its city has no node. Returns how many transfers changed.
CREATE OR REPLACE FUNCTION apply_transfer_steps(p_batch jsonb) RETURNS integer
LANGUAGE plpgsql AS $$
DECLARE
    e jsonb;
    v_status text;
    v_current transfers;
    v_to_city integer;
    v_refusal text;
    v_count integer := 0;
BEGIN
    -- In transfer-id order (each transfer's steps in the batch's order), so that two batches touching the
    -- same transfers lock them in one order.
    FOR e IN SELECT b.m FROM jsonb_array_elements(p_batch) WITH ORDINALITY AS b (m, n)
             WHERE b.m ->> 'kind' = 'transfer' ORDER BY b.m ->> 'transfer_id', b.n LOOP
        v_status := e ->> 'status';
        -- Each step is reported by the node of the store whose step it is: a shipment and a cancel asked by
        -- the source's, a receipt by the destination's, a cancel by either (granted, or made at once).
        IF ((e ->> 'store_id') IS DISTINCT FROM (CASE v_status WHEN 'received' THEN e ->> 'to_store_id'
                                                               WHEN 'cancelled' THEN e ->> 'store_id'
                                                               ELSE e ->> 'from_store_id' END)
            OR (e ->> 'store_id') NOT IN (e ->> 'from_store_id', e ->> 'to_store_id')) THEN
            RAISE EXCEPTION USING ERRCODE = 'PS403',
                MESSAGE = format('store %s may not report transfer %s as %s', e ->> 'store_id', e ->> 'transfer_id',
                                 v_status);
        END IF;
        SELECT s.city_id INTO v_to_city FROM stores s WHERE s.id = (e ->> 'to_store_id')::integer AND s.active;
        v_refusal := CASE
            WHEN transfer_step(v_status) = 2 THEN NULL
            WHEN v_to_city IS NULL THEN format('store %s is no open store of the chain', e ->> 'to_store_id')
            WHEN NOT EXISTS (SELECT 1 FROM nodes n WHERE n.city_id = v_to_city)
                THEN format('the city of store %s has no store node', e ->> 'to_store_id')
        END;
        INSERT INTO transfers (transfer_id, from_store_id, to_store_id, from_city_id, to_city_id, status, note,
                               cancel_reason, lines, shipped_at, cancel_requested_at, received_at, cancelled_at)
        SELECT (e ->> 'transfer_id')::uuid, s.id, (e ->> 'to_store_id')::integer, s.city_id, v_to_city,
               CASE WHEN v_refusal IS NULL THEN v_status ELSE 'cancelled' END, e ->> 'note',
               coalesce(e ->> 'cancel_reason', v_refusal), e -> 'lines', (e ->> 'shipped_at')::timestamptz,
               (e ->> 'cancel_requested_at')::timestamptz, (e ->> 'received_at')::timestamptz,
               coalesce((e ->> 'cancelled_at')::timestamptz, CASE WHEN v_refusal IS NOT NULL THEN now() END)
        FROM stores s WHERE s.id = (e ->> 'from_store_id')::integer
        ON CONFLICT (transfer_id) DO NOTHING;
        IF FOUND THEN
            v_count := v_count + 1;
            CONTINUE;
        END IF;
        SELECT * INTO v_current FROM transfers WHERE transfer_id = (e ->> 'transfer_id')::uuid FOR UPDATE;
        IF NOT FOUND THEN
            RAISE EXCEPTION USING ERRCODE = 'PS403',
                MESSAGE = format('transfer %s comes from store %s, which head office does not know',
                                 e ->> 'transfer_id', e ->> 'from_store_id');
        END IF;
        IF v_current.from_store_id::text <> e ->> 'from_store_id' OR v_current.to_store_id::text <> e ->> 'to_store_id' THEN
            RAISE EXCEPTION USING ERRCODE = 'PS403',
                MESSAGE = format('transfer %s goes from store %s to %s, not as reported', v_current.transfer_id,
                                 v_current.from_store_id, v_current.to_store_id);
        END IF;
        IF transfer_step(v_status) > transfer_step(v_current.status) THEN
            UPDATE transfers
            SET status = v_status, lines = e -> 'lines', cancel_reason = e ->> 'cancel_reason',
                cancel_requested_at = (e ->> 'cancel_requested_at')::timestamptz,
                received_at = (e ->> 'received_at')::timestamptz, cancelled_at = (e ->> 'cancelled_at')::timestamptz
            WHERE id = v_current.id;
            v_count := v_count + 1;
        END IF;
    END LOOP;
    RETURN v_count;
END;
$$;

-- A transfer as head office sees it (GET /transfers): the stores' codes beside their ids, and what
-- arrived short in all.
CREATE OR REPLACE FUNCTION transfer_view(p_transfer transfers) RETURNS jsonb
LANGUAGE sql STABLE AS $$
    SELECT jsonb_build_object(
        'transfer_id', p_transfer.transfer_id, 'from_store_id', p_transfer.from_store_id,
        'to_store_id', p_transfer.to_store_id,
        'from_store_code', (SELECT code FROM stores WHERE id = p_transfer.from_store_id),
        'to_store_code', (SELECT code FROM stores WHERE id = p_transfer.to_store_id),
        'status', p_transfer.status, 'note', p_transfer.note, 'cancel_reason', p_transfer.cancel_reason,
        'shipped_at', p_transfer.shipped_at, 'cancel_requested_at', p_transfer.cancel_requested_at,
        'received_at', p_transfer.received_at, 'cancelled_at', p_transfer.cancelled_at,
        'lines', p_transfer.lines,
        'units_short', (SELECT sum((l ->> 'quantity')::integer - (l ->> 'received')::integer)
                        FROM jsonb_array_elements(p_transfer.lines) l WHERE l ->> 'received' IS NOT NULL),
        'updated_at', p_transfer.updated_at)
$$;
