//! Stock besides sales (sql/store/stock.sql): adjustments, counts, reorder levels and low stock.

use anyhow::Context;
use chrono::{DateTime, Utc};
use deadpool_postgres::GenericClient;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct AdjustmentLine {
    pub product_id: i32,
    /// Units added, or (negative) taken off.
    pub change: i32,
    /// The stock the adjustment left.
    pub quantity_after: i32,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Adjustment {
    pub adjustment_id: Uuid,
    /// `damage`, `theft`, `correction`, or `count` (a count applied).
    pub reason: String,
    pub note: Option<String>,
    pub created_at: DateTime<Utc>,
    pub items: Vec<AdjustmentLine>,
}

/// An adjustment by hand (`adjust_stock()`).
pub struct AdjustmentRequest<'a> {
    pub store_id: i32,
    /// `[{"product_id", "change"}]`.
    pub items: &'a serde_json::Value,
    pub reason: &'a str,
    pub note: Option<&'a str>,
    pub idempotency_key: Uuid,
    pub credential_id: Option<i32>,
}

/// Runs `adjust_stock()`; the adjustment as written, and whether it is a replay.
pub async fn adjust(
    client: &impl GenericClient,
    request: &AdjustmentRequest<'_>,
) -> anyhow::Result<(Adjustment, bool)> {
    let stmt = client
        .prepare_cached("SELECT adjustment_id, replayed FROM adjust_stock($1, $2, $3, $4, $5, $6)")
        .await?;
    let row = client
        .query_one(
            &stmt,
            &[
                &request.store_id,
                request.items,
                &request.reason,
                &request.note,
                &request.idempotency_key,
                &request.credential_id,
            ],
        )
        .await
        .context("adjusting stock")?;
    let adjustment = get_adjustment(client, row.get(0)).await?;
    Ok((adjustment, row.get(1)))
}

async fn get_adjustment(client: &impl GenericClient, id: Uuid) -> anyhow::Result<Adjustment> {
    let stmt = client
        .prepare_cached(
            "SELECT a.id, a.adjustment_id, a.reason, a.note, a.created_at FROM stock_adjustments a
             WHERE a.adjustment_id = $1",
        )
        .await?;
    let row = client
        .query_one(&stmt, &[&id])
        .await
        .context("reading an adjustment")?;
    let lines = client
        .prepare_cached(
            "SELECT product_id, change, quantity_after FROM stock_adjustment_items
             WHERE adjustment_id = $1 ORDER BY product_id",
        )
        .await?;
    let items = client
        .query(&lines, &[&row.get::<_, i64>("id")])
        .await
        .context("reading an adjustment's lines")?
        .iter()
        .map(|r| AdjustmentLine {
            product_id: r.get("product_id"),
            change: r.get("change"),
            quantity_after: r.get("quantity_after"),
        })
        .collect();
    Ok(Adjustment {
        adjustment_id: row.get("adjustment_id"),
        reason: row.get("reason"),
        note: row.get("note"),
        created_at: row.get("created_at"),
        items,
    })
}

#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct CountLine {
    pub product_id: i32,
    pub sku: String,
    pub name: String,
    pub counted: i32,
    /// What the system held when the product was counted.
    pub book: i32,
    /// Counted less book: what applying the count changes.
    pub variance: i32,
    pub quantity_now: i32,
    pub counted_at: DateTime<Utc>,
}

#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct StockCount {
    pub count_id: Uuid,
    pub started_at: DateTime<Utc>,
    /// Set once the variances are applied (the count is closed then).
    pub applied_at: Option<DateTime<Utc>>,
    pub lines: Vec<CountLine>,
}

/// A count of the store; `None` when it is not the store's.
pub async fn count(
    client: &impl GenericClient,
    store_id: i32,
    count_id: Uuid,
) -> anyhow::Result<Option<StockCount>> {
    let stmt = client
        .prepare_cached("SELECT stock_count_report($1, $2)")
        .await?;
    let row = client
        .query_one(&stmt, &[&store_id, &count_id])
        .await
        .context("reading a count")?;
    row.get::<_, Option<serde_json::Value>>(0)
        .map(|count| serde_json::from_value(count).context("reading stock_count_report()"))
        .transpose()
}

/// Runs one of the count's steps (`start_stock_count()`, `enter_stock_count()`, `apply_stock_count()`)
/// as `statement`, then reads the count.
pub async fn count_step(
    client: &impl GenericClient,
    statement: &str,
    params: &[&(dyn tokio_postgres::types::ToSql + Sync)],
    store_id: i32,
    count_id: Option<Uuid>,
) -> anyhow::Result<StockCount> {
    let stmt = client.prepare_cached(statement).await?;
    let row = client
        .query_one(&stmt, params)
        .await
        .context("counting stock")?;
    let count_id = count_id.unwrap_or_else(|| row.get(0));
    count(client, store_id, count_id)
        .await?
        .context("the count just written is not there")
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct LowStockLine {
    pub product_id: i32,
    pub sku: String,
    pub name: String,
    pub quantity: i32,
    pub reorder_level: Option<i32>,
}

/// The store's low lines: under `below` units, or at or below their reorder level; lowest first (the
/// first 1,000).
pub async fn low(
    client: &impl GenericClient,
    store_id: i32,
    below: i32,
) -> anyhow::Result<Vec<LowStockLine>> {
    let stmt = client
        .prepare_cached(
            "SELECT product_id, sku, product_name, quantity, reorder_level FROM stock_below($2, $1)",
        )
        .await?;
    Ok(client
        .query(&stmt, &[&store_id, &below])
        .await
        .context("listing low stock")?
        .iter()
        .map(|r| LowStockLine {
            product_id: r.get("product_id"),
            sku: r.get("sku"),
            name: r.get("product_name"),
            quantity: r.get("quantity"),
            reorder_level: r.get("reorder_level"),
        })
        .collect())
}

/// Sets (or with `None` clears) a product's reorder level at the store.
pub async fn set_reorder_level(
    client: &impl GenericClient,
    store_id: i32,
    product_id: i32,
    level: Option<i32>,
) -> anyhow::Result<()> {
    let stmt = client
        .prepare_cached("SELECT set_reorder_level($1, $2, $3)")
        .await?;
    client
        .execute(&stmt, &[&store_id, &product_id, &level])
        .await
        .context("setting a reorder level")?;
    Ok(())
}
