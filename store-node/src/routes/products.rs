use actix_web::{HttpResponse, web};
use anyhow::Context;
use pos_shared::auth::Authenticated;
use pos_shared::error::ApiError;

use crate::db;
use crate::startup::AppState;

/// The catalogue with this node's prices (any cashier of the node, or head office).
#[tracing::instrument(skip_all, err)]
pub async fn list(_: Authenticated, state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let client = state.pool.get().await.context("getting a connection")?;
    let products = db::products::list(&client).await?;
    Ok(HttpResponse::Ok().json(products))
}
