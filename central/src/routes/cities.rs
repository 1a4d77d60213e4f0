use crate::auth::ManagerAccess;
use actix_web::{HttpResponse, web};
use anyhow::Context;
use pos_shared::domain::{CityName, TimeZone};
use pos_shared::error::{ApiError, ErrorBody};
use pos_shared::extract::{Body, Id, Query};
use pos_shared::idempotency::{IdempotencyKeyHeader, Idempotent};
use pos_shared::page::{Page, PageQuery};
use serde::Deserialize;
use tokio_postgres::error::SqlState;

use super::{created_once, written};
use crate::db;
use crate::db::cities::City;
use crate::state::AppState;

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewCity {
    pub name: CityName,
    /// IANA time zone name, such as `Asia/Karachi`: the city's stores' business days are in it.
    pub time_zone: TimeZone,
    /// Shelf prices include tax (absent: `true`, the chain's default), or tax is added at the till.
    pub prices_include_tax: Option<bool>,
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CityPatch {
    pub name: Option<CityName>,
    /// A new zone applies to sales from then on; sales already made keep their business day.
    pub time_zone: Option<TimeZone>,
    /// Applies to sales from then on.
    pub prices_include_tax: Option<bool>,
}

/// A failed city write: a name taken is 409, a zone PostgreSQL does not know 422.
fn city_write_error(err: anyhow::Error, name: Option<&str>) -> ApiError {
    let code = pos_shared::db::sqlstate(&err);
    if code == Some(&SqlState::INVALID_PARAMETER_VALUE) || code == Some(&SqlState::CHECK_VIOLATION)
    {
        return ApiError::validation("time_zone", "is not a time zone this server knows");
    }
    if db::is_unique_violation(&err) {
        return ApiError::conflict(format!(
            "a city named {:?} exists already",
            name.unwrap_or_default()
        ));
    }
    err.into()
}

/// Every city.
#[utoipa::path(
    get,
    path = "/cities",
    operation_id = "list_cities",
    tag = "master data",
    security(("bearer" = [])),
    params(PageQuery),
    responses(
        (status = 200, description = "Cities by id, a page", body = Page<City>),
        pos_shared::openapi::Unauthorized,
        pos_shared::openapi::NotAdmin,
        pos_shared::openapi::BadPage,
        pos_shared::openapi::ServerErrors,
    ),
)]
#[tracing::instrument(skip_all)]
pub async fn list(
    _: ManagerAccess,
    state: web::Data<AppState>,
    page: Query<PageQuery>,
) -> Result<HttpResponse, ApiError> {
    let page = page.request()?;
    let client = state.pool.get().await.context("getting a connection")?;
    let cities = db::cities::list(&client, page).await?;
    Ok(HttpResponse::Ok().json(page.page(cities, |c| i64::from(c.id))))
}

/// A new city (replicated to every node).
#[utoipa::path(
    post,
    path = "/cities",
    operation_id = "create_city",
    tag = "master data",
    security(("bearer" = [])),
    params(IdempotencyKeyHeader),
    request_body = NewCity,
    responses(
        (status = 201, description = "The city created", body = City),
        pos_shared::openapi::BadJson,
        pos_shared::openapi::Unauthorized,
        pos_shared::openapi::NotAdmin,
        super::CreateRefusals,
        pos_shared::openapi::ServerErrors,
    ),
)]
#[tracing::instrument(skip_all)]
pub async fn create(
    ManagerAccess(actor): ManagerAccess,
    state: web::Data<AppState>,
    request: Idempotent<NewCity>,
) -> Result<HttpResponse, ApiError> {
    let city = request.body;
    let name = city.name.as_str();
    created_once(&state, &actor, request.key.as_ref(), async |tx| {
        db::cities::create(
            tx,
            name,
            city.time_zone.as_str(),
            city.prices_include_tax.unwrap_or(true),
        )
        .await
        .map_err(|e| city_write_error(e, Some(name)))
    })
    .await
}

/// Renames a city, or changes its time zone or whether its prices include tax (replicated to every node).
#[utoipa::path(
    patch,
    path = "/cities/{id}",
    operation_id = "update_city",
    tag = "master data",
    security(("bearer" = [])),
    params(("id" = i32, Path, description = "The city", minimum = 1)),
    request_body = CityPatch,
    responses(
        (status = 200, description = "The city as it is now", body = City),
        pos_shared::openapi::BadJson,
        pos_shared::openapi::Unauthorized,
        pos_shared::openapi::NotAdmin,
        (status = 404, description = "No such city (`not_found`)", body = ErrorBody),
        (status = 409, description = "A city of that name exists already (`conflict`)", body = ErrorBody),
        (status = 422, description = "JSON of the wrong shape, or an invalid field (`validation_failed`)", body = ErrorBody),
        pos_shared::openapi::ServerErrors,
    ),
)]
#[tracing::instrument(skip_all)]
pub async fn update(
    ManagerAccess(actor): ManagerAccess,
    state: web::Data<AppState>,
    id: Id,
    Body(patch): Body<CityPatch>,
) -> Result<HttpResponse, ApiError> {
    let name = patch.name.as_ref().map(CityName::as_str);
    let zone = patch.time_zone.as_ref().map(TimeZone::as_str);
    let city = written(&state, &actor, async |tx| {
        db::cities::update(tx, *id, name, zone, patch.prices_include_tax)
            .await
            .map_err(|e| city_write_error(e, name))
    })
    .await?
    .ok_or_else(|| ApiError::not_found(format!("no city {id}")))?;
    Ok(HttpResponse::Ok().json(city))
}

pos_shared::routes! {
    schemas(NewCity, CityPatch, crate::db::cities::City),
    "/cities" => { GET => list, POST => create },
    "/cities/{id}" => { PATCH => update },
}
