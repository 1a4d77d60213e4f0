-- Returns without a receipt, store credit and exchanges (the replaceable files return_without_receipt(),
-- exchange_order() and the store-credit payments of checkout()).

-- A refund names its store and each of its lines its product, so that a return without a receipt (no sale
-- to point to: kind 'return') is a refund like the others in every report.
ALTER TABLE refunds ADD COLUMN store_id integer REFERENCES stores (id);
UPDATE refunds r SET store_id = o.store_id FROM orders o WHERE o.id = r.order_id;
ALTER TABLE refunds
    ALTER COLUMN store_id SET NOT NULL,
    ALTER COLUMN order_id DROP NOT NULL,
    DROP CONSTRAINT refunds_kind_check,
    ADD CONSTRAINT refunds_kind_check CHECK (kind IN ('refund', 'void', 'return')),
    ADD CONSTRAINT refunds_return_has_no_sale CHECK ((kind = 'return') = (order_id IS NULL)),
    DROP CONSTRAINT refunds_method_check,
    ADD CONSTRAINT refunds_method_check CHECK (method IN ('cash', 'card', 'wallet', 'store_credit'));
CREATE INDEX refunds_store_day_idx ON refunds (store_id, business_date);
ALTER TABLE refund_items ADD COLUMN product_id integer REFERENCES products (id);
UPDATE refund_items ri SET product_id = oi.product_id
FROM order_items oi WHERE oi.order_id = ri.order_id AND oi.line_no = ri.line_no;
ALTER TABLE refund_items ALTER COLUMN product_id SET NOT NULL, ALTER COLUMN order_id DROP NOT NULL;
ALTER TYPE refunded_line ADD ATTRIBUTE product_id integer;

-- Store credit: a note with a code the customer keeps, issued by a refund or a return to store credit,
-- spent as a payment at any store of this node (what is left stays on it).
CREATE TABLE credit_notes (
    id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    code       text          NOT NULL UNIQUE,
    store_id   integer       NOT NULL REFERENCES stores (id),
    refund_id  bigint        NOT NULL UNIQUE REFERENCES refunds (id),
    amount     numeric(12,2) NOT NULL CHECK (amount >= 0),
    balance    numeric(12,2) NOT NULL CHECK (balance >= 0 AND balance <= amount),
    created_at timestamptz   NOT NULL DEFAULT now()
);
ALTER TABLE payments
    DROP CONSTRAINT payments_method_check,
    ADD CONSTRAINT payments_method_check CHECK (method IN ('cash', 'card', 'wallet', 'store_credit')),
    ADD COLUMN credit_note_id bigint REFERENCES credit_notes (id),
    ADD CONSTRAINT payments_credit_note CHECK ((method = 'store_credit') = (credit_note_id IS NOT NULL));

-- An exchange: a refund to store credit and a sale paid with it first, made in one transaction; its
-- answer is kept, so that a replay answers the same.
CREATE TABLE exchanges (
    id             bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    exchange_id    uuid        NOT NULL UNIQUE,
    refund_id      bigint      NOT NULL REFERENCES refunds (id),
    order_id       bigint      NOT NULL REFERENCES orders (id),
    credit_note_id bigint      NOT NULL REFERENCES credit_notes (id),
    answer         jsonb       NOT NULL,
    created_at     timestamptz NOT NULL DEFAULT now()
);

-- A return reaches central without a sale.
ALTER TABLE outbox
    ALTER COLUMN global_order_id DROP NOT NULL,
    DROP CONSTRAINT outbox_kind_check,
    ADD CONSTRAINT outbox_kind_check CHECK (kind IN ('order', 'refund', 'return'));
ALTER TABLE idempotency_keys DROP CONSTRAINT idempotency_keys_kind_check,
    ADD CONSTRAINT idempotency_keys_kind_check
        CHECK (kind IN ('order', 'refund', 'receipt', 'void', 'return', 'exchange'));
ALTER TABLE approvals DROP CONSTRAINT approvals_action_check,
    ADD CONSTRAINT approvals_action_check CHECK (action IN ('discount', 'void', 'return'));
