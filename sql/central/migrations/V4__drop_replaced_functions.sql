-- Functions of earlier releases whose signature or purpose changed. The replaceable files only ever
-- CREATE OR REPLACE, so what they no longer define is dropped here, once.
-- purge_delivered_replications(interval, integer): replaced by the form with a bound, which a call with
-- two arguments would otherwise find ambiguous.
DROP FUNCTION IF EXISTS purge_delivered_replications(interval, integer);
-- The service asks the nodes for their stock and outbox backlog directly.
DROP FUNCTION IF EXISTS node_stock_below(integer, integer);
DROP FUNCTION IF EXISTS node_sync_backlog(integer);
-- Delivery reports Dead entries and unreachable nodes (new OUT columns); transient failures no longer
-- count towards a dead threshold (no max_attempts); a re-queue may name entries.
DROP FUNCTION IF EXISTS deliver_replication(integer, boolean);
DROP FUNCTION IF EXISTS configure_replication(integer, integer, integer, integer, integer);
DROP FUNCTION IF EXISTS requeue_dead_replications(integer);
