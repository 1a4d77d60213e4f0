//! Refunds of lines of a sale.

use anyhow::Context;
use chrono::{DateTime, Utc};
use deadpool_postgres::GenericClient;
use pos_shared::money::Money;
use serde::Serialize;
use uuid::Uuid;

pub struct RefundRequest<'a> {
    pub store_id: i32,
    pub global_order_id: Uuid,
    pub items: &'a serde_json::Value,
    pub method: Option<&'a str>,
    pub reason: Option<&'a str>,
    pub idempotency_key: Uuid,
    /// The credential the refund is made with, when head office issued it.
    pub credential_id: Option<i32>,
}

/// Runs `refund_order()`: `(refund_id, replayed)`.
pub async fn refund(
    client: &impl GenericClient,
    request: &RefundRequest<'_>,
) -> anyhow::Result<(Uuid, bool)> {
    let stmt = client
        .prepare_cached("SELECT refund_id, replayed FROM refund_order($1, $2, $3, $4, $5, $6, $7)")
        .await?;
    let row = client
        .query_one(
            &stmt,
            &[
                &request.store_id,
                &request.global_order_id,
                request.items,
                &request.method,
                &request.reason,
                &request.idempotency_key,
                &request.credential_id,
            ],
        )
        .await
        .context("refunding")?;
    Ok((row.get(0), row.get(1)))
}

/// A void of a sale of the terminal's open shift.
pub struct VoidRequest<'a> {
    pub store_id: i32,
    pub global_order_id: Uuid,
    pub reason: &'a str,
    pub idempotency_key: Uuid,
    pub credential_id: Option<i32>,
    /// A store manager's void approval, for a cashier's credential.
    pub approval_id: Option<Uuid>,
}

/// Runs `void_order()`: `(refund_id, replayed)`.
pub async fn void(
    client: &impl GenericClient,
    request: &VoidRequest<'_>,
) -> anyhow::Result<(Uuid, bool)> {
    let stmt = client
        .prepare_cached("SELECT refund_id, replayed FROM void_order($1, $2, $3, $4, $5, $6)")
        .await?;
    let row = client
        .query_one(
            &stmt,
            &[
                &request.store_id,
                &request.global_order_id,
                &request.reason,
                &request.idempotency_key,
                &request.credential_id,
                &request.approval_id,
            ],
        )
        .await
        .context("voiding")?;
    Ok((row.get(0), row.get(1)))
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct RefundLine {
    pub line_no: i32,
    pub product_id: i32,
    pub quantity: i32,
    pub amount: Money,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Refund {
    pub refund_id: Uuid,
    pub global_order_id: Uuid,
    /// `refund`, or `void` (the whole sale given back in its shift).
    pub kind: String,
    pub method: String,
    pub amount: Money,
    pub reason: Option<String>,
    pub created_at: DateTime<Utc>,
    pub items: Vec<RefundLine>,
}

pub async fn get(client: &impl GenericClient, refund_id: Uuid) -> anyhow::Result<Option<Refund>> {
    let stmt = client
        .prepare_cached(
            "SELECT r.id, r.refund_id, o.global_order_id, r.kind, r.method, r.amount, r.reason, r.created_at
             FROM refunds r JOIN orders o ON o.id = r.order_id WHERE r.refund_id = $1",
        )
        .await?;
    let Some(row) = client
        .query_opt(&stmt, &[&refund_id])
        .await
        .context("reading a refund")?
    else {
        return Ok(None);
    };
    let id: i64 = row.get("id");
    let lines = client
        .prepare_cached(
            "SELECT ri.line_no, oi.product_id, ri.quantity, ri.amount
             FROM refund_items ri JOIN order_items oi ON oi.order_id = ri.order_id AND oi.line_no = ri.line_no
             WHERE ri.refund_id = $1 ORDER BY ri.line_no",
        )
        .await?;
    let items = client
        .query(&lines, &[&id])
        .await
        .context("reading refund lines")?
        .iter()
        .map(|r| RefundLine {
            line_no: r.get("line_no"),
            product_id: r.get("product_id"),
            quantity: r.get("quantity"),
            amount: r.get("amount"),
        })
        .collect();
    Ok(Some(Refund {
        refund_id: row.get("refund_id"),
        global_order_id: row.get("global_order_id"),
        kind: row.get("kind"),
        method: row.get("method"),
        amount: row.get("amount"),
        reason: row.get("reason"),
        created_at: row.get("created_at"),
        items,
    }))
}
