-- Stock besides sales, refunds and receipts: adjustments with a reason, counts entered while sales go on,
-- reorder levels. Every change is kept with who made it, why, and the quantity it left.
-- Called by: the store-node service (POST /inventory/adjustments, /stock-counts…, PUT
-- /inventory/{product_id}/reorder-level), or an operator from psql.
-- Replaceable (CREATE OR REPLACE only): re-applied at start-up under an advisory lock when its text changes.

-- Errors the service maps to HTTP answers, besides checkout()'s:
--   PS416 the count is applied already, or a count is open at the store already (409 conflict)

-- Locks the store's stock of each product in product-id order (the order every sale locks in), creating
-- the lines it lacks at zero. With p_check, a change that would take a line below zero is refused (PS409,
-- the first short line in DETAIL).
CREATE OR REPLACE FUNCTION lock_stock(p_store_id integer, p_changes stock_change[], p_check boolean) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    v_short record;
BEGIN
    INSERT INTO inventory (store_id, product_id, quantity)
    SELECT p_store_id, c.product_id, 0 FROM unnest(p_changes) c ORDER BY c.product_id
    ON CONFLICT (store_id, product_id) DO NOTHING;
    PERFORM 1 FROM inventory
    WHERE store_id = p_store_id AND product_id IN (SELECT product_id FROM unnest(p_changes))
    ORDER BY product_id FOR UPDATE;
    IF p_check THEN
        SELECT c.product_id, -c.change AS requested, i.quantity AS available INTO v_short
        FROM unnest(p_changes) c JOIN inventory i ON i.store_id = p_store_id AND i.product_id = c.product_id
        WHERE i.quantity + c.change < 0 ORDER BY c.product_id LIMIT 1;
        IF FOUND THEN
            RAISE EXCEPTION USING ERRCODE = 'PS409',
                MESSAGE = format('not enough stock of product %s to take off %s: %s there',
                                 v_short.product_id, v_short.requested, v_short.available),
                DETAIL = jsonb_build_object('product_id', v_short.product_id, 'requested', v_short.requested,
                                            'available', v_short.available)::text;
        END IF;
    END IF;
END;
$$;

-- Changes the store's stock of each product by its change (lock_stock()), and keeps the adjustment. A
-- change that would take a line below zero is refused (PS409) or, with p_floor (a count applied after
-- more was sold than counted), stops at zero. Returns the adjustment's id.
CREATE OR REPLACE FUNCTION write_adjustment(p_store_id integer, p_changes stock_change[], p_reason text,
                                            p_note text, p_credential_id integer, p_count_id bigint,
                                            p_floor boolean) RETURNS uuid
LANGUAGE plpgsql AS $$
DECLARE
    v_adjustment bigint;
    v_adjustment_id uuid := gen_random_uuid();
BEGIN
    PERFORM lock_stock(p_store_id, p_changes, NOT p_floor);
    INSERT INTO stock_adjustments (adjustment_id, store_id, reason, note, count_id, credential_id, business_date)
    VALUES (v_adjustment_id, p_store_id, p_reason, p_note, p_count_id, p_credential_id,
            store_business_date(p_store_id))
    RETURNING id INTO v_adjustment;
    -- The rows are locked: what is read here is what the update changes.
    INSERT INTO stock_adjustment_items (adjustment_id, product_id, change, quantity_after)
    SELECT v_adjustment, c.product_id, greatest(i.quantity + c.change, 0) - i.quantity,
           greatest(i.quantity + c.change, 0)
    FROM unnest(p_changes) c JOIN inventory i ON i.store_id = p_store_id AND i.product_id = c.product_id
    WHERE greatest(i.quantity + c.change, 0) <> i.quantity;
    UPDATE inventory i SET quantity = a.quantity_after, updated_at = now()
    FROM stock_adjustment_items a
    WHERE a.adjustment_id = v_adjustment AND i.store_id = p_store_id AND i.product_id = a.product_id;
    RETURN v_adjustment_id;
END;
$$;

-- An adjustment by hand: damage, theft or a correction. p_items: [{"product_id", "change"}] (a change is a
-- whole number of units, negative to take off); idempotent like every terminal write.
CREATE OR REPLACE FUNCTION adjust_stock(p_store_id integer, p_items jsonb, p_reason text, p_note text,
                                        p_idempotency_key uuid, p_credential_id integer,
                                        OUT adjustment_id uuid, OUT replayed boolean)
LANGUAGE plpgsql AS $$
DECLARE
    v_fingerprint text := md5(jsonb_build_object('store', p_store_id, 'items', p_items, 'reason', p_reason,
                                                 'note', p_note)::text);
    v_changes stock_change[];
