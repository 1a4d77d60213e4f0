-- Lookups at the till, each planned for the value looked up.
-- Called by: the store-node service (GET /products, GET /customers), or an operator from psql.
-- Replaceable (CREATE OR REPLACE only): re-applied at start-up under an advisory lock when its text changes.

-- The city's live customers, all or by one of: the exact number (p_phone), the first digits of it
-- (p_digits), part of the name (p_name, a LIKE pattern); after id p_after, p_limit of them by id. Each call
-- is planned for its values (force_custom_plan): a plan made once for any value (what a prepared
-- statement ends with) reads by id whatever the value, which for a name or prefix few customers share
-- means the whole table.
CREATE OR REPLACE FUNCTION find_customers(p_city_id integer, p_phone text, p_digits text, p_name text,
                                          p_after bigint, p_limit bigint)
RETURNS TABLE (id integer, name text, phone text, email text, city_id integer, deleted_at timestamptz,
               version bigint, updated_at timestamptz)
LANGUAGE plpgsql STABLE SET plan_cache_mode = force_custom_plan AS $$
DECLARE
    v_pattern text := p_digits || '%';
    -- The numbers that start with the digits, as a range in the index's order: [digits, digits || ':')
    -- (':' follows '9', and the column holds digits only). A range is estimated from the column's
    -- histogram; LIKE multiplied that by a guess of its own, so for a prefix at the histogram's edge
    -- ('0300') the count below read and sorted all ten thousand sharers (60 ms) instead of a thousand
    -- from the index in order (3 ms).
    v_upper text := p_digits || ':';
BEGIN
    IF p_digits IS NOT NULL THEN
        -- A prefix is read one of two ways, chosen by counting (along its index in order, 1,000 at most)
        -- how many share it, not by the planner's estimate, which near a hundredth of the customers chose
        -- the slower way often enough to take p99 past 30 ms: fewer, and they are all read from the
        -- index and put in order; more, and a page of them is dense enough in id order to be found by
        -- reading by id (the expression keeps the planner off the prefix's index).
        IF NOT EXISTS (SELECT 1 FROM customers c
                       WHERE c.deleted_at IS NULL AND c.phone_digits ~>=~ p_digits AND c.phone_digits ~<~ v_upper
                       ORDER BY c.phone_digits USING ~<~ OFFSET 999 LIMIT 1) THEN
            RETURN QUERY
            WITH sharing AS MATERIALIZED (
                SELECT c.id FROM customers c
                WHERE c.deleted_at IS NULL AND c.phone_digits ~>=~ p_digits AND c.phone_digits ~<~ v_upper)
            SELECT c.id, c.name, c.phone, c.email, c.city_id, c.deleted_at, c.version, c.updated_at
            FROM customers c
            WHERE c.id IN (SELECT s.id FROM sharing s) AND c.city_id = p_city_id AND c.id > p_after
            ORDER BY c.id LIMIT p_limit;
        ELSE
            RETURN QUERY
            SELECT c.id, c.name, c.phone, c.email, c.city_id, c.deleted_at, c.version, c.updated_at
            FROM customers c
            WHERE c.city_id = p_city_id AND c.deleted_at IS NULL AND (c.phone_digits || '') LIKE v_pattern
              AND c.id > p_after
            ORDER BY c.id LIMIT p_limit;
        END IF;
        RETURN;
    END IF;
    RETURN QUERY
    SELECT c.id, c.name, c.phone, c.email, c.city_id, c.deleted_at, c.version, c.updated_at
    FROM customers c
    WHERE c.city_id = p_city_id AND c.deleted_at IS NULL
      AND (p_phone IS NULL OR c.phone = p_phone)
      AND (p_name IS NULL OR c.name ILIKE p_name)
      AND c.id > p_after
    ORDER BY c.id LIMIT p_limit;
END;
$$;

-- The catalogue as the till sees it: the price a sale charges now (a scheduled price once its moment has
-- come) and the tax rate it applies (the product's own, else its category's), a schedule still to come
-- shown as one; all, or by one of the barcode, the SKU or part of the name (p_name, a LIKE pattern), after
-- id p_after, p_limit of them by id. Planned for its values, as find_customers() is: a plan made once for
-- any value read a name few products share by id through the whole catalogue.
CREATE OR REPLACE FUNCTION find_products(p_barcode text, p_sku text, p_name text, p_after bigint, p_limit bigint)
RETURNS TABLE (id integer, sku text, barcode text, name text, category_id integer, price numeric,
               tax_rate numeric, next_price numeric, next_price_at timestamptz, active boolean, version bigint,
               updated_at timestamptz)
LANGUAGE plpgsql STABLE SET plan_cache_mode = force_custom_plan AS $$
BEGIN
    RETURN QUERY
    SELECT p.id, p.sku, p.barcode, p.name, p.category_id, price_now(p.price, p.next_price, p.next_price_at),
           coalesce(p.tax_rate, c.tax_rate, 0),
           CASE WHEN p.next_price_at > now() THEN p.next_price END,
           CASE WHEN p.next_price_at > now() THEN p.next_price_at END,
           p.active, p.version, p.updated_at
    FROM products p LEFT JOIN categories c ON c.id = p.category_id
    WHERE (p_barcode IS NULL OR p.barcode = p_barcode)
      AND (p_sku IS NULL OR p.sku = p_sku)
      AND (p_name IS NULL OR p.name ILIKE p_name)
      AND p.id > p_after
    ORDER BY p.id LIMIT p_limit;
END;
$$;
