-- Checkout: the one path every sale takes, the idempotency keys every terminal write claims, stock
-- receipts, and an order as the till and head office see it.
-- Called by: the store-node service (POST /orders, POST /inventory/receipts, GET /orders/{id}), operators
-- from psql (process_order()), and central over dblink (order_details()).
-- Replaceable (CREATE OR REPLACE only): re-applied at start-up under an advisory lock when its text changes.

-- Sales. Errors the service maps to HTTP answers carry their own SQLSTATEs:
--   PS409 insufficient stock (DETAIL: {"product_id", "requested", "available"})
--   PS410 idempotency key reused with another request
--   PS422 validation failed (COLUMN names the field)
--   PS404 the order (or other named thing) is not this store's
--   PS411 the store has moved to another city's node
--   PS403 a discount above the credential's limit has no store manager's approval (sql/store/approvals.sql)

CREATE OR REPLACE FUNCTION pos_invalid(p_field text, p_message text) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION USING ERRCODE = 'PS422', MESSAGE = p_message, COLUMN = p_field;
END;
$$;

-- A sale's (or refund's) business day: its time in its store's city's time zone, so that the database
-- server's own zone changes nothing. Until the node has heard of its cities (an upgrade in progress),
-- the server's date.
CREATE OR REPLACE FUNCTION store_business_date(p_store_id integer, p_at timestamptz DEFAULT now()) RETURNS date
LANGUAGE sql STABLE AS $$
    SELECT coalesce((SELECT (p_at AT TIME ZONE c.time_zone)::date
                     FROM stores s JOIN cities c ON c.id = s.city_id WHERE s.id = p_store_id),
                    p_at::date)
$$;

-- The price a sale charges now for a product: its scheduled price from that moment on (by this node's
-- clock), else its price; GET /products shows the same. One expression, which the planner inlines.
CREATE OR REPLACE FUNCTION price_now(p_price numeric, p_next_price numeric, p_next_price_at timestamptz)
RETURNS numeric LANGUAGE sql STABLE AS $$
    SELECT CASE WHEN p_next_price_at <= now() THEN p_next_price ELSE p_price END
$$;

-- The tax of a line at a rate in percent, rounded half up to the paisa, the one rule of every line's
-- tax: the part of its net amount (after its discounts) that the rate makes where the city's prices
-- include tax (cities.prices_include_tax), the rate of it where tax is added at the till.
CREATE OR REPLACE FUNCTION line_tax(p_net numeric, p_rate numeric, p_prices_include_tax boolean) RETURNS numeric
LANGUAGE sql IMMUTABLE AS $$
    SELECT CASE WHEN p_prices_include_tax THEN round(p_net * p_rate / (100 + p_rate), 2)
                ELSE round(p_net * p_rate / 100, 2) END
$$;

-- What a line costs the customer: its net amount, and its tax where that is added at the till.
CREATE OR REPLACE FUNCTION line_amount(p_net numeric, p_rate numeric, p_prices_include_tax boolean) RETURNS numeric
LANGUAGE sql IMMUTABLE AS $$
    SELECT p_net + CASE WHEN p_prices_include_tax THEN 0 ELSE round(p_net * p_rate / 100, 2) END
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

-- Discounts by hand: each line's own ({"percent": "10"} or {"amount": "5.00"} off the line) on what its
-- promotion left, then the sale's (p_order_discount, same shape) on what the lines' left, shared out over
-- the lines in proportion to what is left of each (the largest takes what rounding to the paisa leaves),
-- so that every line keeps its own tax and a refund gives back its share. The largest of them, in
-- percent of what it applies to, is checked against the credential's limit (discount_approver()):
-- approved_by is the manager whose approval covered it, NULL when the limit did.
CREATE OR REPLACE FUNCTION apply_manual_discounts(p_store_id integer, p_credential_id integer, p_lines sale_line[],
                                                  p_items jsonb, p_order_discount jsonb, p_approval_id uuid,
                                                  OUT lines sale_line[], OUT approved_by integer)
LANGUAGE plpgsql AS $$
DECLARE
    v_line record;
    v_left numeric(12,2);
    v_off numeric(12,2);
    v_percent numeric;
