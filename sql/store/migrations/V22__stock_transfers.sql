-- Stock transfers between stores (sql/store/transfers.sql). A transfer is kept at the node of each store
-- it concerns: the source's node writes it when it ships, the destination's node when central tells it.
-- The stores are not referenced: a store of another city is not among this node's replicas.
CREATE TABLE transfers (
    -- The key of GET /transfers's pages (newest first).
    id                  bigint      GENERATED ALWAYS AS IDENTITY UNIQUE,
    transfer_id         uuid        PRIMARY KEY,
    from_store_id       integer     NOT NULL,
    to_store_id         integer     NOT NULL CHECK (to_store_id <> from_store_id),
    status              text        NOT NULL
        CHECK (status IN ('in_transit', 'cancel_requested', 'received', 'cancelled')),
    -- What this node does with it, fixed when it first holds it: 'both' (it shipped it to a store of its
    -- own, and decides everything), 'source' (it shipped it: it puts the stock back when the transfer is
    -- cancelled), 'destination' (central announced it: it receives it, or grants a cancel), 'record'
    -- (neither: a transfer this node lost and central sent again, kept to be shown).
    role                text        NOT NULL CHECK (role IN ('both', 'source', 'destination', 'record')),
    note                text,
    -- Why central or the destination cancelled it, when it was not the source's own request.
    cancel_reason       text,
    shipped_by          integer,
    shipped_at          timestamptz NOT NULL,
    cancel_requested_at timestamptz,
    received_by         integer,
    received_at         timestamptz,
    cancelled_at        timestamptz,
    -- Central's version of the transfer as last applied here (0: central has not sent it yet).
    central_version     bigint      NOT NULL DEFAULT 0
);
CREATE INDEX transfers_from_store_idx ON transfers (from_store_id, id);
CREATE INDEX transfers_to_store_idx ON transfers (to_store_id, id);

-- What was shipped of each product, what arrived, and why less did.
CREATE TABLE transfer_lines (
    transfer_id uuid    NOT NULL REFERENCES transfers (transfer_id),
    product_id  integer NOT NULL REFERENCES products (id),
    quantity    integer NOT NULL CHECK (quantity > 0),
    received    integer CHECK (received BETWEEN 0 AND quantity),
    reason      text,
    PRIMARY KEY (transfer_id, product_id)
);

ALTER TABLE outbox DROP CONSTRAINT outbox_kind_check,
    ADD CONSTRAINT outbox_kind_check CHECK (kind IN ('order', 'refund', 'return', 'transfer'));
ALTER TABLE idempotency_keys DROP CONSTRAINT idempotency_keys_kind_check,
    ADD CONSTRAINT idempotency_keys_kind_check
        CHECK (kind IN ('order', 'refund', 'receipt', 'void', 'return', 'exchange', 'adjustment',
                        'transfer', 'transfer_receipt', 'transfer_cancel'));
