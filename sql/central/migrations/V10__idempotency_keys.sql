-- Master-data creates made with an Idempotency-Key: the first answer, kept for the retention window
-- (POS_IDEMPOTENCY_RETENTION_HOURS) so that a retry gets it again instead of making a second row. The
-- key is claimed in the create's own transaction: a concurrent retry waits on it and then replays.
CREATE TABLE idempotency_keys (
    key          text        PRIMARY KEY CHECK (key ~ '^[!-~]{1,255}$'),
    fingerprint  bytea       NOT NULL CHECK (length(fingerprint) = 32),
    -- Filled in the claiming transaction, before it commits: never seen empty by another.
    status       smallint,
    response     jsonb,
    created_at   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX idempotency_keys_created_idx ON idempotency_keys (created_at);