BEGIN
    IF EXISTS (SELECT 1 FROM jsonb_array_elements(p_items || jsonb_build_array(p_order_discount)) d (item)
               CROSS JOIN LATERAL (SELECT CASE WHEN d.item ? 'product_id' THEN d.item -> 'discount'
                                               ELSE d.item END AS discount) x
               WHERE x.discount IS NOT NULL AND jsonb_typeof(x.discount) <> 'null'
                 AND CASE WHEN jsonb_typeof(x.discount) <> 'object' THEN true
                          ELSE (x.discount ? 'percent') = (x.discount ? 'amount')
                               OR (SELECT count(*) FROM jsonb_object_keys(x.discount)) <> 1 END) THEN
        PERFORM pos_invalid('discount', 'a discount is {"percent": "10"} or {"amount": "5.00"}');
    END IF;
    BEGIN
        -- What each line's own discount asks: percent, or amount (off the line).
        FOR v_line IN
            SELECT l.line_no, l.quantity * l.unit_price - l.discount AS left_total,
                   (i.item -> 'discount' ->> 'percent')::numeric AS percent,
                   (i.item -> 'discount' ->> 'amount')::numeric AS amount
            FROM unnest(p_lines) l
            JOIN jsonb_array_elements(p_items) WITH ORDINALITY AS i (item, n) ON i.n = l.line_no
            WHERE i.item -> 'discount' ->> 'percent' IS NOT NULL OR i.item -> 'discount' ->> 'amount' IS NOT NULL
        LOOP
            IF v_line.percent NOT BETWEEN 0 AND 100 OR v_line.percent <> round(v_line.percent, 2)
               OR v_line.amount < 0 OR v_line.amount <> round(v_line.amount, 2) THEN
                PERFORM pos_invalid('discount', format('line %s: a percent from 0 to 100, or an amount not negative, '
                                                       'with at most two decimals', v_line.line_no));
            END IF;
            IF v_line.amount > v_line.left_total THEN
                PERFORM pos_invalid('discount', format('line %s: a discount of %s is more than the line''s %s',
                                                       v_line.line_no, v_line.amount, v_line.left_total));
            END IF;
            v_percent := greatest(v_percent, v_line.percent,
                                  CASE WHEN v_line.left_total > 0 THEN v_line.amount * 100 / v_line.left_total END);
        END LOOP;
        lines := ARRAY(
            SELECT ROW(l.line_no, l.product_id, l.quantity, l.unit_price, l.category_id, l.tax_rate,
                       l.discount + own.off, l.promotion_id, own.off)::sale_line
            FROM unnest(p_lines) l
            JOIN jsonb_array_elements(p_items) WITH ORDINALITY AS i (item, n) ON i.n = l.line_no
            CROSS JOIN LATERAL (
                SELECT coalesce(round((l.quantity * l.unit_price - l.discount)
                                      * (i.item -> 'discount' ->> 'percent')::numeric / 100, 2),
                                (i.item -> 'discount' ->> 'amount')::numeric, 0) AS off) own
            ORDER BY l.line_no);
        v_left := (SELECT sum(quantity * unit_price - discount) FROM unnest(lines));
        v_off := CASE WHEN p_order_discount ? 'percent'
                      THEN round(v_left * (p_order_discount ->> 'percent')::numeric / 100, 2)
                      ELSE (p_order_discount ->> 'amount')::numeric END;
        IF (p_order_discount ->> 'percent')::numeric NOT BETWEEN 0 AND 100
           OR (p_order_discount ->> 'amount')::numeric < 0
           OR (p_order_discount ->> 'amount')::numeric <> round((p_order_discount ->> 'amount')::numeric, 2) THEN
            PERFORM pos_invalid('discount', 'the sale''s discount: a percent from 0 to 100, or an amount not negative, '
                                            'with at most two decimals');
        END IF;
    EXCEPTION WHEN invalid_text_representation OR numeric_value_out_of_range THEN
        PERFORM pos_invalid('discount', 'a discount is {"percent": "10"} or {"amount": "5.00"}');
    END;
    IF v_off > v_left THEN
        PERFORM pos_invalid('discount', format('a discount of %s is more than the sale''s %s', v_off, v_left));
    END IF;
    IF v_off > 0 THEN
        v_percent := greatest(v_percent, (p_order_discount ->> 'percent')::numeric, v_off * 100 / v_left);
        -- Each line's exact share cut to the paisa, then the paisas that leaves one each to the lines whose
        -- shares were cut most (largest remainder): every share stays between 0 and its line.
        lines := ARRAY(
            SELECT ROW(s.line_no, s.product_id, s.quantity, s.unit_price, s.category_id, s.tax_rate,
                       s.discount + s.share, s.promotion_id, s.manual_discount + s.share)::sale_line
            FROM (SELECT e.*,
                         e.cut + CASE WHEN row_number() OVER (ORDER BY e.exact - e.cut DESC, e.left_total DESC, e.line_no)
                                           <= (v_off - sum(e.cut) OVER ()) * 100
                                      THEN 0.01 ELSE 0 END AS share
                  FROM (SELECT l.*, x.left_total, v_off * x.left_total / v_left AS exact,
                               trunc(v_off * x.left_total / v_left, 2) AS cut
                        FROM unnest(lines) l
                        CROSS JOIN LATERAL (SELECT l.quantity * l.unit_price - l.discount AS left_total) x) e) s
            ORDER BY s.line_no);
    END IF;
    -- Discounts together count too: a cashier's several discounts may not add up past the limit.
    v_percent := greatest(v_percent,
                          (SELECT sum(manual_discount) * 100 / nullif(sum(quantity * unit_price - discount + manual_discount), 0)
                           FROM unnest(lines)));
    IF v_percent > 0 THEN
        approved_by := discount_approver(p_store_id, p_credential_id, v_percent, p_approval_id);
    END IF;
