//! Sales: the checkout call and reading an order back, each one round trip: the order comes back as
//! `order_details()` builds it (the same function head office reads orders through).

use anyhow::Context;
use chrono::{DateTime, NaiveDate, Utc};
use deadpool_postgres::GenericClient;
use pos_shared::money::Money;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct OrderLine {
    pub line_no: i32,
    pub product_id: i32,
    pub sku: String,
    pub name: String,
    pub quantity: i32,
    /// The price the node sold at (tax included).
    pub unit_price: Money,
    /// Taken off the line by `promotion_id`.
    pub discount: Money,
    pub promotion_id: Option<i32>,
    /// Percent.
    pub tax_rate: Money,
    /// The tax the line's total includes: rounded per line, half up, to the paisa.
    pub tax_amount: Money,
    /// Quantity × unit price − discount.
    pub line_total: Money,
}

#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Payment {
    pub method: String,
    pub amount: Money,
}

#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct OrderRefund {
    pub refund_id: Uuid,
    pub amount: Money,
    /// The tax the amount gives back.
    pub tax_amount: Money,
    pub method: String,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Order {
    pub global_order_id: Uuid,
    pub store_id: i32,
    pub store_order_id: i64,
    pub customer_id: Option<i32>,
    pub total: Money,
    pub change_due: Money,
    /// Taken off by promotions, over every line.
    pub discount_total: Money,
    /// The tax the total includes.
    pub tax_total: Money,
    pub business_date: NaiveDate,
    pub created_at: DateTime<Utc>,
    pub items: Vec<OrderLine>,
    pub payments: Vec<Payment>,
    pub refunds: Vec<OrderRefund>,
}

fn order(details: serde_json::Value) -> anyhow::Result<Order> {
    serde_json::from_value(details).context("reading order_details()")
}

/// Runs `checkout()`: the order, and whether it is a replay of an earlier identical request.
pub async fn checkout(
    client: &impl GenericClient,
    store_id: i32,
    customer_id: Option<i32>,
    items: &serde_json::Value,
    payments: &serde_json::Value,
    idempotency_key: Uuid,
    credential_id: Option<i32>,
) -> anyhow::Result<(Order, bool)> {
    let stmt = client
        .prepare_cached("SELECT order_json, replayed FROM checkout($1, $2, $3, $4, $5, true, $6)")
        .await?;
    let row = client
        .query_one(
            &stmt,
            &[
                &store_id,
                &customer_id,
                items,
                payments,
                &idempotency_key,
                &credential_id,
            ],
        )
        .await
        .context("checking out a sale")?;
    Ok((order(row.get(0))?, row.get(1)))
}

/// An order with its lines, payments and refunds; `None` when it is not this node's.
pub async fn get(
    client: &impl GenericClient,
    global_order_id: Uuid,
) -> anyhow::Result<Option<Order>> {
    let stmt = client.prepare_cached("SELECT order_details($1)").await?;
    let row = client
        .query_one(&stmt, &[&global_order_id])
        .await
        .context("reading an order")?;
    row.get::<_, Option<serde_json::Value>>(0)
        .map(order)
        .transpose()
}

/// Counts one more print of a sale of `store_id` and reads its receipt; `None` when it is not the
/// store's.
pub async fn print_receipt(
    client: &impl GenericClient,
    store_id: i32,
    global_order_id: Uuid,
) -> anyhow::Result<Option<crate::receipt::Receipt>> {
    let stmt = client
        .prepare_cached("SELECT print_receipt($1, $2)")
        .await?;
    let row = client
        .query_one(&stmt, &[&store_id, &global_order_id])
        .await
        .context("printing a receipt")?;
    row.get::<_, Option<serde_json::Value>>(0)
        .map(|receipt| serde_json::from_value(receipt).context("reading print_receipt()"))
        .transpose()
}
