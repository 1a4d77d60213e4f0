-- The idempotency keys are purged oldest first (see purge_node_history()): an index on their age.
CREATE INDEX idempotency_keys_created_idx ON idempotency_keys (created_at);