END;
$$;

-- Store credit spent by a sale's payments ({"method": "store_credit", "credit_note": "CN-…", "amount"}):
-- each note is locked and spends the payment's amount, or with no amount (an exchange's credit, which
-- comes first) as much of what is left to pay as it holds. Returns the payments with each credit
-- payment's amount and note; one that spends nothing is left out. Only this node's notes are known.
CREATE OR REPLACE FUNCTION spend_store_credit(p_payments jsonb, p_total numeric) RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
    v_spent jsonb := '[]';
    v_left numeric := p_total;
    v_payment jsonb;
    v_note credit_notes;
    v_amount numeric;
BEGIN
    -- Every note named, locked at once in id order: two sales naming the same notes in another order
    -- would otherwise each wait for the other.
    PERFORM 1 FROM credit_notes
    WHERE code IN (SELECT p ->> 'credit_note' FROM jsonb_array_elements(p_payments) p)
    ORDER BY id FOR UPDATE;
    FOR v_payment IN SELECT value FROM jsonb_array_elements(p_payments) LOOP
        IF v_payment ->> 'method' IS DISTINCT FROM 'store_credit' THEN
            v_spent := v_spent || jsonb_build_array(v_payment);
            CONTINUE;
        END IF;
        SELECT * INTO v_note FROM credit_notes WHERE code = v_payment ->> 'credit_note' FOR UPDATE;
        IF NOT FOUND THEN
            PERFORM pos_invalid('credit_note', format('no credit note %s at this node', v_payment ->> 'credit_note'));
        END IF;
        BEGIN
            v_amount := coalesce((v_payment ->> 'amount')::numeric, least(v_note.balance, greatest(v_left, 0)));
        EXCEPTION WHEN invalid_text_representation OR numeric_value_out_of_range THEN
            PERFORM pos_invalid('payments', 'every payment amount must be a decimal amount');
        END;
        IF v_amount > v_note.balance THEN
            PERFORM pos_invalid('amount', format('credit note %s holds %s', v_note.code, v_note.balance));
        END IF;
        v_left := v_left - v_amount;
        IF v_amount <> 0 THEN
            UPDATE credit_notes SET balance = balance - v_amount WHERE id = v_note.id;
            v_spent := v_spent || jsonb_build_array(v_payment || jsonb_build_object(
                'amount', v_amount::text, 'credit_note_id', v_note.id));
        END IF;
    END LOOP;
    RETURN v_spent;
END;
$$;

-- The one path every sale takes (the HTTP endpoint calls it; so can an operator from psql).
-- p_items: [{"product_id": 1, "quantity": 2}], p_payments: [{"method": "cash", "amount": "500.00"}].
-- Returns the order's global id, whether it is a replay of an earlier identical request, and with
-- p_with_order the order as order_details() shows it (built from what the sale has in hand, so the till's
-- answer costs no second read).

CREATE OR REPLACE FUNCTION checkout(p_store_id integer, p_customer_id integer, p_items jsonb, p_payments jsonb,
                                    p_idempotency_key uuid, p_with_order boolean, p_credential_id integer DEFAULT NULL,
                                    p_order_discount jsonb DEFAULT NULL, p_approval_id uuid DEFAULT NULL,
                                    OUT global_order_id uuid, OUT replayed boolean, OUT order_json jsonb)
