//! The shape of a replicated product, as both central and the nodes serve it.

use chrono::{DateTime, Utc};
use serde::Serialize;
use tokio_postgres::Row;

use crate::money::Money;

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
