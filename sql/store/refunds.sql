-- Refunds of a store's own sales, and voids: capped per line, restocking, reported to central like a sale.
-- Called by: POST /orders/{id}/refunds and POST /orders/{id}/void (store-node/src/routes/orders.rs), or
-- an operator from psql.
-- Replaceable (CREATE OR REPLACE only): re-applied at start-up under an advisory lock when its text changes.

-- Errors the service maps to HTTP answers, besides checkout()'s:
--   PS414 the sale cannot be voided: another shift's (or none's), voided already, or refunded in part

-- Writes a refund of p_lines (checked: each within what is left to refund) of the order: a line's refunds
-- give back its total (after its discount) and its tax in shares of the units, each refund the share of
-- all units refunded so far less the share before it, so that the refunds of a whole line add up to it to
-- the paisa. Restocks, and queues the refund for central. Returns the refund's id.
CREATE OR REPLACE FUNCTION write_refund(p_order orders, p_lines refund_line[], p_method text, p_reason text,
                                        p_credential_id integer, p_shift_id bigint, p_kind text,
                                        p_approved_by integer) RETURNS uuid
LANGUAGE plpgsql AS $$
DECLARE
    v_lines_refunded refunded_line[];
    v_refund bigint;
    v_refund_id uuid := gen_random_uuid();
    v_amount numeric(12,2);
    v_tax numeric(12,2);
    v_business_date date := store_business_date(p_order.store_id);
BEGIN
    v_lines_refunded := ARRAY(
        SELECT ROW(r.line_no, r.quantity,
                   round(oi.line_total * (b.before + r.quantity) / oi.quantity, 2)
                   - round(oi.line_total * b.before / oi.quantity, 2),
                   round(oi.tax_amount * (b.before + r.quantity) / oi.quantity, 2)
                   - round(oi.tax_amount * b.before / oi.quantity, 2))::refunded_line
        FROM unnest(p_lines) r
        JOIN order_items oi ON oi.order_id = p_order.id AND oi.line_no = r.line_no
        CROSS JOIN LATERAL (SELECT coalesce(sum(ri.quantity), 0) AS before FROM refund_items ri
                            WHERE ri.order_id = p_order.id AND ri.line_no = r.line_no) b);
    SELECT sum(amount), sum(tax_amount) INTO v_amount, v_tax FROM unnest(v_lines_refunded);
    INSERT INTO refunds (refund_id, order_id, method, amount, tax_amount, reason, business_date, credential_id,
                         shift_id, kind, approved_by)
    VALUES (v_refund_id, p_order.id, p_method, v_amount, v_tax, p_reason, v_business_date, p_credential_id,
            p_shift_id, p_kind, p_approved_by)
    RETURNING id INTO v_refund;
    INSERT INTO refund_items (refund_id, order_id, line_no, quantity, amount, tax_amount)
    SELECT v_refund, p_order.id, r.line_no, r.quantity, r.amount, r.tax_amount FROM unnest(v_lines_refunded) r;
    -- Restock in product-id order, the order every sale locks in.
    INSERT INTO inventory AS inv (store_id, product_id, quantity)
    SELECT p_order.store_id, oi.product_id, sum(r.quantity)
    FROM unnest(p_lines) r JOIN order_items oi ON oi.order_id = p_order.id AND oi.line_no = r.line_no
    GROUP BY oi.product_id ORDER BY oi.product_id
    ON CONFLICT (store_id, product_id) DO UPDATE SET quantity = inv.quantity + EXCLUDED.quantity, updated_at = now();
    INSERT INTO outbox (kind, global_order_id, payload)
    VALUES ('refund', p_order.global_order_id, jsonb_build_object(
        'refund_id', v_refund_id, 'global_order_id', p_order.global_order_id, 'store_id', p_order.store_id,
        'amount', v_amount, 'business_date', v_business_date, 'refund_time', now()));
    RETURN v_refund_id;
END;
$$;

-- A refund of lines of one of this store's sales: capped at what is not yet refunded, restocks, and is
-- reported to central like a sale. Concurrent refunds of one order serialise on the order's row.
CREATE OR REPLACE FUNCTION refund_order(p_store_id integer, p_global_order_id uuid, p_items jsonb, p_method text,
                                        p_reason text, p_idempotency_key uuid, p_credential_id integer DEFAULT NULL,
                                        OUT refund_id uuid, OUT replayed boolean)
LANGUAGE plpgsql AS $$
DECLARE
    v_fingerprint text := md5(jsonb_build_object('store', p_store_id, 'order', p_global_order_id, 'items', p_items,
                                                 'method', p_method, 'reason', p_reason)::text);
    v_order orders;
    v_lines refund_line[];
    v_method text;
    v_bad record;
