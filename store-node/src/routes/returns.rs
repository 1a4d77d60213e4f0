//! Goods coming back without a sale to refund: a return without a receipt (a store manager's, or a
//! cashier's with a manager's return approval), an exchange (lines of a sale back to store credit and a
//! new sale paid with it, in one transaction), and the credit notes they give.

use actix_web::{HttpResponse, web};
use anyhow::Context;
use pos_shared::auth::Cashier;
use pos_shared::domain::{
    CreditNoteCode, CustomerId, Lines, PaymentMethod, ProductId, Quantity, Reason,
};
use pos_shared::error::{ApiError, ErrorBody};
use pos_shared::extract::Body;
use serde::Deserialize;
use serde_json::json;
use uuid::Uuid;

use super::orders::{RefundLine, refund_lines_json, refund_reply, sale_error};
use super::sale_body::{ManualDiscount, NewOrderLine, NewPayment, lines_json, payments_json};
use crate::db;
use crate::db::refunds::{CreditNote, Exchange, Refund};
use crate::state::AppState;

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewReturn {
    pub idempotency_key: Uuid,
    #[schema(schema_with = Lines::<ReturnLine>::openapi_schema)]
    pub items: Lines<ReturnLine>,
    /// How the money goes back: `store_credit` gives a credit note.
    pub method: PaymentMethod,
    /// Why the goods came back.
    pub reason: Reason,
    /// A store manager's return approval, for a cashier's credential.
    pub approval_id: Option<Uuid>,
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReturnLine {
    pub product_id: ProductId,
    pub quantity: Quantity,
}

/// Takes goods back without a receipt, at today's price (before promotions), restocked.
#[utoipa::path(
    post,
    path = "/returns",
    operation_id = "return_without_receipt",
    tag = "sales",
    security(("bearer" = [])),
    request_body = NewReturn,
    responses(
        (status = 201, description = "The return: a refund of kind `return`, of no sale (with its credit note when given as store credit)", body = Refund),
        (status = 200, description = "A replay of a return already made with this idempotency key", body = Refund),
        pos_shared::openapi::BadJson,
        pos_shared::openapi::Unauthorized,
        (status = 403, description = "Not a cashier's token, or a cashier's credential without a store manager's return approval that holds (none, another action's, used or expired) (`forbidden`)", body = ErrorBody),
        (status = 409, description = "The idempotency key was used for a different request (`idempotency_mismatch`)", body = ErrorBody),
        (status = 422, description = "JSON of the wrong shape, or an invalid field: no items, an unknown product, no reason (`validation_failed`)", body = ErrorBody),
        pos_shared::openapi::ServerErrors,
    ),
)]
#[tracing::instrument(skip_all, fields(store_id = cashier.store_id))]
pub async fn return_goods(
    cashier: Cashier,
    state: web::Data<AppState>,
    Body(body): Body<NewReturn>,
) -> Result<HttpResponse, ApiError> {
    let items: serde_json::Value = body
        .items
        .iter()
        .map(|line| json!({"product_id": line.product_id.get(), "quantity": line.quantity.get()}))
        .collect();
    let client = state.pool.get().await.context("getting a connection")?;
    let request = db::refunds::ReturnRequest {
        store_id: cashier.store_id,
        items: &items,
        method: body.method.as_str(),
        reason: body.reason.as_str(),
        idempotency_key: body.idempotency_key,
        credential_id: cashier.credential.map(|c| c.id),
        approval_id: body.approval_id,
    };
    let written = db::refunds::return_goods(&client, &request)
        .await
        .map_err(sale_error)?;
    refund_reply(&state, &client, written).await
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewExchange {
    pub idempotency_key: Uuid,
    /// Lines of the sale coming back, and how many of each.
    #[schema(schema_with = Lines::<RefundLine>::openapi_schema)]
    pub items: Lines<RefundLine>,
    pub sale: ExchangeSale,
}

/// The new sale of an exchange: paid with the returned lines' credit first, then with `payments`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ExchangeSale {
    pub customer_id: Option<CustomerId>,
    #[schema(schema_with = Lines::<NewOrderLine>::openapi_schema)]
    pub items: Lines<NewOrderLine>,
    /// For what the credit does not cover (absent: it covers the sale).
    #[schema(schema_with = Lines::<NewPayment, 20>::openapi_schema)]
    pub payments: Option<Lines<NewPayment, 20>>,
    pub discount: Option<ManualDiscount>,
    pub approval_id: Option<Uuid>,
}

