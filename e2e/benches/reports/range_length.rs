//! Report latency against the length of the range, one node: its running totals beside the per-day
//! rows they replaced. Also the sales every report benchmark reads, and its median.

use std::time::{Duration, Instant};

use chrono::NaiveDate;

/// Measured rounds a median is taken of (two more are run first, to warm up).
pub(crate) const SAMPLES: usize = 15;

pub(crate) fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

/// sales_summary() as it was before the nodes kept running totals: the range's per-day rows summed.
const PER_DAY_SUMMARY: &str = r#"
CREATE OR REPLACE FUNCTION sales_summary_per_day(p_from date, p_to date, p_group text)
RETURNS TABLE (key text, name text, orders bigint, units bigint, revenue numeric)
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = public, pg_temp SET plan_cache_mode = force_generic_plan AS $$
DECLARE
    -- Store, city and day reports read the per-store rows.
    v_grain text := CASE WHEN p_group IN ('product', 'category') THEN p_group ELSE 'store' END;
    -- Usually nothing is queued (the service folds every second). Then the queued part is not run at
    -- all (a false parameter gates it off in the plan), instead of joining sales and refunds by a plan
    -- made for whatever the queue held when its statistics were taken. This function is STABLE, so
    -- this look and the query below see the same snapshot.
    v_queued boolean := EXISTS (SELECT 1 FROM sales_to_fold) OR EXISTS (SELECT 1 FROM refunds_to_fold);
BEGIN
    RETURN QUERY
    SELECT g.key,
           CASE p_group WHEN 'store' THEN (SELECT s.name FROM stores s WHERE s.id = g.key::integer)
                        WHEN 'day' THEN g.key
                        WHEN 'product' THEN (SELECT p.name FROM products p WHERE p.id = g.key::integer)
                        WHEN 'category' THEN (SELECT c.name FROM categories c WHERE c.id = g.key::integer) END,
           g.orders, g.units, g.revenue
    FROM (
        SELECT t.grain,
               CASE p_group WHEN 'store' THEN t.store_id::text
                            WHEN 'city' THEN (SELECT st.city_id FROM stores st WHERE st.id = t.store_id)::text
                            WHEN 'day' THEN t.business_date::text ELSE t.key::text END AS key,
               sum(t.orders)::bigint AS orders, sum(t.units)::bigint AS units, sum(t.revenue) AS revenue
        FROM (
            SELECT d.business_date, d.grain, d.store_id, d.key, d.orders, d.units, d.revenue
            FROM daily_sales d
            WHERE d.grain IN (v_grain, 'store') AND d.business_date BETWEEN p_from AND p_to
            UNION ALL
            SELECT q.business_date, q.grain, q.store_id, q.key, q.orders, q.units, q.revenue
            FROM unfolded_day_totals() q
            WHERE v_queued AND q.grain IN (v_grain, 'store') AND q.business_date BETWEEN p_from AND p_to
        ) t
        GROUP BY GROUPING SETS ((t.grain, 2), (t.grain))
    ) g
    WHERE (g.grain = v_grain AND g.key IS NOT NULL) OR (g.grain = 'store' AND g.key IS NULL);
END;
$$;
"#;

/// `orders` sales of three lines each (products 1-20 at 10.00) spread over the last `days` business days.
pub(crate) async fn insert_sales(
    node: &tokio_postgres::Client,
    orders: i32,
    days: i32,
) -> anyhow::Result<()> {
    node.execute(
        "WITH o AS (
             INSERT INTO orders (global_order_id, store_id, store_order_id, total, business_date)
             SELECT gen_random_uuid(), (SELECT id FROM stores LIMIT 1), n.last + g, 30.00, current_date - (g % $2)
             FROM generate_series(1, $1::int) g,
                  (SELECT coalesce(max(store_order_id), 0) AS last FROM orders) n
             RETURNING id)
         INSERT INTO order_items (order_id, line_no, product_id, quantity, unit_price, line_total)
         SELECT o.id, l, 1 + (o.id + l) % 20, 1, 10.00, 10.00 FROM o, generate_series(1, 3) l",
        &[&orders, &days],
    )
    .await?;
    Ok(())
}

/// Range length: one node with a year of sales asked about the last 7, 30 and 366 days by
/// sales_summary(), which reads running totals, beside the same function as it was before the node
/// kept them (summing the range's per-day rows), created here as sales_summary_per_day(). The queues
/// are vacuumed first, as autovacuum does within a minute of a fold this large: both versions look
/// at them on every call.
pub(crate) async fn print(
    node: &tokio_postgres::Client,
    today: NaiveDate,
    earlier_sales: i32,
) -> anyhow::Result<()> {
    insert_sales(node, 20_000, 365).await?;
    node.execute("SELECT fold_sales()", &[]).await?;
    node.batch_execute(PER_DAY_SUMMARY).await?;
    // One statement each: VACUUM cannot run inside the transaction block of a multi-statement batch.
    for statement in ["VACUUM ANALYZE sales_to_fold, refunds_to_fold", "ANALYZE"] {
        node.batch_execute(statement).await?;
    }
    let running = node
        .prepare("SELECT * FROM sales_summary($1, $2, 'product')")
        .await?;
    let per_day = node
        .prepare("SELECT * FROM sales_summary_per_day($1, $2, 'product')")
        .await?;
    println!(
        "## Range length (one node, {} sales over 365 days, group_by=product, asked in SQL, median of {SAMPLES})\n",
        earlier_sales + 20_000
    );
    println!(
        "| days | sales_summary(), from running totals | the same before running totals (summing per-day rows) | ratio |\n|---|---|---|---|"
    );
    for days in [7, 30, 366] {
        let from = today - chrono::Days::new(days - 1);
        let mut samples = [Vec::new(), Vec::new()];
        for _ in 0..SAMPLES + 2 {
            for (variant, statement) in [&running, &per_day].into_iter().enumerate() {
                let started = Instant::now();
                node.query(statement, &[&from, &today]).await?;
                samples[variant].push(started.elapsed());
            }
        }
        let [running_time, per_day_time] = samples.map(|mut s| median(s.split_off(2)));
        println!(
            "| {days} | {:.2} ms | {:.2} ms | {:.2} |",
            running_time.as_secs_f64() * 1e3,
            per_day_time.as_secs_f64() * 1e3,
            running_time.as_secs_f64() / per_day_time.as_secs_f64()
        );
    }
    Ok(())
}
