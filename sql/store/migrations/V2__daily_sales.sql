-- Head office's reports ask every node at once; a node answering from a few hundred per-day totals
-- instead of every sale line answers in about a millisecond whatever its history. The totals are kept
-- outside the sale's transaction (a shared total row would make every till of a store wait for the
-- others): sales and refunds queue here, and fold_sales() moves them into daily_sales. A report reads
-- daily_sales plus what is still queued, in one snapshot, so each sale counts exactly once.
CREATE TABLE daily_sales (
    business_date date          NOT NULL,
    -- 'store': one row per store and day (key 0); 'product' and 'category': key is that id.
    grain         text          NOT NULL CHECK (grain IN ('store', 'product', 'category')),
    store_id      integer       NOT NULL,
    key           integer       NOT NULL,
    -- Sales that day, in the grain's sense: orders with a line of that product, of that category.
    orders        bigint        NOT NULL,
    -- Net of refunds, which count on the refund's business day.
    units         bigint        NOT NULL,
    revenue       numeric(14,2) NOT NULL,
    PRIMARY KEY (grain, business_date, store_id, key)
);

-- No foreign keys: an entry lives for a second or so, and its insert is part of every sale.
CREATE TABLE sales_to_fold (order_id bigint PRIMARY KEY);
CREATE TABLE refunds_to_fold (refund_id bigint PRIMARY KEY);

INSERT INTO sales_to_fold (order_id) SELECT id FROM orders;
INSERT INTO refunds_to_fold (refund_id) SELECT id FROM refunds;
