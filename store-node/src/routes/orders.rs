//! Sales at the till: `POST /orders` runs `checkout()` (the same flow as `process_order()` in psql).

use actix_web::{HttpResponse, web};
use anyhow::Context;
use pos_shared::auth::{Authenticated, Cashier, Principal};
use pos_shared::error::{ApiError, ErrorBody};
use pos_shared::money::Money;
use serde::Deserialize;
use serde_json::json;
use uuid::Uuid;

use crate::db;
use crate::db::orders::Order;
use crate::db::refunds::Refund;
use crate::state::AppState;

const MAX_LINES: usize = 500;
const MAX_QUANTITY: i64 = 100_000;

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewOrder {
    pub idempotency_key: Uuid,
    pub customer_id: Option<i32>,
    pub items: Vec<NewOrderLine>,
    pub payments: Vec<NewPayment>,
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewOrderLine {
    pub product_id: i32,
    pub quantity: i64,
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewPayment {
    pub method: String,
    pub amount: Money,
}

/// Checks the request and writes it in the normalised form the fingerprint is taken of.
fn normalise(order: &NewOrder) -> Result<(serde_json::Value, serde_json::Value), ApiError> {
    if order.items.is_empty() {
        return Err(ApiError::validation(
            "items",
            "a sale needs at least one item",
        ));
    }
    if order.items.len() > MAX_LINES {
        return Err(ApiError::validation(
            "items",
            format!("at most {MAX_LINES} lines"),
        ));
    }
    if order.payments.is_empty() {
        return Err(ApiError::validation(
            "payments",
            "a sale needs at least one payment",
        ));
    }
    let mut items = Vec::with_capacity(order.items.len());
    for line in &order.items {
        if line.product_id <= 0 {
            return Err(ApiError::validation("product_id", "must be a positive id"));
        }
        if !(1..=MAX_QUANTITY).contains(&line.quantity) {
            return Err(ApiError::validation(
                "quantity",
                format!("must be between 1 and {MAX_QUANTITY}"),
            ));
        }
        items.push(json!({"product_id": line.product_id, "quantity": line.quantity}));
    }
    let mut payments = Vec::with_capacity(order.payments.len());
    for payment in &order.payments {
        if !["cash", "card", "wallet"].contains(&payment.method.as_str()) {
            return Err(ApiError::validation(
                "method",
                "must be cash, card or wallet",
            ));
        }
        if payment.amount <= Money::ZERO {
            return Err(ApiError::validation("amount", "must be positive"));
        }
        payments.push(json!({"method": payment.method, "amount": payment.amount.to_string()}));
    }
    Ok((items.into(), payments.into()))
}

/// Maps the sale's own SQLSTATEs (see sql/store/checkout.sql) to answers; anything else is unexpected.
pub fn sale_error(err: anyhow::Error) -> ApiError {
    let Some(db) = pos_shared::db::db_error(&err) else {
        return err.into();
    };
    match db.code().code() {
        "PS409" => ApiError::Conflict {
            code: "insufficient_stock",
            message: db.message().to_owned(),
            details: db.detail().and_then(|d| serde_json::from_str(d).ok()),
        },
        "PS410" => ApiError::Conflict {
            code: "idempotency_mismatch",
            message: db.message().to_owned(),
            details: None,
        },
        "PS411" => ApiError::Conflict {
            code: "store_moved",
            message: db.message().to_owned(),
            details: None,
        },
        "PS422" => ApiError::validation(db.column().unwrap_or("body"), db.message()),
        "PS404" => ApiError::NotFound(db.message().to_owned()),
        _ => err.into(),
    }
}

/// A sale at the cashier's store: prices from this node, stock taken, payments checked.
#[utoipa::path(
    post,
    path = "/orders",
    operation_id = "create_order",
    tag = "sales",
    security(("bearer" = [])),
    request_body = NewOrder,
    responses(
        (status = 201, description = "The sale: ids, priced items, payments, total and change due", body = Order),
        (status = 200, description = "A replay of a sale already made with this idempotency key", body = Order),
        (status = 400, description = "Malformed JSON, not `application/json`, or too large (`bad_request`)", body = ErrorBody),
        (status = 401, description = "Missing or unknown bearer token (`unauthorized`)", body = ErrorBody),
        (status = 403, description = "Not a cashier's token (this endpoint is for a store's cashiers) (`forbidden`)", body = ErrorBody),
        (status = 409, description = "Not enough stock (`insufficient_stock`, with the short lines in `details`), the idempotency key was used for a different sale (`idempotency_mismatch`), or the store has moved to another city's node (`store_moved`)", body = ErrorBody),
        (status = 422, description = "JSON of the wrong shape, or an invalid field: no items or payments, an unknown product or customer, payments that do not cover the total (`validation_failed`)", body = ErrorBody),
        (status = 500, description = "Unexpected failure; the cause is in the log (`internal`)", body = ErrorBody),
        (status = 503, description = "The database is unavailable (`unavailable`)", body = ErrorBody),
    ),
)]
#[tracing::instrument(skip_all, fields(store_id = cashier.store_id, idempotency_key = %body.idempotency_key), err)]
pub async fn create(
    cashier: Cashier,
    state: web::Data<AppState>,
    body: web::Json<NewOrder>,
) -> Result<HttpResponse, ApiError> {
    let (items, payments) = normalise(&body)?;
    let client = state.pool.get().await.context("getting a connection")?;
    let (order, replayed) = db::orders::checkout(
        &client,
        cashier.store_id,
        body.customer_id,
        &items,
        &payments,
        body.idempotency_key,
    )
    .await
    .map_err(sale_error)?;
    if !replayed {
        state.outbox.wake();
    }
    let mut response = if replayed {
        HttpResponse::Ok()
    } else {
        HttpResponse::Created()
    };
    Ok(response.json(order))
}

