-- The city this node serves (written by the service from POS_CITY_ID at start-up): a store whose
-- replica names another city has moved away, and its sales are refused here (409 store_moved).
CREATE TABLE node_settings (
    singleton boolean PRIMARY KEY DEFAULT true CHECK (singleton),
    city_id   integer
);
INSERT INTO node_settings DEFAULT VALUES;
-- The store's order-number epoch, replicated from central (see central's V7).
ALTER TABLE stores ADD COLUMN order_epoch integer NOT NULL DEFAULT 0;