BEGIN
    adjustment_id := claim_idempotency_key(p_idempotency_key, 'adjustment', p_store_id, v_fingerprint);
    replayed := adjustment_id IS NOT NULL;
    IF replayed THEN
        RETURN;
    END IF;
    IF p_reason IS NULL OR p_reason NOT IN ('damage', 'theft', 'correction') THEN
        PERFORM pos_invalid('reason', 'an adjustment is for damage, theft or a correction');
    END IF;
    v_changes := stock_changes(p_store_id, p_items, 'change');
    IF EXISTS (SELECT 1 FROM unnest(v_changes) WHERE change = 0) THEN
        PERFORM pos_invalid('change', 'every change must take off or add at least one unit');
    END IF;
    adjustment_id := write_adjustment(p_store_id, v_changes, p_reason, p_note, p_credential_id, NULL, false);
    INSERT INTO idempotency_keys (idempotency_key, kind, store_id, fingerprint, result_id)
    VALUES (p_idempotency_key, 'adjustment', p_store_id, v_fingerprint, adjustment_id);
END;
$$;

-- [{"product_id", p_field}] as one (product, whole number) per product, summed; a store, list, number or
-- product that is not there is PS422.
CREATE OR REPLACE FUNCTION stock_changes(p_store_id integer, p_items jsonb, p_field text) RETURNS stock_change[]
LANGUAGE plpgsql AS $$
DECLARE
    v_changes stock_change[];
    v_missing integer;
BEGIN
    IF NOT EXISTS (SELECT 1 FROM stores WHERE id = p_store_id) THEN
        PERFORM pos_invalid('store_id', format('store %s is not at this node', p_store_id));
    END IF;
    IF jsonb_typeof(p_items) IS DISTINCT FROM 'array' OR jsonb_array_length(p_items) = 0 THEN
        PERFORM pos_invalid('items', 'at least one item is needed');
    END IF;
    BEGIN
        v_changes := ARRAY(
            SELECT ROW((i ->> 'product_id')::integer, sum((i ->> p_field)::integer))::stock_change
            FROM jsonb_array_elements(p_items) i
            GROUP BY (i ->> 'product_id')::integer ORDER BY (i ->> 'product_id')::integer);
    EXCEPTION WHEN invalid_text_representation OR numeric_value_out_of_range THEN
        PERFORM pos_invalid('items', format('product_id and %s must be whole numbers', p_field));
    END;
    IF EXISTS (SELECT 1 FROM unnest(v_changes) WHERE product_id IS NULL OR change IS NULL) THEN
        PERFORM pos_invalid('items', format('every item needs product_id and %s', p_field));
    END IF;
    SELECT c.product_id INTO v_missing FROM unnest(v_changes) c
    WHERE NOT EXISTS (SELECT 1 FROM products p WHERE p.id = c.product_id) LIMIT 1;
    IF FOUND THEN
        PERFORM pos_invalid('product_id', format('no product %s', v_missing));
    END IF;
    RETURN v_changes;
END;
$$;

-- Starts a count at the store (one open at a time).
CREATE OR REPLACE FUNCTION start_stock_count(p_store_id integer, p_credential_id integer) RETURNS uuid
LANGUAGE plpgsql AS $$
DECLARE
    v_count_id uuid;
BEGIN
    IF NOT EXISTS (SELECT 1 FROM stores WHERE id = p_store_id) THEN
        PERFORM pos_invalid('store_id', format('store %s is not at this node', p_store_id));
    END IF;
    INSERT INTO stock_counts (count_id, store_id, started_by) VALUES (gen_random_uuid(), p_store_id, p_credential_id)
    ON CONFLICT (store_id) WHERE applied_at IS NULL DO NOTHING
    RETURNING count_id INTO v_count_id;
    IF v_count_id IS NULL THEN
        RAISE EXCEPTION USING ERRCODE = 'PS416', MESSAGE = 'a count is open at this store already: apply it first';
    END IF;
    RETURN v_count_id;
END;
$$;

-- The store's open count p_count_id, locked (PS404 when it is not the store's, PS416 once applied).
CREATE OR REPLACE FUNCTION open_stock_count(p_store_id integer, p_count_id uuid) RETURNS stock_counts
LANGUAGE plpgsql AS $$
DECLARE
    v_count stock_counts;
BEGIN
    SELECT * INTO v_count FROM stock_counts WHERE count_id = p_count_id AND store_id = p_store_id FOR UPDATE;
    IF NOT FOUND THEN
        RAISE EXCEPTION USING ERRCODE = 'PS404', MESSAGE = format('no count %s at this store', p_count_id);
    END IF;
    IF v_count.applied_at IS NOT NULL THEN
        RAISE EXCEPTION USING ERRCODE = 'PS416', MESSAGE = format('count %s is applied already', p_count_id);
    END IF;
    RETURN v_count;
END;
$$;

-- Counted quantities ([{"product_id", "counted"}]): each kept with the book quantity at the moment of
-- counting, read once the sales in flight on that product have committed (the rows are share-locked in
-- product-id order, as sales lock them); counting a product again replaces its line.
CREATE OR REPLACE FUNCTION enter_stock_count(p_store_id integer, p_count_id uuid, p_items jsonb,
                                             p_credential_id integer) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    v_count stock_counts := open_stock_count(p_store_id, p_count_id);
    v_counted stock_change[] := stock_changes(p_store_id, p_items, 'counted');
