-- Stock transfers between stores, in one city or across cities, with no transaction spanning two nodes.
-- Called by: the store-node service (POST /transfers, /transfers/{id}/receive, /transfers/{id}/cancel,
-- GET /transfers…), central's replicator through apply_replication() (apply_transfer_rows()), or an
-- operator from psql.
-- Replaceable (CREATE OR REPLACE only): re-applied at start-up under an advisory lock when its text changes.
--
-- Each step is one local transaction at the node that owns it, and travels as an outbox entry:
--   shipped           the source's node takes the stock off (never more than it has);
--   received          the destination's node adds what arrived, each short line with its reason;
--   cancel_requested  the source's node asks for it back (the stores are on two nodes);
--   cancelled         the destination's node grants that (it has not received it), or the source's node
--                     cancels at once when both stores are its own, or central refuses the shipment (a
--                     destination it does not know); the source's node then puts the stock back.
-- The destination's node decides between a receipt and a cancel: it alone can see both, in order, under
-- the transfer's row lock. So a shipment is received or cancelled, never both, and whichever it is
-- happens once. Each node's part is fixed when it first holds the transfer (transfers.role): a store that
-- moves to another city afterwards does not move it. Its tills are refused there (PS411) and the node
-- that held the part goes on deciding, so a shipment to a store that moved meanwhile is cancelled at its
-- source and shipped again. Central keeps every transfer's state (the furthest step it has heard of) and relays each
-- change to the nodes of both stores through replication.
--
-- Errors the service maps to HTTP answers, besides checkout()'s:
--   PS404 no such transfer from or to the store
--   PS417 the transfer is not in a state for this (received or cancelled already, a cancel asked already)

-- The transfer as the API shows it.
CREATE OR REPLACE FUNCTION transfer_json(p_transfer_id uuid) RETURNS jsonb
LANGUAGE sql STABLE AS $$
    SELECT jsonb_build_object(
               'transfer_id', t.transfer_id, 'from_store_id', t.from_store_id, 'to_store_id', t.to_store_id,
               'status', t.status, 'note', t.note, 'cancel_reason', t.cancel_reason,
               'shipped_at', t.shipped_at, 'cancel_requested_at', t.cancel_requested_at,
               'received_at', t.received_at, 'cancelled_at', t.cancelled_at,
               'lines', (SELECT jsonb_agg(jsonb_build_object('product_id', l.product_id, 'quantity', l.quantity,
                                                             'received', l.received, 'reason', l.reason)
                                          ORDER BY l.product_id)
                         FROM transfer_lines l WHERE l.transfer_id = t.transfer_id))
    FROM transfers t WHERE t.transfer_id = p_transfer_id
$$;

-- The transfer's state goes up to central, reported by p_store_id (the store whose step it is).
CREATE OR REPLACE FUNCTION queue_transfer_event(p_transfer_id uuid, p_store_id integer) RETURNS void
LANGUAGE sql AS $$
    INSERT INTO outbox (kind, payload)
    VALUES ('transfer', transfer_json(p_transfer_id) || jsonb_build_object('store_id', p_store_id))
$$;

