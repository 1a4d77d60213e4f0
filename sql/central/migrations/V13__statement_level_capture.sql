-- Capture moves from row triggers to statement triggers over transition tables (sql/central/capture.sql):
-- a bulk write then logs its rows with one INSERT … SELECT instead of one trigger call per row. The row
-- triggers of the earlier capture go; capture.sql, applied after the migrations, creates their successors.
DROP TRIGGER IF EXISTS trg_customers ON customers;
DROP TRIGGER IF EXISTS trg_stores ON stores;
DROP TRIGGER IF EXISTS trg_products ON products;
DROP TRIGGER IF EXISTS trg_categories ON categories;
DROP TRIGGER IF EXISTS trg_cities ON cities;
DROP TRIGGER IF EXISTS trg_cashier_tokens ON cashier_tokens;
