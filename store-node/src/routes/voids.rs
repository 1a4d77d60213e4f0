//! Voids: a sale given back whole within the shift it was made in, as if it had not been made (stock
//! back, each payment back, the Z report counting it as a void). A store manager's credential, or a
//! cashier's with a manager's void approval (`POST /approvals`).

use actix_web::{HttpResponse, web};
use anyhow::Context;
use pos_shared::auth::Cashier;
use pos_shared::domain::Reason;
use pos_shared::error::{ApiError, ErrorBody};
use pos_shared::extract::Body;
use serde::Deserialize;
use uuid::Uuid;

use super::orders::{refund_reply, sale_error};
use crate::db;
use crate::db::refunds::Refund;
use crate::state::AppState;

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewVoid {
    pub idempotency_key: Uuid,
    /// Why the sale is voided.
    pub reason: Reason,
    /// A store manager's void approval, for a cashier's credential.
    pub approval_id: Option<Uuid>,
}

/// Voids a sale of the open shift at the credential's terminal.
#[utoipa::path(
    post,
    path = "/orders/{global_order_id}/void",
    operation_id = "void_order",
    tag = "sales",
    security(("bearer" = [])),
    params(("global_order_id" = Uuid, Path, description = "The global order id of the sale")),
    request_body = NewVoid,
    responses(
        (status = 201, description = "The void: a refund of kind `void` of the whole sale", body = Refund),
        (status = 200, description = "A replay of a void already made with this idempotency key", body = Refund),
        pos_shared::openapi::BadJson,
        pos_shared::openapi::Unauthorized,
        (status = 403, description = "Not a cashier's token, or a cashier's credential without a store manager's void approval that holds (none, another action's, used or expired) (`forbidden`)", body = ErrorBody),
        (status = 404, description = "No such order at the cashier's store, or the id is not a UUID (`not_found`)", body = ErrorBody),
        (status = 409, description = "No shift is open at the terminal, the sale is another shift's (or none's), voided or refunded already (`conflict`), or the idempotency key was used for a different request (`idempotency_mismatch`)", body = ErrorBody),
        (status = 422, description = "JSON of the wrong shape, or no reason (`validation_failed`)", body = ErrorBody),
        pos_shared::openapi::ServerErrors,
    ),
)]
#[tracing::instrument(skip_all, fields(store_id = cashier.store_id, order = %id))]
pub async fn void(
    cashier: Cashier,
    state: web::Data<AppState>,
    id: web::Path<Uuid>,
    Body(body): Body<NewVoid>,
) -> Result<HttpResponse, ApiError> {
    let client = state.pool.get().await.context("getting a connection")?;
    let request = db::refunds::VoidRequest {
        store_id: cashier.store_id,
        global_order_id: *id,
        reason: body.reason.as_str(),
        idempotency_key: body.idempotency_key,
        credential_id: cashier.credential.map(|c| c.id),
        approval_id: body.approval_id,
    };
    let written = db::refunds::void(&client, &request)
        .await
        .map_err(sale_error)?;
    refund_reply(&state, &client, written).await
}

pos_shared::routes! {
    schemas(NewVoid),
    "/orders/{global_order_id}/void" => { POST => void },
}
