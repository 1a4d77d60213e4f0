-- The queue's indexes hold only the entries delivery reads (Pending and Failed). Dead entries wait for
-- an operator, possibly for days: in the queue's indexes every poll of their node visited each of them
-- (live rows, so never marked dead in the index) before finding the new entries behind them. They get
-- an index of their own, for the status page and the re-queue; capture never writes into it.
DROP INDEX replication_log_open_idx, replication_log_row_idx;
CREATE INDEX replication_log_open_idx ON replication_log (target_city_id, id)
    WHERE status IN ('Pending', 'Failed');
CREATE INDEX replication_log_row_idx ON replication_log (target_city_id, table_name, record_id)
    WHERE status IN ('Pending', 'Failed');
CREATE INDEX replication_log_dead_idx ON replication_log (target_city_id, id) WHERE status = 'Dead';
