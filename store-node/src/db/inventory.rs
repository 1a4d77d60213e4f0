use anyhow::Context;
use chrono::{DateTime, Utc};
use deadpool_postgres::GenericClient;
use pos_shared::page::PageRequest;
use serde::Serialize;

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct StockLine {
    pub product_id: i32,
    pub sku: String,
    pub name: String,
    pub quantity: i32,
    pub updated_at: DateTime<Utc>,
}

/// A store's stock, product by product (a page of it), or of `only` these products.
pub async fn list(
    client: &impl GenericClient,
    store_id: i32,
    page: PageRequest,
    only: Option<&[i32]>,
) -> anyhow::Result<Vec<StockLine>> {
    let stmt = client
        .prepare_cached(
            "SELECT i.product_id, p.sku, p.name, i.quantity, i.updated_at
             FROM inventory i JOIN products p ON p.id = i.product_id
             WHERE i.store_id = $1 AND i.product_id > $2::bigint AND ($4::int[] IS NULL OR i.product_id = ANY($4))
             ORDER BY i.product_id LIMIT $3",
        )
        .await?;
    let rows = client
        .query(
            &stmt,
            &[&store_id, &page.after_ascending(), &page.fetch(), &only],
        )
        .await
        .context("listing inventory")?;
    Ok(rows
        .iter()
        .map(|r| StockLine {
            product_id: r.get("product_id"),
            sku: r.get("sku"),
            name: r.get("name"),
            quantity: r.get("quantity"),
            updated_at: r.get("updated_at"),
        })
        .collect())
}

/// Runs `receive_stock()`: `(receipt_id, replayed)`.
pub async fn receive(
    client: &impl GenericClient,
    store_id: i32,
    items: &serde_json::Value,
    reference: Option<&str>,
    idempotency_key: uuid::Uuid,
) -> anyhow::Result<(uuid::Uuid, bool)> {
    let stmt = client
        .prepare_cached("SELECT receipt_id, replayed FROM receive_stock($1, $2, $3, $4)")
        .await?;
    let row = client
        .query_one(&stmt, &[&store_id, items, &reference, &idempotency_key])
        .await
        .context("receiving stock")?;
    Ok((row.get(0), row.get(1)))
}
