-- Reports: per-day totals folded from the sales, running totals, and the questions head office asks.
-- Called by: the store-node service (fold_sales() every second, GET /reports/daily) and central's report
-- fan-out as pos_replicator (sales_summary(), sync_backlog(); stock_below() is in stock.sql).
-- Replaceable (CREATE OR REPLACE only): re-applied at start-up under an advisory lock when its text changes.

-- Head office's reports, called by the central service as `pos_replicator` on sessions it keeps open. In
-- PL/pgSQL so that their plans are kept for those sessions (a SQL function with SET is planned every call).

-- Per-day totals (see migration V2): every sale and refund is queued by a statement trigger in its own
-- transaction, and fold_sales() adds the queued ones to daily_sales.
CREATE OR REPLACE FUNCTION queue_sales_fold() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_TABLE_NAME = 'orders' THEN
        INSERT INTO sales_to_fold (order_id) SELECT id FROM new_rows;
    ELSE
        INSERT INTO refunds_to_fold (refund_id) SELECT id FROM new_rows;
    END IF;
    RETURN NULL;
END;
$$;
CREATE OR REPLACE TRIGGER trg_orders_fold AFTER INSERT ON orders
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION queue_sales_fold();
CREATE OR REPLACE TRIGGER trg_refunds_fold AFTER INSERT ON refunds
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION queue_sales_fold();

