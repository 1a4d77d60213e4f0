//! Stock besides sales: adjustments with a reason (a store manager's), counts entered while sales go on
//! and applied by a manager, reorder levels and the store's low stock.

use actix_web::{HttpResponse, web};
use anyhow::Context;
use pos_shared::auth::Cashier;
use pos_shared::domain::{Lines, ProductId, Reason, StockChange, UnitCount};
use pos_shared::error::{ApiError, ErrorBody};
use pos_shared::extract::{Body, Query};
use serde::Deserialize;
use serde_json::json;
use uuid::Uuid;

use super::orders::sale_error;
use crate::db;
use crate::db::stock::{Adjustment, LowStockLine, StockCount};
use crate::state::AppState;

/// The manager's credential id: adjustments, starting and applying counts and reorder levels are a
/// store manager's.
pub(crate) fn manager(cashier: &Cashier, what: &str) -> Result<i32, ApiError> {
    cashier
        .credential
        .filter(|c| c.manager)
        .map(|c| c.id)
        .ok_or_else(|| ApiError::Forbidden(format!("{what} needs a store manager's credential")))
}

#[derive(Debug, Clone, Copy, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum AdjustmentReason {
    Damage,
    Theft,
    Correction,
}

impl AdjustmentReason {
    fn as_str(self) -> &'static str {
        match self {
            Self::Damage => "damage",
            Self::Theft => "theft",
            Self::Correction => "correction",
        }
    }
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewAdjustment {
    pub idempotency_key: Uuid,
    pub reason: AdjustmentReason,
    /// Absent, `null` or blank: none.
    #[serde(default, deserialize_with = "pos_shared::domain::blank_as_none")]
    #[schema(schema_with = pos_shared::domain::blank_or::<Reason>)]
    pub note: Option<Reason>,
    #[schema(schema_with = Lines::<AdjustmentItem>::openapi_schema)]
    pub items: Lines<AdjustmentItem>,
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AdjustmentItem {
    pub product_id: ProductId,
    /// Units added, or (negative) taken off; not zero.
    pub change: StockChange,
}

/// Adjusts the store's stock for damage, theft or a correction (a store manager's credential).
#[utoipa::path(
    post,
    path = "/inventory/adjustments",
    operation_id = "adjust_stock",
    tag = "inventory",
    security(("bearer" = [])),
    request_body = NewAdjustment,
    responses(
        (status = 201, description = "The adjustment, each line with the stock it left", body = Adjustment),
        (status = 200, description = "A replay of an adjustment already made with this idempotency key", body = Adjustment),
        pos_shared::openapi::BadJson,
        pos_shared::openapi::Unauthorized,
        (status = 403, description = "Not a store manager's credential (`forbidden`)", body = ErrorBody),
        (status = 409, description = "More taken off than the store has (`insufficient_stock`), or the idempotency key was used for a different request (`idempotency_mismatch`)", body = ErrorBody),
        (status = 422, description = "JSON of the wrong shape, or an invalid field: an unknown product, a change of zero (`validation_failed`)", body = ErrorBody),
        pos_shared::openapi::ServerErrors,
    ),
)]
#[tracing::instrument(skip_all, fields(store_id = cashier.store_id))]
pub async fn adjust(
    cashier: Cashier,
    state: web::Data<AppState>,
    Body(body): Body<NewAdjustment>,
) -> Result<HttpResponse, ApiError> {
    let credential_id = manager(&cashier, "an adjustment")?;
    let items: serde_json::Value = body
        .items
        .iter()
        .map(|i| json!({"product_id": i.product_id.get(), "change": i.change.get()}))
        .collect();
    let client = state.pool.get().await.context("getting a connection")?;
    let request = db::stock::AdjustmentRequest {
        store_id: cashier.store_id,
        items: &items,
        reason: body.reason.as_str(),
        note: body.note.as_ref().map(Reason::as_str),
        idempotency_key: body.idempotency_key,
        credential_id: Some(credential_id),
    };
    let (adjustment, replayed) = db::stock::adjust(&client, &request)
        .await
        .map_err(sale_error)?;
    let mut response = if replayed {
        HttpResponse::Ok()
    } else {
        HttpResponse::Created()
    };
    Ok(response.json(adjustment))
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReorderLevel {
    /// At or below it the line is low; `null` clears it.
    pub reorder_level: Option<UnitCount>,
}

/// Sets a product's reorder level at the store (a store manager's credential).
#[utoipa::path(
    put,
    path = "/inventory/{product_id}/reorder-level",
    operation_id = "set_reorder_level",
    tag = "inventory",
    security(("bearer" = [])),
    params(("product_id" = i32, Path, description = "The product", minimum = 1)),
    request_body = ReorderLevel,
    responses(
        (status = 204, description = "Set"),
        pos_shared::openapi::BadJson,
        pos_shared::openapi::Unauthorized,
        (status = 403, description = "Not a store manager's credential (`forbidden`)", body = ErrorBody),
        (status = 404, description = "No such product (`not_found`)", body = ErrorBody),
        (status = 422, description = "JSON of the wrong shape, or a level out of range (`validation_failed`)", body = ErrorBody),
        pos_shared::openapi::ServerErrors,
    ),
)]
pub async fn set_reorder_level(
    cashier: Cashier,
    state: web::Data<AppState>,
    product_id: pos_shared::extract::Id,
    Body(body): Body<ReorderLevel>,
) -> Result<HttpResponse, ApiError> {
    manager(&cashier, "a reorder level")?;
    let client = state.pool.get().await.context("getting a connection")?;
    db::stock::set_reorder_level(
        &client,
        cashier.store_id,
        *product_id,
        body.reorder_level.map(UnitCount::get),
    )
    .await
    .map_err(sale_error)?;
    Ok(HttpResponse::NoContent().finish())
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct LowQuery {
    /// Lines under this many units are low, besides those at or below their reorder level (absent: 10).
    #[param(inline)]
    pub below: Option<UnitCount>,
}

/// The store's low stock: lines under `below` units, or at or below their reorder level, lowest first.
#[utoipa::path(
    get,
    path = "/inventory/low",
    operation_id = "low_stock",
    tag = "inventory",
    security(("bearer" = [])),
    params(LowQuery),
    responses(
        (status = 200, description = "The low lines (the first 1,000)", body = Vec<LowStockLine>),
        pos_shared::openapi::Unauthorized,
        (status = 403, description = "Not a cashier's token (`forbidden`)", body = ErrorBody),
        (status = 422, description = "Malformed query (`validation_failed`)", body = ErrorBody),
        pos_shared::openapi::ServerErrors,
    ),
)]
pub async fn low(
    cashier: Cashier,
    state: web::Data<AppState>,
    query: Query<LowQuery>,
) -> Result<HttpResponse, ApiError> {
    let client = state.pool.get().await.context("getting a connection")?;
    let below = query.below.map_or(10, UnitCount::get);
    let lines = db::stock::low(&client, cashier.store_id, below).await?;
    Ok(HttpResponse::Ok().json(lines))
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CountEntry {
    #[schema(schema_with = Lines::<CountedItem>::openapi_schema)]
    pub items: Lines<CountedItem>,
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CountedItem {
    pub product_id: ProductId,
    pub counted: UnitCount,
}

/// Starts a count at the store (a store manager's credential; one open at a time).
#[utoipa::path(
    post,
    path = "/stock-counts",
    operation_id = "start_stock_count",
    tag = "inventory",
    security(("bearer" = [])),
    responses(
        (status = 201, description = "The count, with no line yet", body = StockCount),
        pos_shared::openapi::Unauthorized,
        (status = 403, description = "Not a store manager's credential (`forbidden`)", body = ErrorBody),
        (status = 409, description = "A count is open at the store already (`conflict`)", body = ErrorBody),
        pos_shared::openapi::ServerErrors,
    ),
)]
pub async fn start_count(
    cashier: Cashier,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let credential_id = manager(&cashier, "a count")?;
    let client = state.pool.get().await.context("getting a connection")?;
    let count = db::stock::count_step(
        &client,
        "SELECT start_stock_count($1, $2)",
        &[&cashier.store_id, &credential_id],
        cashier.store_id,
        None,
    )
    .await
    .map_err(sale_error)?;
    Ok(HttpResponse::Created().json(count))
}

