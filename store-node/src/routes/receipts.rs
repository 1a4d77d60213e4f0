//! Receipts at the till: `GET /orders/{id}/receipt` prints a sale of the cashier's store, as text laid
//! out for an 80 mm printer or as JSON; every print after the first is marked as a reprint.

use actix_web::{HttpResponse, web};
use anyhow::Context;
use pos_shared::auth::Cashier;
use pos_shared::error::{ApiError, ErrorBody};
use pos_shared::extract::Query;
use serde::Deserialize;
use uuid::Uuid;

use crate::db;
use crate::receipt::Receipt;
use crate::state::AppState;

/// How the receipt is answered.
#[derive(Debug, Clone, Copy, Default, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum ReceiptFormat {
    #[default]
    Json,
    /// `text/plain`, 42 columns a line.
    Text,
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ReceiptQuery {
    /// `json` (the default) or `text`.
    #[param(inline)]
    pub format: Option<ReceiptFormat>,
}

/// A sale's receipt (counted as one more print).
#[utoipa::path(
    get,
    path = "/orders/{global_order_id}/receipt",
    operation_id = "print_receipt",
    tag = "sales",
    security(("bearer" = [])),
    params(("global_order_id" = Uuid, Path, description = "The global order id"), ReceiptQuery),
    responses(
        (status = 200, description = "The receipt: JSON, or with `format=text` plain text of 42-column lines",
         content((Receipt = "application/json"), (String = "text/plain"))),
        (status = 422, description = "An unknown format (`validation_failed`)", body = ErrorBody),
        pos_shared::openapi::Unauthorized,
        (status = 403, description = "Not a cashier's token (this endpoint is for a store's cashiers) (`forbidden`)", body = ErrorBody),
        (status = 404, description = "No such sale at the cashier's store, or the id is not a UUID (`not_found`)", body = ErrorBody),
        pos_shared::openapi::ServerErrors,
    ),
)]
pub async fn print(
    cashier: Cashier,
    state: web::Data<AppState>,
    id: web::Path<Uuid>,
    query: Query<ReceiptQuery>,
) -> Result<HttpResponse, ApiError> {
    let client = state.pool.get().await.context("getting a connection")?;
    let receipt = db::orders::print_receipt(&client, cashier.store_id, *id)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("no order {id} at this store")))?;
    Ok(match query.format.unwrap_or_default() {
        ReceiptFormat::Json => HttpResponse::Ok().json(receipt),
        ReceiptFormat::Text => HttpResponse::Ok()
            .content_type("text/plain; charset=utf-8")
            .body(receipt.text()),
    })
}

pos_shared::routes! {
    schemas(
        Receipt,
        ReceiptFormat,
        crate::receipt::ReceiptStore,
        crate::receipt::ReceiptLine,
        crate::receipt::ReceiptTax,
    ),
    "/orders/{global_order_id}/receipt" => { GET => print },
}
