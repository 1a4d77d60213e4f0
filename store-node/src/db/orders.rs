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
    /// Taken off the line: by `promotion_id`, and by hand (`manual_discount`).
    pub discount: Money,
    /// Taken off by hand: the line's own discount and its share of the sale's.
    pub manual_discount: Money,
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
    /// `refund`, or `void` (the whole sale given back in its shift).
    pub kind: String,
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
    /// Taken off by promotions and by hand, over every line.
    pub discount_total: Money,
    /// The tax the total includes.
    pub tax_total: Money,
    /// Whether the prices included the tax (the city's setting when the sale was made), or it was added
    /// to them: then a line's total is its net amount and its tax.
    pub prices_include_tax: bool,
    pub business_date: NaiveDate,
    pub created_at: DateTime<Utc>,
    pub items: Vec<OrderLine>,
    pub payments: Vec<Payment>,
    pub refunds: Vec<OrderRefund>,
}

fn order(details: serde_json::Value) -> anyhow::Result<Order> {
    serde_json::from_value(details).context("reading order_details()")
}

/// A sale as `checkout()` takes it.
pub struct Sale {
    pub store_id: i32,
    pub customer_id: Option<i32>,
    pub items: serde_json::Value,
    pub payments: serde_json::Value,
    /// The sale's own discount by hand (`{"percent": …}` or `{"amount": …}`).
    pub discount: Option<serde_json::Value>,
    pub idempotency_key: Uuid,
    /// The credential the sale is made with, when head office issued it.
    pub credential_id: Option<i32>,
    /// A store manager's approval of discounts above the credential's limit.
    pub approval_id: Option<Uuid>,
}

/// Runs `checkout()`: the order, and whether it is a replay of an earlier identical request.
pub async fn checkout(client: &impl GenericClient, sale: &Sale) -> anyhow::Result<(Order, bool)> {
    let stmt = client
        .prepare_cached(
            "SELECT order_json, replayed FROM checkout($1, $2, $3, $4, $5, true, $6, $7, $8)",
        )
        .await?;
    let row = client
        .query_one(
            &stmt,
            &[
                &sale.store_id,
                &sale.customer_id,
                &sale.items,
                &sale.payments,
                &sale.idempotency_key,
                &sale.credential_id,
                &sale.discount,
                &sale.approval_id,
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
