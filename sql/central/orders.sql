-- Orders: the sales and refunds the nodes' outboxes report, and an order's details asked of its node.
-- Called by: the nodes' push_outbox() over dblink as pos_replicator (apply_order_mappings), and operators.
-- Replaceable (CREATE OR REPLACE only): re-applied at start-up under an advisory lock when its text changes.

-- Sales reported by the nodes' outboxes, called over dblink under each node's own login (a member of
-- `pos_replicator`, which may do nothing else). A node reports its own city's sales only: of a store
-- that is, or was, in its city (store_cities). A login that is no node's fails the whole call (42501:
-- the outbox retries it, as a setting to fix); a mapping of another city's store is refused alone
-- (PS403: the outbox sets it aside, with this reason). A mapping that arrives twice is kept once.
-- A return without a receipt is a refund of no sale (its global_order_id is null). A transfer's step
-- is reported by the node of the store whose step it is (transfers.sql); a customer signed up or edited
-- at a till, by the node of the customer's city (customers.sql).
-- A refund may arrive before its sale (the sale's entry had more back-off to wait out, or was set aside
-- and re-queued): it is kept, and an order's refunded_amount is always the sum of the refunds central
-- has for it, whichever came first. All or nothing per call: a node splits a batch central refuses to
-- find the entry refused (ship_isolating()).
CREATE OR REPLACE FUNCTION apply_order_mappings(p_batch jsonb) RETURNS integer
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    v_count integer;
    v_city integer;
    v_foreign record;
BEGIN
    SELECT city_id INTO v_city FROM nodes WHERE central_login = session_user;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'the login % is no node''s: each node reports under its own login (see nodes.central_login)',
            session_user USING ERRCODE = 'insufficient_privilege';
    END IF;
    SELECT m ->> 'kind' AS kind, m ->> 'store_id' AS store_id, m ->> 'city_id' AS city_id INTO v_foreign
    FROM jsonb_array_elements(p_batch) m
    WHERE (m ->> 'kind' = 'order' AND (m ->> 'city_id')::integer IS DISTINCT FROM v_city)
       OR NOT EXISTS (SELECT 1 FROM store_cities s
                      WHERE s.store_id = (m ->> 'store_id')::integer AND s.city_id = v_city)
    LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION 'the node of city % may not report a % of store % (city %): it is not a store of its city',
            v_city, v_foreign.kind, v_foreign.store_id, coalesce(v_foreign.city_id, 'unknown')
            USING ERRCODE = 'PS403';
    END IF;
    INSERT INTO order_mapping (global_order_id, store_id, store_order_id, customer_id, total_amount, city_id,
                               business_date, order_time)
    SELECT (m ->> 'global_order_id')::uuid, (m ->> 'store_id')::integer, (m ->> 'store_order_id')::bigint,
           (m ->> 'customer_id')::integer, (m ->> 'total_amount')::numeric(12,2), (m ->> 'city_id')::integer,
           (m ->> 'business_date')::date, (m ->> 'order_time')::timestamptz
    FROM jsonb_array_elements(p_batch) m
    WHERE m ->> 'kind' = 'order'
    ON CONFLICT (global_order_id) DO NOTHING;
    GET DIAGNOSTICS v_count = ROW_COUNT;
    PERFORM apply_transfer_steps(p_batch);
    PERFORM apply_customer_steps(p_batch, v_city);
    INSERT INTO refund_mapping (refund_id, global_order_id, store_id, amount, business_date, refund_time)
    SELECT (m ->> 'refund_id')::uuid, (m ->> 'global_order_id')::uuid, (m ->> 'store_id')::integer,
           (m ->> 'amount')::numeric(12,2), (m ->> 'business_date')::date, (m ->> 'refund_time')::timestamptz
    FROM jsonb_array_elements(p_batch) m
    WHERE m ->> 'kind' IN ('refund', 'return')
    ON CONFLICT (refund_id) DO NOTHING;
    -- Every order the batch names, sale or refund: its refunded_amount is what its refunds add up to.
    UPDATE order_mapping o SET refunded_amount = s.amount
    FROM (SELECT rm.global_order_id, sum(rm.amount) AS amount
          FROM refund_mapping rm
          WHERE rm.global_order_id IN (SELECT (m ->> 'global_order_id')::uuid FROM jsonb_array_elements(p_batch) m)
          GROUP BY rm.global_order_id) s
    WHERE o.global_order_id = s.global_order_id AND o.refunded_amount <> s.amount;
    RETURN v_count;
END;
$$;

SELECT grant_to_replicator('apply_order_mappings(jsonb)');

-- The cities each store has been in (see apply_order_mappings()).
CREATE OR REPLACE FUNCTION remember_store_city() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO store_cities (store_id, city_id) VALUES (NEW.id, NEW.city_id) ON CONFLICT DO NOTHING;
    RETURN NULL;
END;
$$;

CREATE OR REPLACE TRIGGER trg_stores_remember_city AFTER INSERT OR UPDATE OF city_id ON stores
FOR EACH ROW EXECUTE FUNCTION remember_store_city();
