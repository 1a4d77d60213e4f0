-- Store-node schema. Versioned: never edit once released; add V2__… instead.
-- Functions (process_order, apply_replication, …) live in ../functions.sql.

CREATE EXTENSION IF NOT EXISTS dblink;

-- Replicas of central's master data, written only by apply_replication() (version-guarded upserts).
-- No foreign keys between replicas: rows of one change may arrive in separate batches.
CREATE TABLE categories (
    id         integer     PRIMARY KEY,
    name       text        NOT NULL,
    version    bigint      NOT NULL,
    created_at timestamptz NOT NULL,
    updated_at timestamptz NOT NULL
);

CREATE TABLE products (
    id          integer       PRIMARY KEY,
    sku         text          NOT NULL,
    name        text          NOT NULL,
    category_id integer       NOT NULL,
    price       numeric(12,2) NOT NULL CHECK (price >= 0),
    active      boolean       NOT NULL,
    version     bigint        NOT NULL,
    created_at  timestamptz   NOT NULL,
    updated_at  timestamptz   NOT NULL
);
CREATE INDEX products_sku_idx ON products (sku);

CREATE TABLE stores (
    id         integer     PRIMARY KEY,
    code       text        NOT NULL,
    name       text        NOT NULL,
    city_id    integer     NOT NULL,
    active     boolean     NOT NULL,
    version    bigint      NOT NULL,
    created_at timestamptz NOT NULL,
    updated_at timestamptz NOT NULL
);

-- A customer who moved to another city keeps their row here (with the new city_id) so that this node's
-- orders still refer to it; the node lists only customers of its own city.
CREATE TABLE customers (
    id         integer     PRIMARY KEY,
    name       text        NOT NULL,
    phone      text,
    email      text,
    city_id    integer     NOT NULL,
    deleted_at timestamptz,
    version    bigint      NOT NULL,
    created_at timestamptz NOT NULL,
    updated_at timestamptz NOT NULL
);
CREATE INDEX customers_phone_idx ON customers (phone);

-- Local data.
CREATE TABLE inventory (
    store_id   integer     NOT NULL REFERENCES stores (id),
    product_id integer     NOT NULL REFERENCES products (id),
    quantity   integer     NOT NULL CHECK (quantity >= 0),
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (store_id, product_id)
);

-- Per-store order number: a counter row locked by UPDATE … RETURNING (MAX()+1 races).
CREATE TABLE store_order_counters (
    store_id       integer PRIMARY KEY REFERENCES stores (id),
    last_order_id  bigint  NOT NULL DEFAULT 0
);

CREATE TABLE orders (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    global_order_id uuid          NOT NULL UNIQUE,
    store_id        integer       NOT NULL REFERENCES stores (id),
    store_order_id  bigint        NOT NULL,
    customer_id     integer       REFERENCES customers (id),
    total           numeric(12,2) NOT NULL CHECK (total >= 0),
    change_due      numeric(12,2) NOT NULL DEFAULT 0 CHECK (change_due >= 0),
    business_date   date          NOT NULL,
    created_at      timestamptz   NOT NULL DEFAULT now(),
    UNIQUE (store_id, store_order_id)
);
CREATE INDEX orders_business_date_idx ON orders (store_id, business_date);

CREATE TABLE order_items (
    order_id   bigint        NOT NULL REFERENCES orders (id),
    line_no    integer       NOT NULL CHECK (line_no > 0),
    product_id integer       NOT NULL REFERENCES products (id),
    quantity   integer       NOT NULL CHECK (quantity > 0),
    unit_price numeric(12,2) NOT NULL CHECK (unit_price >= 0),
    line_total numeric(12,2) NOT NULL CHECK (line_total >= 0),
    PRIMARY KEY (order_id, line_no)
);

CREATE TABLE payments (
    id       bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    order_id bigint        NOT NULL REFERENCES orders (id),
    method   text          NOT NULL CHECK (method IN ('cash', 'card', 'wallet')),
    amount   numeric(12,2) NOT NULL CHECK (amount > 0)
);
CREATE INDEX payments_order_idx ON payments (order_id);

CREATE TABLE refunds (
    id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    refund_id     uuid          NOT NULL UNIQUE,
    order_id      bigint        NOT NULL REFERENCES orders (id),
    method        text          NOT NULL CHECK (method IN ('cash', 'card', 'wallet')),
    amount        numeric(12,2) NOT NULL CHECK (amount >= 0),
    reason        text,
    business_date date          NOT NULL,
    created_at    timestamptz   NOT NULL DEFAULT now()
);
CREATE INDEX refunds_order_idx ON refunds (order_id);

CREATE TABLE refund_items (
    refund_id bigint        NOT NULL REFERENCES refunds (id),
    order_id  bigint        NOT NULL,
    line_no   integer       NOT NULL,
    quantity  integer       NOT NULL CHECK (quantity > 0),
    amount    numeric(12,2) NOT NULL CHECK (amount >= 0),
    PRIMARY KEY (refund_id, line_no),
    FOREIGN KEY (order_id, line_no) REFERENCES order_items (order_id, line_no)
);

CREATE TABLE stock_receipts (
    id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    receipt_id uuid        NOT NULL UNIQUE,
    store_id   integer     NOT NULL REFERENCES stores (id),
    reference  text,
    created_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE stock_receipt_items (
    receipt_id bigint  NOT NULL REFERENCES stock_receipts (id),
    product_id integer NOT NULL REFERENCES products (id),
    quantity   integer NOT NULL CHECK (quantity > 0),
    PRIMARY KEY (receipt_id, product_id)
);

-- The lines of a sale or refund being written: functions carry them in arrays of these (a temporary
-- table would write catalog rows on every sale).
CREATE TYPE sale_line AS (line_no integer, product_id integer, quantity integer, unit_price numeric(12,2));
CREATE TYPE refund_line AS (line_no integer, quantity integer);

-- Every terminal write (sale, refund, stock receipt) carries a client-generated key. The fingerprint is
-- computed in SQL from the normalised request, so psql callers and the HTTP path agree.
CREATE TABLE idempotency_keys (
    idempotency_key uuid        PRIMARY KEY,
    kind            text        NOT NULL CHECK (kind IN ('order', 'refund', 'receipt')),
    store_id        integer     NOT NULL,
    fingerprint     text        NOT NULL,
    result_id       uuid,
    result          jsonb,
    created_at      timestamptz NOT NULL DEFAULT now()
);

-- Sales and refunds waiting to be reported to central's order_mapping.
CREATE TABLE outbox (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    kind            text        NOT NULL CHECK (kind IN ('order', 'refund')),
    global_order_id uuid        NOT NULL,
    payload         jsonb       NOT NULL,
    status          text        NOT NULL DEFAULT 'Pending' CHECK (status IN ('Pending', 'Success', 'Failed')),
    attempts        integer     NOT NULL DEFAULT 0,
    message         text,
    created_at      timestamptz NOT NULL DEFAULT clock_timestamp(),
    last_attempt_at timestamptz,
    next_attempt_at timestamptz,
    delivered_at    timestamptz
);
CREATE INDEX outbox_open_idx ON outbox (status, next_attempt_at) WHERE status IN ('Pending', 'Failed');

CREATE TABLE schema_functions (
    name       text PRIMARY KEY,
    sha256     text        NOT NULL,
    applied_at timestamptz NOT NULL DEFAULT now()
);
