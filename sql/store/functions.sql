-- The store node's replaceable functions. Re-applied at start-up whenever this text changes (under an
-- advisory lock), so everything here must be re-runnable: CREATE OR REPLACE only.

-- ---------------------------------------------------------------------------------------------------
-- Replication from central. Central's replicator calls this over dblink as the `pos_replicator` role,
-- which may do nothing else: the function runs with its owner's rights (SECURITY DEFINER).
-- Each table is one set-based, version-guarded upsert: an older version never overwrites a newer one,
-- so retries and out-of-order batches are harmless.
CREATE OR REPLACE FUNCTION apply_replication(p_batch jsonb) RETURNS integer
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    v_total integer := 0;
    v_count integer;
BEGIN
    INSERT INTO categories AS t (id, name, version, created_at, updated_at)
    SELECT r.id, r.name, r.version, r.created_at, r.updated_at
    FROM jsonb_populate_recordset(NULL::categories, coalesce(p_batch -> 'categories', '[]')) r
    ON CONFLICT (id) DO UPDATE
        SET name = EXCLUDED.name, version = EXCLUDED.version, updated_at = EXCLUDED.updated_at
        WHERE t.version < EXCLUDED.version;
    GET DIAGNOSTICS v_count = ROW_COUNT;
    v_total := v_total + v_count;

    INSERT INTO products AS t (id, sku, name, category_id, price, active, version, created_at, updated_at)
    SELECT r.id, r.sku, r.name, r.category_id, r.price, r.active, r.version, r.created_at, r.updated_at
    FROM jsonb_populate_recordset(NULL::products, coalesce(p_batch -> 'products', '[]')) r
    ON CONFLICT (id) DO UPDATE
        SET sku = EXCLUDED.sku, name = EXCLUDED.name, category_id = EXCLUDED.category_id, price = EXCLUDED.price,
            active = EXCLUDED.active, version = EXCLUDED.version, updated_at = EXCLUDED.updated_at
        WHERE t.version < EXCLUDED.version;
    GET DIAGNOSTICS v_count = ROW_COUNT;
    v_total := v_total + v_count;

    INSERT INTO stores AS t (id, code, name, city_id, active, version, created_at, updated_at)
    SELECT r.id, r.code, r.name, r.city_id, r.active, r.version, r.created_at, r.updated_at
    FROM jsonb_populate_recordset(NULL::stores, coalesce(p_batch -> 'stores', '[]')) r
    ON CONFLICT (id) DO UPDATE
        SET code = EXCLUDED.code, name = EXCLUDED.name, city_id = EXCLUDED.city_id, active = EXCLUDED.active,
            version = EXCLUDED.version, updated_at = EXCLUDED.updated_at
        WHERE t.version < EXCLUDED.version;
    GET DIAGNOSTICS v_count = ROW_COUNT;
    v_total := v_total + v_count;

    INSERT INTO customers AS t (id, name, phone, email, city_id, deleted_at, version, created_at, updated_at)
    SELECT r.id, r.name, r.phone, r.email, r.city_id, r.deleted_at, r.version, r.created_at, r.updated_at
    FROM jsonb_populate_recordset(NULL::customers, coalesce(p_batch -> 'customers', '[]')) r
    ON CONFLICT (id) DO UPDATE
        SET name = EXCLUDED.name, phone = EXCLUDED.phone, email = EXCLUDED.email, city_id = EXCLUDED.city_id,
            deleted_at = EXCLUDED.deleted_at, version = EXCLUDED.version, updated_at = EXCLUDED.updated_at
        WHERE t.version < EXCLUDED.version;
    GET DIAGNOSTICS v_count = ROW_COUNT;
    v_total := v_total + v_count;

    -- Rows gone from central. Rows this node's history refers to are kept (products made inactive,
    -- customers marked deleted) so that old orders stay valid.
    WITH gone AS (
        SELECT d ->> 'table' AS table_name, (d ->> 'id')::integer AS id
        FROM jsonb_array_elements(coalesce(p_batch -> 'deleted', '[]')) d
    ), gone_categories AS (
        DELETE FROM categories WHERE id IN (SELECT id FROM gone WHERE table_name = 'categories') RETURNING 1
    ), retired_products AS (
        UPDATE products SET active = false WHERE id IN (SELECT id FROM gone WHERE table_name = 'products') RETURNING 1
    ), retired_stores AS (
        UPDATE stores SET active = false WHERE id IN (SELECT id FROM gone WHERE table_name = 'stores') RETURNING 1
    ), retired_customers AS (
        UPDATE customers SET deleted_at = coalesce(deleted_at, now())
        WHERE id IN (SELECT id FROM gone WHERE table_name = 'customers') RETURNING 1
    )
    SELECT (SELECT count(*) FROM gone_categories) + (SELECT count(*) FROM retired_products)
         + (SELECT count(*) FROM retired_stores) + (SELECT count(*) FROM retired_customers)
    INTO v_count;
    v_total := v_total + v_count;
    RETURN v_total;
END;
$$;

SELECT grant_to_replicator('apply_replication(jsonb)');

-- ---------------------------------------------------------------------------------------------------
-- Sales. Errors the service maps to HTTP answers carry their own SQLSTATEs:
--   PS409 insufficient stock (DETAIL: {"product_id", "requested", "available"})
--   PS410 idempotency key reused with another request
--   PS422 validation failed (COLUMN names the field)
--   PS404 the order (or other named thing) is not this store's

