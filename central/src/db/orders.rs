//! The global order mapping.

use anyhow::Context;
use chrono::{DateTime, NaiveDate, Utc};
use deadpool_postgres::GenericClient;
use pos_shared::money::Money;
use serde::Serialize;
use uuid::Uuid;

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct OrderMapping {
    pub global_order_id: Uuid,
    pub store_id: i32,
    pub store_order_id: i64,
    pub customer_id: Option<i32>,
    pub city_id: i32,
    pub total_amount: Money,
    pub refunded_amount: Money,
    pub business_date: NaiveDate,
    pub order_time: DateTime<Utc>,
    pub received_at: DateTime<Utc>,
}

pub async fn get(client: &impl GenericClient, id: Uuid) -> anyhow::Result<Option<OrderMapping>> {
    let stmt = client
        .prepare_cached(
            "SELECT global_order_id, store_id, store_order_id, customer_id, city_id, total_amount, refunded_amount,
                    business_date, order_time, received_at
             FROM order_mapping WHERE global_order_id = $1",
        )
        .await?;
    let row = client
        .query_opt(&stmt, &[&id])
        .await
        .context("reading an order mapping")?;
    Ok(row.map(|r| OrderMapping {
        global_order_id: r.get("global_order_id"),
        store_id: r.get("store_id"),
        store_order_id: r.get("store_order_id"),
        customer_id: r.get("customer_id"),
        city_id: r.get("city_id"),
        total_amount: r.get("total_amount"),
        refunded_amount: r.get("refunded_amount"),
        business_date: r.get("business_date"),
        order_time: r.get("order_time"),
        received_at: r.get("received_at"),
    }))
}

/// The order as its node has it (asked on a session on the node's own database); `None` when the node
/// has no such order.
pub async fn details_from_node(
    node: &impl GenericClient,
    id: Uuid,
) -> anyhow::Result<Option<serde_json::Value>> {
    let stmt = node.prepare_cached("SELECT order_details($1)").await?;
    Ok(node
        .query_one(&stmt, &[&id])
        .await
        .context("fetching an order from its node")?
        .get(0))
}
