//! Stores (admin only): replicated to their city's node; a store moved to another city sells at
//! that city's node from then on (DESIGN section 11).

use actix_web::{HttpResponse, web};
use pos_shared::auth::Admin;
use pos_shared::error::{ApiError, ErrorBody};
use pos_shared::validate;
use serde::Deserialize;

use super::{Reply, client};
use crate::db::master::Store;
use crate::db::{master, write_error};
use crate::state::AppState;

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewStore {
    pub code: String,
    pub name: String,
    pub city_id: i32,
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StorePatch {
    pub name: Option<String>,
    pub city_id: Option<i32>,
    pub active: Option<bool>,
}

/// Every store.
#[utoipa::path(
    get,
    path = "/stores",
    tag = "master data",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Stores by id", body = Vec<Store>),
        (status = 401, description = "Missing or unknown bearer token (`unauthorized`)", body = ErrorBody),
        (status = 403, description = "Not the admin token (`forbidden`)", body = ErrorBody),
        (status = 500, description = "Unexpected failure; the cause is in the log (`internal`)", body = ErrorBody),
        (status = 503, description = "The database is unavailable (`unavailable`)", body = ErrorBody),
    ),
)]
pub async fn list_stores(_: Admin, state: web::Data<AppState>) -> Reply {
    Ok(HttpResponse::Ok().json(master::list_stores(&client(&state).await?).await?))
}

/// A new store (replicated to its city's node).
#[utoipa::path(
    post,
    path = "/stores",
    tag = "master data",
    security(("bearer" = [])),
    request_body = NewStore,
    responses(
        (status = 201, description = "The store created", body = Store),
        (status = 400, description = "Malformed JSON, not `application/json`, or too large (`bad_request`)", body = ErrorBody),
        (status = 401, description = "Missing or unknown bearer token (`unauthorized`)", body = ErrorBody),
        (status = 403, description = "Not the admin token (`forbidden`)", body = ErrorBody),
        (status = 409, description = "A unique field is taken (`conflict`)", body = ErrorBody),
        (status = 422, description = "JSON of the wrong shape, an invalid field, or a reference to a row that does not exist (`validation_failed`)", body = ErrorBody),
        (status = 500, description = "Unexpected failure; the cause is in the log (`internal`)", body = ErrorBody),
        (status = 503, description = "The database is unavailable (`unavailable`)", body = ErrorBody),
    ),
)]
#[tracing::instrument(skip_all, err)]
pub async fn create_store(
    _: Admin,
    state: web::Data<AppState>,
    body: web::Json<NewStore>,
) -> Reply {
    let code = validate::text("code", &body.code, 32)?;
    let name = validate::text("name", &body.name, 200)?;
    let city_id = validate::positive_id("city_id", body.city_id)?;
    let store = master::create_store(&client(&state).await?, &code, &name, city_id)
        .await
        .map_err(write_error)?;
    Ok(HttpResponse::Created().json(store))
}

/// Changes the fields given (replicated to the nodes concerned).
#[utoipa::path(
    patch,
    path = "/stores/{id}",
    tag = "master data",
    security(("bearer" = [])),
    params(("id" = i32, Path, description = "The store's id")),
    request_body = StorePatch,
    responses(
        (status = 200, description = "The store as it is now", body = Store),
        (status = 400, description = "Malformed JSON, not `application/json`, or too large (`bad_request`)", body = ErrorBody),
        (status = 401, description = "Missing or unknown bearer token (`unauthorized`)", body = ErrorBody),
        (status = 403, description = "Not the admin token (`forbidden`)", body = ErrorBody),
        (status = 404, description = "No such store, or the id is not a number (`not_found`)", body = ErrorBody),
        (status = 409, description = "A unique field is taken (`conflict`)", body = ErrorBody),
        (status = 422, description = "JSON of the wrong shape, an invalid field, or a reference to a row that does not exist (`validation_failed`)", body = ErrorBody),
        (status = 500, description = "Unexpected failure; the cause is in the log (`internal`)", body = ErrorBody),
        (status = 503, description = "The database is unavailable (`unavailable`)", body = ErrorBody),
    ),
)]
#[tracing::instrument(skip_all, err)]
pub async fn update_store(
    _: Admin,
    state: web::Data<AppState>,
    id: web::Path<i32>,
    body: web::Json<StorePatch>,
) -> Reply {
    let name = body
        .name
        .as_deref()
        .map(|n| validate::text("name", n, 200))
        .transpose()?;
    let city_id = body
        .city_id
        .map(|c| validate::positive_id("city_id", c))
        .transpose()?;
    let store = master::update_store(
        &client(&state).await?,
        *id,
        name.as_deref(),
        city_id,
        body.active,
    )
    .await
    .map_err(write_error)?
    .ok_or_else(|| ApiError::not_found(format!("no store {id}")))?;
    Ok(HttpResponse::Ok().json(store))
}

pos_shared::routes! {
    schemas(NewStore, StorePatch, Store),
    "/stores" => { GET => list_stores, POST => create_store },
    "/stores/{id}" => { PATCH => update_store },
}
