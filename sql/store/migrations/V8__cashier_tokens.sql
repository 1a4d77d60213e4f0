-- Replica of central's cashier credentials (every node has all of them: digests only). The service
-- reloads the ones not revoked into memory when they change.
CREATE TABLE cashier_tokens (
    id           integer     PRIMARY KEY,
    store_id     integer     NOT NULL,
    token_sha256 text        NOT NULL,
    label        text,
    revoked_at   timestamptz,
    version      bigint      NOT NULL,
    created_at   timestamptz NOT NULL,
    updated_at   timestamptz NOT NULL
);
