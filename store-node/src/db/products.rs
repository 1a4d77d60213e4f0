use anyhow::Context;
use chrono::{DateTime, Utc};
use deadpool_postgres::GenericClient;
use pos_shared::money::Money;
use serde::Serialize;
use tokio_postgres::Row;

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Product {
    pub id: i32,
    pub sku: String,
    pub name: String,
    pub category_id: i32,
    pub price: Money,
    pub active: bool,
    pub version: i64,
    pub updated_at: DateTime<Utc>,
}

impl From<&Row> for Product {
    fn from(row: &Row) -> Self {
        Self {
            id: row.get("id"),
            sku: row.get("sku"),
            name: row.get("name"),
            category_id: row.get("category_id"),
            price: row.get("price"),
            active: row.get("active"),
            version: row.get("version"),
            updated_at: row.get("updated_at"),
        }
    }
}

pub async fn list(client: &impl GenericClient) -> anyhow::Result<Vec<Product>> {
    let stmt = client
        .prepare_cached(
            "SELECT id, sku, name, category_id, price, active, version, updated_at
             FROM products ORDER BY id",
        )
        .await?;
    let rows = client.query(&stmt, &[]).await.context("listing products")?;
    Ok(rows.iter().map(Product::from).collect())
}
