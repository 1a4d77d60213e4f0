//! Stock transfers between stores: shipped by the source's manager, received at the destination (in
//! full or short, with a reason), cancelled by the source while still on the way. Each step is one
//! local transaction and reaches the other store's node through central (sql/store/transfers.sql).

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use anyhow::Context;
use pos_shared::auth::Cashier;
use pos_shared::domain::{Lines, ProductId, Reason, ReceivedQuantity, StoreId, UnitCount};
use pos_shared::error::{ApiError, ErrorBody};
use pos_shared::extract::{Body, Query};
use pos_shared::page::{Page, PageQuery};
use pos_shared::transfers::{Transfer, TransferLine, TransferStatus};
use serde::Deserialize;
use serde_json::json;
use uuid::Uuid;

use super::orders::sale_error;
use super::stock::manager;
use crate::db;
use crate::state::AppState;

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewTransfer {
    pub idempotency_key: Uuid,
    /// The store it goes to: of this city or another.
    pub to_store_id: StoreId,
    /// Absent, `null` or blank: none.
    #[serde(default, deserialize_with = "pos_shared::domain::blank_as_none")]
    #[schema(schema_with = pos_shared::domain::blank_or::<Reason>)]
    pub note: Option<Reason>,
    #[schema(schema_with = Lines::<ShippedItem>::openapi_schema)]
    pub items: Lines<ShippedItem>,
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ShippedItem {
    pub product_id: ProductId,
    pub quantity: ReceivedQuantity,
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TransferReceipt {
    pub idempotency_key: Uuid,
    /// The lines that arrived other than in full (at most 500); every line not named arrived in full.
    #[serde(default)]
    #[schema(max_items = 500)]
    pub items: Vec<ReceivedItem>,
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReceivedItem {
    pub product_id: ProductId,
    /// Units that arrived: at most what was shipped.
    pub quantity: UnitCount,
    /// Why fewer arrived than were shipped (needed then).
    #[serde(default, deserialize_with = "pos_shared::domain::blank_as_none")]
    #[schema(schema_with = pos_shared::domain::blank_or::<Reason>)]
    pub reason: Option<Reason>,
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TransferCancel {
    pub idempotency_key: Uuid,
}

/// `in` (to the store), `out` (from it).
#[derive(Debug, Clone, Copy, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Direction {
    In,
    Out,
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct TransferQuery {
    /// Only transfers to the store (`in`) or from it (`out`); absent: both.
    #[param(inline)]
    pub direction: Option<Direction>,
    /// Only transfers in this state.
    #[param(inline)]
    pub status: Option<TransferStatus>,
}

/// The transfer after a step: `fresh` for the step taken now, 200 for a replay.
fn answer((transfer, replayed): (Transfer, bool), fresh: StatusCode) -> HttpResponse {
    HttpResponse::build(if replayed { StatusCode::OK } else { fresh }).json(transfer)
}

/// Ships stock from the store to another (a store manager's credential): the stock leaves now, and
/// the transfer is on its way to the destination's node.
#[utoipa::path(
    post,
    path = "/transfers",
    operation_id = "ship_transfer",
    tag = "transfers",
    security(("bearer" = [])),
    request_body = NewTransfer,
    responses(
        (status = 201, description = "The transfer, in transit", body = Transfer),
        (status = 200, description = "A replay of a shipment already made with this idempotency key", body = Transfer),
        pos_shared::openapi::BadJson,
        pos_shared::openapi::Unauthorized,
        (status = 403, description = "Not a store manager's credential (`forbidden`)", body = ErrorBody),
        (status = 409, description = "More than the store has (`insufficient_stock`, the short line in `details`), the idempotency key was used for a different request (`idempotency_mismatch`), or the store has moved to another city's node (`store_moved`)", body = ErrorBody),
        (status = 422, description = "JSON of the wrong shape, or an invalid field: the store itself or a closed store as the destination, an unknown product (`validation_failed`)", body = ErrorBody),
        pos_shared::openapi::ServerErrors,
    ),
)]
#[tracing::instrument(skip_all, fields(store_id = cashier.store_id))]
pub async fn ship(
    cashier: Cashier,
    state: web::Data<AppState>,
    Body(body): Body<NewTransfer>,
) -> Result<HttpResponse, ApiError> {
    let credential_id = manager(&cashier, "a transfer")?;
    let items: serde_json::Value = body
        .items
        .iter()
        .map(|i| json!({"product_id": i.product_id.get(), "quantity": i.quantity.get()}))
        .collect();
    let client = state.pool.get().await.context("getting a connection")?;
    let shipment = db::transfers::Shipment {
        store_id: cashier.store_id,
        to_store_id: body.to_store_id.get(),
        items: &items,
        note: body.note.as_ref().map(Reason::as_str),
        idempotency_key: body.idempotency_key,
        credential_id: Some(credential_id),
    };
    let shipped = db::transfers::ship(&client, &shipment)
        .await
        .map_err(sale_error)?;
    Ok(answer(shipped, StatusCode::CREATED))
}

/// Receives a transfer at the store it was sent to (any credential of that store): what arrived goes on
/// the shelf, and a line that arrived short says why.
#[utoipa::path(
    post,
    path = "/transfers/{transfer_id}/receive",
    operation_id = "receive_transfer",
    tag = "transfers",
    security(("bearer" = [])),
    params(("transfer_id" = Uuid, Path, description = "The transfer")),
    request_body = TransferReceipt,
    responses(
        (status = 200, description = "The transfer, received (also the replay of a receipt made with this idempotency key)", body = Transfer),
        pos_shared::openapi::BadJson,
        pos_shared::openapi::Unauthorized,
        (status = 403, description = "Not a cashier's token (`forbidden`)", body = ErrorBody),
        (status = 404, description = "No transfer of that id to this store (not yet announced by head office, or the id is not a UUID) (`not_found`)", body = ErrorBody),
        (status = 409, description = "The transfer is received or cancelled already (`conflict`), or the idempotency key was used for a different request (`idempotency_mismatch`)", body = ErrorBody),
        (status = 422, description = "JSON of the wrong shape, or an invalid line: a product not in the transfer, more than was shipped, less without a reason (`validation_failed`)", body = ErrorBody),
        pos_shared::openapi::ServerErrors,
    ),
)]
#[tracing::instrument(skip_all, fields(store_id = cashier.store_id))]
pub async fn receive(
    cashier: Cashier,
    state: web::Data<AppState>,
    transfer_id: web::Path<Uuid>,
    Body(body): Body<TransferReceipt>,
) -> Result<HttpResponse, ApiError> {
    if body.items.len() > 500 {
        return Err(ApiError::validation("items", "at most 500 lines"));
    }
    let items: serde_json::Value = body
        .items
        .iter()
        .map(|i| {
            json!({"product_id": i.product_id.get(), "quantity": i.quantity.get(),
                   "reason": i.reason.as_ref().map(Reason::as_str)})
        })
        .collect();
    let credential_id = cashier.credential.map(|c| c.id);
    let client = state.pool.get().await.context("getting a connection")?;
    let received = db::transfers::step(
        &client,
        "SELECT replayed FROM receive_transfer($1, $2, $3, $4, $5)",
        &[
            &cashier.store_id,
            &*transfer_id,
            &items,
            &body.idempotency_key,
            &credential_id,
        ],
        *transfer_id,
    )
    .await
    .map_err(sale_error)?;
    Ok(answer(received, StatusCode::OK))
}

