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
    /// The sale (none for a return without a receipt).
    pub global_order_id: Option<Uuid>,
    /// `refund`, `void` (the whole sale given back in its shift) or `return` (without a receipt).
    pub kind: String,
    pub method: String,
    pub amount: Money,
    pub reason: Option<String>,
    pub created_at: DateTime<Utc>,
    /// The store credit a refund to `store_credit` gave (what it holds now: `GET /credit-notes/{code}`).
    pub credit_note: Option<IssuedCreditNote>,
    /// A return's lines are numbered in the order they were given.
    pub items: Vec<RefundLine>,
}

pub async fn get(client: &impl GenericClient, refund_id: Uuid) -> anyhow::Result<Option<Refund>> {
    let stmt = client
        .prepare_cached(
            "SELECT r.id, r.refund_id, o.global_order_id, r.kind, r.method, r.amount, r.reason, r.created_at,
                    n.code, n.amount AS credit_amount
             FROM refunds r LEFT JOIN orders o ON o.id = r.order_id LEFT JOIN credit_notes n ON n.refund_id = r.id
             WHERE r.refund_id = $1",
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
            "SELECT line_no, product_id, quantity, amount FROM refund_items WHERE refund_id = $1 ORDER BY line_no",
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
        credit_note: row
            .get::<_, Option<String>>("code")
            .map(|code| IssuedCreditNote {
                code,
                amount: row.get("credit_amount"),
            }),
        items,
    }))
}

/// A return without a receipt (`return_without_receipt()`).
pub struct ReturnRequest<'a> {
    pub store_id: i32,
    /// `[{"product_id", "quantity"}]`.
    pub items: &'a serde_json::Value,
    pub method: &'a str,
    pub reason: &'a str,
    pub idempotency_key: Uuid,
    pub credential_id: Option<i32>,
    /// A store manager's return approval, for a cashier's credential.
    pub approval_id: Option<Uuid>,
}

/// Runs `return_without_receipt()`: `(refund_id, replayed)`.
pub async fn return_goods(
    client: &impl GenericClient,
    request: &ReturnRequest<'_>,
) -> anyhow::Result<(Uuid, bool)> {
    let stmt = client
        .prepare_cached(
            "SELECT refund_id, replayed FROM return_without_receipt($1, $2, $3, $4, $5, $6, $7)",
        )
        .await?;
    let row = client
        .query_one(
            &stmt,
            &[
                &request.store_id,
                request.items,
                &request.method,
                &request.reason,
                &request.idempotency_key,
                &request.credential_id,
                &request.approval_id,
            ],
        )
        .await
        .context("taking goods back")?;
    Ok((row.get(0), row.get(1)))
}

/// A credit note: store credit a refund or a return gave, spent by later sales at this node.
#[derive(Debug, Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct CreditNote {
    pub code: String,
    /// What it was issued for.
    pub amount: Money,
    /// What it holds now.
    pub balance: Money,
}

/// A credit note as its refund gave it.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct IssuedCreditNote {
    pub code: String,
    pub amount: Money,
}

/// The credit note with `code`; `None` when this node has none.
pub async fn credit_note(
    client: &impl GenericClient,
    code: &str,
) -> anyhow::Result<Option<CreditNote>> {
    let stmt = client
        .prepare_cached("SELECT code, amount, balance FROM credit_notes WHERE code = $1")
        .await?;
    Ok(client
        .query_opt(&stmt, &[&code])
        .await
        .context("reading a credit note")?
        .map(|row| CreditNote {
            code: row.get("code"),
            amount: row.get("amount"),
            balance: row.get("balance"),
        }))
}

/// An exchange as `exchange_order()` takes it: lines of a sale back to store credit, and a new sale
/// paid with that credit first.
pub struct ExchangeRequest<'a> {
    pub global_order_id: Uuid,
    /// The lines coming back: `[{"line_no", "quantity"}]`.
    pub returned: &'a serde_json::Value,
    pub sale: &'a crate::db::orders::Sale,
}

/// The refund to store credit, the new sale, and the credit note (with what the sale left on it).
#[derive(Debug, Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct Exchange {
    pub exchange_id: Uuid,
    pub refund_id: Uuid,
    /// What the returned lines gave back.
    pub returned: Money,
    pub order: crate::db::orders::Order,
    pub credit_note: CreditNote,
}

/// Runs `exchange_order()`: the exchange, and whether it is a replay.
pub async fn exchange(
    client: &impl GenericClient,
    request: &ExchangeRequest<'_>,
) -> anyhow::Result<(Exchange, bool)> {
    let stmt = client
        .prepare_cached(
            "SELECT exchange, replayed FROM exchange_order($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
        )
        .await?;
    let sale = request.sale;
    let row = client
        .query_one(
            &stmt,
            &[
                &sale.store_id,
                &request.global_order_id,
                request.returned,
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
        .context("exchanging")?;
    let exchange = serde_json::from_value(row.get(0)).context("reading exchange_order()")?;
    Ok((exchange, row.get(1)))
}
