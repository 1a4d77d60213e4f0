-- A return without a receipt reaches central as a refund of no sale (the node's migration V17).
ALTER TABLE refund_mapping ALTER COLUMN global_order_id DROP NOT NULL;