/// An order of this node; a cashier sees only their own store's.
#[utoipa::path(
    get,
    path = "/orders/{global_order_id}",
    operation_id = "get_order",
    tag = "sales",
    security(("bearer" = [])),
    params(("global_order_id" = Uuid, Path, description = "The global order id")),
    responses(
        (status = 200, description = "The order with its lines and payments", body = Order),
        (status = 401, description = "Missing or unknown bearer token (`unauthorized`)", body = ErrorBody),
        (status = 404, description = "No such order at this node (or at the cashier's store), or the id is not a UUID (`not_found`)", body = ErrorBody),
        (status = 500, description = "Unexpected failure; the cause is in the log (`internal`)", body = ErrorBody),
        (status = 503, description = "The database is unavailable (`unavailable`)", body = ErrorBody),
    ),
)]
pub async fn get(
    Authenticated(principal): Authenticated,
    state: web::Data<AppState>,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    let client = state.pool.get().await.context("getting a connection")?;
    let order = db::orders::get(&client, *id)
        .await?
        .filter(|order| match principal {
            Principal::Cashier { store_id } => order.store_id == store_id,
            Principal::Admin => true,
        })
        .ok_or_else(|| ApiError::not_found(format!("no order {id} at this store")))?;
    Ok(HttpResponse::Ok().json(order))
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewRefund {
    pub idempotency_key: Uuid,
    /// Lines of the original sale and how many of each to refund.
    pub items: Vec<RefundLine>,
    /// Defaults to the sale's main payment method.
    pub method: Option<String>,
    pub reason: Option<String>,
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[schema(as = NewRefundLine)]
#[serde(deny_unknown_fields)]
pub struct RefundLine {
    pub line_no: i32,
    pub quantity: i64,
}

/// Refunds lines of a sale of the cashier's store (stock goes back).
#[utoipa::path(
    post,
    path = "/orders/{global_order_id}/refunds",
    operation_id = "refund_order",
    tag = "sales",
    security(("bearer" = [])),
    params(("global_order_id" = Uuid, Path, description = "The global order id of the sale")),
    request_body = NewRefund,
    responses(
        (status = 201, description = "The refund", body = Refund),
        (status = 200, description = "A replay of a refund already made with this idempotency key", body = Refund),
        (status = 400, description = "Malformed JSON, not `application/json`, or too large (`bad_request`)", body = ErrorBody),
        (status = 401, description = "Missing or unknown bearer token (`unauthorized`)", body = ErrorBody),
        (status = 403, description = "Not a cashier's token (this endpoint is for a store's cashiers) (`forbidden`)", body = ErrorBody),
        (status = 404, description = "No such order at the cashier's store, or the id is not a UUID (`not_found`)", body = ErrorBody),
        (status = 409, description = "The idempotency key was used for a different refund (`idempotency_mismatch`)", body = ErrorBody),
        (status = 422, description = "JSON of the wrong shape, or an invalid field: no lines, an unknown line, more than is left to refund, a bad method (`validation_failed`)", body = ErrorBody),
        (status = 500, description = "Unexpected failure; the cause is in the log (`internal`)", body = ErrorBody),
        (status = 503, description = "The database is unavailable (`unavailable`)", body = ErrorBody),
    ),
)]
#[tracing::instrument(skip_all, fields(store_id = cashier.store_id, order = %id), err)]
pub async fn refund(
    cashier: Cashier,
    state: web::Data<AppState>,
    id: web::Path<Uuid>,
    body: web::Json<NewRefund>,
) -> Result<HttpResponse, ApiError> {
    if body.items.is_empty() {
        return Err(ApiError::validation(
            "items",
            "a refund needs at least one line",
        ));
    }
    let mut items = Vec::with_capacity(body.items.len());
    for line in &body.items {
        if !(1..=MAX_QUANTITY).contains(&line.quantity) {
            return Err(ApiError::validation(
                "quantity",
                format!("must be between 1 and {MAX_QUANTITY}"),
            ));
        }
        items.push(json!({"line_no": line.line_no, "quantity": line.quantity}));
    }
    let reason = pos_shared::validate::optional_text("reason", body.reason.as_deref(), 500)?;
    let items = serde_json::Value::from(items);
    let client = state.pool.get().await.context("getting a connection")?;
    let request = db::refunds::RefundRequest {
        store_id: cashier.store_id,
        global_order_id: *id,
        items: &items,
        method: body.method.as_deref(),
        reason: reason.as_deref(),
        idempotency_key: body.idempotency_key,
    };
    let (refund_id, replayed) = db::refunds::refund(&client, &request)
        .await
        .map_err(sale_error)?;
    if !replayed {
        state.outbox.wake();
    }
    let refund = db::refunds::get(&client, refund_id)
        .await?
        .context("the refund just written is not there")?;
    let mut response = if replayed {
        HttpResponse::Ok()
    } else {
        HttpResponse::Created()
    };
    Ok(response.json(refund))
}

pos_shared::routes! {
    schemas(
        NewOrder,
        NewOrderLine,
        NewPayment,
        NewRefund,
        RefundLine,
        crate::db::orders::Order,
        crate::db::orders::OrderLine,
        crate::db::orders::Payment,
        crate::db::refunds::Refund,
        crate::db::refunds::RefundLine,
    ),
    "/orders" => { POST => create },
    "/orders/{global_order_id}" => { GET => get },
    "/orders/{global_order_id}/refunds" => { POST => refund },
}