BEGIN
    refund_id := claim_idempotency_key(p_idempotency_key, 'refund', p_store_id, v_fingerprint);
    replayed := refund_id IS NOT NULL;
    IF replayed THEN
        RETURN;
    END IF;
    SELECT * INTO v_order FROM orders WHERE global_order_id = p_global_order_id AND store_id = p_store_id FOR UPDATE;
    IF NOT FOUND THEN
        RAISE EXCEPTION USING ERRCODE = 'PS404', MESSAGE = format('no order %s at this store', p_global_order_id);
    END IF;
    IF jsonb_typeof(p_items) IS DISTINCT FROM 'array' OR jsonb_array_length(p_items) = 0 THEN
        PERFORM pos_invalid('items', 'a refund needs at least one line');
    END IF;
    BEGIN
        v_lines := ARRAY(
            SELECT ROW((i ->> 'line_no')::integer, sum((i ->> 'quantity')::integer))::refund_line
            FROM jsonb_array_elements(p_items) i GROUP BY (i ->> 'line_no')::integer);
    EXCEPTION WHEN invalid_text_representation OR numeric_value_out_of_range THEN
        PERFORM pos_invalid('items', 'line_no and quantity must be whole numbers');
    END;
    IF EXISTS (SELECT 1 FROM unnest(v_lines) WHERE quantity IS NULL OR quantity <= 0) THEN
        PERFORM pos_invalid('quantity', 'every quantity must be a positive whole number');
    END IF;
    SELECT r.line_no, r.quantity, oi.quantity AS sold,
           coalesce((SELECT sum(ri.quantity) FROM refund_items ri
                     WHERE ri.order_id = v_order.id AND ri.line_no = r.line_no), 0) AS refunded
    INTO v_bad
    FROM unnest(v_lines) r
    LEFT JOIN order_items oi ON oi.order_id = v_order.id AND oi.line_no = r.line_no
    WHERE oi.line_no IS NULL
       OR r.quantity > oi.quantity - coalesce((SELECT sum(ri.quantity) FROM refund_items ri
                                               WHERE ri.order_id = v_order.id AND ri.line_no = r.line_no), 0)
    ORDER BY r.line_no LIMIT 1;
    IF FOUND THEN
        IF v_bad.sold IS NULL THEN
            PERFORM pos_invalid('line_no', format('the sale has no line %s', v_bad.line_no));
        END IF;
        PERFORM pos_invalid('quantity', format('line %s: %s requested, only %s not yet refunded',
                                               v_bad.line_no, v_bad.quantity, v_bad.sold - v_bad.refunded));
    END IF;
    v_method := coalesce(p_method, main_payment_method(v_order.id));
    IF v_method NOT IN ('cash', 'card', 'wallet') THEN
        PERFORM pos_invalid('method', 'refund method must be cash, card or wallet');
    END IF;
    refund_id := write_refund(v_order, v_lines, v_method, p_reason, p_credential_id,
                              CASE WHEN p_credential_id IS NOT NULL THEN open_shift_of(p_store_id, p_credential_id) END,
                              'refund', NULL);
    INSERT INTO idempotency_keys (idempotency_key, kind, store_id, fingerprint, result_id)
    VALUES (p_idempotency_key, 'refund', p_store_id, v_fingerprint, refund_id);
END;
$$;

-- The method a sale was mostly paid by: a refund's default.
CREATE OR REPLACE FUNCTION main_payment_method(p_order_id bigint) RETURNS text
LANGUAGE sql STABLE AS $$
    SELECT method FROM payments WHERE order_id = p_order_id ORDER BY amount DESC, id LIMIT 1
$$;

-- Voids a sale of the open shift at the credential's terminal, as if it had not been made: the whole sale
-- given back (a refund of kind 'void', by the sale's own payments: the shift report counts each method
-- back) and restocked. A store manager's credential, or a cashier's with a manager's void approval. A
-- sale of another shift, voided already or refunded in part is refunded instead (PS414).
CREATE OR REPLACE FUNCTION void_order(p_store_id integer, p_global_order_id uuid, p_reason text,
                                      p_idempotency_key uuid, p_credential_id integer, p_approval_id uuid,
                                      OUT refund_id uuid, OUT replayed boolean)
LANGUAGE plpgsql AS $$
DECLARE
    v_fingerprint text := md5(jsonb_build_object('store', p_store_id, 'order', p_global_order_id,
                                                 'reason', p_reason, 'approval', p_approval_id)::text);
    v_order orders;
    v_shift bigint;
    v_approval approvals;
BEGIN
    refund_id := claim_idempotency_key(p_idempotency_key, 'void', p_store_id, v_fingerprint);
    replayed := refund_id IS NOT NULL;
    IF replayed THEN
        RETURN;
    END IF;
    SELECT * INTO v_order FROM orders WHERE global_order_id = p_global_order_id AND store_id = p_store_id FOR UPDATE;
    IF NOT FOUND THEN
        RAISE EXCEPTION USING ERRCODE = 'PS404', MESSAGE = format('no order %s at this store', p_global_order_id);
    END IF;
    v_shift := current_shift(p_store_id, p_credential_id);
    IF v_order.shift_id IS DISTINCT FROM v_shift THEN
        RAISE EXCEPTION USING ERRCODE = 'PS414',
            MESSAGE = format('sale %s was not made in this terminal''s open shift: refund it instead', p_global_order_id);
    END IF;
    IF EXISTS (SELECT 1 FROM refunds WHERE order_id = v_order.id) THEN
        RAISE EXCEPTION USING ERRCODE = 'PS414',
            MESSAGE = format('sale %s is voided or refunded already: refund what is left instead', p_global_order_id);
    END IF;
    v_approval := approver(p_store_id, p_credential_id, 'void', p_approval_id, 'a void');
    refund_id := write_refund(v_order,
                              ARRAY(SELECT ROW(line_no, quantity)::refund_line FROM order_items WHERE order_id = v_order.id),
                              main_payment_method(v_order.id), p_reason, p_credential_id, v_shift, 'void',
                              v_approval.granted_by);
    INSERT INTO idempotency_keys (idempotency_key, kind, store_id, fingerprint, result_id)
    VALUES (p_idempotency_key, 'void', p_store_id, v_fingerprint, refund_id);
END;
$$;