LANGUAGE plpgsql AS $$
DECLARE
    -- A sale's discount and approval count only when there are some, so that the keys of sales made
    -- before they existed still match their replays.
    v_fingerprint text := md5((jsonb_build_object('store', p_store_id, 'customer', p_customer_id,
                                                  'items', p_items, 'payments', p_payments)
                               || jsonb_strip_nulls(jsonb_build_object('discount', p_order_discount,
                                                                       'approval', p_approval_id)))::text);
    v_lines sale_line[];
    v_order_id bigint;
    v_store_order_id bigint;
    v_total numeric(12,2);
    v_discount_total numeric(12,2);
    v_tax_total numeric(12,2);
    v_paid numeric(12,2);
    v_non_cash numeric(12,2);
    v_short record;
    v_business_date date;
    v_store record;
    v_node_city integer;
    v_discount_approver integer;
BEGIN
    global_order_id := claim_idempotency_key(p_idempotency_key, 'order', p_store_id, v_fingerprint);
    replayed := global_order_id IS NOT NULL;
    IF replayed THEN
        IF p_with_order THEN
            order_json := order_details(global_order_id);
        END IF;
        RETURN;
    END IF;

    -- The store, this node's city, and the sale's local time and business day, in one look.
    SELECT s.city_id, s.order_epoch, n.city_id AS node_city,
           coalesce(now() AT TIME ZONE c.time_zone, localtimestamp) AS local_now,
           coalesce((now() AT TIME ZONE c.time_zone)::date, current_date) AS business_date,
           coalesce(c.prices_include_tax, true) AS prices_include_tax
    INTO v_store
    FROM stores s CROSS JOIN node_settings n LEFT JOIN cities c ON c.id = s.city_id
    WHERE s.id = p_store_id AND s.active;
    IF NOT FOUND THEN
        PERFORM pos_invalid('store_id', format('store %s does not sell at this node', p_store_id));
    END IF;
    -- A store moved to another city sells at that city's node from the moment this node hears of it.
    v_node_city := v_store.node_city;
    IF v_node_city IS NOT NULL AND v_store.city_id <> v_node_city THEN
        RAISE EXCEPTION USING ERRCODE = 'PS411',
            MESSAGE = format('store %s has moved to another city: its sales go to that city''s node', p_store_id);
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
            SELECT ROW(l.ordinality, (l.item ->> 'product_id')::integer, (l.item ->> 'quantity')::integer,
                       NULL, NULL, NULL, NULL, NULL, NULL)::sale_line
            FROM jsonb_array_elements(p_items) WITH ORDINALITY AS l (item, ordinality));
    EXCEPTION WHEN invalid_text_representation OR numeric_value_out_of_range THEN
        PERFORM pos_invalid('items', 'product_id and quantity must be whole numbers');
    END;
    IF EXISTS (SELECT 1 FROM unnest(v_lines) WHERE quantity IS NULL OR quantity <= 0) THEN
        PERFORM pos_invalid('quantity', 'every quantity must be a positive whole number');
    END IF;
    -- Each line priced as this node knows its product now: the price (a scheduled price from its moment
    -- on, by this node's clock), the tax rate (the product's own, else its category's), and the promotion
    -- running now in the store's local time that takes most off the line (promotions do not stack; a
    -- discount never exceeds the line).
    v_lines := ARRAY(
        SELECT ROW(l.line_no, l.product_id, l.quantity, pr.unit_price, p.category_id,
                   coalesce(p.tax_rate, c.tax_rate, 0), coalesce(best.discount, 0), best.promotion_id, 0)::sale_line
        FROM unnest(v_lines) l
        LEFT JOIN products p ON p.id = l.product_id AND p.active
        LEFT JOIN categories c ON c.id = p.category_id
        CROSS JOIN LATERAL (SELECT price_now(p.price, p.next_price, p.next_price_at) AS unit_price) pr
        LEFT JOIN LATERAL (
            SELECT m.id AS promotion_id,
                   least(CASE m.kind WHEN 'percent' THEN round(l.quantity * pr.unit_price * m.value / 100, 2)
                                     ELSE l.quantity * m.value END,
                         l.quantity * pr.unit_price) AS discount
            FROM promotions m
            WHERE m.active AND (m.product_id = l.product_id OR m.category_id = p.category_id)
              AND m.starts_at <= v_store.local_now AND v_store.local_now < m.ends_at
            ORDER BY 2 DESC, m.id LIMIT 1) best ON true
        ORDER BY l.line_no);
    SELECT product_id INTO v_short FROM unnest(v_lines) WHERE unit_price IS NULL ORDER BY line_no LIMIT 1;
    IF FOUND THEN
        PERFORM pos_invalid('product_id', format('product %s is not for sale here', v_short.product_id));
    END IF;
    -- Discounts by hand, only when the till sends some (see apply_manual_discounts()).
    IF p_order_discount IS NOT NULL OR p_items @? '$[*].discount' THEN
        SELECT d.lines, d.approved_by INTO v_lines, v_discount_approver
        FROM apply_manual_discounts(p_store_id, p_credential_id, v_lines, p_items, p_order_discount, p_approval_id) d;
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

    -- Each line's tax and what it costs, its tax included in its price or added to it (line_tax()).
    SELECT sum(line_amount(quantity * unit_price - discount, tax_rate, v_store.prices_include_tax)), sum(discount),
           sum(line_tax(quantity * unit_price - discount, tax_rate, v_store.prices_include_tax))
    INTO v_total, v_discount_total, v_tax_total
    FROM unnest(v_lines);
    -- Store credit, only when a payment spends some (see spend_store_credit()).
    IF p_payments @? '$[*] ? (@.method == "store_credit")' THEN
        p_payments := spend_store_credit(p_payments, v_total);
    END IF;
    BEGIN
        SELECT coalesce(sum((p ->> 'amount')::numeric(12,2)), 0),
               coalesce(sum((p ->> 'amount')::numeric(12,2)) FILTER (WHERE p ->> 'method' <> 'cash'), 0)
        INTO v_paid, v_non_cash
        FROM jsonb_array_elements(p_payments) p;
    EXCEPTION WHEN invalid_text_representation OR numeric_value_out_of_range THEN
        PERFORM pos_invalid('payments', 'every payment amount must be a decimal amount');
    END;
    IF EXISTS (SELECT 1 FROM jsonb_array_elements(p_payments) p
               WHERE p ->> 'method' IS NULL OR p ->> 'method' NOT IN ('cash', 'card', 'wallet', 'store_credit')) THEN
        PERFORM pos_invalid('method', 'payment method must be cash, card, wallet or store_credit');
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
        PERFORM pos_invalid('payments', 'card, wallet and store credit payments may not exceed the total');
    END IF;

    v_business_date := v_store.business_date;
    -- The store's next number in its epoch (epoch·10⁹ + n, see migration V7): the first sale of a new
    -- epoch, here after the store moved in, starts the epoch's range.
    INSERT INTO store_order_counters AS c (store_id, last_order_id)
    VALUES (p_store_id, v_store.order_epoch::bigint * 1000000000 + 1)
    ON CONFLICT (store_id) DO UPDATE SET last_order_id = greatest(c.last_order_id + 1, EXCLUDED.last_order_id)
    RETURNING last_order_id INTO v_store_order_id;

    global_order_id := gen_random_uuid();
    INSERT INTO orders (global_order_id, store_id, store_order_id, customer_id, total, change_due, business_date,
                        discount_total, tax_total, prices_include_tax, credential_id, discount_approved_by, shift_id)
    VALUES (global_order_id, p_store_id, v_store_order_id, p_customer_id, v_total, v_paid - v_total, v_business_date,
            v_discount_total, v_tax_total, v_store.prices_include_tax, p_credential_id, v_discount_approver,
            -- The open shift of the credential's terminal, if any (see sql/store/shifts.sql).
            CASE WHEN p_credential_id IS NOT NULL THEN open_shift_of(p_store_id, p_credential_id) END)
    RETURNING id INTO v_order_id;
    INSERT INTO order_items (order_id, line_no, product_id, quantity, unit_price, line_total, discount, promotion_id,
                             tax_rate, tax_amount, manual_discount)
    SELECT v_order_id, line_no, product_id, quantity, unit_price,
           line_amount(quantity * unit_price - discount, tax_rate, v_store.prices_include_tax), discount, promotion_id,
           tax_rate, line_tax(quantity * unit_price - discount, tax_rate, v_store.prices_include_tax), manual_discount
    FROM unnest(v_lines);
    INSERT INTO payments (order_id, method, amount, credit_note_id)
    SELECT v_order_id, p ->> 'method', (p ->> 'amount')::numeric(12,2), (p ->> 'credit_note_id')::bigint
    FROM jsonb_array_elements(p_payments) p;
    UPDATE inventory i SET quantity = i.quantity - w.requested, updated_at = now()
    FROM (SELECT product_id, sum(quantity)::integer AS requested FROM unnest(v_lines) GROUP BY product_id) w
    WHERE i.store_id = p_store_id AND i.product_id = w.product_id;
    INSERT INTO outbox (kind, global_order_id, payload)
    VALUES ('order', global_order_id, jsonb_build_object(
        'global_order_id', global_order_id, 'store_id', p_store_id, 'store_order_id', v_store_order_id,
        'customer_id', p_customer_id, 'total_amount', v_total, 'business_date', v_business_date, 'order_time', now(),
        -- The node that made the sale (and holds its details), even for a store that has moved since.
        'city_id', coalesce(v_node_city, v_store.city_id)));
    INSERT INTO idempotency_keys (idempotency_key, kind, store_id, fingerprint, result_id)
    VALUES (p_idempotency_key, 'order', p_store_id, v_fingerprint, global_order_id);
    IF p_with_order THEN
        order_json := jsonb_build_object(
            'global_order_id', global_order_id, 'store_id', p_store_id, 'store_order_id', v_store_order_id,
            'customer_id', p_customer_id, 'total', v_total::text, 'change_due', (v_paid - v_total)::text,
            'discount_total', v_discount_total::text, 'tax_total', v_tax_total::text,
            'prices_include_tax', v_store.prices_include_tax,
            'business_date', v_business_date, 'created_at', now(),
            'items', (SELECT jsonb_agg(jsonb_build_object(
                          'line_no', l.line_no, 'product_id', l.product_id, 'sku', p.sku, 'name', p.name,
                          'quantity', l.quantity, 'unit_price', l.unit_price::text,
                          'discount', l.discount::text, 'manual_discount', l.manual_discount::text,
                          'promotion_id', l.promotion_id, 'tax_rate', l.tax_rate::text,
                          'tax_amount', line_tax(l.quantity * l.unit_price - l.discount, l.tax_rate,
                                                 v_store.prices_include_tax)::text,
                          'line_total', line_amount(l.quantity * l.unit_price - l.discount, l.tax_rate,
                                                    v_store.prices_include_tax)::numeric(12,2)::text)
                          ORDER BY l.line_no)
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

-- An order as head office sees it: central calls this over dblink as `pos_replicator`.
CREATE OR REPLACE FUNCTION order_details(p_global_order_id uuid) RETURNS jsonb
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
BEGIN
    -- PL/pgSQL, not SQL: its plan is kept for the session (a SQL function with SET is planned every call,
    -- and every sale answers through this).
    RETURN (SELECT jsonb_build_object(
        'global_order_id', o.global_order_id, 'store_id', o.store_id, 'store_order_id', o.store_order_id,
        'customer_id', o.customer_id, 'total', o.total::text,
        'change_due', o.change_due::text, 'discount_total', o.discount_total::text,
        'tax_total', o.tax_total::text, 'prices_include_tax', o.prices_include_tax,
        'business_date', o.business_date,
        'created_at', o.created_at,
        'items', (SELECT coalesce(jsonb_agg(jsonb_build_object(
                      'line_no', i.line_no, 'product_id', i.product_id, 'sku', p.sku, 'name', p.name,
                      'quantity', i.quantity, 'unit_price', i.unit_price::text,
                      'discount', i.discount::text, 'manual_discount', i.manual_discount::text,
                      'promotion_id', i.promotion_id, 'tax_rate', i.tax_rate::text,
                      'tax_amount', i.tax_amount::text, 'line_total', i.line_total::text) ORDER BY i.line_no), '[]')
                  FROM order_items i JOIN products p ON p.id = i.product_id WHERE i.order_id = o.id),
        'payments', (SELECT coalesce(jsonb_agg(jsonb_build_object(
                         'method', pa.method, 'amount', pa.amount::text) ORDER BY pa.id), '[]')
                     FROM payments pa WHERE pa.order_id = o.id),
        'refunds', (SELECT coalesce(jsonb_agg(jsonb_build_object(
                        'refund_id', r.refund_id, 'kind', r.kind, 'amount', r.amount::text,
                        'tax_amount', r.tax_amount::text,
                        'method', r.method, 'created_at', r.created_at) ORDER BY r.id), '[]')
                    FROM refunds r WHERE r.order_id = o.id))
    FROM orders o WHERE o.global_order_id = p_global_order_id);
END;
$$;

SELECT grant_to_replicator('order_details(uuid)');
