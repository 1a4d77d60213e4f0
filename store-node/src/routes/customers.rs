use actix_web::{HttpResponse, web};
use anyhow::Context;
use pos_shared::auth::Authenticated;
use pos_shared::error::ApiError;
use serde::Deserialize;

use crate::db;
use crate::startup::AppState;

#[derive(Debug, Deserialize)]
pub struct CustomerQuery {
    pub phone: Option<String>,
}

/// This city's customers (`?phone=` for the exact number a customer gives at the till).
pub async fn list(
    _: Authenticated,
    state: web::Data<AppState>,
    query: web::Query<CustomerQuery>,
) -> Result<HttpResponse, ApiError> {
    let client = state.pool.get().await.context("getting a connection")?;
    let phone = query
        .phone
        .as_deref()
        .map(str::trim)
        .filter(|p| !p.is_empty());
    let customers = db::customers::list(&client, state.config.city_id, phone).await?;
    Ok(HttpResponse::Ok().json(customers))
}

/// One of this city's customers; 404 for anyone else's.
pub async fn get(
    _: Authenticated,
    state: web::Data<AppState>,
    id: web::Path<i32>,
) -> Result<HttpResponse, ApiError> {
    let client = state.pool.get().await.context("getting a connection")?;
    let customer = db::customers::get(&client, state.config.city_id, *id)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("no customer {id} in this city")))?;
    Ok(HttpResponse::Ok().json(customer))
}
