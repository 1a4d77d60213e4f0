-- Shifts at a terminal: opened with a float of cash, closed with the cash counted. The sales, refunds
-- and cash movements made with a credential of the terminal while its shift is open belong to it; a
-- closed shift keeps its Z report, numbered per terminal, and changes no more.
CREATE TABLE shifts (
    id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    store_id      integer       NOT NULL REFERENCES stores (id),
    terminal      text          NOT NULL,
    opened_by     integer       NOT NULL,
    opened_at     timestamptz   NOT NULL DEFAULT now(),
    opening_float numeric(12,2) NOT NULL CHECK (opening_float >= 0),
    closed_by     integer,
    closed_at     timestamptz,
    counted_cash  numeric(12,2) CHECK (counted_cash >= 0),
    z_number      integer,
    z_report      jsonb,
    CHECK ((closed_at IS NULL) = (z_number IS NULL) AND (closed_at IS NULL) = (z_report IS NULL)),
    UNIQUE (store_id, terminal, z_number)
);
-- One open shift per terminal.
CREATE UNIQUE INDEX shifts_open_idx ON shifts (store_id, terminal) WHERE closed_at IS NULL;

CREATE TABLE cash_movements (
    id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    shift_id      bigint        NOT NULL REFERENCES shifts (id),
    kind          text          NOT NULL CHECK (kind IN ('in', 'out')),
    amount        numeric(12,2) NOT NULL CHECK (amount > 0),
    reason        text          NOT NULL,
    credential_id integer       NOT NULL,
    created_at    timestamptz   NOT NULL DEFAULT now()
);
CREATE INDEX cash_movements_shift_idx ON cash_movements (shift_id);

ALTER TABLE orders ADD COLUMN shift_id bigint REFERENCES shifts (id);
ALTER TABLE refunds ADD COLUMN shift_id bigint REFERENCES shifts (id);
CREATE INDEX orders_shift_idx ON orders (shift_id) WHERE shift_id IS NOT NULL;
CREATE INDEX refunds_shift_idx ON refunds (shift_id) WHERE shift_id IS NOT NULL;
