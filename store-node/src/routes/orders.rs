//! Sales at the till: `POST /orders` runs `checkout()` (the same flow as `process_order()` in psql).

use actix_web::{HttpResponse, web};
use anyhow::Context;
use pos_shared::auth::{Authenticated, Cashier, Principal};
use pos_shared::domain::{CustomerId, LineNo, Lines, PaymentMethod, Quantity, Reason};
use pos_shared::error::{ApiError, ErrorBody};
use pos_shared::extract::Body;
use serde::Deserialize;
use serde_json::json;
use uuid::Uuid;

use super::sale_body::{
    ManualDiscount, NewOrder, NewOrderLine, NewPayment, lines_json, payments_json,
};
use crate::db;
use crate::db::orders::Order;
use crate::db::refunds::Refund;
use crate::state::AppState;

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
        // No open shift at the terminal, or one open already (sql/store/shifts.sql).
        "PS412" | "PS413" => ApiError::Conflict {
            code: "conflict",
            message: db.message().to_owned(),
            details: None,
        },
        // A sale that cannot be voided (sql/store/refunds.sql), a cash movement the drawer cannot take
        // (sql/store/shifts.sql), a count applied or open already (sql/store/stock.sql), a transfer
        // past the step asked (sql/store/transfers.sql).
        "PS414" | "PS415" | "PS416" | "PS417" => ApiError::Conflict {
            code: "conflict",
            message: db.message().to_owned(),
            details: None,
        },
        // A number that is another customer's already (sql/store/customers.sql).
        "PS418" => ApiError::Conflict {
            code: "conflict",
            message: db.message().to_owned(),
            details: db.detail().and_then(|d| serde_json::from_str(d).ok()),
        },
        // No store manager's approval that holds (sql/store/approvals.sql).
        "PS403" => ApiError::Forbidden(db.message().to_owned()),
        "PS422" => ApiError::validation(db.column().unwrap_or("body"), db.message()),
        // A count or an amount a write would take past its column (stock received, or added back by a
        // refund, a transfer or an adjustment, on a shelf already near an integer's limit): the
        // store's state cannot take it. PostgreSQL's own words name columns and types, so they are
        // not passed on.
        "22003" => ApiError::Conflict {
            code: "conflict",
            message: "a quantity or an amount would pass what the store's records can hold".into(),
            details: None,
        },
        // Two writes that each waited for the other: one gave way and wrote nothing; the till sends it
        // again with the same idempotency key.
        "40P01" | "40001" => ApiError::Unavailable(err),
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
        pos_shared::openapi::BadJson,
        pos_shared::openapi::Unauthorized,
        (status = 403, description = "Not a cashier's token (this endpoint is for a store's cashiers), or a discount above the credential's limit without a store manager's approval that holds (none, another action's, used, expired, or below the discount) (`forbidden`)", body = ErrorBody),
        (status = 409, description = "Not enough stock (`insufficient_stock`, with the short lines in `details`), the idempotency key was used for a different sale (`idempotency_mismatch`), or the store has moved to another city's node (`store_moved`)", body = ErrorBody),
        (status = 422, description = "JSON of the wrong shape, or an invalid field: no items or payments, an unknown product or customer, payments that do not cover the total (`validation_failed`)", body = ErrorBody),
        pos_shared::openapi::ServerErrors,
    ),
)]
#[tracing::instrument(skip_all, fields(store_id = cashier.store_id, idempotency_key = %body.idempotency_key))]
pub async fn create(
    cashier: Cashier,
    state: web::Data<AppState>,
    body: Body<NewOrder>,
) -> Result<HttpResponse, ApiError> {
    let sale = db::orders::Sale {
        store_id: cashier.store_id,
        customer_id: body.customer_id.map(CustomerId::get),
        items: lines_json(&body.items),
        payments: payments_json(&body.payments)?,
        discount: body.discount.map(ManualDiscount::as_json),
        idempotency_key: body.idempotency_key,
        credential_id: cashier.credential.map(|c| c.id),
        approval_id: body.approval_id,
    };
    let client = state.pool.get().await.context("getting a connection")?;
    let (order, replayed) = db::orders::checkout(&client, &sale)
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
        pos_shared::openapi::Unauthorized,
        (status = 404, description = "No such order at this node (or at the cashier's store), or the id is not a UUID (`not_found`)", body = ErrorBody),
        pos_shared::openapi::ServerErrors,
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
            Principal::Cashier { store_id, .. } => order.store_id == store_id,
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
    #[schema(schema_with = Lines::<RefundLine>::openapi_schema)]
    pub items: Lines<RefundLine>,
    /// Defaults to the sale's main payment method.
    pub method: Option<PaymentMethod>,
    /// Absent, `null` or blank: none.
    #[serde(default, deserialize_with = "pos_shared::domain::blank_as_none")]
    #[schema(schema_with = pos_shared::domain::blank_or::<Reason>)]
    pub reason: Option<Reason>,
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[schema(as = NewRefundLine)]
#[serde(deny_unknown_fields)]
pub struct RefundLine {
    pub line_no: LineNo,
    pub quantity: Quantity,
}

/// Lines of a sale coming back, as `refund_order()` takes them.
pub fn refund_lines_json(items: &Lines<RefundLine>) -> serde_json::Value {
    items
        .iter()
        .map(|line| json!({"line_no": line.line_no.get(), "quantity": line.quantity.get()}))
        .collect()
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
        pos_shared::openapi::BadJson,
        pos_shared::openapi::Unauthorized,
        (status = 403, description = "Not a cashier's token (this endpoint is for a store's cashiers) (`forbidden`)", body = ErrorBody),
        (status = 404, description = "No such order at the cashier's store, or the id is not a UUID (`not_found`)", body = ErrorBody),
        (status = 409, description = "The idempotency key was used for a different refund (`idempotency_mismatch`)", body = ErrorBody),
        (status = 422, description = "JSON of the wrong shape, or an invalid field: no lines, an unknown line, more than is left to refund, a bad method (`validation_failed`)", body = ErrorBody),
        pos_shared::openapi::ServerErrors,
    ),
)]
#[tracing::instrument(skip_all, fields(store_id = cashier.store_id, order = %id))]
pub async fn refund(
    cashier: Cashier,
    state: web::Data<AppState>,
    id: web::Path<Uuid>,
    Body(body): Body<NewRefund>,
) -> Result<HttpResponse, ApiError> {
    let items = refund_lines_json(&body.items);
    let client = state.pool.get().await.context("getting a connection")?;
    let request = db::refunds::RefundRequest {
        store_id: cashier.store_id,
        global_order_id: *id,
        items: &items,
        method: body.method.map(PaymentMethod::as_str),
        reason: body.reason.as_ref().map(Reason::as_str),
        idempotency_key: body.idempotency_key,
        credential_id: cashier.credential.map(|c| c.id),
    };
    let written = db::refunds::refund(&client, &request)
        .await
        .map_err(sale_error)?;
    refund_reply(&state, &client, written).await
}

/// The answer to a refund or a void just written (201) or replayed (200): the refund as it stands.
pub async fn refund_reply(
    state: &AppState,
    client: &impl deadpool_postgres::GenericClient,
    (refund_id, replayed): (Uuid, bool),
) -> Result<HttpResponse, ApiError> {
    if !replayed {
        state.outbox.wake();
    }
    let refund = db::refunds::get(client, refund_id)
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
        ManualDiscount,
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
