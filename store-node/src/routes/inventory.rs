use actix_web::{HttpResponse, web};
use anyhow::Context;
use pos_shared::auth::{Authenticated, Cashier};
use pos_shared::error::ApiError;
use serde::Deserialize;
use serde_json::json;
use uuid::Uuid;

use crate::db;
use crate::routes::orders::sale_error;
use crate::startup::AppState;

#[derive(Debug, Deserialize)]
pub struct InventoryQuery {
    pub store_id: Option<i32>,
}

/// A store's stock. A cashier sees their own store's (and gets 403 for another store's); head office
/// names the store.
pub async fn list(
    Authenticated(principal): Authenticated,
    state: web::Data<AppState>,
    query: web::Query<InventoryQuery>,
) -> Result<HttpResponse, ApiError> {
    let store_id = crate::routes::reports::store_of(principal, query.store_id)?;
    let client = state.pool.get().await.context("getting a connection")?;
    Ok(HttpResponse::Ok().json(db::inventory::list(&client, store_id).await?))
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewReceipt {
    pub idempotency_key: Uuid,
    pub reference: Option<String>,
    pub items: Vec<ReceiptLine>,
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReceiptLine {
    pub product_id: i32,
    pub quantity: i64,
}

/// Stock arriving at the cashier's store.
#[tracing::instrument(skip_all, fields(store_id = cashier.store_id), err)]
pub async fn receive(
    cashier: Cashier,
    state: web::Data<AppState>,
    body: web::Json<NewReceipt>,
) -> Result<HttpResponse, ApiError> {
    if body.items.is_empty() {
        return Err(ApiError::validation(
            "items",
            "a receipt needs at least one item",
        ));
    }
    let mut items = Vec::with_capacity(body.items.len());
    for line in &body.items {
        if !(1..=1_000_000).contains(&line.quantity) {
            return Err(ApiError::validation(
                "quantity",
                "must be between 1 and 1000000",
            ));
        }
        items.push(json!({"product_id": line.product_id, "quantity": line.quantity}));
    }
    let reference =
        pos_shared::validate::optional_text("reference", body.reference.as_deref(), 200)?;
    let client = state.pool.get().await.context("getting a connection")?;
    let (receipt_id, replayed) = db::inventory::receive(
        &client,
        cashier.store_id,
        &items.into(),
        reference.as_deref(),
        body.idempotency_key,
    )
    .await
    .map_err(sale_error)?;
    let stock = db::inventory::list(&client, cashier.store_id).await?;
    let mut response = if replayed {
        HttpResponse::Ok()
    } else {
        HttpResponse::Created()
    };
    Ok(response.json(json!({"receipt_id": receipt_id, "inventory": stock})))
}
