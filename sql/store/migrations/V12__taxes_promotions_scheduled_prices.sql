-- Replicas of what prices a sale (central's migration V15): tax rates, a product's scheduled price and
-- the promotions. A sale keeps what it was priced with on its lines: the discount and the promotion
-- that gave it, the tax rate and the tax; the order keeps the totals of both.
ALTER TABLE categories ADD COLUMN tax_rate numeric(5,2) NOT NULL DEFAULT 0;
ALTER TABLE products
    ADD COLUMN tax_rate numeric(5,2),
    ADD COLUMN next_price numeric(12,2),
    ADD COLUMN next_price_at timestamptz;

CREATE TABLE promotions (
    id          integer       PRIMARY KEY,
    name        text          NOT NULL,
    kind        text          NOT NULL,
    value       numeric(12,2) NOT NULL,
    product_id  integer,
    category_id integer,
    starts_at   timestamp     NOT NULL,
    ends_at     timestamp     NOT NULL,
    active      boolean       NOT NULL,
    version     bigint        NOT NULL,
    created_at  timestamptz   NOT NULL,
    updated_at  timestamptz   NOT NULL
);
-- A sale looks up its lines' promotions by product and by category.
CREATE INDEX promotions_product_idx ON promotions (product_id) WHERE product_id IS NOT NULL AND active;
CREATE INDEX promotions_category_idx ON promotions (category_id) WHERE category_id IS NOT NULL AND active;

ALTER TABLE order_items
    ADD COLUMN discount     numeric(12,2) NOT NULL DEFAULT 0 CHECK (discount >= 0),
    ADD COLUMN promotion_id integer,
    ADD COLUMN tax_rate     numeric(5,2)  NOT NULL DEFAULT 0,
    ADD COLUMN tax_amount   numeric(12,2) NOT NULL DEFAULT 0 CHECK (tax_amount >= 0);
ALTER TABLE orders
    ADD COLUMN discount_total numeric(12,2) NOT NULL DEFAULT 0 CHECK (discount_total >= 0),
    ADD COLUMN tax_total      numeric(12,2) NOT NULL DEFAULT 0 CHECK (tax_total >= 0);
-- A refund gives back its lines' share of the tax as well.
ALTER TABLE refund_items ADD COLUMN tax_amount numeric(12,2) NOT NULL DEFAULT 0;
ALTER TABLE refunds ADD COLUMN tax_amount numeric(12,2) NOT NULL DEFAULT 0;

-- What checkout() carries for each line while it prices the sale.
ALTER TYPE sale_line
    ADD ATTRIBUTE category_id integer,
    ADD ATTRIBUTE tax_rate numeric(5,2),
    ADD ATTRIBUTE discount numeric(12,2),
    ADD ATTRIBUTE promotion_id integer;
-- What refund_order() gives back for each line.
CREATE TYPE refunded_line AS (line_no integer, quantity integer, amount numeric(12,2), tax_amount numeric(12,2));
