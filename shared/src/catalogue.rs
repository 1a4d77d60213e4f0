//! The shapes of a replicated product and customer, as both central and the nodes serve them.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use tokio_postgres::Row;

use crate::domain::{CityId, CustomerName, Email, Phone};
use crate::money::Money;

/// A price head office set to take effect at a moment: every node sells at it from then on, by its own
/// clock.
#[derive(Debug, Clone, Copy, Serialize, utoipa::ToSchema)]
pub struct ScheduledPrice {
    pub price: Money,
    pub effective_at: DateTime<Utc>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Product {
    pub id: i32,
    pub sku: String,
    /// As the till's scanner reads it.
    pub barcode: Option<String>,
    pub name: String,
    pub category_id: i32,
    /// Tax included.
    pub price: Money,
    /// The product's own tax rate in percent; `null`: its category's.
    pub tax_rate: Option<Money>,
    /// A price change waiting for its moment.
    pub scheduled_price: Option<ScheduledPrice>,
    pub active: bool,
    pub version: i64,
    pub updated_at: DateTime<Utc>,
}

impl From<&Row> for Product {
    fn from(row: &Row) -> Self {
        Self {
            id: row.get("id"),
            sku: row.get("sku"),
            barcode: row.get("barcode"),
            name: row.get("name"),
            category_id: row.get("category_id"),
            price: row.get("price"),
            tax_rate: row.get("tax_rate"),
            scheduled_price: row
                .get::<_, Option<Money>>("next_price")
                .zip(row.get("next_price_at"))
                .map(|(price, effective_at)| ScheduledPrice {
                    price,
                    effective_at,
                }),
            active: row.get("active"),
            version: row.get("version"),
            updated_at: row.get("updated_at"),
        }
    }
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Customer {
    pub id: i32,
    pub name: String,
    pub phone: Option<String>,
    pub email: Option<String>,
    pub city_id: i32,
    /// Set when head office deleted the customer (their sales keep referring to them).
    pub deleted_at: Option<DateTime<Utc>>,
    pub version: i64,
    pub updated_at: DateTime<Utc>,
}

impl From<&Row> for Customer {
    fn from(row: &Row) -> Self {
        Self {
            id: row.get("id"),
            name: row.get("name"),
            phone: row.get("phone"),
            email: row.get("email"),
            city_id: row.get("city_id"),
            deleted_at: row.get("deleted_at"),
            version: row.get("version"),
            updated_at: row.get("updated_at"),
        }
    }
}

/// A customer to sign up: at head office (any city) or at a store's till (the node's own city).
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewCustomer {
    pub name: CustomerName,
    /// Absent, `null` or blank: none.
    #[serde(default, deserialize_with = "crate::domain::blank_as_none")]
    #[schema(schema_with = crate::domain::blank_or::<Phone>)]
    pub phone: Option<Phone>,
    /// Absent, `null` or blank: none.
    #[serde(default, deserialize_with = "crate::domain::blank_as_none")]
    #[schema(schema_with = crate::domain::blank_or::<Email>)]
    pub email: Option<Email>,
    pub city_id: CityId,
}

/// The fields of a customer to change (a till does not move a customer to another city).
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CustomerPatch {
    pub name: Option<CustomerName>,
    /// `null` or blank clears it.
    #[serde(default, deserialize_with = "crate::domain::clearable")]
    #[schema(schema_with = crate::domain::blank_or::<Phone>)]
    pub phone: Option<Option<Phone>>,
    /// `null` or blank clears it.
    #[serde(default, deserialize_with = "crate::domain::clearable")]
    #[schema(schema_with = crate::domain::blank_or::<Email>)]
    pub email: Option<Option<Email>>,
    pub city_id: Option<CityId>,
}