/// Cancels a transfer the store shipped (a store manager's credential). When both stores are at this
/// node the stock is back at once (`cancelled`). Otherwise the cancel is asked of the destination's node
/// through head office (`cancel_requested`): it is granted unless the shipment was received there, and
/// the stock comes back with the answer.
#[utoipa::path(
    post,
    path = "/transfers/{transfer_id}/cancel",
    operation_id = "cancel_transfer",
    tag = "transfers",
    security(("bearer" = [])),
    params(("transfer_id" = Uuid, Path, description = "The transfer")),
    request_body = TransferCancel,
    responses(
        (status = 200, description = "The transfer, cancelled or with its cancel asked (also the replay of a cancel made with this idempotency key)", body = Transfer),
        pos_shared::openapi::BadJson,
        pos_shared::openapi::Unauthorized,
        (status = 403, description = "Not a store manager's credential (`forbidden`)", body = ErrorBody),
        (status = 404, description = "No transfer of that id from this store, or the id is not a UUID (`not_found`)", body = ErrorBody),
        (status = 409, description = "The transfer is received, cancelled or its cancel asked already (`conflict`), or the idempotency key was used for a different request (`idempotency_mismatch`)", body = ErrorBody),
        (status = 422, description = "JSON of the wrong shape (`validation_failed`)", body = ErrorBody),
        pos_shared::openapi::ServerErrors,
    ),
)]
#[tracing::instrument(skip_all, fields(store_id = cashier.store_id))]
pub async fn cancel(
    cashier: Cashier,
    state: web::Data<AppState>,
    transfer_id: web::Path<Uuid>,
    Body(body): Body<TransferCancel>,
) -> Result<HttpResponse, ApiError> {
    let credential_id = manager(&cashier, "cancelling a transfer")?;
    let client = state.pool.get().await.context("getting a connection")?;
    let cancelled = db::transfers::step(
        &client,
        "SELECT replayed FROM cancel_transfer($1, $2, $3, $4)",
        &[
            &cashier.store_id,
            &*transfer_id,
            &body.idempotency_key,
            &credential_id,
        ],
        *transfer_id,
    )
    .await
    .map_err(sale_error)?;
    Ok(answer(cancelled, StatusCode::OK))
}