BEGIN
    IF EXISTS (SELECT 1 FROM unnest(v_counted) WHERE change < 0) THEN
        PERFORM pos_invalid('counted', 'a count is a whole number of units, not negative');
    END IF;
    PERFORM 1 FROM inventory
    WHERE store_id = p_store_id AND product_id IN (SELECT product_id FROM unnest(v_counted))
    ORDER BY product_id FOR SHARE;
    INSERT INTO stock_count_lines AS l (count_id, product_id, counted, book, counted_by)
    SELECT v_count.id, c.product_id, c.change, coalesce(i.quantity, 0), p_credential_id
    FROM unnest(v_counted) c LEFT JOIN inventory i ON i.store_id = p_store_id AND i.product_id = c.product_id
    ON CONFLICT (count_id, product_id) DO UPDATE
        SET counted = EXCLUDED.counted, book = EXCLUDED.book, counted_by = EXCLUDED.counted_by, counted_at = now();
END;
$$;

-- A count as the store sees it: each line counted, its book quantity then, the variance (counted - book),
-- and the stock now.
CREATE OR REPLACE FUNCTION stock_count_report(p_store_id integer, p_count_id uuid) RETURNS jsonb
LANGUAGE sql STABLE AS $$
    SELECT jsonb_build_object(
        'count_id', c.count_id, 'started_at', c.started_at, 'applied_at', c.applied_at,
        'lines', (SELECT coalesce(jsonb_agg(jsonb_build_object(
                      'product_id', l.product_id, 'sku', p.sku, 'name', p.name, 'counted', l.counted,
                      'book', l.book, 'variance', l.counted - l.book, 'quantity_now', coalesce(i.quantity, 0),
                      'counted_at', l.counted_at) ORDER BY l.product_id), '[]')
                  FROM stock_count_lines l JOIN products p ON p.id = l.product_id
                  LEFT JOIN inventory i ON i.store_id = c.store_id AND i.product_id = l.product_id
                  WHERE l.count_id = c.id))
    FROM stock_counts c WHERE c.count_id = p_count_id AND c.store_id = p_store_id
$$;

-- Applies a count's variances to the stock as one adjustment (reason 'count'): each product moves by
-- counted - book, so that what was sold or received after it was counted still counts; a line never goes
-- below zero. The count closes.
CREATE OR REPLACE FUNCTION apply_stock_count(p_store_id integer, p_count_id uuid, p_credential_id integer)
RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE
    v_count stock_counts := open_stock_count(p_store_id, p_count_id);
    v_adjustment uuid;
BEGIN
    v_adjustment := write_adjustment(
        p_store_id,
        ARRAY(SELECT ROW(product_id, counted - book)::stock_change FROM stock_count_lines
              WHERE count_id = v_count.id AND counted <> book ORDER BY product_id),
        'count', NULL, p_credential_id, v_count.id, true);
    UPDATE stock_counts SET applied_at = now(), applied_by = p_credential_id,
                            adjustment_id = (SELECT id FROM stock_adjustments WHERE adjustment_id = v_adjustment)
    WHERE id = v_count.id;
    RETURN stock_count_report(p_store_id, p_count_id);
END;
$$;

-- A product's reorder level at the store (NULL clears it); a product the store has never stocked gets a
-- line of 0.
CREATE OR REPLACE FUNCTION set_reorder_level(p_store_id integer, p_product_id integer, p_level integer)
RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM products WHERE id = p_product_id) THEN
        RAISE EXCEPTION USING ERRCODE = 'PS404', MESSAGE = format('no product %s', p_product_id);
    END IF;
    INSERT INTO inventory AS i (store_id, product_id, quantity, reorder_level)
    VALUES (p_store_id, p_product_id, 0, p_level)
    ON CONFLICT (store_id, product_id) DO UPDATE SET reorder_level = EXCLUDED.reorder_level;
END;
$$;

-- Stock lines that are low: under p_below units, or at or below their own reorder level; lowest first, of
-- every store of the node or of p_store_id. Head office asks every node for it (as pos_replicator).
CREATE OR REPLACE FUNCTION stock_below(p_below integer, p_store_id integer DEFAULT NULL)
RETURNS TABLE (store_id integer, store_code text, product_id integer, sku text, product_name text, quantity integer,
               reorder_level integer)
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
BEGIN
    RETURN QUERY
    SELECT i.store_id, s.code, i.product_id, p.sku, p.name, i.quantity, i.reorder_level
    FROM inventory i JOIN stores s ON s.id = i.store_id JOIN products p ON p.id = i.product_id
    WHERE (p_store_id IS NULL OR i.store_id = p_store_id) AND (i.quantity < p_below OR i.quantity <= i.reorder_level)
    ORDER BY i.quantity, i.store_id, i.product_id
    LIMIT 1000;
END;
$$;
SELECT grant_to_replicator('stock_below(integer, integer)');