-- The per-day totals of the sales and refunds not folded yet (queued), in daily_sales's shape: sale
-- lines on the sale's business day, refund lines (negative, tax included) on the refund's. Discounts are
-- those given on the day's sales (a refund gives none back; a void takes its sale's back). The one definition of what a report counts:
-- fold_sales() stores it, sales_summary() adds it to what is stored. (No arguments, so that the
-- planner inlines it into fold_sales()'s statement.)
CREATE OR REPLACE FUNCTION unfolded_day_totals()
RETURNS TABLE (business_date date, grain text, store_id integer, key integer, orders bigint, units bigint, revenue numeric,
               tax numeric, discounts numeric)
LANGUAGE sql STABLE AS $$
    WITH ledger AS (
        SELECT o.id AS order_id, o.store_id, o.business_date AS day, i.product_id, p.category_id,
               i.quantity AS units, i.line_total AS revenue, i.tax_amount AS tax, i.discount AS discounts,
               1 AS sale
        FROM orders o
        JOIN order_items i ON i.order_id = o.id
        JOIN products p ON p.id = i.product_id
        WHERE o.id IN (SELECT order_id FROM sales_to_fold)
        UNION ALL
        -- Refunds, voids and returns without a receipt (no sale) alike; a void takes its sale out of the
        -- orders and the discounts too, as if it had not been made.
        SELECT r.order_id, r.store_id, r.business_date, ri.product_id, p.category_id, -ri.quantity, -ri.amount,
               -ri.tax_amount, -coalesce(oi.discount, 0), CASE WHEN r.kind = 'void' THEN -1 ELSE 0 END
        FROM refunds r
        JOIN refund_items ri ON ri.refund_id = r.id
        JOIN products p ON p.id = ri.product_id
        LEFT JOIN order_items oi ON r.kind = 'void' AND oi.order_id = ri.order_id AND oi.line_no = ri.line_no
        WHERE r.id IN (SELECT refund_id FROM refunds_to_fold)
    )
    SELECT l.day,
           CASE WHEN GROUPING(l.product_id) = 0 THEN 'product' WHEN GROUPING(l.category_id) = 0 THEN 'category'
                ELSE 'store' END,
           l.store_id,
           coalesce(l.product_id, l.category_id, 0),
           count(DISTINCT l.order_id) FILTER (WHERE l.sale = 1) - count(DISTINCT l.order_id) FILTER (WHERE l.sale = -1),
           sum(l.units)::bigint,
           sum(l.revenue),
           sum(l.tax),
           sum(l.discounts)
    FROM ledger l
    GROUP BY GROUPING SETS ((l.day, l.store_id), (l.day, l.store_id, l.product_id), (l.day, l.store_id, l.category_id))
$$;

-- The same, opaque: a PL/pgSQL call the planner cannot inline, so a report's plan holds one function
-- call for the queued part instead of its joins and sorts, which were set up on every report even when
-- nothing was queued (a third of the node's work per report).
CREATE OR REPLACE FUNCTION unfolded_day_totals_opaque()
RETURNS TABLE (business_date date, grain text, store_id integer, key integer, orders bigint, units bigint, revenue numeric,
               tax numeric, discounts numeric)
LANGUAGE plpgsql STABLE AS $$
BEGIN
    RETURN QUERY SELECT * FROM unfolded_day_totals();
END;
$$;

-- Brings sales_running_totals (see migrations V3 and V11) up to date with daily_sales: rebuilds the rows of every
-- day with sales from p_changed_from (the earliest day whose daily_sales rows changed; NULL: none did)
-- or from the day after the last row, whichever is earlier, up to the day before the latest day with
-- sales. Folding today's sales rewrites nothing; the first sale of a new day writes the previous day's
-- row; a sale reported late rewrites the rows from its day on.
CREATE OR REPLACE FUNCTION refresh_running_totals(p_changed_from date DEFAULT NULL) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    v_from date;
    v_latest date;
    v_day date;
BEGIN
    -- Not beside a fold (fold_sales() holds this lock already; at start-up a running service may fold).
    PERFORM pg_advisory_xact_lock(hashtext('fold_sales'));
    -- Every day's rows are written together, a per-store row among them.
    v_from := least(p_changed_from,
                    coalesce((SELECT max(n.business_date) FROM sales_running_totals n WHERE n.grain = 'store') + 1,
                             '-infinity'::date));
    v_latest := (SELECT max(d.business_date) FROM daily_sales d WHERE d.grain = 'store');
    DELETE FROM sales_running_totals WHERE business_date >= v_from;
    -- Every day with sales has per-store rows.
    FOR v_day IN SELECT DISTINCT d.business_date FROM daily_sales d
                 WHERE d.grain = 'store' AND d.business_date >= v_from AND d.business_date < v_latest
                 ORDER BY 1 LOOP
        INSERT INTO sales_running_totals (grain, business_date, keys, orders, units, revenue, tax, discounts)
        SELECT t.grain, v_day, array_agg(t.key ORDER BY t.key), array_agg(t.orders ORDER BY t.key),
               array_agg(t.units ORDER BY t.key), array_agg(t.revenue ORDER BY t.key),
               array_agg(t.tax ORDER BY t.key), array_agg(t.discounts ORDER BY t.key)
        FROM (
            SELECT x.grain, x.key, sum(x.orders)::bigint AS orders, sum(x.units)::bigint AS units,
                   sum(x.revenue) AS revenue, sum(x.tax) AS tax, sum(x.discounts) AS discounts
            FROM (
                -- The previous day's running totals…
                SELECT g.grain, u.key, u.orders, u.units, u.revenue, u.tax, u.discounts
                FROM unnest(ARRAY['store', 'product', 'category']) AS g (grain)
                CROSS JOIN LATERAL (
                    SELECT n.keys, n.orders, n.units, n.revenue, n.tax, n.discounts FROM sales_running_totals n
                    WHERE n.grain = g.grain AND n.business_date < v_day
                    ORDER BY n.business_date DESC LIMIT 1) p
                CROSS JOIN LATERAL unnest(p.keys, p.orders, p.units, p.revenue, p.tax, p.discounts)
                    AS u (key, orders, units, revenue, tax, discounts)
                UNION ALL
                -- …plus this day's.
                SELECT d.grain, CASE WHEN d.grain = 'store' THEN d.store_id ELSE d.key END,
                       d.orders, d.units, d.revenue, d.tax, d.discounts
                FROM daily_sales d
                WHERE d.grain IN ('store', 'product', 'category') AND d.business_date = v_day
            ) x
            GROUP BY x.grain, x.key
        ) t
        GROUP BY t.grain;
    END LOOP;
END;
$$;

-- Folds every queued sale and refund into daily_sales, in one statement: the queue rows it deletes are
-- the ones its totals read (one snapshot), so a sale committing meanwhile waits for the next call; then
-- brings the running totals up to date in the same transaction. Returns how many it folded. The
-- store-node service calls it every second; it works from psql too.
CREATE OR REPLACE FUNCTION fold_sales() RETURNS integer
LANGUAGE plpgsql AS $$
DECLARE
    v_folded integer;
    v_first_day date;
BEGIN
    -- One folder at a time; another call meanwhile has nothing to do.
    IF NOT pg_try_advisory_xact_lock(hashtext('fold_sales')) THEN
        RETURN 0;
    END IF;
    WITH folded_sales AS (DELETE FROM sales_to_fold RETURNING 1),
         folded_refunds AS (DELETE FROM refunds_to_fold RETURNING 1),
         added AS (
             INSERT INTO daily_sales AS d (business_date, grain, store_id, key, orders, units, revenue, tax,
                                           discounts)
             SELECT * FROM unfolded_day_totals()
             ON CONFLICT (grain, business_date, store_id, key) DO UPDATE
             SET orders = d.orders + EXCLUDED.orders, units = d.units + EXCLUDED.units,
                 revenue = d.revenue + EXCLUDED.revenue, tax = d.tax + EXCLUDED.tax,
                 discounts = d.discounts + EXCLUDED.discounts
             RETURNING d.business_date)
    SELECT (SELECT count(*) FROM folded_sales) + (SELECT count(*) FROM folded_refunds),
           (SELECT min(a.business_date) FROM added a)
    INTO v_folded, v_first_day;
    IF v_folded > 0 THEN
        PERFORM refresh_running_totals(v_first_day);
    END IF;
    RETURN v_folded;
END;
$$;

-- This node's business day now: today in its city's zone (the server's date until the node knows its
-- city). Head office's "today" is each city's own.
CREATE OR REPLACE FUNCTION node_business_date() RETURNS date
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
    SELECT coalesce((SELECT (now() AT TIME ZONE c.time_zone)::date
                     FROM node_settings n JOIN cities c ON c.id = n.city_id),
                    current_date)
$$;
SELECT grant_to_replicator('node_business_date()');

-- Sales net of refunds (revenue and tax; discounts given on the range's sales) between two business days, by store, city, day, product or category, plus a
-- grand total (the row whose key is NULL), read in one statement (one snapshot), so a sale being folded
-- meanwhile counts once:
-- - by day: the per-store rows of daily_sales in the range;
-- - otherwise: the running totals up to the last day of the range less those before its first day, each
--   the sales_running_totals row of the last day up to there plus, when the range reaches it, the latest
--   day's daily_sales rows (which have no running-totals row yet): a few rows whatever the range spans;
-- - either way plus what is still queued.
-- The groups come from the grain's rows, the total from the per-store rows (an order with two products
-- counts once there, and in each product's row); names are looked up for the few groups after, and
-- only the one the grouping needs. Groups with nothing in the range (a running total that did not move)
-- are left out. Its plan is made once per session (force_generic_plan): a plan made for the parameters
-- of a call leaves out the parts its parameters gate off and so looks cheaper than the generic one, and
-- the planner would then plan every call anew, which cost more than the query.
CREATE OR REPLACE FUNCTION sales_summary(p_from date, p_to date, p_group text)
RETURNS TABLE (key text, name text, orders bigint, units bigint, revenue numeric, tax numeric, discounts numeric)
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = public, pg_temp SET plan_cache_mode = force_generic_plan AS $$
DECLARE
    -- Store, city and day reports read the per-store rows.
    v_grain text := CASE WHEN p_group IN ('product', 'category') THEN p_group ELSE 'store' END;
    v_by_day boolean := p_group = 'day';
    -- The latest day with sales, whose daily_sales rows have no running-totals row yet.
    v_latest date := (SELECT max(d.business_date) FROM daily_sales d WHERE d.grain = 'store');
    -- Usually nothing is queued (the service folds every second). Then the queued part is not run at
    -- all (a false parameter gates it off in the plan), instead of joining sales and refunds by a plan
    -- made for whatever the queue held when its statistics were taken. This function is STABLE, so
    -- these looks and the query below see the same snapshot. The queues are looked at through their
    -- indexes (min() is read from one): the entries a fold deleted stay in the table until VACUUM, and a
    -- scan of the table would read every one of them on every report, where the index marks them dead
    -- for the next look to skip.
    v_queued boolean := (SELECT min(order_id) FROM sales_to_fold) IS NOT NULL
                        OR (SELECT min(refund_id) FROM refunds_to_fold) IS NOT NULL;
BEGIN
    RETURN QUERY
    SELECT g.key,
           CASE p_group WHEN 'store' THEN (SELECT s.name FROM stores s WHERE s.id = g.key::integer)
                        WHEN 'day' THEN g.key
                        WHEN 'product' THEN (SELECT p.name FROM products p WHERE p.id = g.key::integer)
                        WHEN 'category' THEN (SELECT c.name FROM categories c WHERE c.id = g.key::integer) END,
           g.orders, g.units, g.revenue, g.tax, g.discounts
    FROM (
        SELECT t.grain,
               CASE p_group WHEN 'store' THEN t.store_id::text
                            WHEN 'city' THEN (SELECT st.city_id FROM stores st WHERE st.id = t.store_id)::text
                            WHEN 'day' THEN t.business_date::text ELSE t.key::text END AS key,
               sum(t.orders)::bigint AS orders, sum(t.units)::bigint AS units, sum(t.revenue) AS revenue,
               sum(t.tax) AS tax, sum(t.discounts) AS discounts
        FROM (
            SELECT d.business_date, d.grain, d.store_id, d.key, d.orders, d.units, d.revenue, d.tax, d.discounts
            FROM daily_sales d
            WHERE v_by_day AND d.grain = 'store' AND d.business_date BETWEEN p_from AND p_to
            UNION ALL
            SELECT NULL::date, g.grain, CASE WHEN g.grain = 'store' THEN u.key END,
                   CASE WHEN g.grain = 'store' THEN 0 ELSE u.key END,
                   u.orders * b.sign, u.units * b.sign, u.revenue * b.sign, u.tax * b.sign, u.discounts * b.sign
            FROM (VALUES (1, p_to), (-1, p_from - 1)) AS b (sign, upto)
            CROSS JOIN (SELECT DISTINCT x.grain FROM unnest(ARRAY[v_grain, 'store']) AS x (grain) WHERE NOT v_by_day) g
            CROSS JOIN LATERAL (
                SELECT n.keys, n.orders, n.units, n.revenue, n.tax, n.discounts FROM sales_running_totals n
                WHERE n.grain = g.grain AND n.business_date <= b.upto
                ORDER BY n.business_date DESC LIMIT 1) s
            CROSS JOIN LATERAL unnest(s.keys, s.orders, s.units, s.revenue, s.tax, s.discounts)
                AS u (key, orders, units, revenue, tax, discounts)
            UNION ALL
            SELECT NULL::date, d.grain, d.store_id, d.key, d.orders * b.sign, d.units * b.sign, d.revenue * b.sign,
                   d.tax * b.sign, d.discounts * b.sign
            FROM (VALUES (1, p_to), (-1, p_from - 1)) AS b (sign, upto)
            JOIN daily_sales d ON d.grain IN (v_grain, 'store') AND d.business_date = v_latest
            WHERE NOT v_by_day AND b.upto >= v_latest
            UNION ALL
            SELECT q.business_date, q.grain, q.store_id, q.key, q.orders, q.units, q.revenue, q.tax, q.discounts
            FROM unfolded_day_totals_opaque() q
            WHERE v_queued AND q.grain IN (v_grain, 'store') AND q.business_date BETWEEN p_from AND p_to
        ) t
        GROUP BY GROUPING SETS ((t.grain, 2), (t.grain))
    ) g
    WHERE ((g.grain = v_grain AND g.key IS NOT NULL) OR (g.grain = 'store' AND g.key IS NULL))
      AND (g.orders, g.units, g.revenue, g.tax, g.discounts) <> (0, 0, 0, 0, 0);
END;
$$;

-- The node's outbox backlog: how far central's view of this node's sales is behind, and why. The one
-- definition: the node's GET /sync/status and head office's dashboard both read it. Each part through
-- an index (the queue's, the dead entries', the primary key from the newest end), so that it costs the
-- same however long the delivered history has grown.
CREATE OR REPLACE FUNCTION sync_backlog()
RETURNS TABLE (pending bigint, failed bigint, dead bigint, oldest_pending_age_seconds double precision,
               last_delivered_at timestamptz, last_error text)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
    SELECT q.pending, q.failed, (SELECT count(*) FROM outbox o WHERE o.status = 'Dead'), q.oldest,
           (SELECT o.delivered_at FROM outbox o WHERE o.status = 'Success' ORDER BY o.id DESC LIMIT 1),
           (SELECT e.message
            FROM ((SELECT o.id, o.message FROM outbox o
                   WHERE o.status IN ('Pending', 'Failed') AND o.status = 'Failed' ORDER BY o.id DESC LIMIT 1)
                  UNION ALL
                  (SELECT o.id, o.message FROM outbox o WHERE o.status = 'Dead' ORDER BY o.id DESC LIMIT 1)) e
            ORDER BY e.id DESC LIMIT 1)
    FROM (SELECT count(*) FILTER (WHERE o.status = 'Pending') AS pending,
                 count(*) FILTER (WHERE o.status = 'Failed') AS failed,
                 extract(epoch FROM now() - min(o.created_at))::float8 AS oldest
          FROM outbox o WHERE o.status IN ('Pending', 'Failed')) q
$$;

SELECT grant_to_replicator('sales_summary(date, date, text)');
SELECT grant_to_replicator('sync_backlog()');

-- Running totals for a node upgraded from a release without them, or behind for any other reason
-- (nothing to do when they are up to date).
SELECT refresh_running_totals();
