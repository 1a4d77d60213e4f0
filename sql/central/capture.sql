-- Capture: what central's writes pay for. The version bump on every update of a replicated row, and
-- the statement triggers that write the changed rows into replication_log, per target node, in the
-- writer's transaction.
-- Called by: every INSERT, UPDATE and DELETE statement on categories, products, promotions, stores,
-- customers, cities and cashier_tokens.
-- Replaceable (CREATE OR REPLACE only): re-applied at start-up under an advisory lock when its text changes.

-- Every replicated row carries a version bumped on each update: a node applies a row only when its
-- version is newer than the one it has. An update may move it further (reassert_after_restore()).
CREATE OR REPLACE FUNCTION touch_row() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    NEW.version := greatest(OLD.version + 1, NEW.version);
    NEW.updated_at := now();
    RETURN NEW;
END;
$$;

-- A store that moves city starts a new order-number epoch (see migration V7): its old node may still
-- number sales for it until it hears of the move, and the new node's numbers must not meet those.
CREATE OR REPLACE FUNCTION start_store_epoch() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    NEW.order_epoch := OLD.order_epoch + 1;
    RETURN NEW;
END;
$$;

-- A product's scheduled price that has taken effect (the nodes sell at it already) becomes its price at
-- the product's next update, unless that update sets another price (the newer intent). The update may
-- set a new schedule or cancel one; otherwise the one that took effect is cleared.
CREATE OR REPLACE FUNCTION fold_due_price() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF OLD.next_price_at <= now() THEN
        IF NEW.price = OLD.price THEN
            NEW.price := OLD.next_price;
        END IF;
        IF NEW.next_price_at IS NOT DISTINCT FROM OLD.next_price_at
           AND NEW.next_price IS NOT DISTINCT FROM OLD.next_price THEN
            NEW.next_price := NULL;
            NEW.next_price_at := NULL;
        END IF;
    END IF;
    RETURN NEW;
END;
$$;

-- Folds every scheduled price that has taken effect (the nodes switched at next_price_at already, by
-- their own clocks); central's scheduler calls it every few seconds. Returns how many it folded.
CREATE OR REPLACE FUNCTION fold_scheduled_prices() RETURNS integer
LANGUAGE plpgsql AS $$
DECLARE
    v_count integer;
BEGIN
    UPDATE products SET next_price_at = next_price_at WHERE next_price_at <= now();
    GET DIAGNOSTICS v_count = ROW_COUNT;
    RETURN v_count;
END;
$$;

CREATE OR REPLACE TRIGGER trg_products_due_price BEFORE UPDATE ON products
    FOR EACH ROW WHEN (OLD.next_price_at IS NOT NULL) EXECUTE FUNCTION fold_due_price();
CREATE OR REPLACE TRIGGER trg_stores_epoch BEFORE UPDATE OF city_id ON stores
    FOR EACH ROW WHEN (NEW.city_id IS DISTINCT FROM OLD.city_id) EXECUTE FUNCTION start_store_epoch();
CREATE OR REPLACE TRIGGER trg_cities_touch BEFORE UPDATE ON cities
    FOR EACH ROW EXECUTE FUNCTION touch_row();
CREATE OR REPLACE TRIGGER trg_categories_touch BEFORE UPDATE ON categories
    FOR EACH ROW EXECUTE FUNCTION touch_row();
CREATE OR REPLACE TRIGGER trg_products_touch BEFORE UPDATE ON products
    FOR EACH ROW EXECUTE FUNCTION touch_row();
CREATE OR REPLACE TRIGGER trg_promotions_touch BEFORE UPDATE ON promotions
    FOR EACH ROW EXECUTE FUNCTION touch_row();
CREATE OR REPLACE TRIGGER trg_stores_touch BEFORE UPDATE ON stores
    FOR EACH ROW EXECUTE FUNCTION touch_row();
CREATE OR REPLACE TRIGGER trg_customers_touch BEFORE UPDATE ON customers
    FOR EACH ROW EXECUTE FUNCTION touch_row();

-- ---------------------------------------------------------------------------------------------------
-- Capture. Statement triggers over transition tables write the changed rows into replication_log, per
-- target node, in the writer's transaction (a rollback leaves nothing). No remote call ever happens here:
-- a slow or down node must not slow central's writes.

-- Every captured write pays for this code, so each statement logs its rows with one INSERT … SELECT and
-- no nested calls: a single-row write costs what a row trigger costs, and a bulk write (a multi-row
-- INSERT, COPY, an UPDATE of many rows) pays neither one trigger call nor one log row per row: its rows
-- go into one entry per node and range of 1,000 ids (record_ids, migration V24). No pg_notify here:
-- PostgreSQL serialises the commits of notifying transactions on one database-wide lock held through the
-- WAL flush, which measured central's durable write rate at half. Each node's worker polls its queue
-- instead (an index probe every few ms). PostgreSQL allows transition tables only on single-event
-- triggers, so each table has three (_insert, _update, _delete) calling one function.