CREATE OR REPLACE FUNCTION pos_invalid(p_field text, p_message text) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION USING ERRCODE = 'PS422', MESSAGE = p_message, COLUMN = p_field;
END;
$$;

-- Every terminal write is serialised on its idempotency key; returns the earlier result for a replay
-- of the same request, refuses a different request under the same key, NULL for a new key.
CREATE OR REPLACE FUNCTION claim_idempotency_key(p_key uuid, p_kind text, p_store_id integer, p_fingerprint text)
RETURNS uuid LANGUAGE plpgsql AS $$
DECLARE
    v_existing idempotency_keys;
BEGIN
    IF p_key IS NULL THEN
        PERFORM pos_invalid('idempotency_key', 'idempotency_key is required');
    END IF;
    PERFORM pg_advisory_xact_lock(hashtextextended(p_key::text, 0));
    SELECT * INTO v_existing FROM idempotency_keys WHERE idempotency_key = p_key;
    IF NOT FOUND THEN
        RETURN NULL;
    END IF;
    IF v_existing.kind <> p_kind OR v_existing.store_id <> p_store_id OR v_existing.fingerprint <> p_fingerprint THEN
        RAISE EXCEPTION USING ERRCODE = 'PS410',
            MESSAGE = 'this idempotency_key was used for a different request';
    END IF;
    RETURN v_existing.result_id;
END;
$$;

-- The one path every sale takes (the HTTP endpoint calls it; so can an operator from psql).
-- p_items: [{"product_id": 1, "quantity": 2}], p_payments: [{"method": "cash", "amount": "500.00"}].
-- Returns the order's global id, whether it is a replay of an earlier identical request, and with
-- p_with_order the order as order_details() shows it (built from what the sale has in hand, so the till's
-- answer costs no second read).
DROP FUNCTION IF EXISTS checkout_order(integer, integer, jsonb, jsonb, uuid);
DROP FUNCTION IF EXISTS checkout(integer, integer, jsonb, jsonb, uuid);
CREATE OR REPLACE FUNCTION checkout(p_store_id integer, p_customer_id integer, p_items jsonb, p_payments jsonb,
                                    p_idempotency_key uuid, p_with_order boolean,
                                    OUT global_order_id uuid, OUT replayed boolean, OUT order_json jsonb)
LANGUAGE plpgsql AS $$
DECLARE
    v_fingerprint text := md5(jsonb_build_object('store', p_store_id, 'customer', p_customer_id,
                                                 'items', p_items, 'payments', p_payments)::text);
    v_lines sale_line[];
    v_order_id bigint;
    v_store_order_id bigint;
    v_total numeric(12,2);
    v_paid numeric(12,2);
    v_non_cash numeric(12,2);
    v_short record;