-- Whether the store sells at this node (its city is this node's).
CREATE OR REPLACE FUNCTION store_is_here(p_store_id integer) RETURNS boolean
LANGUAGE sql STABLE AS $$
    SELECT EXISTS (SELECT 1 FROM stores s JOIN node_settings n ON n.city_id = s.city_id WHERE s.id = p_store_id)
$$;

-- PS411 unless p_store_id sells at this node (a store that moved city has its stock and its transfers at
-- the node it left).
CREATE OR REPLACE FUNCTION refuse_moved_store(p_store_id integer) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    IF NOT store_is_here(p_store_id) THEN
        RAISE EXCEPTION USING ERRCODE = 'PS411',
            MESSAGE = format('store %s has moved to another city: its stock and transfers are at the node it left',
                             p_store_id);
    END IF;
END;
$$;

-- Ships p_items ([{"product_id", "quantity"}]) from p_store_id to p_to_store_id: the stock leaves the
-- source now, in product-id order like a sale, and never more than it has (PS409).
CREATE OR REPLACE FUNCTION ship_transfer(p_store_id integer, p_to_store_id integer, p_items jsonb, p_note text,
                                         p_idempotency_key uuid, p_credential_id integer,
                                         OUT transfer_id uuid, OUT replayed boolean)
LANGUAGE plpgsql AS $$
DECLARE
    v_fingerprint text := md5(jsonb_build_object('store', p_store_id, 'to', p_to_store_id, 'items', p_items,
                                                 'note', p_note)::text);
    v_changes stock_change[];
BEGIN
    transfer_id := claim_idempotency_key(p_idempotency_key, 'transfer', p_store_id, v_fingerprint);
    replayed := transfer_id IS NOT NULL;
    IF replayed THEN
        RETURN;
    END IF;
    IF p_to_store_id IS NULL OR p_to_store_id = p_store_id THEN
        PERFORM pos_invalid('to_store_id', 'a transfer goes to another store');
    END IF;
    IF EXISTS (SELECT 1 FROM stores s WHERE s.id = p_to_store_id AND NOT s.active) THEN
        PERFORM pos_invalid('to_store_id', format('store %s is closed', p_to_store_id));
    END IF;
    v_changes := stock_changes(p_store_id, p_items, 'quantity');
    PERFORM refuse_moved_store(p_store_id);
    IF EXISTS (SELECT 1 FROM unnest(v_changes) WHERE change <= 0) THEN
        PERFORM pos_invalid('quantity', 'every line ships at least one unit');
    END IF;
    PERFORM lock_stock(p_store_id, ARRAY(SELECT ROW(c.product_id, -c.change)::stock_change FROM unnest(v_changes) c),
                       true);
    transfer_id := gen_random_uuid();
    INSERT INTO transfers (transfer_id, from_store_id, to_store_id, status, role, note, shipped_by, shipped_at)
    VALUES (transfer_id, p_store_id, p_to_store_id, 'in_transit',
            CASE WHEN store_is_here(p_to_store_id) THEN 'both' ELSE 'source' END, p_note, p_credential_id, now());
    INSERT INTO transfer_lines (transfer_id, product_id, quantity)
    SELECT transfer_id, c.product_id, c.change FROM unnest(v_changes) c;
    UPDATE inventory i SET quantity = i.quantity - c.change, updated_at = now()
    FROM unnest(v_changes) c
    WHERE i.store_id = p_store_id AND i.product_id = c.product_id;
    PERFORM queue_transfer_event(transfer_id, p_store_id);
    INSERT INTO idempotency_keys (idempotency_key, kind, store_id, fingerprint, result_id)
    VALUES (p_idempotency_key, 'transfer', p_store_id, v_fingerprint, transfer_id);
END;
$$;

-- The transfer, locked, if p_store_id is its source (p_as = 'from') or destination ('to') and this node
-- holds that part of it (PS404 otherwise, PS411 when the store has moved to another city's node), and
-- still on its way (PS417 otherwise: it cannot be p_step, 'received' or 'cancelled').
CREATE OR REPLACE FUNCTION lock_transfer(p_transfer_id uuid, p_store_id integer, p_as text, p_step text)
RETURNS transfers
LANGUAGE plpgsql AS $$
DECLARE
    v_transfer transfers;
BEGIN
    PERFORM refuse_moved_store(p_store_id);
    SELECT * INTO v_transfer FROM transfers t
    WHERE t.transfer_id = p_transfer_id
      AND CASE p_as WHEN 'from' THEN t.from_store_id ELSE t.to_store_id END = p_store_id
      AND t.role IN ('both', CASE p_as WHEN 'from' THEN 'source' ELSE 'destination' END)
    FOR UPDATE;
    IF NOT FOUND THEN
        RAISE EXCEPTION USING ERRCODE = 'PS404',
            MESSAGE = format('no transfer %s %s store %s', p_transfer_id,
                             CASE p_as WHEN 'from' THEN 'from' ELSE 'to' END, p_store_id);
    END IF;
    IF v_transfer.status <> 'in_transit' THEN
        RAISE EXCEPTION USING ERRCODE = 'PS417',
            MESSAGE = format('transfer %s is %s: it cannot be %s', p_transfer_id,
                             replace(v_transfer.status, '_', ' '), p_step);
    END IF;
    RETURN v_transfer;
END;
$$;

-- Receives the transfer at its destination: every line in full, except those p_items names
-- ([{"product_id", "quantity", "reason"}]: what arrived of it, with a reason when it is less).
CREATE OR REPLACE FUNCTION receive_transfer(p_store_id integer, p_transfer_id uuid, p_items jsonb,
                                            p_idempotency_key uuid, p_credential_id integer,
                                            OUT replayed boolean)
LANGUAGE plpgsql AS $$
DECLARE
    v_fingerprint text := md5(jsonb_build_object('store', p_store_id, 'transfer', p_transfer_id,
                                                 'items', p_items)::text);
    v_bad record;
BEGIN
    replayed := claim_idempotency_key(p_idempotency_key, 'transfer_receipt', p_store_id, v_fingerprint) IS NOT NULL;
    IF replayed THEN
        RETURN;
    END IF;
    PERFORM lock_transfer(p_transfer_id, p_store_id, 'to', 'received');
    IF jsonb_typeof(coalesce(p_items, '[]')) <> 'array' THEN
        PERFORM pos_invalid('items', 'items is a list');
    END IF;
    BEGIN
        SELECT i.product_id, i.quantity, i.reason, l.quantity AS shipped
        INTO v_bad
        FROM jsonb_to_recordset(coalesce(p_items, '[]')) AS i (product_id integer, quantity integer, reason text)
        LEFT JOIN transfer_lines l ON l.transfer_id = p_transfer_id AND l.product_id = i.product_id
        ORDER BY (l.product_id IS NULL OR i.quantity IS NULL OR i.quantity NOT BETWEEN 0 AND l.quantity
                  OR (i.quantity < l.quantity AND nullif(btrim(i.reason), '') IS NULL)) DESC
        LIMIT 1;
    EXCEPTION WHEN invalid_text_representation OR numeric_value_out_of_range OR invalid_parameter_value THEN
        PERFORM pos_invalid('items', 'product_id and quantity must be whole numbers');
    END;
    IF FOUND THEN
        IF v_bad.product_id IS NULL OR v_bad.shipped IS NULL THEN
            PERFORM pos_invalid('product_id', format('product %s is not in this transfer', v_bad.product_id));
        ELSIF v_bad.quantity IS NULL OR v_bad.quantity < 0 THEN
            PERFORM pos_invalid('quantity', 'a quantity received is zero or more');
        ELSIF v_bad.quantity > v_bad.shipped THEN
            PERFORM pos_invalid('quantity', format('%s of product %s were shipped: %s cannot be received',
                                                   v_bad.shipped, v_bad.product_id, v_bad.quantity));
        ELSIF v_bad.quantity < v_bad.shipped AND nullif(btrim(v_bad.reason), '') IS NULL THEN
            PERFORM pos_invalid('reason', format('%s of product %s were shipped and %s arrived: say why',
                                                 v_bad.shipped, v_bad.product_id, v_bad.quantity));
        END IF;
    END IF;
    IF EXISTS (SELECT 1 FROM jsonb_array_elements(coalesce(p_items, '[]')) i
               GROUP BY i ->> 'product_id' HAVING count(*) > 1) THEN
        PERFORM pos_invalid('product_id', 'each product is named once');
    END IF;
    UPDATE transfer_lines l
    SET received = coalesce(i.quantity, l.quantity),
        reason = CASE WHEN coalesce(i.quantity, l.quantity) < l.quantity THEN btrim(i.reason) END
    FROM (SELECT x.product_id, g.quantity, g.reason
          FROM transfer_lines x
          LEFT JOIN jsonb_to_recordset(coalesce(p_items, '[]')) AS g (product_id integer, quantity integer, reason text)
              ON g.product_id = x.product_id
          WHERE x.transfer_id = p_transfer_id) i
    WHERE l.transfer_id = p_transfer_id AND l.product_id = i.product_id;
    PERFORM put_transfer_stock(ARRAY[p_transfer_id], true);
    UPDATE transfers SET status = 'received', received_at = now(), received_by = p_credential_id
    WHERE transfer_id = p_transfer_id;
    PERFORM queue_transfer_event(p_transfer_id, p_store_id);
    INSERT INTO idempotency_keys (idempotency_key, kind, store_id, fingerprint, result_id)
    VALUES (p_idempotency_key, 'transfer_receipt', p_store_id, v_fingerprint, p_transfer_id);
END;
$$;

-- Stock of the transfers p_transfer_ids per store and product: what was shipped, at the source, or
-- (p_at_destination) what arrived, at the destination.
CREATE OR REPLACE FUNCTION transfer_stock(p_transfer_ids uuid[], p_at_destination boolean)
RETURNS TABLE (store_id integer, product_id integer, quantity integer)
LANGUAGE sql STABLE AS $$
    SELECT CASE WHEN p_at_destination THEN t.to_store_id ELSE t.from_store_id END, l.product_id,
           sum(CASE WHEN p_at_destination THEN l.received ELSE l.quantity END)::integer
    FROM transfers t JOIN transfer_lines l ON l.transfer_id = t.transfer_id
    WHERE t.transfer_id = ANY (p_transfer_ids)
    GROUP BY 1, 2
$$;

-- That stock (transfer_stock()) onto the shelves, each store's locked in product-id order like a sale's.
-- The transfers are locked by the caller.
CREATE OR REPLACE FUNCTION put_transfer_stock(p_transfer_ids uuid[], p_at_destination boolean) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    v_store integer;
BEGIN
    FOR v_store IN SELECT DISTINCT b.store_id FROM transfer_stock(p_transfer_ids, p_at_destination) b ORDER BY 1 LOOP
        PERFORM lock_stock(v_store, ARRAY(SELECT ROW(b.product_id, b.quantity)::stock_change
                                          FROM transfer_stock(p_transfer_ids, p_at_destination) b
                                          WHERE b.store_id = v_store ORDER BY b.product_id),
                           false);
    END LOOP;
    UPDATE inventory i SET quantity = i.quantity + b.quantity, updated_at = now()
    FROM transfer_stock(p_transfer_ids, p_at_destination) b
    WHERE i.store_id = b.store_id AND i.product_id = b.product_id AND b.quantity > 0;
END;
$$;

-- Cancels a transfer at its source. Both stores at this node: at once, the stock back on the shelf.
-- Otherwise the cancel is asked of the destination's node through central (cancel_requested): it
-- grants it unless it has received the shipment, and the stock comes back when the answer does.
CREATE OR REPLACE FUNCTION cancel_transfer(p_store_id integer, p_transfer_id uuid, p_idempotency_key uuid,
                                           p_credential_id integer, OUT replayed boolean)
LANGUAGE plpgsql AS $$
DECLARE
    v_fingerprint text := md5(jsonb_build_object('store', p_store_id, 'transfer', p_transfer_id)::text);
    v_transfer transfers;
BEGIN
    replayed := claim_idempotency_key(p_idempotency_key, 'transfer_cancel', p_store_id, v_fingerprint) IS NOT NULL;
    IF replayed THEN
        RETURN;
    END IF;
    v_transfer := lock_transfer(p_transfer_id, p_store_id, 'from', 'cancelled');
    IF v_transfer.role = 'both' THEN
        PERFORM put_transfer_stock(ARRAY[v_transfer.transfer_id], false);
        UPDATE transfers SET status = 'cancelled', cancelled_at = now(), cancel_requested_at = now()
        WHERE transfer_id = p_transfer_id;
    ELSE
        UPDATE transfers SET status = 'cancel_requested', cancel_requested_at = now()
        WHERE transfer_id = p_transfer_id;
    END IF;
    PERFORM queue_transfer_event(p_transfer_id, p_store_id);
    INSERT INTO idempotency_keys (idempotency_key, kind, store_id, fingerprint, result_id)
    VALUES (p_idempotency_key, 'transfer_cancel', p_store_id, v_fingerprint, p_transfer_id);
END;
$$;

-- Central's transfers, as replication delivers them (rows of central's transfers table, with their
-- lines as a list). Applied in transfer-id order, each only when newer than what this node has applied
-- (or equal, for p_loaded: a resync). What each means here, by this node's part (transfers.role):
--   destination: a shipment announced (in_transit), or the source's cancel asked (cancel_requested),
--   granted unless the shipment was received here already; a cancel central made (a node restored from a
--   backup learns it so);
--   source: the destination's answer: received (with what arrived), or cancelled (the stock comes back;
--   also when central refused the destination);
--   a transfer this node did not hold: the destination's part if its store is here, else a record.
-- A transfer this node holds in a final state changes no more. Every transfer row is locked first, then
-- the stock to put back at once, so that a till receiving one of them, or a sale, never waits in a cycle.
CREATE OR REPLACE FUNCTION apply_transfer_rows(p_rows jsonb, p_loaded uuid[]) RETURNS integer
LANGUAGE plpgsql AS $$
DECLARE
    r record;
    v_restock uuid[] := '{}';
    v_arrived uuid[] := '{}';
    v_shipped_again uuid[] := '{}';
    v_store integer;
    v_count integer := 0;
