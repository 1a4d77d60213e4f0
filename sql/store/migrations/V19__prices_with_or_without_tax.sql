-- Whether a city's shelf prices include tax or have it added at the till (central's migration V21), and
-- which a sale was made under (its receipt prints its tax accordingly).
ALTER TABLE cities ADD COLUMN prices_include_tax boolean NOT NULL DEFAULT true;
ALTER TABLE orders ADD COLUMN prices_include_tax boolean NOT NULL DEFAULT true;
-- line_tax() replaces it (sql/store/checkout.sql).
DROP FUNCTION IF EXISTS included_tax(numeric, numeric);
