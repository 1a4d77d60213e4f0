//! One node's part of head office's reports, asked of the node's own database (see `fanout`): its
//! report functions, which its replication role may execute.

use anyhow::Context;
use chrono::NaiveDate;
use deadpool_postgres::GenericClient;
use rust_decimal::Decimal;

#[derive(Debug, Clone)]
pub struct SalesRow {
    /// `None`: the node's grand total.
    pub key: Option<String>,
    pub name: Option<String>,
    pub orders: i64,
    pub units: i64,
    pub revenue: Decimal,
    pub tax: Decimal,
    pub discounts: Decimal,
}

pub async fn node_sales(
    client: &impl GenericClient,
    from: Option<NaiveDate>,
    to: Option<NaiveDate>,
    group_by: &str,
) -> anyhow::Result<Vec<SalesRow>> {
    // A missing day is the node's own today, in its city's zone.
    let stmt = client
        .prepare_cached(
            // Every column the node has: a node older than central answers no tax or discounts
            // (counted as none), so central may be upgraded first.
            "SELECT * FROM sales_summary(coalesce($1, node_business_date()), coalesce($2, node_business_date()), $3)",
        )
        .await?;
    let rows = client
        .query(&stmt, &[&from, &to, &group_by])
        .await
        .context("asking a node for its sales")?;
    Ok(rows
        .iter()
        .map(|r| SalesRow {
            key: r.get("key"),
            name: r.get("name"),
            orders: r.get::<_, Option<i64>>("orders").unwrap_or(0),
            units: r.get::<_, Option<i64>>("units").unwrap_or(0),
            revenue: r.get::<_, Option<Decimal>>("revenue").unwrap_or_default(),
            tax: r
                .try_get::<_, Option<Decimal>>("tax")
                .ok()
                .flatten()
                .unwrap_or_default(),
            discounts: r
                .try_get::<_, Option<Decimal>>("discounts")
                .ok()
                .flatten()
                .unwrap_or_default(),
        })
        .collect())
}

#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct StockRow {
    pub city_id: i32,
    pub store_id: i32,
    pub store_code: String,
    pub product_id: i32,
    pub sku: String,
    pub product_name: String,
    pub quantity: i32,
    /// The store's reorder level of the product, when it has one.
    pub reorder_level: Option<i32>,
}

pub async fn node_stock_below(
    client: &impl GenericClient,
    city_id: i32,
    below: i32,
) -> anyhow::Result<Vec<StockRow>> {
    let stmt = client
        .prepare_cached(
            "SELECT store_id, store_code, product_id, sku, product_name, quantity, reorder_level FROM stock_below($1)",
        )
        .await?;
    let rows = client
        .query(&stmt, &[&below])
        .await
        .context("asking a node for its stock")?;
    Ok(rows
        .iter()
        .map(|r| StockRow {
            city_id,
            store_id: r.get("store_id"),
            store_code: r.get("store_code"),
            product_id: r.get("product_id"),
            sku: r.get("sku"),
            product_name: r.get("product_name"),
            quantity: r.get("quantity"),
            reorder_level: r.get("reorder_level"),
        })
        .collect())
}