BEGIN
    global_order_id := claim_idempotency_key(p_idempotency_key, 'order', p_store_id, v_fingerprint);
    replayed := global_order_id IS NOT NULL;
    IF replayed THEN
        IF p_with_order THEN
            order_json := order_details(global_order_id);
        END IF;
        RETURN;
    END IF;

    IF NOT EXISTS (SELECT 1 FROM stores WHERE id = p_store_id AND active) THEN
        PERFORM pos_invalid('store_id', format('store %s does not sell at this node', p_store_id));
    END IF;
    IF p_customer_id IS NOT NULL
       AND NOT EXISTS (SELECT 1 FROM customers WHERE id = p_customer_id AND deleted_at IS NULL) THEN
        PERFORM pos_invalid('customer_id', format('no customer %s', p_customer_id));
    END IF;
    IF jsonb_typeof(p_items) IS DISTINCT FROM 'array' OR jsonb_array_length(p_items) = 0 THEN
        PERFORM pos_invalid('items', 'a sale needs at least one item');
    END IF;
    IF jsonb_typeof(p_payments) IS DISTINCT FROM 'array' OR jsonb_array_length(p_payments) = 0 THEN
        PERFORM pos_invalid('payments', 'a sale needs at least one payment');
    END IF;

    -- The lines travel in an array: a temporary table would write catalog rows on every sale.
    BEGIN
        v_lines := ARRAY(
            SELECT ROW(l.ordinality, (l.item ->> 'product_id')::integer, (l.item ->> 'quantity')::integer, NULL)::sale_line
            FROM jsonb_array_elements(p_items) WITH ORDINALITY AS l (item, ordinality));
    EXCEPTION WHEN invalid_text_representation OR numeric_value_out_of_range THEN
        PERFORM pos_invalid('items', 'product_id and quantity must be whole numbers');
    END;
    IF EXISTS (SELECT 1 FROM unnest(v_lines) WHERE quantity IS NULL OR quantity <= 0) THEN
        PERFORM pos_invalid('quantity', 'every quantity must be a positive whole number');
    END IF;
    v_lines := ARRAY(
        SELECT ROW(l.line_no, l.product_id, l.quantity, p.price)::sale_line
        FROM unnest(v_lines) l LEFT JOIN products p ON p.id = l.product_id AND p.active
        ORDER BY l.line_no);
    SELECT product_id INTO v_short FROM unnest(v_lines) WHERE unit_price IS NULL ORDER BY line_no LIMIT 1;
    IF FOUND THEN
        PERFORM pos_invalid('product_id', format('product %s is not for sale here', v_short.product_id));
    END IF;

    -- Lock this store's stock rows in product-id order (every sale takes them in the same order, so two
    -- sales of the same products never deadlock), then check the whole sale before writing anything.
    PERFORM 1 FROM inventory
    WHERE store_id = p_store_id AND product_id IN (SELECT product_id FROM unnest(v_lines))
    ORDER BY product_id
    FOR UPDATE;
    SELECT w.product_id, w.requested, coalesce(i.quantity, 0) AS available INTO v_short
    FROM (SELECT product_id, sum(quantity)::integer AS requested FROM unnest(v_lines) GROUP BY product_id) w
    LEFT JOIN inventory i ON i.store_id = p_store_id AND i.product_id = w.product_id
    WHERE coalesce(i.quantity, 0) < w.requested
    ORDER BY w.product_id LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION USING ERRCODE = 'PS409',
            MESSAGE = format('not enough stock of product %s: %s requested, %s available',
                             v_short.product_id, v_short.requested, v_short.available),
            DETAIL = jsonb_build_object('product_id', v_short.product_id, 'requested', v_short.requested,
                                        'available', v_short.available)::text;
    END IF;

    SELECT sum(quantity * unit_price) INTO v_total FROM unnest(v_lines);
    BEGIN
        SELECT sum((p ->> 'amount')::numeric(12,2)),
               coalesce(sum((p ->> 'amount')::numeric(12,2)) FILTER (WHERE p ->> 'method' <> 'cash'), 0)
        INTO v_paid, v_non_cash
        FROM jsonb_array_elements(p_payments) p;
    EXCEPTION WHEN invalid_text_representation OR numeric_value_out_of_range THEN
        PERFORM pos_invalid('payments', 'every payment amount must be a decimal amount');
    END;
    IF EXISTS (SELECT 1 FROM jsonb_array_elements(p_payments) p
               WHERE p ->> 'method' IS NULL OR p ->> 'method' NOT IN ('cash', 'card', 'wallet')) THEN
        PERFORM pos_invalid('method', 'payment method must be cash, card or wallet');
    END IF;
    IF EXISTS (SELECT 1 FROM jsonb_array_elements(p_payments) p
               WHERE (p ->> 'amount')::numeric IS NULL OR (p ->> 'amount')::numeric <= 0
                  OR (p ->> 'amount')::numeric <> round((p ->> 'amount')::numeric, 2)) THEN
        PERFORM pos_invalid('amount', 'every payment amount must be positive, with at most two decimals');
    END IF;
    IF v_paid < v_total THEN
        PERFORM pos_invalid('payments', format('payments of %s do not cover the total of %s', v_paid, v_total));
    END IF;
    IF v_non_cash > v_total THEN
        PERFORM pos_invalid('payments', 'card and wallet payments may not exceed the total');
    END IF;

    INSERT INTO store_order_counters AS c (store_id, last_order_id) VALUES (p_store_id, 1)
    ON CONFLICT (store_id) DO UPDATE SET last_order_id = c.last_order_id + 1
    RETURNING last_order_id INTO v_store_order_id;

    global_order_id := gen_random_uuid();
    INSERT INTO orders (global_order_id, store_id, store_order_id, customer_id, total, change_due, business_date)
    VALUES (global_order_id, p_store_id, v_store_order_id, p_customer_id, v_total, v_paid - v_total, current_date)
    RETURNING id INTO v_order_id;
    INSERT INTO order_items (order_id, line_no, product_id, quantity, unit_price, line_total)
    SELECT v_order_id, line_no, product_id, quantity, unit_price, quantity * unit_price FROM unnest(v_lines);
    INSERT INTO payments (order_id, method, amount)
    SELECT v_order_id, p ->> 'method', (p ->> 'amount')::numeric(12,2) FROM jsonb_array_elements(p_payments) p;
    UPDATE inventory i SET quantity = i.quantity - w.requested, updated_at = now()
    FROM (SELECT product_id, sum(quantity)::integer AS requested FROM unnest(v_lines) GROUP BY product_id) w
    WHERE i.store_id = p_store_id AND i.product_id = w.product_id;
    INSERT INTO outbox (kind, global_order_id, payload)
    VALUES ('order', global_order_id, jsonb_build_object(
        'global_order_id', global_order_id, 'store_id', p_store_id, 'store_order_id', v_store_order_id,
        'customer_id', p_customer_id, 'total_amount', v_total, 'business_date', current_date, 'order_time', now(),
        'city_id', (SELECT city_id FROM stores WHERE id = p_store_id)));
    INSERT INTO idempotency_keys (idempotency_key, kind, store_id, fingerprint, result_id)
    VALUES (p_idempotency_key, 'order', p_store_id, v_fingerprint, global_order_id);
    IF p_with_order THEN
        order_json := jsonb_build_object(
            'global_order_id', global_order_id, 'store_id', p_store_id, 'store_order_id', v_store_order_id,
            'customer_id', p_customer_id, 'total', v_total::text, 'change_due', (v_paid - v_total)::text,
            'business_date', current_date, 'created_at', now(),
            'items', (SELECT jsonb_agg(jsonb_build_object(
                          'line_no', l.line_no, 'product_id', l.product_id, 'sku', p.sku, 'name', p.name,
                          'quantity', l.quantity, 'unit_price', l.unit_price::text,
                          'line_total', (l.quantity * l.unit_price)::numeric(12,2)::text) ORDER BY l.line_no)
                      FROM unnest(v_lines) l JOIN products p ON p.id = l.product_id),
            'payments', (SELECT jsonb_agg(jsonb_build_object(
                             'method', pa.value ->> 'method', 'amount', (pa.value ->> 'amount')::numeric(12,2)::text)
                             ORDER BY pa.ordinality)
                         FROM jsonb_array_elements(p_payments) WITH ORDINALITY AS pa (value, ordinality)),
            'refunds', '[]'::jsonb);
    END IF;
