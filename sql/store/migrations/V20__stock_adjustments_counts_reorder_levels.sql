-- Stock that changes other than by sales, refunds and receipts: adjustments with a reason (damage, theft,
-- a correction, or a count applied), each line with the quantity it left; stock counts entered while
-- sales go on; and a reorder level per store and product, at or below which a line is low.
CREATE TABLE stock_counts (
    id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    count_id   uuid        NOT NULL UNIQUE,
    store_id   integer     NOT NULL REFERENCES stores (id),
    started_by integer,
    started_at timestamptz NOT NULL DEFAULT now(),
    applied_by integer,
    applied_at timestamptz
);
-- One open count per store.
CREATE UNIQUE INDEX stock_counts_open_idx ON stock_counts (store_id) WHERE applied_at IS NULL;

-- A product counted: what was on the shelf, and what the system held at that moment (the book), so that
-- sales before and after the moment of counting are accounted for: the variance is counted - book.
CREATE TABLE stock_count_lines (
    count_id   bigint      NOT NULL REFERENCES stock_counts (id),
    product_id integer     NOT NULL REFERENCES products (id),
    counted    integer     NOT NULL CHECK (counted >= 0),
    book       integer     NOT NULL,
    counted_by integer,
    counted_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (count_id, product_id)
);

CREATE TABLE stock_adjustments (
    id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    adjustment_id uuid        NOT NULL UNIQUE,
    store_id      integer     NOT NULL REFERENCES stores (id),
    reason        text        NOT NULL CHECK (reason IN ('damage', 'theft', 'correction', 'count')),
    note          text,
    count_id      bigint      REFERENCES stock_counts (id),
    credential_id integer,
    business_date date        NOT NULL,
    created_at    timestamptz NOT NULL DEFAULT now(),
    CHECK ((reason = 'count') = (count_id IS NOT NULL))
);
CREATE INDEX stock_adjustments_store_day_idx ON stock_adjustments (store_id, business_date);
CREATE TABLE stock_adjustment_items (
    adjustment_id  bigint  NOT NULL REFERENCES stock_adjustments (id),
    product_id     integer NOT NULL REFERENCES products (id),
    change         integer NOT NULL CHECK (change <> 0),
    quantity_after integer NOT NULL CHECK (quantity_after >= 0),
    PRIMARY KEY (adjustment_id, product_id)
);
ALTER TABLE stock_counts ADD COLUMN adjustment_id bigint REFERENCES stock_adjustments (id);

ALTER TABLE inventory ADD COLUMN reorder_level integer CHECK (reorder_level >= 0);

ALTER TABLE idempotency_keys DROP CONSTRAINT idempotency_keys_kind_check,
    ADD CONSTRAINT idempotency_keys_kind_check
        CHECK (kind IN ('order', 'refund', 'receipt', 'void', 'return', 'exchange', 'adjustment'));

-- What adjust_stock() and apply_stock_count() carry for each product.
CREATE TYPE stock_change AS (product_id integer, change integer);
-- stock_below() answers each line's reorder level too (the replaceable file creates the new form).
DROP FUNCTION IF EXISTS stock_below(integer);