/// Enters counted quantities (any credential of the store; counting a product again replaces its line).
#[utoipa::path(
    put,
    path = "/stock-counts/{count_id}/lines",
    operation_id = "enter_stock_count",
    tag = "inventory",
    security(("bearer" = [])),
    params(("count_id" = Uuid, Path, description = "The count")),
    request_body = CountEntry,
    responses(
        (status = 200, description = "The count as it stands", body = StockCount),
        pos_shared::openapi::BadJson,
        pos_shared::openapi::Unauthorized,
        (status = 403, description = "Not a cashier's token (`forbidden`)", body = ErrorBody),
        (status = 404, description = "No such count at the store, or the id is not a UUID (`not_found`)", body = ErrorBody),
        (status = 409, description = "The count is applied already (`conflict`)", body = ErrorBody),
        (status = 422, description = "JSON of the wrong shape, or an unknown product (`validation_failed`)", body = ErrorBody),
        pos_shared::openapi::ServerErrors,
    ),
)]
pub async fn enter_count(
    cashier: Cashier,
    state: web::Data<AppState>,
    count_id: web::Path<Uuid>,
    Body(body): Body<CountEntry>,
) -> Result<HttpResponse, ApiError> {
    let items: serde_json::Value = body
        .items
        .iter()
        .map(|i| json!({"product_id": i.product_id.get(), "counted": i.counted.get()}))
        .collect();
    let credential_id = cashier.credential.map(|c| c.id);
    let client = state.pool.get().await.context("getting a connection")?;
    let count = db::stock::count_step(
        &client,
        "SELECT enter_stock_count($1, $2, $3, $4)",
        &[&cashier.store_id, &*count_id, &items, &credential_id],
        cashier.store_id,
        Some(*count_id),
    )
    .await
    .map_err(sale_error)?;
    Ok(HttpResponse::Ok().json(count))
}

