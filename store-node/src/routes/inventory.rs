use actix_web::{HttpResponse, web};
use anyhow::Context;
use pos_shared::auth::{Authenticated, Cashier};
use pos_shared::domain::{Lines, ProductId, ReceivedQuantity, Reference, StoreId};
use pos_shared::error::{ApiError, ErrorBody};
use pos_shared::extract::{Body, Query};
use pos_shared::page::{Page, PageQuery, PageRequest};
use serde::Deserialize;
use serde_json::json;
use uuid::Uuid;

use crate::db;
use crate::db::inventory::StockLine;
use crate::routes::orders::sale_error;
use crate::state::AppState;

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct InventoryQuery {
    /// The store: a cashier's own by default; required for head office.
    #[param(inline)]
    pub store_id: Option<StoreId>,
}

/// A store's stock. A cashier sees their own store's (and gets 403 for another store's); head office
/// names the store.
#[utoipa::path(
    get,
    path = "/inventory",
    operation_id = "list_inventory",
    tag = "inventory",
    security(("bearer" = [])),
    params(InventoryQuery, PageQuery),
    responses(
        (status = 200, description = "The store's stock, product by product, a page (`next` is a product id)", body = Page<StockLine>),
        pos_shared::openapi::Unauthorized,
        (status = 403, description = "A cashier asking about another store (`forbidden`)", body = ErrorBody),
        (status = 422, description = "Malformed query, `limit` or `after` out of range, or head office without `store_id` (`validation_failed`)", body = ErrorBody),
        pos_shared::openapi::ServerErrors,
    ),
)]
pub async fn list(
    Authenticated(principal): Authenticated,
    state: web::Data<AppState>,
    query: Query<InventoryQuery>,
    page: Query<PageQuery>,
) -> Result<HttpResponse, ApiError> {
    let page = page.request()?;
    let store_id = crate::routes::reports::store_of(principal, query.store_id.map(StoreId::get))?;
    let client = state.pool.get().await.context("getting a connection")?;
    let stock = db::inventory::list(&client, store_id, page, None).await?;
    Ok(HttpResponse::Ok().json(page.page(stock, |line| i64::from(line.product_id))))
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewReceipt {
    pub idempotency_key: Uuid,
    /// Absent, `null` or blank: none.
    #[serde(default, deserialize_with = "pos_shared::domain::blank_as_none")]
    #[schema(schema_with = pos_shared::domain::blank_or::<Reference>)]
    pub reference: Option<Reference>,
    #[schema(schema_with = Lines::<ReceiptLine>::openapi_schema)]
    pub items: Lines<ReceiptLine>,
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReceiptLine {
    pub product_id: ProductId,
    pub quantity: ReceivedQuantity,
}

// What `receive` answers (it writes the body with `json!`): for the OpenAPI document only; the
// integration tests check it against a real answer.
/// A stock receipt and the stock of its products after it.
#[derive(utoipa::ToSchema)]
pub struct ReceiptResult {
    pub receipt_id: Uuid,
    /// The stock of the products received, after the receipt.
    pub inventory: Vec<db::inventory::StockLine>,
}

/// Stock arriving at the cashier's store.
#[utoipa::path(
    post,
    path = "/inventory/receipts",
    operation_id = "receive_stock",
    tag = "inventory",
    security(("bearer" = [])),
    request_body = NewReceipt,
    responses(
        (status = 201, description = "Received: the receipt and its products' stock now", body = ReceiptResult),
        (status = 200, description = "A replay of a receipt already made with this idempotency key", body = ReceiptResult),
        pos_shared::openapi::BadJson,
        pos_shared::openapi::Unauthorized,
        (status = 403, description = "Not a cashier's token (this endpoint is for a store's cashiers) (`forbidden`)", body = ErrorBody),
        (status = 409, description = "The idempotency key was used for a different receipt (`idempotency_mismatch`), or a product's stock would pass 2,147,483,647 units (`conflict`)", body = ErrorBody),
        (status = 422, description = "JSON of the wrong shape, an invalid field, an unknown product, or a store not at this node (`validation_failed`)", body = ErrorBody),
        pos_shared::openapi::ServerErrors,
    ),
)]
#[tracing::instrument(skip_all, fields(store_id = cashier.store_id))]
pub async fn receive(
    cashier: Cashier,
    state: web::Data<AppState>,
    Body(body): Body<NewReceipt>,
) -> Result<HttpResponse, ApiError> {
    let received: Vec<i32> = body
        .items
        .iter()
        .map(|line| line.product_id.get())
        .collect();
    let items: Vec<serde_json::Value> = body
        .items
        .iter()
        .map(|line| json!({"product_id": line.product_id.get(), "quantity": line.quantity.get()}))
        .collect();
    let client = state.pool.get().await.context("getting a connection")?;
    let (receipt_id, replayed) = db::inventory::receive(
        &client,
        cashier.store_id,
        &items.into(),
        body.reference.as_ref().map(Reference::as_str),
        body.idempotency_key,
    )
    .await
    .map_err(sale_error)?;
    let stock = db::inventory::list(
        &client,
        cashier.store_id,
        PageRequest::all(),
        Some(&received),
    )
    .await?;
    let mut response = if replayed {
        HttpResponse::Ok()
    } else {
        HttpResponse::Created()
    };
    Ok(response.json(json!({"receipt_id": receipt_id, "inventory": stock})))
}

pos_shared::routes! {
    schemas(crate::db::inventory::StockLine, NewReceipt, ReceiptLine, ReceiptResult),
    "/inventory" => { GET => list },
    "/inventory/receipts" => { POST => receive },
}