/// Exchanges lines of a sale of the cashier's store for a new sale, in one transaction.
#[utoipa::path(
    post,
    path = "/orders/{global_order_id}/exchanges",
    operation_id = "exchange_order",
    tag = "sales",
    security(("bearer" = [])),
    params(("global_order_id" = Uuid, Path, description = "The global order id of the sale the lines come from")),
    request_body = NewExchange,
    responses(
        (status = 201, description = "The exchange: the refund to store credit, the new sale, and the credit note with what the sale left on it", body = Exchange),
        (status = 200, description = "A replay of an exchange already made with this idempotency key", body = Exchange),
        pos_shared::openapi::BadJson,
        pos_shared::openapi::Unauthorized,
        (status = 403, description = "Not a cashier's token, or a discount above the credential's limit without an approval that holds (`forbidden`)", body = ErrorBody),
        (status = 404, description = "No such order at the cashier's store, or the id is not a UUID (`not_found`)", body = ErrorBody),
        (status = 409, description = "Not enough stock for the new sale (`insufficient_stock`), or the idempotency key was used for a different request (`idempotency_mismatch`)", body = ErrorBody),
        (status = 422, description = "JSON of the wrong shape, or an invalid field: more than is left to refund, payments that do not cover the rest (`validation_failed`)", body = ErrorBody),
        pos_shared::openapi::ServerErrors,
    ),
)]
#[tracing::instrument(skip_all, fields(store_id = cashier.store_id, order = %id))]
pub async fn exchange(
    cashier: Cashier,
    state: web::Data<AppState>,
    id: web::Path<Uuid>,
    Body(body): Body<NewExchange>,
) -> Result<HttpResponse, ApiError> {
    let sale = db::orders::Sale {
        store_id: cashier.store_id,
        customer_id: body.sale.customer_id.map(CustomerId::get),
        items: lines_json(&body.sale.items),
        payments: payments_json(body.sale.payments.iter().flatten())?,
        discount: body.sale.discount.map(ManualDiscount::as_json),
        idempotency_key: body.idempotency_key,
        credential_id: cashier.credential.map(|c| c.id),
        approval_id: body.sale.approval_id,
    };
    let returned = refund_lines_json(&body.items);
    let request = db::refunds::ExchangeRequest {
        global_order_id: *id,
        returned: &returned,
        sale: &sale,
    };
    let client = state.pool.get().await.context("getting a connection")?;
    let (exchange, replayed) = db::refunds::exchange(&client, &request)
        .await
        .map_err(sale_error)?;
    if replayed {
        return Ok(HttpResponse::Ok().json(exchange));
    }
    state.outbox.wake();
    Ok(HttpResponse::Created().json(exchange))
}

/// A credit note of this node: what it holds.
#[utoipa::path(
    get,
    path = "/credit-notes/{code}",
    operation_id = "get_credit_note",
    tag = "sales",
    security(("bearer" = [])),
    params(("code" = CreditNoteCode, Path, description = "The credit note's code")),
    responses(
        (status = 200, description = "The credit note", body = CreditNote),
        pos_shared::openapi::Unauthorized,
        (status = 403, description = "Not a cashier's token (`forbidden`)", body = ErrorBody),
        (status = 404, description = "No such credit note at this node, or not a code (`not_found`)", body = ErrorBody),
        pos_shared::openapi::ServerErrors,
    ),
)]
pub async fn credit_note(
    _cashier: Cashier,
    state: web::Data<AppState>,
    code: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let not_found = || ApiError::not_found(format!("no credit note {code} at this node"));
    let code = CreditNoteCode::try_from(code.clone()).map_err(|_| not_found())?;
    let client = state.pool.get().await.context("getting a connection")?;
    let note = db::refunds::credit_note(&client, code.as_str())
        .await?
        .ok_or_else(not_found)?;
    Ok(HttpResponse::Ok().json(note))
}

pos_shared::routes! {
    schemas(
        NewReturn,
        ReturnLine,
        NewExchange,
        ExchangeSale,
        crate::db::refunds::CreditNote,
        crate::db::refunds::IssuedCreditNote,
        crate::db::refunds::Exchange,
    ),
    "/returns" => { POST => return_goods },
    "/orders/{global_order_id}/exchanges" => { POST => exchange },
    "/credit-notes/{code}" => { GET => credit_note },
}