-- Routing, per table: how the changed rows (x: new_rows, or old_rows for a delete) meet their nodes.
-- - Fragmented tables (customers, stores): a row goes to its city's node; when city_id changes, the old
--   city's node is told too, so it stops listing the row as its own. (Ids never change, identity columns
--   never set by an update, so old and new rows pair by id.)
-- - Catalogue tables (products, categories, promotions), cities (their time zones) and cashier
--   credentials (digests, so that a store's cashiers sign in wherever it sells) go to every enabled node.
-- - Transfers go to the nodes of both their stores (one node when both are in one city): the
--   destination's hears of the shipment and of a cancel asked, the source's of the answer. Their cities
--   never change.
-- The contract names replicate_customers(), replicate_stores(), replicate_products() … share this body.
DO $generate$
DECLARE
    v_route record;
    -- A statement of one row writes one entry per node the plain way, without grouping: most writes are
    -- single rows, and grouping took their capture from about 30 µs to 45 µs (inserts timed in one
    -- session); the look at a second row costs nothing measurable.
    v_log constant text := $log$
                    IF EXISTS (SELECT FROM %3$s OFFSET 1) THEN
                        INSERT INTO replication_log (table_name, record_id, record_ids, target_city_id, operation)
                        SELECT %1$L::replicated_table, min(x.id),
                               CASE WHEN count(*) > 1 THEN array_agg(x.id ORDER BY x.id) END,
                               n.city_id, %2$L::replication_operation
                        FROM %3$s x %4$s
                        WHERE n.enabled
                        GROUP BY n.city_id, x.id / 1000;
                    ELSE
                        INSERT INTO replication_log (table_name, record_id, target_city_id, operation)
                        SELECT %1$L::replicated_table, x.id, n.city_id, %2$L::replication_operation
                        FROM %3$s x %4$s
                        WHERE n.enabled;
                    END IF;$log$;
BEGIN
    FOR v_route IN
        SELECT * FROM (VALUES
            ('customers', 'JOIN nodes n ON n.city_id = x.city_id',
             'JOIN old_rows o ON o.id = x.id JOIN nodes n ON n.city_id IN (x.city_id, o.city_id)'),
            ('stores', 'JOIN nodes n ON n.city_id = x.city_id',
             'JOIN old_rows o ON o.id = x.id JOIN nodes n ON n.city_id IN (x.city_id, o.city_id)'),
            ('products', 'CROSS JOIN nodes n', 'CROSS JOIN nodes n'),
            ('categories', 'CROSS JOIN nodes n', 'CROSS JOIN nodes n'),
            ('promotions', 'CROSS JOIN nodes n', 'CROSS JOIN nodes n'),
            ('cities', 'CROSS JOIN nodes n', 'CROSS JOIN nodes n'),
            ('cashier_tokens', 'CROSS JOIN nodes n', 'CROSS JOIN nodes n'),
            ('transfers', 'JOIN nodes n ON n.city_id IN (x.from_city_id, x.to_city_id)',
             'JOIN nodes n ON n.city_id IN (x.from_city_id, x.to_city_id)'))
            AS r (table_name, to_nodes, updated_to_nodes)
    LOOP
        EXECUTE format($body$
            CREATE OR REPLACE FUNCTION %I() RETURNS trigger
            LANGUAGE plpgsql AS $fn$
            BEGIN
                IF TG_OP = 'INSERT' THEN%s
                ELSIF TG_OP = 'UPDATE' THEN%s
                ELSE%s
                END IF;
                RETURN NULL;
            END;
            $fn$
        $body$, 'replicate_' || v_route.table_name,
            format(v_log, v_route.table_name, 'INSERT', 'new_rows', v_route.to_nodes),
            format(v_log, v_route.table_name, 'UPDATE', 'new_rows', v_route.updated_to_nodes),
            format(v_log, v_route.table_name, 'DELETE', 'old_rows', v_route.to_nodes));
    END LOOP;
END;
$generate$;

-- The three capture triggers of each replicated table: trg_TABLE_insert, trg_TABLE_update and
-- trg_TABLE_delete.
DO $generate$
DECLARE
    v_table text;
BEGIN
    FOREACH v_table IN ARRAY ARRAY['customers', 'stores', 'products', 'categories', 'promotions', 'cities',
                                  'cashier_tokens', 'transfers'] LOOP
        EXECUTE format('CREATE OR REPLACE TRIGGER %I AFTER INSERT ON %I REFERENCING NEW TABLE AS new_rows '
                       'FOR EACH STATEMENT EXECUTE FUNCTION %I()',
                       'trg_' || v_table || '_insert', v_table, 'replicate_' || v_table);
        EXECUTE format('CREATE OR REPLACE TRIGGER %I AFTER UPDATE ON %I REFERENCING OLD TABLE AS old_rows '
                       'NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION %I()',
                       'trg_' || v_table || '_update', v_table, 'replicate_' || v_table);
        EXECUTE format('CREATE OR REPLACE TRIGGER %I AFTER DELETE ON %I REFERENCING OLD TABLE AS old_rows '
                       'FOR EACH STATEMENT EXECUTE FUNCTION %I()',
                       'trg_' || v_table || '_delete', v_table, 'replicate_' || v_table);
    END LOOP;
END;
$generate$;
CREATE OR REPLACE TRIGGER trg_cashier_tokens_touch BEFORE UPDATE ON cashier_tokens
    FOR EACH ROW EXECUTE FUNCTION touch_row();
CREATE OR REPLACE TRIGGER trg_transfers_touch BEFORE UPDATE ON transfers
    FOR EACH ROW EXECUTE FUNCTION touch_row();
