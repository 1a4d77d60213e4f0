-- Customers signed up at the stores' tills (sql/central/customers.sql). Central gives out ids below
-- 1,000,000,000; each node numbers its sign-ups in a block above (see the nodes' migration V23).
ALTER TABLE customers ALTER COLUMN id SET MAXVALUE 999999999;
ALTER TABLE customers
    -- The number's digits, whatever else it was written with: what makes two numbers the same.
    ADD COLUMN phone_digits text GENERATED ALWAYS AS (nullif(regexp_replace(phone, '[^0-9]', '', 'g'), '')) STORED,
    -- The customer kept when this one's number was taken (this one is then deleted).
    ADD COLUMN merged_into integer REFERENCES customers (id),
    -- When each field was last written, {"name": t, "phone": t, "email": t}: an edit made at a node and
    -- one made here are resolved field by field, the later one winning.
    ADD COLUMN field_edited_at jsonb NOT NULL DEFAULT '{}';

-- One live customer per number. Where there were several, the first created keeps it and the others are
-- merged into it (deleted, their sales still theirs).
UPDATE customers c SET deleted_at = now(), merged_into = d.keep
FROM (SELECT id, first_value(id) OVER (PARTITION BY phone_digits ORDER BY created_at, id) AS keep
      FROM customers WHERE deleted_at IS NULL AND phone_digits IS NOT NULL) d
WHERE c.id = d.id AND d.id <> d.keep;
CREATE UNIQUE INDEX customers_phone_key ON customers (phone_digits) WHERE deleted_at IS NULL;