END;
$$;

CREATE OR REPLACE FUNCTION process_order(p_store_id integer, p_customer_id integer, p_items jsonb, p_payments jsonb,
                                         p_idempotency_key uuid) RETURNS uuid
LANGUAGE sql AS $$
    SELECT global_order_id FROM checkout(p_store_id, p_customer_id, p_items, p_payments, p_idempotency_key, false)
$$;

-- Stock arriving at a store (idempotent like every terminal write). Returns the receipt's id and
-- whether this was a replay.
CREATE OR REPLACE FUNCTION receive_stock(p_store_id integer, p_items jsonb, p_reference text, p_idempotency_key uuid,
                                         OUT receipt_id uuid, OUT replayed boolean)
LANGUAGE plpgsql AS $$
DECLARE
    v_fingerprint text := md5(jsonb_build_object('store', p_store_id, 'items', p_items, 'reference', p_reference)::text);
    v_receipt bigint;
    v_missing integer;
BEGIN
    receipt_id := claim_idempotency_key(p_idempotency_key, 'receipt', p_store_id, v_fingerprint);
    replayed := receipt_id IS NOT NULL;
    IF replayed THEN
        RETURN;
    END IF;
    IF NOT EXISTS (SELECT 1 FROM stores WHERE id = p_store_id) THEN
        PERFORM pos_invalid('store_id', format('store %s is not at this node', p_store_id));
    END IF;
    IF jsonb_typeof(p_items) IS DISTINCT FROM 'array' OR jsonb_array_length(p_items) = 0 THEN
        PERFORM pos_invalid('items', 'a receipt needs at least one item');
    END IF;
    SELECT (i ->> 'product_id')::integer INTO v_missing
    FROM jsonb_array_elements(p_items) i
    WHERE NOT EXISTS (SELECT 1 FROM products p WHERE p.id = (i ->> 'product_id')::integer)
    LIMIT 1;
    IF FOUND THEN
        PERFORM pos_invalid('product_id', format('no product %s', v_missing));
    END IF;
    receipt_id := gen_random_uuid();
    INSERT INTO stock_receipts (receipt_id, store_id, reference) VALUES (receipt_id, p_store_id, p_reference)
    RETURNING id INTO v_receipt;
    INSERT INTO stock_receipt_items (receipt_id, product_id, quantity)
    SELECT v_receipt, (i ->> 'product_id')::integer, sum((i ->> 'quantity')::integer)
    FROM jsonb_array_elements(p_items) i GROUP BY 2;
    INSERT INTO inventory AS inv (store_id, product_id, quantity)
    SELECT p_store_id, product_id, quantity FROM stock_receipt_items WHERE stock_receipt_items.receipt_id = v_receipt
    ORDER BY product_id
    ON CONFLICT (store_id, product_id) DO UPDATE SET quantity = inv.quantity + EXCLUDED.quantity, updated_at = now();
    INSERT INTO idempotency_keys (idempotency_key, kind, store_id, fingerprint, result_id)
    VALUES (p_idempotency_key, 'receipt', p_store_id, v_fingerprint, receipt_id);
END;
$$;

-- A refund of lines of one of this store's sales: capped at what is not yet refunded, restocks, and is
-- reported to central like a sale. Concurrent refunds of one order serialise on the order's row.
CREATE OR REPLACE FUNCTION refund_order(p_store_id integer, p_global_order_id uuid, p_items jsonb, p_method text,
                                        p_reason text, p_idempotency_key uuid,
                                        OUT refund_id uuid, OUT replayed boolean)
