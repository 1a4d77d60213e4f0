-- Table, operation and status as enums instead of text with CHECK constraints: a row's CHECK
-- expressions are read back from their stored text on every INSERT statement, which for the one-row
-- INSERT each captured change makes was over a quarter of the capture trigger's cost. An enum checks
-- its value as it is read, and takes 4 bytes.
CREATE TYPE replicated_table AS ENUM ('categories', 'products', 'stores', 'customers');
CREATE TYPE replication_operation AS ENUM ('INSERT', 'UPDATE', 'DELETE', 'LOAD');
CREATE TYPE replication_status AS ENUM ('Pending', 'Success', 'Failed', 'Dead');

DROP INDEX replication_log_open_idx, replication_log_row_idx;
ALTER TABLE replication_log
    DROP CONSTRAINT replication_log_table_name_check,
    DROP CONSTRAINT replication_log_operation_check,
    DROP CONSTRAINT replication_log_status_check,
    ALTER COLUMN status DROP DEFAULT,
    ALTER COLUMN table_name TYPE replicated_table USING table_name::replicated_table,
    ALTER COLUMN operation TYPE replication_operation USING operation::replication_operation,
    ALTER COLUMN status TYPE replication_status USING status::replication_status,
    ALTER COLUMN status SET DEFAULT 'Pending';
CREATE INDEX replication_log_open_idx ON replication_log (target_city_id, id) WHERE status <> 'Success';
CREATE INDEX replication_log_row_idx ON replication_log (target_city_id, table_name, record_id)
    WHERE status <> 'Success';
-- Failed entries waiting out their back-off, per node. Capture never writes into it (new entries are
-- Pending), so it costs central's writes nothing; it lets a delivery that succeeds find the node's
-- failed entries at once (to make them due) without walking its whole queue.
CREATE INDEX replication_log_failed_idx ON replication_log (target_city_id, next_attempt_at)
    WHERE status = 'Failed';