/// A count of the store: each line counted, the book quantity then, the variance.
#[utoipa::path(
    get,
    path = "/stock-counts/{count_id}",
    operation_id = "get_stock_count",
    tag = "inventory",
    security(("bearer" = [])),
    params(("count_id" = Uuid, Path, description = "The count")),
    responses(
        (status = 200, description = "The count", body = StockCount),
        pos_shared::openapi::Unauthorized,
        (status = 403, description = "Not a cashier's token (`forbidden`)", body = ErrorBody),
        (status = 404, description = "No such count at the store, or the id is not a UUID (`not_found`)", body = ErrorBody),
        pos_shared::openapi::ServerErrors,
    ),
)]
pub async fn get_count(
    cashier: Cashier,
    state: web::Data<AppState>,
    count_id: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    let client = state.pool.get().await.context("getting a connection")?;
    let count = db::stock::count(&client, cashier.store_id, *count_id)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("no count {count_id} at this store")))?;
    Ok(HttpResponse::Ok().json(count))
}

/// Applies a count's variances to the stock and closes it (a store manager's credential).
#[utoipa::path(
    post,
    path = "/stock-counts/{count_id}/apply",
    operation_id = "apply_stock_count",
    tag = "inventory",
    security(("bearer" = [])),
    params(("count_id" = Uuid, Path, description = "The count")),
    responses(
        (status = 200, description = "The count, applied", body = StockCount),
        pos_shared::openapi::Unauthorized,
        (status = 403, description = "Not a store manager's credential (`forbidden`)", body = ErrorBody),
        (status = 404, description = "No such count at the store, or the id is not a UUID (`not_found`)", body = ErrorBody),
        (status = 409, description = "The count is applied already (`conflict`)", body = ErrorBody),
        pos_shared::openapi::ServerErrors,
    ),
)]
pub async fn apply_count(
    cashier: Cashier,
    state: web::Data<AppState>,
    count_id: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    let credential_id = manager(&cashier, "applying a count")?;
    let client = state.pool.get().await.context("getting a connection")?;
    let count = db::stock::count_step(
        &client,
        "SELECT apply_stock_count($1, $2, $3)",
        &[&cashier.store_id, &*count_id, &credential_id],
        cashier.store_id,
        Some(*count_id),
    )
    .await
    .map_err(sale_error)?;
    Ok(HttpResponse::Ok().json(count))
}

pos_shared::routes! {
    schemas(
        NewAdjustment,
        AdjustmentItem,
        AdjustmentReason,
        ReorderLevel,
        CountEntry,
        CountedItem,
        Adjustment,
        crate::db::stock::AdjustmentLine,
        StockCount,
        crate::db::stock::CountLine,
        LowStockLine,
    ),
    "/inventory/adjustments" => { POST => adjust },
    "/inventory/low" => { GET => low },
    "/inventory/{product_id}/reorder-level" => { PUT => set_reorder_level },
    "/stock-counts" => { POST => start_count },
    "/stock-counts/{count_id}" => { GET => get_count },
    "/stock-counts/{count_id}/lines" => { PUT => enter_count },
    "/stock-counts/{count_id}/apply" => { POST => apply_count },
}
