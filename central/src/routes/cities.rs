use actix_web::{HttpResponse, web};
use anyhow::Context;
use pos_shared::auth::Admin;
use pos_shared::error::ApiError;
use serde::Deserialize;

use crate::db;
use crate::startup::AppState;

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewCity {
    pub name: String,
}

#[tracing::instrument(skip_all, err)]
pub async fn list(_: Admin, state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let client = state.pool.get().await.context("getting a connection")?;
    let cities = db::cities::list(&client).await?;
    Ok(HttpResponse::Ok().json(cities))
}

#[tracing::instrument(skip_all, err)]
pub async fn create(
    _: Admin,
    state: web::Data<AppState>,
    body: web::Json<NewCity>,
) -> Result<HttpResponse, ApiError> {
    let name = pos_shared::validate::text("name", &body.name, 100)?;
    let client = state.pool.get().await.context("getting a connection")?;
    match db::cities::create(&client, &name).await {
        Ok(city) => Ok(HttpResponse::Created().json(city)),
        Err(e) if db::is_unique_violation(&e) => Err(ApiError::conflict(format!(
            "a city named {name:?} exists already"
        ))),
        Err(e) => Err(e.into()),
    }
}