LANGUAGE plpgsql AS $$
DECLARE
    v_fingerprint text := md5(jsonb_build_object('store', p_store_id, 'order', p_global_order_id, 'items', p_items,
                                                 'method', p_method, 'reason', p_reason)::text);
    v_order orders;
    v_lines refund_line[];
    v_refund bigint;
    v_amount numeric(12,2);
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
    v_method := coalesce(p_method, (SELECT method FROM payments WHERE order_id = v_order.id ORDER BY amount DESC, id LIMIT 1));
    IF v_method NOT IN ('cash', 'card', 'wallet') THEN
        PERFORM pos_invalid('method', 'refund method must be cash, card or wallet');
    END IF;
    SELECT sum(r.quantity * oi.unit_price) INTO v_amount
    FROM unnest(v_lines) r JOIN order_items oi ON oi.order_id = v_order.id AND oi.line_no = r.line_no;

    refund_id := gen_random_uuid();
    INSERT INTO refunds (refund_id, order_id, method, amount, reason, business_date)
    VALUES (refund_id, v_order.id, v_method, v_amount, p_reason, current_date)
    RETURNING id INTO v_refund;
    INSERT INTO refund_items (refund_id, order_id, line_no, quantity, amount)
    SELECT v_refund, v_order.id, r.line_no, r.quantity, r.quantity * oi.unit_price
    FROM unnest(v_lines) r JOIN order_items oi ON oi.order_id = v_order.id AND oi.line_no = r.line_no;
    -- Restock in product-id order, the order every sale locks in.
    INSERT INTO inventory AS inv (store_id, product_id, quantity)
    SELECT p_store_id, oi.product_id, sum(r.quantity)
    FROM unnest(v_lines) r JOIN order_items oi ON oi.order_id = v_order.id AND oi.line_no = r.line_no
    GROUP BY oi.product_id ORDER BY oi.product_id
    ON CONFLICT (store_id, product_id) DO UPDATE SET quantity = inv.quantity + EXCLUDED.quantity, updated_at = now();
    INSERT INTO outbox (kind, global_order_id, payload)
    VALUES ('refund', p_global_order_id, jsonb_build_object(
        'refund_id', refund_id, 'global_order_id', p_global_order_id, 'store_id', p_store_id,
        'amount', v_amount, 'business_date', current_date, 'refund_time', now()));
    INSERT INTO idempotency_keys (idempotency_key, kind, store_id, fingerprint, result_id)
    VALUES (p_idempotency_key, 'refund', p_store_id, v_fingerprint, refund_id);
END;
$$;

-- ---------------------------------------------------------------------------------------------------
-- Outbox to central: sales waiting for central's order_mapping, shipped in batches over the named
-- dblink connection `pos_central` (server `pos_central`, defined by the service from its configuration).
CREATE OR REPLACE FUNCTION push_outbox(p_include_due_failed boolean DEFAULT true, p_limit integer DEFAULT 500,
                                       OUT delivered integer, OUT failed integer)
LANGUAGE plpgsql AS $$
DECLARE
    v_ids bigint[];
    v_batch jsonb;
    v_message text;
    v_detail text;
BEGIN
    delivered := 0;
    failed := 0;
    SELECT array_agg(o.id), jsonb_agg(o.payload || jsonb_build_object('kind', o.kind) ORDER BY o.id)
    INTO v_ids, v_batch
    FROM (SELECT id, kind, payload FROM outbox
          WHERE status = 'Pending' OR (p_include_due_failed AND status = 'Failed' AND next_attempt_at <= clock_timestamp())
          ORDER BY id LIMIT p_limit
          FOR UPDATE SKIP LOCKED) o;
    IF v_ids IS NULL THEN
        RETURN;
    END IF;
    BEGIN
        IF NOT ('pos_central' = ANY (coalesce(dblink_get_connections(), '{}'))) THEN
            PERFORM dblink_connect('pos_central', 'pos_central');
        END IF;
        PERFORM 1 FROM dblink('pos_central', format('SELECT apply_order_mappings(%L::jsonb)', v_batch)) AS t(applied integer);
    EXCEPTION WHEN OTHERS THEN
        GET STACKED DIAGNOSTICS v_message = MESSAGE_TEXT, v_detail = PG_EXCEPTION_DETAIL;
        IF 'pos_central' = ANY (coalesce(dblink_get_connections(), '{}')) THEN
            PERFORM dblink_disconnect('pos_central');
        END IF;
        UPDATE outbox
        SET status = 'Failed', attempts = attempts + 1, last_attempt_at = clock_timestamp(),
            message = redact_secrets(v_message || CASE WHEN coalesce(v_detail, '') <> '' THEN ': ' || v_detail ELSE '' END),
            next_attempt_at = clock_timestamp() + least(60000, 500 * power(2, attempts)) * interval '1 millisecond'
        WHERE id = ANY (v_ids);
        failed := cardinality(v_ids);
        RETURN;
    END;
    UPDATE outbox
    SET status = 'Success', attempts = attempts + 1, last_attempt_at = clock_timestamp(),
        delivered_at = clock_timestamp(), message = NULL, next_attempt_at = NULL
    WHERE id = ANY (v_ids);
    -- Central answers again: what failed while it was away need not wait out its back-off.
    UPDATE outbox SET next_attempt_at = clock_timestamp() WHERE status = 'Failed' AND next_attempt_at > clock_timestamp();
    delivered := cardinality(v_ids);
END;
$$;

-- An order as head office sees it: central calls this over dblink as `pos_replicator`.
CREATE OR REPLACE FUNCTION order_details(p_global_order_id uuid) RETURNS jsonb
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
BEGIN
    -- PL/pgSQL, not SQL: its plan is kept for the session (a SQL function with SET is planned every call,
    -- and every sale answers through this).
    RETURN (SELECT jsonb_build_object(
        'global_order_id', o.global_order_id, 'store_id', o.store_id, 'store_order_id', o.store_order_id,
        'customer_id', o.customer_id, 'total', o.total::text,
        'change_due', o.change_due::text, 'business_date', o.business_date,
        'created_at', o.created_at,
        'items', (SELECT coalesce(jsonb_agg(jsonb_build_object(
                      'line_no', i.line_no, 'product_id', i.product_id, 'sku', p.sku, 'name', p.name,
                      'quantity', i.quantity, 'unit_price', i.unit_price::text,
                      'line_total', i.line_total::text) ORDER BY i.line_no), '[]')
                  FROM order_items i JOIN products p ON p.id = i.product_id WHERE i.order_id = o.id),
        'payments', (SELECT coalesce(jsonb_agg(jsonb_build_object(
                         'method', pa.method, 'amount', pa.amount::text) ORDER BY pa.id), '[]')
                     FROM payments pa WHERE pa.order_id = o.id),
        'refunds', (SELECT coalesce(jsonb_agg(jsonb_build_object(
                        'refund_id', r.refund_id, 'amount', r.amount::text,
                        'method', r.method, 'created_at', r.created_at) ORDER BY r.id), '[]')
                    FROM refunds r WHERE r.order_id = o.id))
    FROM orders o WHERE o.global_order_id = p_global_order_id);
