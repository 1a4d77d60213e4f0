-- Replicas: central's master data as this node keeps it, written only by apply_replication().
-- Called by: central's replicator over dblink, as pos_replicator.
-- Replaceable (CREATE OR REPLACE only): re-applied at start-up under an advisory lock when its text changes.

-- Replication from central. Central's replicator calls this over dblink as the `pos_replicator` role,
-- which may do nothing else: the function runs with its owner's rights (SECURITY DEFINER).
-- Each table is one set-based, version-guarded upsert: an older version never overwrites a newer one,
-- so retries and out-of-order batches are harmless. All or nothing per call: central splits a batch
-- this node refuses to find the row it refuses (ship_isolating()).
-- p_batch is central's list of items, [{"table": "products", "row": {...}} or {"table": …, "id": 7}
-- for a row gone from central], or the same grouped by table ({"products": [rows…], "deleted":
-- [{"table", "id"}…]}), as an operator may write it.
CREATE OR REPLACE FUNCTION apply_replication(p_batch jsonb) RETURNS integer
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    v_total integer := 0;
    v_count integer;
    v_loaded_cashier_tokens integer[];
    v_loaded_cities integer[];
    v_loaded_categories integer[];
    v_loaded_products integer[];
    v_loaded_promotions integer[];
    v_loaded_stores integer[];
    v_loaded_customers integer[];
    v_loaded_transfers uuid[];
