-- Who sold, at which terminal (central's migration V16): the credential a sale or a refund was made
-- with, NULL for one made with a token of the node's own configuration (POS_CASHIER_TOKENS) or from
-- psql. A receipt prints the credential's cashier and terminal; a reprint says so.
ALTER TABLE cashier_tokens
    ADD COLUMN cashier  text,
    ADD COLUMN terminal text,
    ADD COLUMN role     text NOT NULL DEFAULT 'cashier';
ALTER TABLE orders
    ADD COLUMN credential_id  integer,
    ADD COLUMN receipt_prints integer NOT NULL DEFAULT 0;
ALTER TABLE refunds ADD COLUMN credential_id integer;
-- checkout() and refund_order() take the credential (the replaceable file creates the new forms).
DROP FUNCTION IF EXISTS checkout(integer, integer, jsonb, jsonb, uuid, boolean);
DROP FUNCTION IF EXISTS refund_order(integer, uuid, jsonb, text, text, uuid);
