-- Refunds of a store's own sales, voids, returns without a receipt and exchanges: capped per line,
-- restocking, reported to central like a sale.
-- Called by: POST /orders/{id}/refunds, POST /orders/{id}/void, POST /returns and
-- POST /orders/{id}/exchanges (store-node/src/routes/), or an operator from psql.
-- Replaceable (CREATE OR REPLACE only): re-applied at start-up under an advisory lock when its text changes.

-- Errors the service maps to HTTP answers, besides checkout()'s:
--   PS414 the sale cannot be voided: another shift's (or none's), voided already, or refunded in part

-- Records a refund of p_lines (each line's product, quantity, amount and tax, checked by the caller) at
-- the store, of the sale p_order (NULL for a return without a receipt), given back by p_method: restocks,
-- issues a credit note for a refund to store credit, and queues the refund for central. Returns the
-- refund's id.
CREATE OR REPLACE FUNCTION record_refund(p_store_id integer, p_order orders, p_lines refunded_line[], p_method text,
                                         p_reason text, p_credential_id integer, p_shift_id bigint, p_kind text,
                                         p_approved_by integer) RETURNS uuid
LANGUAGE plpgsql AS $$
DECLARE
    v_refund bigint;
    v_refund_id uuid := gen_random_uuid();
    v_amount numeric(12,2);
    v_tax numeric(12,2);
    v_business_date date := store_business_date(p_store_id);
BEGIN
    SELECT sum(amount), sum(tax_amount) INTO v_amount, v_tax FROM unnest(p_lines);
    INSERT INTO refunds (refund_id, order_id, store_id, method, amount, tax_amount, reason, business_date,
                         credential_id, shift_id, kind, approved_by)
    VALUES (v_refund_id, p_order.id, p_store_id, p_method, v_amount, v_tax, p_reason, v_business_date,
            p_credential_id, p_shift_id, p_kind, p_approved_by)
    RETURNING id INTO v_refund;
    INSERT INTO refund_items (refund_id, order_id, line_no, product_id, quantity, amount, tax_amount)
    SELECT v_refund, p_order.id, r.line_no, r.product_id, r.quantity, r.amount, r.tax_amount FROM unnest(p_lines) r;
    -- Restock in product-id order, the order every sale locks in.
    INSERT INTO inventory AS inv (store_id, product_id, quantity)
    SELECT p_store_id, r.product_id, sum(r.quantity) FROM unnest(p_lines) r
    GROUP BY r.product_id ORDER BY r.product_id
    ON CONFLICT (store_id, product_id) DO UPDATE SET quantity = inv.quantity + EXCLUDED.quantity, updated_at = now();
    -- (A void gives store credit back onto the notes the sale spent: see void_order().)
    IF p_method = 'store_credit' AND p_kind <> 'void' THEN
        INSERT INTO credit_notes (code, store_id, refund_id, amount, balance)
        VALUES ('CN-' || upper(substr(md5(gen_random_uuid()::text), 1, 16)), p_store_id, v_refund, v_amount, v_amount);
    END IF;
    INSERT INTO outbox (kind, global_order_id, payload)
    VALUES (CASE WHEN p_order.id IS NULL THEN 'return' ELSE 'refund' END, p_order.global_order_id,
            jsonb_build_object('refund_id', v_refund_id, 'global_order_id', p_order.global_order_id,
                               'store_id', p_store_id, 'amount', v_amount, 'business_date', v_business_date,
                               'refund_time', now()));
    RETURN v_refund_id;
END;
$$;

-- Refunds p_lines of the sale p_order (checked: each within what is left to refund): a line's refunds
-- give back its total (after its discount) and its tax in shares of the units, each refund the share of
-- all units refunded so far less the share before it, so that the refunds of a whole line add up to it to
-- the paisa.
CREATE OR REPLACE FUNCTION write_refund(p_order orders, p_lines refund_line[], p_method text, p_reason text,
                                        p_credential_id integer, p_shift_id bigint, p_kind text,
                                        p_approved_by integer) RETURNS uuid
LANGUAGE sql AS $$
    SELECT record_refund(p_order.store_id, p_order, ARRAY(
        SELECT ROW(r.line_no, r.quantity,
                   round(oi.line_total * (b.before + r.quantity) / oi.quantity, 2)
                   - round(oi.line_total * b.before / oi.quantity, 2),
                   round(oi.tax_amount * (b.before + r.quantity) / oi.quantity, 2)
                   - round(oi.tax_amount * b.before / oi.quantity, 2), oi.product_id)::refunded_line
        FROM unnest(p_lines) r
        JOIN order_items oi ON oi.order_id = p_order.id AND oi.line_no = r.line_no
        CROSS JOIN LATERAL (SELECT coalesce(sum(ri.quantity), 0) AS before FROM refund_items ri
                            WHERE ri.order_id = p_order.id AND ri.line_no = r.line_no) b),
        p_method, p_reason, p_credential_id, p_shift_id, p_kind, p_approved_by)
$$;

-- The store's sale, locked for the refund or void of it (they serialise on it); PS404 when it is not
-- the store's.
CREATE OR REPLACE FUNCTION lock_store_order(p_store_id integer, p_global_order_id uuid) RETURNS orders
LANGUAGE plpgsql AS $$
DECLARE
    v_order orders;
BEGIN
    SELECT * INTO v_order FROM orders WHERE global_order_id = p_global_order_id AND store_id = p_store_id FOR UPDATE;
    IF NOT FOUND THEN
        RAISE EXCEPTION USING ERRCODE = 'PS404', MESSAGE = format('no order %s at this store', p_global_order_id);
    END IF;
    RETURN v_order;
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
    v_order := lock_store_order(p_store_id, p_global_order_id);
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
    IF v_method NOT IN ('cash', 'card', 'wallet', 'store_credit') THEN
        PERFORM pos_invalid('method', 'refund method must be cash, card, wallet or store_credit');
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
    v_order := lock_store_order(p_store_id, p_global_order_id);
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
    -- What the sale spent of each credit note goes back onto it (after the stock, as a sale locks them).
    UPDATE credit_notes n SET balance = n.balance + p.spent
    FROM (SELECT credit_note_id, sum(amount) AS spent FROM payments
          WHERE order_id = v_order.id AND credit_note_id IS NOT NULL GROUP BY credit_note_id) p
    WHERE n.id = p.credit_note_id;
    INSERT INTO idempotency_keys (idempotency_key, kind, store_id, fingerprint, result_id)
    VALUES (p_idempotency_key, 'void', p_store_id, v_fingerprint, refund_id);
END;
$$;

-- Goods back at the store with no sale to point to (a return without a receipt): a store manager's
-- credential, or a cashier's with a manager's return approval. Each product is taken back at the price a
-- sale charges for it now (price_now(), before promotions) with its tax at today's rate (line_tax()),
-- restocked, and given back by p_method (cash, card, wallet or store_credit: a credit note). Reported to
-- central as a return (no sale).
CREATE OR REPLACE FUNCTION return_without_receipt(p_store_id integer, p_items jsonb, p_method text, p_reason text,
                                                  p_idempotency_key uuid, p_credential_id integer,
                                                  p_approval_id uuid, OUT refund_id uuid, OUT replayed boolean)
LANGUAGE plpgsql AS $$
DECLARE
    v_fingerprint text := md5(jsonb_build_object('store', p_store_id, 'items', p_items, 'method', p_method,
                                                 'reason', p_reason, 'approval', p_approval_id)::text);
    v_lines refunded_line[];
    v_missing record;
    v_approval approvals;
    v_prices_include_tax boolean := (SELECT coalesce(c.prices_include_tax, true)
                                     FROM stores s LEFT JOIN cities c ON c.id = s.city_id WHERE s.id = p_store_id);
BEGIN
    refund_id := claim_idempotency_key(p_idempotency_key, 'return', p_store_id, v_fingerprint);
    replayed := refund_id IS NOT NULL;
    IF replayed THEN
        RETURN;
    END IF;
    IF NOT EXISTS (SELECT 1 FROM stores WHERE id = p_store_id AND active) THEN
        PERFORM pos_invalid('store_id', format('store %s does not sell at this node', p_store_id));
    END IF;
    -- A store moved to another city takes goods back at that city's node, as it sells there.
    IF EXISTS (SELECT 1 FROM stores s JOIN node_settings n ON s.city_id <> n.city_id WHERE s.id = p_store_id) THEN
        RAISE EXCEPTION USING ERRCODE = 'PS411',
            MESSAGE = format('store %s has moved to another city: its returns go to that city''s node', p_store_id);
    END IF;
    IF jsonb_typeof(p_items) IS DISTINCT FROM 'array' OR jsonb_array_length(p_items) = 0 THEN
        PERFORM pos_invalid('items', 'a return needs at least one item');
    END IF;
    IF p_method IS NULL OR p_method NOT IN ('cash', 'card', 'wallet', 'store_credit') THEN
        PERFORM pos_invalid('method', 'a return is given back by cash, card, wallet or store_credit');
    END IF;
    BEGIN
        v_lines := ARRAY(
            SELECT ROW(i.n, q.quantity, line_amount(n.net, n.rate, v_prices_include_tax),
                       line_tax(n.net, n.rate, v_prices_include_tax), q.product_id)::refunded_line
            FROM jsonb_array_elements(p_items) WITH ORDINALITY AS i (item, n)
            CROSS JOIN LATERAL (SELECT (i.item ->> 'product_id')::integer AS product_id,
                                       (i.item ->> 'quantity')::integer AS quantity) q
            LEFT JOIN products p ON p.id = q.product_id
            LEFT JOIN categories c ON c.id = p.category_id
            CROSS JOIN LATERAL (SELECT q.quantity * price_now(p.price, p.next_price, p.next_price_at) AS net,
                                       coalesce(p.tax_rate, c.tax_rate, 0) AS rate) n
            ORDER BY i.n);
    EXCEPTION WHEN invalid_text_representation OR numeric_value_out_of_range THEN
        PERFORM pos_invalid('items', 'product_id and quantity must be whole numbers');
    END;
    SELECT r.line_no, r.quantity, r.amount INTO v_missing FROM unnest(v_lines) r
    WHERE r.quantity IS NULL OR r.quantity <= 0 OR r.amount IS NULL ORDER BY r.line_no LIMIT 1;
    IF FOUND THEN
        IF v_missing.quantity IS NULL OR v_missing.quantity <= 0 THEN
            PERFORM pos_invalid('quantity', 'every quantity must be a positive whole number');
        END IF;
        PERFORM pos_invalid('product_id', format('item %s: no such product', v_missing.line_no));
    END IF;
    IF (SELECT sum(amount) FROM unnest(v_lines)) >= 10000000000 THEN
        PERFORM pos_invalid('items', 'a return of 10,000,000,000.00 or more is not taken at a till');
    END IF;
    v_approval := approver(p_store_id, p_credential_id, 'return', p_approval_id, 'a return without a receipt');
    refund_id := record_refund(p_store_id, NULL, v_lines, p_method, p_reason, p_credential_id,
                               CASE WHEN p_credential_id IS NOT NULL THEN open_shift_of(p_store_id, p_credential_id) END,
                               'return', v_approval.granted_by);
    INSERT INTO idempotency_keys (idempotency_key, kind, store_id, fingerprint, result_id)
    VALUES (p_idempotency_key, 'return', p_store_id, v_fingerprint, refund_id);
END;
$$;

-- An exchange, in one transaction: lines of a sale come back to store credit (refund_order()), and a new
-- sale is paid with that credit first, then with p_payments for the rest (checkout()); what the credit
-- does not spend stays on its note. Returns the refund, the new sale (as order_details() shows it) and the
-- credit note with what the sale left on it, as they were then (a replay answers the same).
CREATE OR REPLACE FUNCTION exchange_order(p_store_id integer, p_global_order_id uuid, p_items jsonb,
                                          p_customer_id integer, p_sale_items jsonb, p_payments jsonb,
                                          p_idempotency_key uuid, p_credential_id integer,
                                          p_order_discount jsonb, p_approval_id uuid,
                                          OUT exchange jsonb, OUT replayed boolean)
LANGUAGE plpgsql AS $$
DECLARE
    v_fingerprint text := md5(jsonb_build_object(
        'store', p_store_id, 'order', p_global_order_id, 'items', p_items, 'customer', p_customer_id,
        'sale', p_sale_items, 'payments', p_payments, 'discount', p_order_discount,
        'approval', p_approval_id)::text);
    v_exchange_id uuid;
    v_refund_id uuid;
    v_note credit_notes;
    v_order_id uuid;
BEGIN
    v_exchange_id := claim_idempotency_key(p_idempotency_key, 'exchange', p_store_id, v_fingerprint);
    replayed := v_exchange_id IS NOT NULL;
    IF NOT replayed THEN
        IF jsonb_typeof(p_payments) IS DISTINCT FROM 'array' THEN
            PERFORM pos_invalid('payments', 'payments must be a list (empty when the credit covers the sale)');
        END IF;
        -- The stock of what comes back and of what is sold, locked at once in product-id order (the order
        -- every sale locks in): the refund restocks before the sale takes, and would otherwise lock out of
        -- that order.
        BEGIN
            PERFORM 1 FROM inventory
            WHERE store_id = p_store_id
              AND product_id IN (SELECT oi.product_id FROM orders o JOIN order_items oi ON oi.order_id = o.id
                                 WHERE o.global_order_id = p_global_order_id
                                   AND oi.line_no IN (SELECT (i ->> 'line_no')::integer
                                                      FROM jsonb_array_elements(p_items) i)
                                 UNION ALL
                                 SELECT (i ->> 'product_id')::integer FROM jsonb_array_elements(p_sale_items) i)
            ORDER BY product_id FOR UPDATE;
        EXCEPTION WHEN invalid_text_representation OR numeric_value_out_of_range OR invalid_parameter_value THEN
            PERFORM pos_invalid('items', 'line_no, product_id and quantity must be whole numbers');
        END;
        -- The refund and the sale each claim a key of their own, made from the exchange's.
        v_refund_id := (refund_order(p_store_id, p_global_order_id, p_items, 'store_credit', 'exchange',
                                     md5(p_idempotency_key::text || ':refund')::uuid, p_credential_id)).refund_id;
        SELECT n.* INTO v_note FROM credit_notes n JOIN refunds r ON r.id = n.refund_id WHERE r.refund_id = v_refund_id;
        v_order_id := (checkout(p_store_id, p_customer_id, p_sale_items,
                                jsonb_build_array(jsonb_build_object('method', 'store_credit', 'credit_note', v_note.code))
                                || p_payments,
                                md5(p_idempotency_key::text || ':sale')::uuid, false, p_credential_id,
                                p_order_discount, p_approval_id)).global_order_id;
        v_exchange_id := gen_random_uuid();
        INSERT INTO exchanges (exchange_id, refund_id, order_id, credit_note_id, answer)
        SELECT v_exchange_id, r.id, o.id, n.id,
               jsonb_build_object('exchange_id', v_exchange_id, 'refund_id', r.refund_id, 'returned', r.amount::text,
                                  'order', order_details(o.global_order_id),
                                  'credit_note', jsonb_build_object('code', n.code, 'amount', n.amount::text,
                                                                    'balance', n.balance::text))
        FROM refunds r, orders o, credit_notes n
        WHERE r.refund_id = v_refund_id AND o.global_order_id = v_order_id AND n.id = v_note.id;
        INSERT INTO idempotency_keys (idempotency_key, kind, store_id, fingerprint, result_id)
        VALUES (p_idempotency_key, 'exchange', p_store_id, v_fingerprint, v_exchange_id);
    END IF;
    exchange := (SELECT answer FROM exchanges WHERE exchange_id = v_exchange_id);
END;
$$;
