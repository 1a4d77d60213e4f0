-- The index of one row's open entries covers failed entries only: capture writes Pending entries, so it
-- no longer pays for this index on every captured row (measured: about half of capture's index upkeep).
-- Delivery looks up through it only the older failed entries of a batch's rows (sql/central/delivery.sql).
DROP INDEX replication_log_row_idx;
CREATE INDEX replication_log_failed_row_idx ON replication_log (target_city_id, table_name, record_id)
    WHERE status = 'Failed';
