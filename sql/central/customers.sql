-- Customers: one live customer per number, sign-ups from the stores' tills, and edits resolved field by
-- field.
-- Called by: apply_order_mappings() (orders.sql), in the batch a node's outbox ships; every update of
-- customers (the trigger below).
-- Replaceable (CREATE OR REPLACE only): re-applied at start-up under an advisory lock when its text changes.
--
-- The rules (the README's "Customers signed up at the till"):
-- - Duplicates: a number belongs to one live customer (customers_phone_key, on the digits). A customer signed up at
--   a till whose number central finds another live customer's already is kept, merged into that one:
--   deleted, with merged_into naming the customer kept (the one central had first). Its sales stay its own.
-- - Concurrent edits: each field carries the moment it was last written (field_edited_at). An edit made
--   at a node reaches central with the moment each field changed there; a field is taken when that moment
--   is later than the one central has for it, else central's value stays. A number an edit would take from
--   another live customer stays as it was. Either way central's row, with a new version, goes back to the
--   node by replication, so both sides end equal.

-- Central's own updates stamp the fields they change (an update that sets field_edited_at itself, as
-- apply_customer_steps() does, stamps its own). A field never stamped was last written when the customer
-- was created; inserts pay nothing for this.
CREATE OR REPLACE FUNCTION stamp_customer_edits() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    NEW.field_edited_at := OLD.field_edited_at
        || CASE WHEN NEW.name IS DISTINCT FROM OLD.name THEN jsonb_build_object('name', now()) ELSE '{}' END
        || CASE WHEN NEW.phone IS DISTINCT FROM OLD.phone THEN jsonb_build_object('phone', now()) ELSE '{}' END
        || CASE WHEN NEW.email IS DISTINCT FROM OLD.email THEN jsonb_build_object('email', now()) ELSE '{}' END;
    RETURN NEW;
END;
$$;

CREATE OR REPLACE TRIGGER trg_customers_stamp_edits BEFORE UPDATE ON customers
    FOR EACH ROW
    WHEN ((NEW.name, NEW.phone, NEW.email) IS DISTINCT FROM (OLD.name, OLD.phone, OLD.email)
          AND NEW.field_edited_at IS NOT DISTINCT FROM OLD.field_edited_at)
    EXECUTE FUNCTION stamp_customer_edits();

-- The live customer other than p_except holding the number's digits, if any.
CREATE OR REPLACE FUNCTION phone_holder(p_phone text, p_except integer) RETURNS integer
LANGUAGE sql STABLE AS $$
    SELECT c.id FROM customers c
    WHERE c.deleted_at IS NULL AND c.phone_digits = nullif(regexp_replace(p_phone, '[^0-9]', '', 'g'), '')
      AND c.id IS DISTINCT FROM p_except
$$;

-- The customer steps of a batch of outbox entries from the node of p_city_id ({"kind": "customer", the
-- customer as the node has it, "edited": {field: moment}}), in the batch's order: a sign-up (a customer
-- central does not have yet: only from the node's own block of ids), or an edit. Returns how many
-- customers changed.
CREATE OR REPLACE FUNCTION apply_customer_steps(p_batch jsonb, p_city_id integer) RETURNS integer
LANGUAGE plpgsql AS $$
DECLARE
    e jsonb;
    v_id integer;
    v_current customers;
    v_stamps jsonb;
    v_attempt integer;
    v_count integer := 0;
BEGIN
    FOR e IN SELECT b.m FROM jsonb_array_elements(p_batch) WITH ORDINALITY AS b (m, n)
             WHERE b.m ->> 'kind' = 'customer' ORDER BY b.n LOOP
        v_id := (e ->> 'id')::integer;
        IF (e ->> 'city_id')::integer IS DISTINCT FROM p_city_id THEN
            RAISE EXCEPTION USING ERRCODE = 'PS403',
                MESSAGE = format('the node of city %s may not write customer %s of city %s', p_city_id, v_id,
                                 e ->> 'city_id');
        END IF;
        SELECT * INTO v_current FROM customers WHERE id = v_id FOR UPDATE;
        IF NOT FOUND THEN
            IF NOT coalesce(v_id <@ customer_signup_ids(p_city_id), false) THEN
                RAISE EXCEPTION USING ERRCODE = 'PS403',
                    MESSAGE = format('customer %s is not of the block of ids of the node of city %s', v_id, p_city_id);
            END IF;
            -- A sign-up of the same number committed meanwhile (at another node) makes the insert fail on
            -- the number; it is looked up again, and this one merged into it.
            FOR v_attempt IN 1..2 LOOP
                BEGIN
                    INSERT INTO customers (id, name, phone, email, city_id, created_at, field_edited_at, deleted_at,
                                           merged_into)
                    SELECT v_id, e ->> 'name', e ->> 'phone', e ->> 'email', p_city_id, (e ->> 'created_at')::timestamptz,
                           jsonb_build_object('name', e ->> 'created_at', 'phone', e ->> 'created_at',
                                              'email', e ->> 'created_at') || (e -> 'edited'),
                           CASE WHEN h.id IS NOT NULL THEN now() END, h.id
                    FROM (SELECT phone_holder(e ->> 'phone', NULL) AS id) h;
                    EXIT;
                EXCEPTION WHEN unique_violation THEN
                    IF v_attempt = 2 THEN
                        RAISE;
                    END IF;
                END;
            END LOOP;
            v_count := v_count + 1;
            CONTINUE;
        END IF;
        -- The fields edited at the node later than central's last write of them.
        SELECT coalesce(jsonb_object_agg(f.key, f.value), '{}') INTO v_stamps
        FROM jsonb_each_text(e -> 'edited') f
        WHERE f.key IN ('name', 'phone', 'email')
          AND f.value::timestamptz > coalesce((v_current.field_edited_at ->> f.key)::timestamptz, v_current.created_at);
        IF v_stamps ? 'phone' AND phone_holder(e ->> 'phone', v_id) IS NOT NULL THEN
            v_stamps := v_stamps - 'phone';
        END IF;
        IF v_stamps = '{}' THEN
            CONTINUE;
        END IF;
        UPDATE customers c
        SET name = CASE WHEN v_stamps ? 'name' THEN e ->> 'name' ELSE c.name END,
            phone = CASE WHEN v_stamps ? 'phone' THEN e ->> 'phone' ELSE c.phone END,
            email = CASE WHEN v_stamps ? 'email' THEN e ->> 'email' ELSE c.email END,
            field_edited_at = c.field_edited_at || v_stamps
        WHERE c.id = v_id;
        v_count := v_count + 1;
    END LOOP;
    RETURN v_count;
END;
$$;
