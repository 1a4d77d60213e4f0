//! End-of-day figures of one store and the outbox backlog.

use anyhow::Context;
use chrono::NaiveDate;
use deadpool_postgres::GenericClient;
use pos_shared::money::Money;
use serde::Serialize;

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct MethodTotals {
    pub method: String,
    /// Taken at the till (cash net of change given).
    pub collected: Money,
    pub refunded: Money,
    pub net: Money,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct DailyReport {
    pub store_id: i32,
    pub date: NaiveDate,
    pub sales_count: i64,
    pub gross: Money,
    /// Refunds, voids and returns without a receipt.
    pub refunds_count: i64,
    pub refunds: Money,
    pub net: Money,
    /// Taken off the sales by promotions and by hand.
    pub discounts: Money,
    /// The tax the sales include, less the tax the refunds gave back.
    pub net_tax: Money,
    pub by_payment_method: Vec<MethodTotals>,
    /// Stock adjusted that day, by reason (`damage`, `theft`, `correction`, `count`).
    pub stock_adjustments: Vec<AdjustmentTotals>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct AdjustmentTotals {
    pub reason: String,
    pub adjustments: i64,
    /// Units added less units taken off.
    pub net_units: i64,
}

/// The store's business day now (in its city's time zone).
pub async fn today(client: &impl GenericClient, store_id: i32) -> anyhow::Result<NaiveDate> {
    let stmt = client
        .prepare_cached("SELECT store_business_date($1)")
        .await?;
    Ok(client
        .query_one(&stmt, &[&store_id])
        .await
        .context("reading the date")?
        .get(0))
}

pub async fn daily(
    client: &impl GenericClient,
    store_id: i32,
    date: NaiveDate,
) -> anyhow::Result<DailyReport> {
    let totals = client
        .prepare_cached(
            "SELECT (SELECT count(*) FROM orders WHERE store_id = $1 AND business_date = $2) AS sales_count,
                    (SELECT coalesce(sum(total), 0) FROM orders WHERE store_id = $1 AND business_date = $2) AS gross,
                    (SELECT count(*) FROM refunds r
                      WHERE r.store_id = $1 AND r.business_date = $2) AS refunds_count,
                    (SELECT coalesce(sum(r.amount), 0) FROM refunds r
                      WHERE r.store_id = $1 AND r.business_date = $2) AS refunds,
                    (SELECT coalesce(sum(discount_total), 0) FROM orders
                      WHERE store_id = $1 AND business_date = $2) AS discounts,
                    (SELECT coalesce(sum(tax_total), 0) FROM orders WHERE store_id = $1 AND business_date = $2)
                    - (SELECT coalesce(sum(r.tax_amount), 0) FROM refunds r
                        WHERE r.store_id = $1 AND r.business_date = $2) AS net_tax",
        )
        .await?;
    let row = client
        .query_one(&totals, &[&store_id, &date])
        .await
        .context("daily totals")?;
    let gross: Money = row.get("gross");
    let refunds: Money = row.get("refunds");
    let methods = client
        .prepare_cached(
            "WITH taken AS (
                 SELECT p.method, sum(p.amount) AS amount FROM payments p JOIN orders o ON o.id = p.order_id
                 WHERE o.store_id = $1 AND o.business_date = $2 GROUP BY p.method
                 UNION ALL
                 SELECT 'cash', -sum(o.change_due) FROM orders o WHERE o.store_id = $1 AND o.business_date = $2
             ), given AS (
                 SELECT r.method, sum(r.amount) AS amount FROM refunds r
                 WHERE r.store_id = $1 AND r.business_date = $2 AND r.kind <> 'void' GROUP BY r.method
                 -- A void gives back each payment of its sale (cash net of the change it gave).
                 UNION ALL
                 SELECT p.method, sum(p.amount) FROM refunds r JOIN payments p ON p.order_id = r.order_id
                 WHERE r.store_id = $1 AND r.business_date = $2 AND r.kind = 'void' GROUP BY p.method
                 UNION ALL
                 SELECT 'cash', -sum(o.change_due) FROM refunds r JOIN orders o ON o.id = r.order_id
                 WHERE r.store_id = $1 AND r.business_date = $2 AND r.kind = 'void'
             )
             SELECT m.method,
                    coalesce((SELECT sum(amount) FROM taken t WHERE t.method = m.method), 0) AS collected,
                    coalesce((SELECT sum(amount) FROM given g WHERE g.method = m.method), 0) AS refunded
             FROM (VALUES ('cash'), ('card'), ('wallet'), ('store_credit')) AS m (method)
             ORDER BY m.method",
        )
        .await?;
    let by_payment_method = client
        .query(&methods, &[&store_id, &date])
        .await
        .context("daily totals by payment method")?
        .iter()
        .map(|r| {
            let collected: Money = r.get("collected");
            let refunded: Money = r.get("refunded");
            MethodTotals {
                method: r.get("method"),
                collected,
                refunded,
                net: Money::rounded(collected.amount() - refunded.amount()),
            }
        })
        .collect();
    let adjusted = client
        .prepare_cached(
            "SELECT a.reason, count(DISTINCT a.id) AS adjustments, coalesce(sum(i.change), 0)::bigint AS net_units
             FROM stock_adjustments a LEFT JOIN stock_adjustment_items i ON i.adjustment_id = a.id
             WHERE a.store_id = $1 AND a.business_date = $2 GROUP BY a.reason ORDER BY a.reason",
        )
        .await?;
    let stock_adjustments = client
        .query(&adjusted, &[&store_id, &date])
        .await
        .context("daily stock adjustments")?
        .iter()
        .map(|r| AdjustmentTotals {
            reason: r.get("reason"),
            adjustments: r.get("adjustments"),
            net_units: r.get("net_units"),
        })
        .collect();
    Ok(DailyReport {
        store_id,
        date,
        sales_count: row.get("sales_count"),
        gross,
        refunds_count: row.get("refunds_count"),
        refunds,
        net: Money::rounded(gross.amount() - refunds.amount()),
        discounts: row.get("discounts"),
        net_tax: row.get("net_tax"),
        by_payment_method,
        stock_adjustments,
    })
}

/// Folds the sales and refunds made since the last call into the per-day totals head office's
/// reports read; returns how many it folded.
pub async fn fold_sales(client: &impl GenericClient) -> anyhow::Result<i32> {
    let stmt = client.prepare_cached("SELECT fold_sales()").await?;
    Ok(client
        .query_one(&stmt, &[])
        .await
        .context("folding sales into the daily totals")?
        .get(0))
}