END;
$$;

SELECT grant_to_replicator('order_details(uuid)');

-- ---------------------------------------------------------------------------------------------------
-- Head office's reports, called by the central service as `pos_replicator` on sessions it keeps open. In
-- PL/pgSQL so that their plans are kept for those sessions (a SQL function with SET is planned every call).

-- Per-day totals (see migration V2): every sale and refund is queued by a statement trigger in its own
-- transaction, and fold_sales() adds the queued ones to daily_sales.
CREATE OR REPLACE FUNCTION queue_sales_fold() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_TABLE_NAME = 'orders' THEN
        INSERT INTO sales_to_fold (order_id) SELECT id FROM new_rows;
    ELSE
        INSERT INTO refunds_to_fold (refund_id) SELECT id FROM new_rows;
    END IF;
    RETURN NULL;
END;
$$;
CREATE OR REPLACE TRIGGER trg_orders_fold AFTER INSERT ON orders
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION queue_sales_fold();
CREATE OR REPLACE TRIGGER trg_refunds_fold AFTER INSERT ON refunds
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION queue_sales_fold();

-- The per-day totals of the queued sales and refunds, in daily_sales's shape: sale lines on the sale's
-- business day, refund lines (negative) on the refund's. The one definition of what a report counts:
-- fold_sales() stores it, sales_summary() adds it to what is stored. (No arguments, so that the
-- planner inlines it into fold_sales()'s statement.)
CREATE OR REPLACE FUNCTION queued_daily_totals()
RETURNS TABLE (business_date date, grain text, store_id integer, key integer, orders bigint, units bigint, revenue numeric)
LANGUAGE sql STABLE AS $$
    WITH ledger AS (
        SELECT o.id AS order_id, o.store_id, o.business_date AS day, i.product_id, p.category_id,
               i.quantity AS units, i.line_total AS revenue, true AS is_sale
        FROM orders o
        JOIN order_items i ON i.order_id = o.id
        JOIN products p ON p.id = i.product_id
        WHERE o.id IN (SELECT order_id FROM sales_to_fold)
        UNION ALL
        SELECT o.id, o.store_id, r.business_date, oi.product_id, p.category_id, -ri.quantity, -ri.amount, false
        FROM refunds r
        JOIN refund_items ri ON ri.refund_id = r.id
        JOIN orders o ON o.id = r.order_id
        JOIN order_items oi ON oi.order_id = ri.order_id AND oi.line_no = ri.line_no
        JOIN products p ON p.id = oi.product_id
        WHERE r.id IN (SELECT refund_id FROM refunds_to_fold)
    )
    SELECT l.day,
           CASE WHEN GROUPING(l.product_id) = 0 THEN 'product' WHEN GROUPING(l.category_id) = 0 THEN 'category'
                ELSE 'store' END,
           l.store_id,
           coalesce(l.product_id, l.category_id, 0),
           count(DISTINCT l.order_id) FILTER (WHERE l.is_sale),
           sum(l.units)::bigint,
           sum(l.revenue)
    FROM ledger l
    GROUP BY GROUPING SETS ((l.day, l.store_id), (l.day, l.store_id, l.product_id), (l.day, l.store_id, l.category_id))
$$;

-- The same, behind a call the planner cannot inline: a report's plan holds one function call for the
-- queued part instead of its joins and sorts, which were set up on every report even when nothing was
-- queued (a third of the node's work per report).
CREATE OR REPLACE FUNCTION report_queued_totals()
RETURNS TABLE (business_date date, grain text, store_id integer, key integer, orders bigint, units bigint, revenue numeric)
LANGUAGE plpgsql STABLE AS $$
BEGIN
    RETURN QUERY SELECT * FROM queued_daily_totals();
END;
$$;

-- Brings sales_snapshots (see migration V3) up to date with daily_sales: rebuilds the rows of every
-- day with sales from p_changed_from (the earliest day whose daily_sales rows changed; NULL: none did)
-- or from the day after the last row, whichever is earlier, up to the day before the latest day with
-- sales. Folding today's sales rewrites nothing; the first sale of a new day writes the previous day's
-- row; a sale reported late rewrites the rows from its day on.
CREATE OR REPLACE FUNCTION refresh_sales_snapshots(p_changed_from date DEFAULT NULL) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    v_from date;
    v_latest date;
    v_day date;
BEGIN
    -- Not beside a fold (fold_sales() holds this lock already; at start-up a running service may fold).
    PERFORM pg_advisory_xact_lock(hashtext('fold_sales'));
    -- Every day's rows are written together, a per-store row among them.
    v_from := least(p_changed_from,
                    coalesce((SELECT max(n.business_date) FROM sales_snapshots n WHERE n.grain = 'store') + 1,
                             '-infinity'::date));
    v_latest := (SELECT max(d.business_date) FROM daily_sales d WHERE d.grain = 'store');
    DELETE FROM sales_snapshots WHERE business_date >= v_from;
    -- Every day with sales has per-store rows.
    FOR v_day IN SELECT DISTINCT d.business_date FROM daily_sales d
                 WHERE d.grain = 'store' AND d.business_date >= v_from AND d.business_date < v_latest
                 ORDER BY 1 LOOP
        INSERT INTO sales_snapshots (grain, business_date, keys, orders, units, revenue)
        SELECT t.grain, v_day, array_agg(t.key ORDER BY t.key), array_agg(t.orders ORDER BY t.key),
               array_agg(t.units ORDER BY t.key), array_agg(t.revenue ORDER BY t.key)
        FROM (
            SELECT x.grain, x.key, sum(x.orders)::bigint AS orders, sum(x.units)::bigint AS units,
                   sum(x.revenue) AS revenue
            FROM (
                -- The previous day's running totals…
                SELECT g.grain, u.key, u.orders, u.units, u.revenue
                FROM unnest(ARRAY['store', 'product', 'category']) AS g (grain)
                CROSS JOIN LATERAL (
                    SELECT n.keys, n.orders, n.units, n.revenue FROM sales_snapshots n
                    WHERE n.grain = g.grain AND n.business_date < v_day
                    ORDER BY n.business_date DESC LIMIT 1) p
                CROSS JOIN LATERAL unnest(p.keys, p.orders, p.units, p.revenue) AS u (key, orders, units, revenue)
                UNION ALL
                -- …plus this day's.
                SELECT d.grain, CASE WHEN d.grain = 'store' THEN d.store_id ELSE d.key END,
                       d.orders, d.units, d.revenue
                FROM daily_sales d
                WHERE d.grain IN ('store', 'product', 'category') AND d.business_date = v_day
            ) x
            GROUP BY x.grain, x.key
        ) t
        GROUP BY t.grain;
    END LOOP;
END;
$$;

-- Folds every queued sale and refund into daily_sales, in one statement: the queue rows it deletes are
-- the ones its totals read (one snapshot), so a sale committing meanwhile waits for the next call; then
-- brings the running totals up to date in the same transaction. Returns how many it folded. The
-- store-node service calls it every second; it works from psql too.
CREATE OR REPLACE FUNCTION fold_sales() RETURNS integer
LANGUAGE plpgsql AS $$
DECLARE
    v_folded integer;
    v_first_day date;
BEGIN
    -- One folder at a time; another call meanwhile has nothing to do.
    IF NOT pg_try_advisory_xact_lock(hashtext('fold_sales')) THEN
        RETURN 0;
    END IF;
    WITH folded_sales AS (DELETE FROM sales_to_fold RETURNING 1),
         folded_refunds AS (DELETE FROM refunds_to_fold RETURNING 1),
         added AS (
             INSERT INTO daily_sales AS d (business_date, grain, store_id, key, orders, units, revenue)
             SELECT * FROM queued_daily_totals()
             ON CONFLICT (grain, business_date, store_id, key) DO UPDATE
             SET orders = d.orders + EXCLUDED.orders, units = d.units + EXCLUDED.units,
                 revenue = d.revenue + EXCLUDED.revenue
             RETURNING d.business_date)
    SELECT (SELECT count(*) FROM folded_sales) + (SELECT count(*) FROM folded_refunds),
           (SELECT min(a.business_date) FROM added a)
    INTO v_folded, v_first_day;
    IF v_folded > 0 THEN
        PERFORM refresh_sales_snapshots(v_first_day);
    END IF;
    RETURN v_folded;
END;
$$;

-- Sales net of refunds between two business days, by store, city, day, product or category, plus a
-- grand total (the row whose key is NULL), read in one statement (one snapshot), so a sale being folded
-- meanwhile counts once:
-- - by day: the per-store rows of daily_sales in the range;
-- - otherwise: the running totals up to the last day of the range less those before its first day, each
--   the sales_snapshots row of the last day up to there plus, when the range reaches it, the latest
--   day's daily_sales rows (which have no snapshot row yet): a few rows whatever the range spans;
-- - either way plus what is still queued.
-- The groups come from the grain's rows, the total from the per-store rows (an order with two products
-- counts once there, and in each product's row); names are looked up for the few groups after, and
-- only the one the grouping needs. Groups with nothing in the range (a running total that did not move)
-- are left out. Its plan is made once per session (force_generic_plan): a plan made for the parameters
-- of a call leaves out the parts its parameters gate off and so looks cheaper than the generic one, and
-- the planner would then plan every call anew, which cost more than the query.
CREATE OR REPLACE FUNCTION sales_summary(p_from date, p_to date, p_group text)
RETURNS TABLE (key text, name text, orders bigint, units bigint, revenue numeric)
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = public, pg_temp SET plan_cache_mode = force_generic_plan AS $$
DECLARE
    -- Store, city and day reports read the per-store rows.
    v_grain text := CASE WHEN p_group IN ('product', 'category') THEN p_group ELSE 'store' END;
    v_by_day boolean := p_group = 'day';
    -- The latest day with sales, whose daily_sales rows have no snapshot row yet.
    v_latest date := (SELECT max(d.business_date) FROM daily_sales d WHERE d.grain = 'store');
    -- Usually nothing is queued (the service folds every second). Then the queued part is not run at
    -- all (a false parameter gates it off in the plan), instead of joining sales and refunds by a plan
    -- made for whatever the queue held when its statistics were taken. This function is STABLE, so
    -- these looks and the query below see the same snapshot. The queues are looked at through their
    -- indexes (min() is read from one): the entries a fold deleted stay in the table until VACUUM, and a
    -- scan of the table would read every one of them on every report, where the index marks them dead
    -- for the next look to skip.
    v_queued boolean := (SELECT min(order_id) FROM sales_to_fold) IS NOT NULL
                        OR (SELECT min(refund_id) FROM refunds_to_fold) IS NOT NULL;
BEGIN
    RETURN QUERY
    SELECT g.key,
           CASE p_group WHEN 'store' THEN (SELECT s.name FROM stores s WHERE s.id = g.key::integer)
                        WHEN 'day' THEN g.key
                        WHEN 'product' THEN (SELECT p.name FROM products p WHERE p.id = g.key::integer)
                        WHEN 'category' THEN (SELECT c.name FROM categories c WHERE c.id = g.key::integer) END,
           g.orders, g.units, g.revenue
    FROM (
        SELECT t.grain,
               CASE p_group WHEN 'store' THEN t.store_id::text
                            WHEN 'city' THEN (SELECT st.city_id FROM stores st WHERE st.id = t.store_id)::text
                            WHEN 'day' THEN t.business_date::text ELSE t.key::text END AS key,
               sum(t.orders)::bigint AS orders, sum(t.units)::bigint AS units, sum(t.revenue) AS revenue
        FROM (
            SELECT d.business_date, d.grain, d.store_id, d.key, d.orders, d.units, d.revenue
            FROM daily_sales d
            WHERE v_by_day AND d.grain = 'store' AND d.business_date BETWEEN p_from AND p_to
            UNION ALL
            SELECT NULL::date, g.grain, CASE WHEN g.grain = 'store' THEN u.key END,
                   CASE WHEN g.grain = 'store' THEN 0 ELSE u.key END,
                   u.orders * b.sign, u.units * b.sign, u.revenue * b.sign
            FROM (VALUES (1, p_to), (-1, p_from - 1)) AS b (sign, upto)
            CROSS JOIN (SELECT DISTINCT x.grain FROM unnest(ARRAY[v_grain, 'store']) AS x (grain) WHERE NOT v_by_day) g
            CROSS JOIN LATERAL (
                SELECT n.keys, n.orders, n.units, n.revenue FROM sales_snapshots n
                WHERE n.grain = g.grain AND n.business_date <= b.upto
                ORDER BY n.business_date DESC LIMIT 1) s
            CROSS JOIN LATERAL unnest(s.keys, s.orders, s.units, s.revenue) AS u (key, orders, units, revenue)
            UNION ALL
            SELECT NULL::date, d.grain, d.store_id, d.key, d.orders * b.sign, d.units * b.sign, d.revenue * b.sign
            FROM (VALUES (1, p_to), (-1, p_from - 1)) AS b (sign, upto)
            JOIN daily_sales d ON d.grain IN (v_grain, 'store') AND d.business_date = v_latest
            WHERE NOT v_by_day AND b.upto >= v_latest
            UNION ALL
            SELECT q.business_date, q.grain, q.store_id, q.key, q.orders, q.units, q.revenue
            FROM report_queued_totals() q
            WHERE v_queued AND q.grain IN (v_grain, 'store') AND q.business_date BETWEEN p_from AND p_to
        ) t
        GROUP BY GROUPING SETS ((t.grain, 2), (t.grain))
    ) g
    WHERE ((g.grain = v_grain AND g.key IS NOT NULL) OR (g.grain = 'store' AND g.key IS NULL))
      AND (g.orders, g.units, g.revenue) <> (0, 0, 0);
END;
$$;

-- Stock lines under a threshold, lowest first.
CREATE OR REPLACE FUNCTION stock_below(p_below integer)
RETURNS TABLE (store_id integer, store_code text, product_id integer, sku text, product_name text, quantity integer)
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
BEGIN
    RETURN QUERY
    SELECT i.store_id, s.code, i.product_id, p.sku, p.name, i.quantity
    FROM inventory i JOIN stores s ON s.id = i.store_id JOIN products p ON p.id = i.product_id
    WHERE i.quantity < p_below
    ORDER BY i.quantity, i.store_id, i.product_id
    LIMIT 1000;
END;
$$;

-- The node's outbox backlog: how far central's view of this node's sales is behind.
CREATE OR REPLACE FUNCTION sync_backlog()
RETURNS TABLE (pending bigint, failed bigint, oldest_pending_age_seconds double precision, last_delivered_at timestamptz)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
    SELECT count(*) FILTER (WHERE status = 'Pending'), count(*) FILTER (WHERE status = 'Failed'),
           extract(epoch FROM now() - min(created_at) FILTER (WHERE status <> 'Success'))::float8,
           (SELECT max(delivered_at) FROM outbox)
    FROM outbox WHERE status <> 'Success'
$$;

SELECT grant_to_replicator('sales_summary(date, date, text)');
SELECT grant_to_replicator('stock_below(integer)');
SELECT grant_to_replicator('sync_backlog()');

-- Running totals for a node upgraded from a release without them, or behind for any other reason
-- (nothing to do when they are up to date).
SELECT refresh_sales_snapshots();