BEGIN
    IF jsonb_typeof(p_batch) = 'array' THEN
        -- Rows of a resync or an initial load (central's LOAD entries, marked "load") are written even
        -- at an equal version: they repair a row changed here by hand. (Never at an older one.)
        SELECT jsonb_build_object(
                   'cashier_tokens', coalesce(jsonb_agg(i -> 'row') FILTER (WHERE i ->> 'table' = 'cashier_tokens' AND i ? 'row'), '[]'),
                   'cities', coalesce(jsonb_agg(i -> 'row') FILTER (WHERE i ->> 'table' = 'cities' AND i ? 'row'), '[]'),
                   'categories', coalesce(jsonb_agg(i -> 'row') FILTER (WHERE i ->> 'table' = 'categories' AND i ? 'row'), '[]'),
                   'products', coalesce(jsonb_agg(i -> 'row') FILTER (WHERE i ->> 'table' = 'products' AND i ? 'row'), '[]'),
                   'promotions', coalesce(jsonb_agg(i -> 'row') FILTER (WHERE i ->> 'table' = 'promotions' AND i ? 'row'), '[]'),
                   'stores', coalesce(jsonb_agg(i -> 'row') FILTER (WHERE i ->> 'table' = 'stores' AND i ? 'row'), '[]'),
                   'customers', coalesce(jsonb_agg(i -> 'row') FILTER (WHERE i ->> 'table' = 'customers' AND i ? 'row'), '[]'),
                   'transfers', coalesce(jsonb_agg(i -> 'row') FILTER (WHERE i ->> 'table' = 'transfers' AND i ? 'row'), '[]'),
                   'deleted', coalesce(jsonb_agg(i - 'row' - 'load') FILTER (WHERE NOT i ? 'row'), '[]')),
               array_agg((i -> 'row' ->> 'id')::integer) FILTER (WHERE i ? 'load' AND i ->> 'table' = 'cashier_tokens'),
               array_agg((i -> 'row' ->> 'id')::integer) FILTER (WHERE i ? 'load' AND i ->> 'table' = 'cities'),
               array_agg((i -> 'row' ->> 'id')::integer) FILTER (WHERE i ? 'load' AND i ->> 'table' = 'categories'),
               array_agg((i -> 'row' ->> 'id')::integer) FILTER (WHERE i ? 'load' AND i ->> 'table' = 'products'),
               array_agg((i -> 'row' ->> 'id')::integer) FILTER (WHERE i ? 'load' AND i ->> 'table' = 'promotions'),
               array_agg((i -> 'row' ->> 'id')::integer) FILTER (WHERE i ? 'load' AND i ->> 'table' = 'stores'),
               array_agg((i -> 'row' ->> 'id')::integer) FILTER (WHERE i ? 'load' AND i ->> 'table' = 'customers'),
               array_agg((i -> 'row' ->> 'transfer_id')::uuid) FILTER (WHERE i ? 'load' AND i ->> 'table' = 'transfers')
        INTO p_batch, v_loaded_cashier_tokens, v_loaded_cities, v_loaded_categories, v_loaded_products,
             v_loaded_promotions, v_loaded_stores, v_loaded_customers, v_loaded_transfers
        FROM jsonb_array_elements(p_batch) i;
    END IF;
    -- A credential from a central older than this node is a cashier's, with no discount of its own.
    INSERT INTO cashier_tokens AS t (id, store_id, token_sha256, label, cashier, terminal, role, discount_limit,
                                     revoked_at, version, created_at, updated_at)
    SELECT r.id, r.store_id, r.token_sha256, r.label, r.cashier, r.terminal, coalesce(r.role, 'cashier'),
           coalesce(r.discount_limit, 0), r.revoked_at, r.version, r.created_at, r.updated_at
    FROM jsonb_populate_recordset(NULL::cashier_tokens, coalesce(p_batch -> 'cashier_tokens', '[]')) r
    ON CONFLICT (id) DO UPDATE
        SET store_id = EXCLUDED.store_id, token_sha256 = EXCLUDED.token_sha256, label = EXCLUDED.label,
            cashier = EXCLUDED.cashier, terminal = EXCLUDED.terminal, role = EXCLUDED.role,
            discount_limit = EXCLUDED.discount_limit,
            revoked_at = EXCLUDED.revoked_at, version = EXCLUDED.version, updated_at = EXCLUDED.updated_at
        WHERE t.version < EXCLUDED.version
           OR (t.version = EXCLUDED.version AND t.id = ANY (v_loaded_cashier_tokens));
    GET DIAGNOSTICS v_count = ROW_COUNT;
    v_total := v_total + v_count;

    -- A city from a central older than this node prices with tax included.
    INSERT INTO cities AS t (id, name, time_zone, prices_include_tax, version, created_at, updated_at)
    SELECT r.id, r.name, r.time_zone, coalesce(r.prices_include_tax, true), r.version, r.created_at, r.updated_at
    FROM jsonb_populate_recordset(NULL::cities, coalesce(p_batch -> 'cities', '[]')) r
    ON CONFLICT (id) DO UPDATE
        SET name = EXCLUDED.name, time_zone = EXCLUDED.time_zone, prices_include_tax = EXCLUDED.prices_include_tax,
            version = EXCLUDED.version,
            updated_at = EXCLUDED.updated_at
        WHERE t.version < EXCLUDED.version
           OR (t.version = EXCLUDED.version AND t.id = ANY (v_loaded_cities));
    GET DIAGNOSTICS v_count = ROW_COUNT;
    v_total := v_total + v_count;

    -- A row from a central older than this node has no tax rate: none (0) until central sends one.
    INSERT INTO categories AS t (id, name, tax_rate, version, created_at, updated_at)
    SELECT r.id, r.name, coalesce(r.tax_rate, 0), r.version, r.created_at, r.updated_at
    FROM jsonb_populate_recordset(NULL::categories, coalesce(p_batch -> 'categories', '[]')) r
    ON CONFLICT (id) DO UPDATE
        SET name = EXCLUDED.name, tax_rate = EXCLUDED.tax_rate, version = EXCLUDED.version,
            updated_at = EXCLUDED.updated_at
        WHERE t.version < EXCLUDED.version
           OR (t.version = EXCLUDED.version AND t.id = ANY (v_loaded_categories));
    GET DIAGNOSTICS v_count = ROW_COUNT;
    v_total := v_total + v_count;

    INSERT INTO products AS t (id, sku, barcode, name, category_id, price, tax_rate, next_price, next_price_at,
                               active, version, created_at, updated_at)
    SELECT r.id, r.sku, r.barcode, r.name, r.category_id, r.price, r.tax_rate, r.next_price, r.next_price_at,
           r.active, r.version, r.created_at, r.updated_at
    FROM jsonb_populate_recordset(NULL::products, coalesce(p_batch -> 'products', '[]')) r
    ON CONFLICT (id) DO UPDATE
        SET sku = EXCLUDED.sku, barcode = EXCLUDED.barcode, name = EXCLUDED.name, category_id = EXCLUDED.category_id,
            price = EXCLUDED.price, tax_rate = EXCLUDED.tax_rate, next_price = EXCLUDED.next_price, next_price_at = EXCLUDED.next_price_at,
            active = EXCLUDED.active, version = EXCLUDED.version, updated_at = EXCLUDED.updated_at
        WHERE t.version < EXCLUDED.version
           OR (t.version = EXCLUDED.version AND t.id = ANY (v_loaded_products));
    GET DIAGNOSTICS v_count = ROW_COUNT;
    v_total := v_total + v_count;

    INSERT INTO promotions AS t (id, name, kind, value, product_id, category_id, starts_at, ends_at, active,
                                 version, created_at, updated_at)
    SELECT r.id, r.name, r.kind, r.value, r.product_id, r.category_id, r.starts_at, r.ends_at, r.active,
           r.version, r.created_at, r.updated_at
    FROM jsonb_populate_recordset(NULL::promotions, coalesce(p_batch -> 'promotions', '[]')) r
    ON CONFLICT (id) DO UPDATE
        SET name = EXCLUDED.name, kind = EXCLUDED.kind, value = EXCLUDED.value, product_id = EXCLUDED.product_id,
            category_id = EXCLUDED.category_id, starts_at = EXCLUDED.starts_at, ends_at = EXCLUDED.ends_at,
            active = EXCLUDED.active, version = EXCLUDED.version, updated_at = EXCLUDED.updated_at
        WHERE t.version < EXCLUDED.version
           OR (t.version = EXCLUDED.version AND t.id = ANY (v_loaded_promotions));
    GET DIAGNOSTICS v_count = ROW_COUNT;
    v_total := v_total + v_count;

    INSERT INTO stores AS t (id, code, name, city_id, active, order_epoch, version, created_at, updated_at)
    SELECT r.id, r.code, r.name, r.city_id, r.active, coalesce(r.order_epoch, 0), r.version, r.created_at, r.updated_at
    FROM jsonb_populate_recordset(NULL::stores, coalesce(p_batch -> 'stores', '[]')) r
    ON CONFLICT (id) DO UPDATE
        SET code = EXCLUDED.code, name = EXCLUDED.name, city_id = EXCLUDED.city_id, active = EXCLUDED.active,
            order_epoch = EXCLUDED.order_epoch, version = EXCLUDED.version, updated_at = EXCLUDED.updated_at
        WHERE t.version < EXCLUDED.version
           OR (t.version = EXCLUDED.version AND t.id = ANY (v_loaded_stores));
    GET DIAGNOSTICS v_count = ROW_COUNT;
    v_total := v_total + v_count;

    INSERT INTO customers AS t (id, name, phone, email, city_id, deleted_at, merged_into, version, created_at,
                                updated_at)
    SELECT r.id, r.name, r.phone, r.email, r.city_id, r.deleted_at, r.merged_into, r.version, r.created_at, r.updated_at
    FROM jsonb_populate_recordset(NULL::customers, coalesce(p_batch -> 'customers', '[]')) r
    ON CONFLICT (id) DO UPDATE
        SET name = EXCLUDED.name, phone = EXCLUDED.phone, email = EXCLUDED.email, city_id = EXCLUDED.city_id,
            deleted_at = EXCLUDED.deleted_at, merged_into = EXCLUDED.merged_into, version = EXCLUDED.version,
            updated_at = EXCLUDED.updated_at
        WHERE t.version < EXCLUDED.version
           OR (t.version = EXCLUDED.version AND t.id = ANY (v_loaded_customers));
    GET DIAGNOSTICS v_count = ROW_COUNT;
    v_total := v_total + v_count;

    -- Transfers of this node's stores: a step taken elsewhere, with what it means here (transfers.sql).
    -- After the stores, so that a store announced in the same batch is here already.
    v_total := v_total + apply_transfer_rows(p_batch -> 'transfers', v_loaded_transfers);

    -- Rows gone from central. Rows this node's history refers to are kept (products made inactive,
    -- customers marked deleted) so that old orders stay valid.
    WITH gone AS (
        SELECT d ->> 'table' AS table_name, (d ->> 'id')::integer AS id
        FROM jsonb_array_elements(coalesce(p_batch -> 'deleted', '[]')) d
    ), gone_tokens AS (
        DELETE FROM cashier_tokens WHERE id IN (SELECT id FROM gone WHERE table_name = 'cashier_tokens') RETURNING 1
    ), gone_promotions AS (
        DELETE FROM promotions WHERE id IN (SELECT id FROM gone WHERE table_name = 'promotions') RETURNING 1
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
    SELECT (SELECT count(*) FROM gone_tokens) + (SELECT count(*) FROM gone_promotions)
         + (SELECT count(*) FROM gone_categories)
         + (SELECT count(*) FROM retired_products)
         + (SELECT count(*) FROM retired_stores) + (SELECT count(*) FROM retired_customers)
    INTO v_count;
    v_total := v_total + v_count;
    RETURN v_total;
END;
$$;

SELECT grant_to_replicator('apply_replication(jsonb)');

-- What this node lists as its own, for central's resync: its city's customers (not deleted) and active
-- stores, the active catalogue with its promotions and the cashier credentials not revoked. Central reloads each of these
-- it no longer has for this city.
CREATE OR REPLACE FUNCTION listed_replicas(p_city_id integer) RETURNS TABLE (table_name text, id integer)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
    SELECT 'customers', c.id FROM customers c WHERE c.city_id = p_city_id AND c.deleted_at IS NULL
    UNION ALL SELECT 'stores', s.id FROM stores s WHERE s.city_id = p_city_id AND s.active
    UNION ALL SELECT 'products', p.id FROM products p WHERE p.active
    UNION ALL SELECT 'categories', g.id FROM categories g
    UNION ALL SELECT 'promotions', pr.id FROM promotions pr
    UNION ALL SELECT 'cashier_tokens', t.id FROM cashier_tokens t WHERE t.revoked_at IS NULL
$$;

SELECT grant_to_replicator('listed_replicas(integer)');

-- The service tells the node which city it serves (POS_CITY_ID), at start-up.
CREATE OR REPLACE FUNCTION configure_node(p_city_id integer) RETURNS void
LANGUAGE sql AS $$
    UPDATE node_settings SET city_id = p_city_id
$$;

-- Raises each store's order counter to at least the last order number central has received from it
-- ([{"store_id", "last_order_id"}]; stores this node does not have are skipped): a node restored from
-- an old backup then numbers its next sales after the ones central already holds. Returns how many
-- counters it raised.
CREATE OR REPLACE FUNCTION raise_order_counters(p_floors jsonb) RETURNS integer
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    v_count integer;
BEGIN
    INSERT INTO store_order_counters AS c (store_id, last_order_id)
    SELECT (f ->> 'store_id')::integer, (f ->> 'last_order_id')::bigint
    FROM jsonb_array_elements(p_floors) f
    WHERE EXISTS (SELECT 1 FROM stores s WHERE s.id = (f ->> 'store_id')::integer)
    ORDER BY 1
    ON CONFLICT (store_id) DO UPDATE SET last_order_id = EXCLUDED.last_order_id
        WHERE c.last_order_id < EXCLUDED.last_order_id;
    GET DIAGNOSTICS v_count = ROW_COUNT;
    RETURN v_count;
END;
$$;

SELECT grant_to_replicator('raise_order_counters(jsonb)');
