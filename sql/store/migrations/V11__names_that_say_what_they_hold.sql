-- Names that say what things are: sales_snapshots holds each day's running totals, and the functions
-- that read the sales not folded yet say so. The replaceable file creates the functions anew.
ALTER TABLE sales_snapshots RENAME TO sales_running_totals;
ALTER INDEX sales_snapshots_pkey RENAME TO sales_running_totals_pkey;
DROP FUNCTION IF EXISTS refresh_sales_snapshots(date);
DROP FUNCTION IF EXISTS report_queued_totals();
DROP FUNCTION IF EXISTS queued_daily_totals();
