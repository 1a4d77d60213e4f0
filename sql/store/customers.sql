-- Customers signed up and edited at the till, also while central is down.
-- Called by: the store-node service (POST /customers, PATCH /customers/{id}), or an operator from psql.
-- Replaceable (CREATE OR REPLACE only): re-applied at start-up under an advisory lock when its text changes.
--
-- A sign-up is written here at once, under an id from this node's own block (migration V23), and goes up
-- through the outbox; central keeps one live customer per number, and its answer (the customer as central
-- keeps it) comes back by replication. Each edit goes up with the moment each field was changed: central
-- resolves an edit made here and one made at head office field by field, the later one winning
-- (sql/central/customers.sql).
--
-- Errors the service maps to HTTP answers, besides checkout()'s:
--   PS418 the number is a live customer's of this city already (409, DETAIL: {"customer_id"})

-- The customer, up to central: as it is now, with the moment of each field changed by this write.
CREATE OR REPLACE FUNCTION queue_customer_event(p_customer_id integer, p_store_id integer, p_fields text[])
RETURNS void
LANGUAGE sql AS $$
    INSERT INTO outbox (kind, payload)
    SELECT 'customer',
           jsonb_build_object('id', c.id, 'store_id', p_store_id, 'name', c.name, 'phone', c.phone,
                              'email', c.email, 'city_id', c.city_id, 'created_at', c.created_at,
                              'edited', (SELECT jsonb_object_agg(f, clock_timestamp()) FROM unnest(p_fields) f))
    FROM customers c WHERE c.id = p_customer_id
$$;

-- PS418 when a live customer of this node (other than p_except) has the number's digits.
CREATE OR REPLACE FUNCTION refuse_taken_phone(p_phone text, p_except integer) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    v_holder integer;
BEGIN
    SELECT c.id INTO v_holder FROM customers c
    WHERE c.deleted_at IS NULL AND c.phone_digits = regexp_replace(p_phone, '[^0-9]', '', 'g')
      AND c.phone_digits <> '' AND c.id IS DISTINCT FROM p_except
    LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION USING ERRCODE = 'PS418',
            MESSAGE = format('the number %s is customer %s''s already', p_phone, v_holder),
            DETAIL = jsonb_build_object('customer_id', v_holder)::text;
    END IF;
END;
$$;

-- Signs a customer of this node's city up at p_store_id; the new customer's id.
CREATE OR REPLACE FUNCTION sign_up_customer(p_store_id integer, p_name text, p_phone text, p_email text,
                                            p_city_id integer) RETURNS integer
LANGUAGE plpgsql AS $$
DECLARE
    v_city integer := (SELECT city_id FROM node_settings);
    v_ids int4range := customer_signup_ids(v_city);
    v_id integer;
BEGIN
    IF p_city_id IS DISTINCT FROM v_city THEN
        PERFORM pos_invalid('city_id', format('this node signs up customers of its own city (%s)', v_city));
    END IF;
    IF v_ids IS NULL THEN
        PERFORM pos_invalid('city_id', format('city %s has no block of customer ids: sign customers up at head office', v_city));
    END IF;
    PERFORM refuse_taken_phone(p_phone, NULL);
    v_id := lower(v_ids) - 1 + nextval('customer_signup_seq');
    INSERT INTO customers (id, name, phone, email, city_id, version, created_at, updated_at)
    VALUES (v_id, p_name, p_phone, p_email, v_city, 0, now(), now());
    PERFORM queue_customer_event(v_id, p_store_id, ARRAY['name', 'phone', 'email']);
    RETURN v_id;
END;
$$;

-- Edits a live customer of this city: p_fields is {"name"?, "phone"?, "email"?} (null clears a phone or an
-- email). Only the fields that change go up as edited. Returns false when there is no such customer.
CREATE OR REPLACE FUNCTION edit_customer(p_store_id integer, p_customer_id integer, p_fields jsonb)
RETURNS boolean
LANGUAGE plpgsql AS $$
DECLARE
    v_old customers;
    v_new customers;
    v_changed text[];
BEGIN
    SELECT * INTO v_old FROM customers c
    WHERE c.id = p_customer_id AND c.deleted_at IS NULL AND c.city_id = (SELECT city_id FROM node_settings)
    FOR UPDATE;
    IF NOT FOUND THEN
        RETURN false;
    END IF;
    IF p_fields ? 'phone' AND p_fields ->> 'phone' IS NOT NULL THEN
        PERFORM refuse_taken_phone(p_fields ->> 'phone', p_customer_id);
    END IF;
    UPDATE customers c
    SET name = CASE WHEN p_fields ? 'name' THEN p_fields ->> 'name' ELSE c.name END,
        phone = CASE WHEN p_fields ? 'phone' THEN p_fields ->> 'phone' ELSE c.phone END,
        email = CASE WHEN p_fields ? 'email' THEN p_fields ->> 'email' ELSE c.email END,
        updated_at = now()
    WHERE c.id = p_customer_id
    RETURNING * INTO v_new;
    v_changed := ARRAY(SELECT f FROM unnest(ARRAY['name', 'phone', 'email']) f
                       WHERE to_jsonb(v_new) -> f IS DISTINCT FROM to_jsonb(v_old) -> f);
    IF cardinality(v_changed) > 0 THEN
        PERFORM queue_customer_event(p_customer_id, p_store_id, v_changed);
    END IF;
    RETURN true;
END;
$$;
