-- What a cashier may not do alone (central's migration V18): discounts above the credential's limit and
-- voids, each approved by a store manager. A manager's credential needs no approval; a cashier's write
-- carries an approval a manager granted at the store minutes before, used once.

-- The most a cashier credential may take off a line, or off a sale, by hand (percent of what is left
-- after promotions). A credential from a central older than this node may discount nothing unapproved.
ALTER TABLE cashier_tokens ADD COLUMN discount_limit numeric(5,2) NOT NULL DEFAULT 0;

CREATE TABLE approvals (
    id                   bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    approval_id          uuid         NOT NULL UNIQUE,
    store_id             integer      NOT NULL REFERENCES stores (id),
    action               text         NOT NULL CHECK (action IN ('discount', 'void')),
    -- A discount approval's ceiling, in percent (100: any discount).
    max_discount_percent numeric(5,2) CHECK (max_discount_percent BETWEEN 0 AND 100),
    granted_by           integer      NOT NULL,
    reason               text,
    created_at           timestamptz  NOT NULL DEFAULT now(),
    expires_at           timestamptz  NOT NULL,
    used_at              timestamptz,
    used_by              integer,
    CHECK ((action = 'discount') = (max_discount_percent IS NOT NULL)),
    CHECK (expires_at > created_at)
);

-- A void is a refund of a whole sale made in the shift it was sold in; the one who approved it is kept
-- (the one who made it is the credential), and a sale is voided at most once.
ALTER TABLE refunds
    ADD COLUMN kind        text NOT NULL DEFAULT 'refund' CHECK (kind IN ('refund', 'void')),
    ADD COLUMN approved_by integer;
CREATE UNIQUE INDEX refunds_one_void_idx ON refunds (order_id) WHERE kind = 'void';

-- A line's discount by hand (its own and its share of the sale's), part of its discount; the manager
-- who approved the sale's discounts, when the cashier's limit did not cover them.
ALTER TABLE order_items
    ADD COLUMN manual_discount numeric(12,2) NOT NULL DEFAULT 0 CHECK (manual_discount >= 0);
ALTER TABLE orders ADD COLUMN discount_approved_by integer;
ALTER TYPE sale_line ADD ATTRIBUTE manual_discount numeric(12,2);

-- checkout() takes the sale's discount and the approval (the replaceable file creates the new form).
DROP FUNCTION IF EXISTS checkout(integer, integer, jsonb, jsonb, uuid, boolean, integer);

ALTER TABLE idempotency_keys DROP CONSTRAINT idempotency_keys_kind_check,
    ADD CONSTRAINT idempotency_keys_kind_check CHECK (kind IN ('order', 'refund', 'receipt', 'void'));
