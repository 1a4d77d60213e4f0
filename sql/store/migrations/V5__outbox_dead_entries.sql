-- An outbox entry central refuses (its data, not central's absence) is set aside as Dead, alone, so that
-- the sales after it still go up; it waits there for an operator. Dead entries have an index of their
-- own, outside the queue's.
ALTER TABLE outbox DROP CONSTRAINT outbox_status_check,
    ADD CONSTRAINT outbox_status_check CHECK (status IN ('Pending', 'Success', 'Failed', 'Dead'));
CREATE INDEX outbox_dead_idx ON outbox (id) WHERE status = 'Dead';
-- push_outbox() reports Dead entries and whether central was out of reach (new OUT columns).
DROP FUNCTION IF EXISTS push_outbox(boolean, integer);
DROP FUNCTION IF EXISTS sync_backlog();  -- now also counts Dead entries and names the last error