BEGIN
    PERFORM 1 FROM transfers t
    WHERE t.transfer_id IN (SELECT (x ->> 'transfer_id')::uuid FROM jsonb_array_elements(coalesce(p_rows, '[]')) x)
    ORDER BY t.transfer_id FOR UPDATE;
    FOR r IN
        SELECT t.*, x.lines, x.version, l.status AS local_status, l.role AS local_role, l.central_version
        FROM jsonb_populate_recordset(NULL::transfers, coalesce(p_rows, '[]')) t
        JOIN jsonb_to_recordset(coalesce(p_rows, '[]')) AS x (transfer_id uuid, lines jsonb, version bigint)
            ON x.transfer_id = t.transfer_id
        LEFT JOIN transfers l ON l.transfer_id = t.transfer_id
        ORDER BY t.transfer_id
    LOOP
        IF r.local_status IS NOT NULL
           AND (r.central_version > r.version
                OR (r.central_version = r.version AND NOT r.transfer_id = ANY (coalesce(p_loaded, '{}')))) THEN
            CONTINUE;
        END IF;
        v_count := v_count + 1;
        IF r.local_status IS NULL THEN
            -- A transfer of this node's stores that it does not hold: one announced to it, or one it lost
            -- (restored from a backup taken before): its stock moves here are redone from central's
            -- record, the shipment off the source again (unless it was cancelled) and what arrived onto
            -- the destination's shelf (when it was received).
            r.local_role := CASE WHEN store_is_here(r.from_store_id) AND store_is_here(r.to_store_id) THEN 'both'
                                 WHEN store_is_here(r.to_store_id) THEN 'destination'
                                 WHEN store_is_here(r.from_store_id) THEN 'source'
                                 ELSE 'record' END;
            r.local_status := CASE WHEN r.local_role = 'destination' AND r.status = 'cancel_requested' THEN 'in_transit'
                                   ELSE r.status END;
            IF r.local_role IN ('both', 'source') AND r.status <> 'cancelled' THEN
                v_shipped_again := v_shipped_again || r.transfer_id;
            END IF;
            IF r.local_role IN ('both', 'destination') AND r.status = 'received' THEN
                v_arrived := v_arrived || r.transfer_id;
            END IF;
            INSERT INTO transfers (transfer_id, from_store_id, to_store_id, status, role, note, cancel_reason,
                                   shipped_at, cancel_requested_at, received_at, cancelled_at, central_version)
            VALUES (r.transfer_id, r.from_store_id, r.to_store_id, r.local_status, r.local_role, r.note,
                    r.cancel_reason, r.shipped_at, r.cancel_requested_at, r.received_at, r.cancelled_at, r.version);
            INSERT INTO transfer_lines (transfer_id, product_id, quantity, received, reason)
            SELECT r.transfer_id, l.product_id, l.quantity,
                   CASE WHEN r.local_status = 'received' THEN l.received END,
                   CASE WHEN r.local_status = 'received' THEN l.reason END
            FROM jsonb_to_recordset(r.lines) AS l (product_id integer, quantity integer, received integer, reason text);
        ELSE
            UPDATE transfers SET central_version = r.version WHERE transfer_id = r.transfer_id;
        END IF;
        IF r.local_status IN ('received', 'cancelled') THEN
            CONTINUE;
        END IF;
        IF r.status = 'cancel_requested' AND r.local_role = 'destination' THEN
            UPDATE transfers SET status = 'cancelled', cancelled_at = now(), cancel_requested_at = r.cancel_requested_at,
                                 cancel_reason = 'cancelled by the source store before it arrived'
            WHERE transfer_id = r.transfer_id;
            PERFORM queue_transfer_event(r.transfer_id, r.to_store_id);
        ELSIF r.status = 'cancelled' THEN
            IF r.local_role = 'source' THEN
                v_restock := v_restock || r.transfer_id;
            END IF;
            UPDATE transfers SET status = 'cancelled', cancelled_at = r.cancelled_at, cancel_reason = r.cancel_reason
            WHERE transfer_id = r.transfer_id;
        ELSIF r.status = 'received' THEN
            -- At the destination: a receipt this node made and lost (restored from a backup taken before
            -- it); the goods are on its shelf, so their stock is put back there.
            IF r.local_role = 'destination' THEN
                v_arrived := v_arrived || r.transfer_id;
            END IF;
            -- A cancel asked here that came too late says so.
            UPDATE transfers
            SET status = 'received', received_at = r.received_at,
                cancel_reason = CASE WHEN r.local_status = 'cancel_requested'
                                     THEN 'the cancel came too late: the destination had received it' END
            WHERE transfer_id = r.transfer_id;
            UPDATE transfer_lines t SET received = l.received, reason = l.reason
            FROM jsonb_to_recordset(r.lines) AS l (product_id integer, received integer, reason text)
            WHERE t.transfer_id = r.transfer_id AND t.product_id = l.product_id;
        END IF;
    END LOOP;
    IF cardinality(v_restock) > 0 THEN
        PERFORM put_transfer_stock(v_restock, false);
    END IF;
    -- Shipments this node lost come off their sources again, as a correction each store keeps (never below
    -- zero: what was sold of it meanwhile is gone already).
    FOR v_store IN SELECT DISTINCT b.store_id FROM transfer_stock(v_shipped_again, false) b ORDER BY 1 LOOP
        PERFORM write_adjustment(v_store,
                                 ARRAY(SELECT ROW(b.product_id, -b.quantity)::stock_change
                                       FROM transfer_stock(v_shipped_again, false) b
                                       WHERE b.store_id = v_store ORDER BY b.product_id),
                                 'correction', 'transfers shipped before this node was restored from a backup',
                                 NULL, NULL, true);
    END LOOP;
    IF cardinality(v_arrived) > 0 THEN
        PERFORM put_transfer_stock(v_arrived, true);
    END IF;
    RETURN v_count;
END;
$$;

-- The store's transfers, newest first: p_direction 'in' (to it), 'out' (from it) or NULL (both), of
-- p_status or any; at most p_limit with an id below p_before (a page: see GET /transfers).
CREATE OR REPLACE FUNCTION store_transfers(p_store_id integer, p_direction text, p_status text, p_before bigint,
                                           p_limit bigint)
RETURNS TABLE (id bigint, transfer jsonb)
LANGUAGE sql STABLE AS $$
    SELECT t.id, transfer_json(t.transfer_id)
    FROM transfers t
    WHERE ((p_direction IS DISTINCT FROM 'in' AND t.from_store_id = p_store_id)
           OR (p_direction IS DISTINCT FROM 'out' AND t.to_store_id = p_store_id))
      AND (p_status IS NULL OR t.status = p_status)
      AND t.id < p_before
    ORDER BY t.id DESC
    LIMIT p_limit
$$;
