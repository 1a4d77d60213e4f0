use actix_web::{HttpResponse, web};
use anyhow::Context;
use pos_shared::auth::Admin;
use pos_shared::error::{ApiError, ErrorBody};
use serde::Deserialize;

use crate::db;
use crate::db::cities::City;
use crate::startup::AppState;

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewCity {
    pub name: String,
}

/// Every city.
#[utoipa::path(
    get,
    path = "/cities",
    operation_id = "list_cities",
    tag = "master data",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Cities by id", body = Vec<City>),
        (status = 401, description = "Missing or unknown bearer token (`unauthorized`)", body = ErrorBody),
        (status = 403, description = "Not the admin token (`forbidden`)", body = ErrorBody),
        (status = 500, description = "Unexpected failure; the cause is in the log (`internal`)", body = ErrorBody),
        (status = 503, description = "The database is unavailable (`unavailable`)", body = ErrorBody),
    ),
)]
#[tracing::instrument(skip_all, err)]
pub async fn list(_: Admin, state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let client = state.pool.get().await.context("getting a connection")?;
    let cities = db::cities::list(&client).await?;
    Ok(HttpResponse::Ok().json(cities))
}

/// A new city (replicated to every node).
#[utoipa::path(
    post,
    path = "/cities",
    operation_id = "create_city",
    tag = "master data",
    security(("bearer" = [])),
    request_body = NewCity,
    responses(
        (status = 201, description = "The city created", body = City),
        (status = 400, description = "Malformed JSON, not `application/json`, or too large (`bad_request`)", body = ErrorBody),
        (status = 401, description = "Missing or unknown bearer token (`unauthorized`)", body = ErrorBody),
        (status = 403, description = "Not the admin token (`forbidden`)", body = ErrorBody),
        (status = 409, description = "A city of that name exists already (`conflict`)", body = ErrorBody),
        (status = 422, description = "JSON of the wrong shape, or an invalid field (`validation_failed`)", body = ErrorBody),
        (status = 500, description = "Unexpected failure; the cause is in the log (`internal`)", body = ErrorBody),
        (status = 503, description = "The database is unavailable (`unavailable`)", body = ErrorBody),
    ),
)]
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
