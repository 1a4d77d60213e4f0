-- Customers signed up at the till (sql/store/customers.sql). The node numbers them itself, in a block of
-- ids of its own that central never gives out (central's ids stop below 1,000,000,000): city c's
-- sign-ups are 1,000,000,000 + c × 10,000,000 + 1, 2, … So no two nodes, and not central, ever give one
-- id twice, and the id stays an integer, as every sale's customer_id is.
CREATE SEQUENCE customer_signup_seq MINVALUE 1 MAXVALUE 9999999;
-- The customer head office kept when this one's number was another customer's already (central keeps
-- one customer per number): this one is then deleted, and its sales keep referring to it.
ALTER TABLE customers ADD COLUMN merged_into integer;
ALTER TABLE outbox DROP CONSTRAINT outbox_kind_check,
    ADD CONSTRAINT outbox_kind_check CHECK (kind IN ('order', 'refund', 'return', 'transfer', 'customer'));
