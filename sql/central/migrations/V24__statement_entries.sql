-- A statement that changes many rows logs them in a few entries instead of one per row: per target node,
-- one entry per range of 1,000 ids, naming its rows in record_ids (record_id is the first of them). A
-- 10,000-row import wrote 10,000 log rows and 20,000 index entries in the writer's transaction; now it
-- writes about ten. A single row's entry leaves record_ids NULL, as before. Delivery ships an entry's
-- rows together, and a row the node refuses is set aside in a Dead entry of its own
-- (sql/central/delivery.sql), so that Dead still names one row.
ALTER TABLE replication_log ADD COLUMN record_ids integer[];
