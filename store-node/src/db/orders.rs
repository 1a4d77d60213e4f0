//! Sales: the checkout call and reading an order back.

use anyhow::Context;
use chrono::{DateTime, NaiveDate, Utc};
use deadpool_postgres::GenericClient;
use pos_shared::money::Money;
use serde::Serialize;
use uuid::Uuid;

/// Runs `checkout()`: `(global_order_id, replayed)`.
pub async fn checkout(
    client: &impl GenericClient,
    store_id: i32,
    customer_id: Option<i32>,
    items: &serde_json::Value,
    payments: &serde_json::Value,
    idempotency_key: Uuid,
) -> anyhow::Result<(Uuid, bool)> {
    let stmt = client
        .prepare_cached("SELECT global_order_id, replayed FROM checkout($1, $2, $3, $4, $5)")
        .await?;
    let row = client
        .query_one(
            &stmt,
            &[&store_id, &customer_id, items, payments, &idempotency_key],
        )
        .await
        .context("checking out a sale")?;
    Ok((row.get(0), row.get(1)))
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct OrderLine {
    pub line_no: i32,
    pub product_id: i32,
    pub sku: String,
    pub name: String,
    pub quantity: i32,
    pub unit_price: Money,
    pub line_total: Money,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Payment {
    pub method: String,
    pub amount: Money,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Order {
    pub global_order_id: Uuid,
    pub store_id: i32,
    pub store_order_id: i64,
    pub customer_id: Option<i32>,
    pub total: Money,
    pub change_due: Money,
    pub business_date: NaiveDate,
    pub created_at: DateTime<Utc>,
    pub items: Vec<OrderLine>,
    pub payments: Vec<Payment>,
}

/// An order with its lines and payments; `None` when it is not this node's.
pub async fn get(
    client: &impl GenericClient,
    global_order_id: Uuid,
) -> anyhow::Result<Option<Order>> {
    let stmt = client
        .prepare_cached(
            "SELECT id, global_order_id, store_id, store_order_id, customer_id, total, change_due, business_date, created_at
             FROM orders WHERE global_order_id = $1",
        )
        .await?;
    let Some(order) = client
        .query_opt(&stmt, &[&global_order_id])
        .await
        .context("reading an order")?
    else {
        return Ok(None);
    };
    let order_id: i64 = order.get("id");
    let lines = client
        .prepare_cached(
            "SELECT i.line_no, i.product_id, p.sku, p.name, i.quantity, i.unit_price, i.line_total
             FROM order_items i JOIN products p ON p.id = i.product_id WHERE i.order_id = $1 ORDER BY i.line_no",
        )
        .await?;
    let items = client
        .query(&lines, &[&order_id])
        .await
        .context("reading order lines")?
        .iter()
        .map(|r| OrderLine {
            line_no: r.get("line_no"),
            product_id: r.get("product_id"),
            sku: r.get("sku"),
            name: r.get("name"),
            quantity: r.get("quantity"),
            unit_price: r.get("unit_price"),
            line_total: r.get("line_total"),
        })
        .collect();
    let pays = client
        .prepare_cached("SELECT method, amount FROM payments WHERE order_id = $1 ORDER BY id")
        .await?;
    let payments = client
        .query(&pays, &[&order_id])
        .await
        .context("reading payments")?
        .iter()
        .map(|r| Payment {
            method: r.get("method"),
            amount: r.get("amount"),
        })
        .collect();
    Ok(Some(Order {
        global_order_id: order.get("global_order_id"),
        store_id: order.get("store_id"),
        store_order_id: order.get("store_order_id"),
        customer_id: order.get("customer_id"),
        total: order.get("total"),
        change_due: order.get("change_due"),
        business_date: order.get("business_date"),
        created_at: order.get("created_at"),
        items,
        payments,
    }))
}
