-- Finding a customer at the till by the start of their phone number (its digits, however it was written:
-- "+92 300-1234567" is found by 0300…, 92300… or 300…) or by part of their name, each by an index of its
-- own, so that it stays fast with a million customers in a city.
CREATE FUNCTION phone_digits(p_phone text) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT regexp_replace(p_phone, '[^0-9]', '', 'g')
$$;
CREATE INDEX customers_phone_digits_idx ON customers (phone_digits(phone) text_pattern_ops)
    WHERE deleted_at IS NULL;
CREATE INDEX customers_name_trgm_idx ON customers USING gin (name gin_trgm_ops) WHERE deleted_at IS NULL;
