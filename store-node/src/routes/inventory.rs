use actix_web::{HttpResponse, web};
use anyhow::Context;
use pos_shared::auth::{Authenticated, Principal};
use pos_shared::error::ApiError;
use serde::Deserialize;

use crate::db;
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
    let store_id = match (principal, query.store_id) {
        (Principal::Cashier { store_id }, None) => store_id,
        (Principal::Cashier { store_id }, Some(asked)) if asked == store_id => store_id,
        (Principal::Cashier { .. }, Some(_)) => {
            return Err(ApiError::Forbidden(
                "a cashier sees only their own store".into(),
            ));
        }
        (Principal::Admin, Some(asked)) => asked,
        (Principal::Admin, None) => {
            return Err(ApiError::validation(
                "store_id",
                "is required for head office",
            ));
        }
    };
    let client = state.pool.get().await.context("getting a connection")?;
    Ok(HttpResponse::Ok().json(db::inventory::list(&client, store_id).await?))
}
