//! Promotions: head office defines them, every node applies them at the time of a sale (migration V15).

use anyhow::Context;
use chrono::{DateTime, NaiveDateTime, Utc};
use deadpool_postgres::GenericClient;
use pos_shared::money::Money;
use pos_shared::page::PageRequest;
use serde::{Deserialize, Serialize};
use tokio_postgres::Row;

/// How a promotion takes its part off a line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum PromotionKind {
    /// `value` percent off the line.
    Percent,
    /// `value` off each unit (never below zero).
    Amount,
}

impl PromotionKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Percent => "percent",
            Self::Amount => "amount",
        }
    }
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Promotion {
    pub id: i32,
    pub name: String,
    pub kind: PromotionKind,
    pub value: Money,
    /// The one product it applies to, or `null` with a category.
    pub product_id: Option<i32>,
    /// Every product of this category, or `null` with a product.
    pub category_id: Option<i32>,
    /// In the selling store's local time.
    #[schema(value_type = pos_shared::domain::LocalTime)]
    pub starts_at: NaiveDateTime,
    /// In the selling store's local time (not included).
    #[schema(value_type = pos_shared::domain::LocalTime)]
    pub ends_at: NaiveDateTime,
    pub active: bool,
    pub version: i64,
    pub updated_at: DateTime<Utc>,
}

impl From<&Row> for Promotion {
    fn from(row: &Row) -> Self {
        Self {
            id: row.get("id"),
            name: row.get("name"),
            kind: if row.get::<_, &str>("kind") == "percent" {
                PromotionKind::Percent
            } else {
                PromotionKind::Amount
            },
            value: row.get("value"),
            product_id: row.get("product_id"),
            category_id: row.get("category_id"),
            starts_at: row.get("starts_at"),
            ends_at: row.get("ends_at"),
            active: row.get("active"),
            version: row.get("version"),
            updated_at: row.get("updated_at"),
        }
    }
}

const COLUMNS: &str = "id, name, kind, value, product_id, category_id, starts_at, ends_at, active, \
                       version, updated_at";

/// A promotion to create, checked by the caller.
#[derive(Debug)]
pub struct NewPromotion<'a> {
    pub name: &'a str,
    pub kind: PromotionKind,
    pub value: Money,
    pub product_id: Option<i32>,
    pub category_id: Option<i32>,
    pub starts_at: NaiveDateTime,
    pub ends_at: NaiveDateTime,
}

pub async fn list(
    client: &impl GenericClient,
    page: PageRequest,
) -> anyhow::Result<Vec<Promotion>> {
    let stmt = client
        .prepare_cached(&format!(
            "SELECT {COLUMNS} FROM promotions WHERE id > $1::bigint ORDER BY id LIMIT $2"
        ))
        .await?;
    let rows = client
        .query(&stmt, &[&page.after_ascending(), &page.fetch()])
        .await
        .context("listing promotions")?;
    Ok(rows.iter().map(Promotion::from).collect())
}

pub async fn create(
    client: &impl GenericClient,
    new: &NewPromotion<'_>,
) -> anyhow::Result<Promotion> {
    let stmt = client
        .prepare_cached(&format!(
            "INSERT INTO promotions (name, kind, value, product_id, category_id, starts_at, ends_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING {COLUMNS}"
        ))
        .await?;
    let row = client
        .query_one(
            &stmt,
            &[
                &new.name,
                &new.kind.as_str(),
                &new.value,
                &new.product_id,
                &new.category_id,
                &new.starts_at,
                &new.ends_at,
            ],
        )
        .await
        .context("creating a promotion")?;
    Ok(Promotion::from(&row))
}

/// Ends a promotion early or brings it back (`active`), or moves its end. `None` as result: no such
/// promotion.
pub async fn update(
    client: &impl GenericClient,
    id: i32,
    active: Option<bool>,
    ends_at: Option<NaiveDateTime>,
) -> anyhow::Result<Option<Promotion>> {
    let stmt = client
        .prepare_cached(&format!(
            "UPDATE promotions SET active = coalesce($2, active), ends_at = coalesce($3, ends_at)
             WHERE id = $1 RETURNING {COLUMNS}"
        ))
        .await?;
    Ok(client
        .query_opt(&stmt, &[&id, &active, &ends_at])
        .await
        .context("updating a promotion")?
        .as_ref()
        .map(Promotion::from))
}
