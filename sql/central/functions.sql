-- Central's replaceable functions and triggers. Re-applied at start-up whenever this text changes
-- (under an advisory lock), so everything here must be re-runnable: CREATE OR REPLACE only.

-- Every replicated row carries a version bumped on each update: a node applies a row only when its
-- version is newer than the one it has.
CREATE OR REPLACE FUNCTION touch_row() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    NEW.version := OLD.version + 1;
    NEW.updated_at := now();
    RETURN NEW;
END;
$$;

CREATE OR REPLACE TRIGGER trg_categories_touch BEFORE UPDATE ON categories
    FOR EACH ROW EXECUTE FUNCTION touch_row();
CREATE OR REPLACE TRIGGER trg_products_touch BEFORE UPDATE ON products
    FOR EACH ROW EXECUTE FUNCTION touch_row();
CREATE OR REPLACE TRIGGER trg_stores_touch BEFORE UPDATE ON stores
    FOR EACH ROW EXECUTE FUNCTION touch_row();
CREATE OR REPLACE TRIGGER trg_customers_touch BEFORE UPDATE ON customers
    FOR EACH ROW EXECUTE FUNCTION touch_row();
