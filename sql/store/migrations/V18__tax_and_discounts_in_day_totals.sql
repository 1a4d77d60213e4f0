-- Head office's reports show tax (net of refunds) and discounts (given on the day's sales) beside
-- revenue: the per-day totals and the running totals carry both. They are built again from the sales
-- and refunds there are: every one is queued for the next fold, and the running totals are rebuilt
-- from the first day (reports meanwhile read the queue, so no sale is missed or counted twice).
ALTER TABLE daily_sales
    ADD COLUMN tax       numeric(14,2) NOT NULL DEFAULT 0,
    ADD COLUMN discounts numeric(14,2) NOT NULL DEFAULT 0;
ALTER TABLE sales_running_totals
    ADD COLUMN tax       numeric[] NOT NULL DEFAULT '{}',
    ADD COLUMN discounts numeric[] NOT NULL DEFAULT '{}';
DELETE FROM daily_sales;
DELETE FROM sales_running_totals;
INSERT INTO sales_to_fold (order_id) SELECT id FROM orders ON CONFLICT DO NOTHING;
INSERT INTO refunds_to_fold (refund_id) SELECT id FROM refunds ON CONFLICT DO NOTHING;
-- Their answers gain the two columns (the replaceable file creates the new forms).
DROP FUNCTION IF EXISTS sales_summary(date, date, text);
DROP FUNCTION IF EXISTS unfolded_day_totals_opaque();
DROP FUNCTION IF EXISTS unfolded_day_totals();
