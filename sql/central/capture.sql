-- Capture: what central's writes pay for. The version bump on every update of a replicated row, and
-- the row triggers that write one replication_log entry per target node in the writer's transaction.
-- Called by: every INSERT, UPDATE and DELETE on categories, products, stores and customers.
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

CREATE OR REPLACE TRIGGER trg_stores_epoch BEFORE UPDATE OF city_id ON stores
    FOR EACH ROW WHEN (NEW.city_id IS DISTINCT FROM OLD.city_id) EXECUTE FUNCTION start_store_epoch();
CREATE OR REPLACE TRIGGER trg_cities_touch BEFORE UPDATE ON cities
    FOR EACH ROW EXECUTE FUNCTION touch_row();
CREATE OR REPLACE TRIGGER trg_categories_touch BEFORE UPDATE ON categories
    FOR EACH ROW EXECUTE FUNCTION touch_row();
CREATE OR REPLACE TRIGGER trg_products_touch BEFORE UPDATE ON products
    FOR EACH ROW EXECUTE FUNCTION touch_row();
CREATE OR REPLACE TRIGGER trg_stores_touch BEFORE UPDATE ON stores
    FOR EACH ROW EXECUTE FUNCTION touch_row();
CREATE OR REPLACE TRIGGER trg_customers_touch BEFORE UPDATE ON customers
    FOR EACH ROW EXECUTE FUNCTION touch_row();

-- ---------------------------------------------------------------------------------------------------
-- Capture. Row triggers write one replication_log entry per target node in the writer's transaction
-- (a rollback leaves nothing) and wake the replicator. No remote call ever happens here: a slow or down
-- node must not slow central's writes.

-- Every captured write pays for this code, so it is one flat function per kind of table, with one
-- INSERT … SELECT and no nested calls. No pg_notify here: PostgreSQL serialises the commits of notifying
-- transactions on one database-wide lock held through the WAL flush, which measured central's durable
-- write rate at half. Each node's worker polls its queue instead (an index probe every few ms).

-- Fragmented tables (customers, stores): the row goes to its city's node; when city_id changes, the old
-- city's node is told too, so it stops listing the row as its own. The two contract names
-- replicate_customers() and replicate_stores() share one body, generated here.
DO $generate$
DECLARE
    v_table text;
BEGIN
    FOREACH v_table IN ARRAY ARRAY['customers', 'stores'] LOOP
        EXECUTE format($body$
            CREATE OR REPLACE FUNCTION %I() RETURNS trigger
            LANGUAGE plpgsql AS $fn$
            DECLARE
                v_id integer;
                v_new_city integer;
                v_old_city integer;
            BEGIN
                IF TG_OP = 'DELETE' THEN
                    v_id := OLD.id;
                    v_old_city := OLD.city_id;
                ELSE
                    v_id := NEW.id;
                    v_new_city := NEW.city_id;
                    IF TG_OP = 'UPDATE' THEN
                        v_old_city := OLD.city_id;
                    END IF;
                END IF;
                INSERT INTO replication_log (table_name, record_id, target_city_id, operation)
                SELECT TG_TABLE_NAME::replicated_table, v_id, n.city_id, TG_OP::replication_operation
                FROM nodes n
                WHERE n.enabled AND n.city_id IN (v_new_city, v_old_city);
                RETURN NULL;
            END;
            $fn$
        $body$, 'replicate_' || v_table);
    END LOOP;
END;
$generate$;

-- Catalogue tables (products, categories), cities (their time zones) and cashier credentials (digests,
-- so that a store's cashiers sign in wherever it sells) go to every enabled node.
DO $generate$
DECLARE
    v_table text;
BEGIN
    FOREACH v_table IN ARRAY ARRAY['products', 'categories', 'cities', 'cashier_tokens'] LOOP
        EXECUTE format($body$
            CREATE OR REPLACE FUNCTION %I() RETURNS trigger
            LANGUAGE plpgsql AS $fn$
            BEGIN
                INSERT INTO replication_log (table_name, record_id, target_city_id, operation)
                SELECT TG_TABLE_NAME::replicated_table, CASE WHEN TG_OP = 'DELETE' THEN OLD.id ELSE NEW.id END,
                       n.city_id, TG_OP::replication_operation
                FROM nodes n
                WHERE n.enabled;
                RETURN NULL;
            END;
            $fn$
        $body$, 'replicate_' || v_table);
    END LOOP;
END;
$generate$;

CREATE OR REPLACE TRIGGER trg_customers AFTER INSERT OR UPDATE OR DELETE ON customers
    FOR EACH ROW EXECUTE FUNCTION replicate_customers();
CREATE OR REPLACE TRIGGER trg_stores AFTER INSERT OR UPDATE OR DELETE ON stores
    FOR EACH ROW EXECUTE FUNCTION replicate_stores();
CREATE OR REPLACE TRIGGER trg_products AFTER INSERT OR UPDATE OR DELETE ON products
    FOR EACH ROW EXECUTE FUNCTION replicate_products();
CREATE OR REPLACE TRIGGER trg_categories AFTER INSERT OR UPDATE OR DELETE ON categories
    FOR EACH ROW EXECUTE FUNCTION replicate_categories();
CREATE OR REPLACE TRIGGER trg_cities AFTER INSERT OR UPDATE OR DELETE ON cities
    FOR EACH ROW EXECUTE FUNCTION replicate_cities();
CREATE OR REPLACE TRIGGER trg_cashier_tokens AFTER INSERT OR UPDATE OR DELETE ON cashier_tokens
    FOR EACH ROW EXECUTE FUNCTION replicate_cashier_tokens();
CREATE OR REPLACE TRIGGER trg_cashier_tokens_touch BEFORE UPDATE ON cashier_tokens
    FOR EACH ROW EXECUTE FUNCTION touch_row();
