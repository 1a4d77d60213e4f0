-- Running totals for head office's reports: a report over a range of days is the running total at its
-- last day less the running total before its first day, two rows per grain whatever the range spans,
-- instead of a row per day and key (see sales_summary()). One row per grain and business day holds,
-- for every key ever sold (ascending), the totals of daily_sales up to and including that day. Rows
-- exist for every day with sales but the latest one: that day still changes with every fold, so
-- reports add its daily_sales rows, and its row is written once a later day has sales (a row of every
-- key, rewritten every second, would cost more than it saves). refresh_sales_snapshots() keeps them.
CREATE TABLE sales_snapshots (
    grain         text     NOT NULL CHECK (grain IN ('store', 'product', 'category')),
    business_date date     NOT NULL,
    -- 'store': store ids; 'product' and 'category': those ids (summed over the node's stores).
    keys          integer[]   NOT NULL,
    orders        bigint[]    NOT NULL,
    units         bigint[]    NOT NULL,
    revenue       numeric[]   NOT NULL,
    PRIMARY KEY (grain, business_date)
);
