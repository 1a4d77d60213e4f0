-- Stock transfers between stores, as the nodes report them (sql/central/transfers.sql): each transfer's
-- furthest step, relayed by replication to the nodes of both stores. Keyed by the transfer id the source's
-- node gave it; the integer id is what replication_log names.
CREATE TABLE transfers (
    id                  integer     GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    transfer_id         uuid        NOT NULL UNIQUE,
    from_store_id       integer     NOT NULL REFERENCES stores (id),
    -- Not a reference: a shipment to a store head office does not know is kept, and cancelled.
    to_store_id         integer     NOT NULL,
    -- The stores' cities when central first heard of it: the nodes it is relayed to.
    from_city_id        integer     NOT NULL,
    to_city_id          integer,
    status              text        NOT NULL
        CHECK (status IN ('in_transit', 'cancel_requested', 'received', 'cancelled')),
    note                text,
    cancel_reason       text,
    -- [{"product_id", "quantity", "received", "reason"}]
    lines               jsonb       NOT NULL,
    shipped_at          timestamptz NOT NULL,
    cancel_requested_at timestamptz,
    received_at         timestamptz,
    cancelled_at        timestamptz,
    version             bigint      NOT NULL DEFAULT 1,
    created_at          timestamptz NOT NULL DEFAULT now(),
    updated_at          timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX transfers_from_store_idx ON transfers (from_store_id, id);
CREATE INDEX transfers_to_store_idx ON transfers (to_store_id, id);
CREATE INDEX transfers_status_idx ON transfers (status, id);

ALTER TYPE replicated_table ADD VALUE 'transfers';