/// A transfer from or to the store.
#[utoipa::path(
    get,
    path = "/transfers/{transfer_id}",
    operation_id = "get_transfer",
    tag = "transfers",
    security(("bearer" = [])),
    params(("transfer_id" = Uuid, Path, description = "The transfer")),
    responses(
        (status = 200, description = "The transfer", body = Transfer),
        pos_shared::openapi::Unauthorized,
        (status = 403, description = "Not a cashier's token (`forbidden`)", body = ErrorBody),
        (status = 404, description = "No transfer of that id from or to this store, or the id is not a UUID (`not_found`)", body = ErrorBody),
        pos_shared::openapi::ServerErrors,
    ),
)]
pub async fn get(
    cashier: Cashier,
    state: web::Data<AppState>,
    transfer_id: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    let client = state.pool.get().await.context("getting a connection")?;
    let transfer = db::transfers::get(&client, *transfer_id)
        .await?
        .filter(|t| t.from_store_id == cashier.store_id || t.to_store_id == cashier.store_id)
        .ok_or_else(|| {
            ApiError::not_found(format!("no transfer {transfer_id} from or to this store"))
        })?;
    Ok(HttpResponse::Ok().json(transfer))
}

/// The store's transfers, both ways or one, newest first.
#[utoipa::path(
    get,
    path = "/transfers",
    operation_id = "list_transfers",
    tag = "transfers",
    security(("bearer" = [])),
    params(TransferQuery, PageQuery),
    responses(
        (status = 200, description = "Transfers, newest first (`next` is older), a page", body = Page<Transfer>),
        pos_shared::openapi::Unauthorized,
        (status = 403, description = "Not a cashier's token (`forbidden`)", body = ErrorBody),
        pos_shared::openapi::BadPage,
        pos_shared::openapi::ServerErrors,
    ),
)]
pub async fn list(
    cashier: Cashier,
    state: web::Data<AppState>,
    query: Query<TransferQuery>,
    page: Query<PageQuery>,
) -> Result<HttpResponse, ApiError> {
    let page = page.request()?;
    let client = state.pool.get().await.context("getting a connection")?;
    let transfers = db::transfers::list(
        &client,
        cashier.store_id,
        query.direction.map(|d| match d {
            Direction::In => "in",
            Direction::Out => "out",
        }),
        query.status.map(TransferStatus::as_str),
        page,
    )
    .await?;
    Ok(HttpResponse::Ok().json(transfers))
}

pos_shared::routes! {
    schemas(
        NewTransfer,
        ShippedItem,
        TransferReceipt,
        ReceivedItem,
        TransferCancel,
        Direction,
        Transfer,
        TransferLine,
        TransferStatus,
    ),
    "/transfers" => { GET => list, POST => ship },
    "/transfers/{transfer_id}" => { GET => get },
    "/transfers/{transfer_id}/receive" => { POST => receive },
    "/transfers/{transfer_id}/cancel" => { POST => cancel },
}
