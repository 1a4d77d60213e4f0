-- Finding a customer at the till by the start of their phone number (its digits, whatever spaces, dashes
-- or + it was written with: "+92 300-1234567" is found by 92300… or +92 300…) or by part of their name,
-- each by an index of its own, so that it stays fast with a million customers in a city. The digits are
-- a column of their own (kept by PostgreSQL from the number), so that the planner has their statistics.
ALTER TABLE customers
    ADD COLUMN phone_digits text GENERATED ALWAYS AS (regexp_replace(phone, '[^0-9]', '', 'g')) STORED;
CREATE INDEX customers_phone_digits_idx ON customers (phone_digits text_pattern_ops) WHERE deleted_at IS NULL;
CREATE INDEX customers_name_trgm_idx ON customers USING gin (name gin_trgm_ops) WHERE deleted_at IS NULL;
