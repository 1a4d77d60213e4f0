//! Stores (admin only): replicated to their city's node; a store moved to another city sells at
//! that city's node from then on (DESIGN section 11).

use crate::auth::ManagerAccess;
use actix_web::{HttpResponse, web};
use pos_shared::domain::{CityId, StoreCode, StoreName};
use pos_shared::error::{ApiError, ErrorBody};
use pos_shared::extract::{Body, Id, Query};
use pos_shared::idempotency::{IdempotencyKeyHeader, Idempotent};
use pos_shared::page::{Page, PageQuery};
use serde::Deserialize;

use super::{Reply, client, created_once, written};
use crate::db::master::Store;
use crate::db::{master, write_error};
use crate::state::AppState;

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewStore {
    pub code: StoreCode,
    pub name: StoreName,
    pub city_id: CityId,
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StorePatch {
    pub name: Option<StoreName>,
    /// Moves the store to another city's node (DESIGN section 11).
    pub city_id: Option<CityId>,
    pub active: Option<bool>,
}

/// Every store.
#[utoipa::path(
    get,
    path = "/stores",
    tag = "master data",
    security(("bearer" = [])),
    params(PageQuery),
    responses(
        (status = 200, description = "Stores by id, a page", body = Page<Store>),
        pos_shared::openapi::Unauthorized,
        pos_shared::openapi::NotAdmin,
        pos_shared::openapi::BadPage,
        pos_shared::openapi::ServerErrors,
    ),
)]
pub async fn list_stores(
    _: ManagerAccess,
    state: web::Data<AppState>,
    page: Query<PageQuery>,
) -> Reply {
    let page = page.request()?;
    let stores = master::list_stores(&client(&state).await?, page).await?;
    Ok(HttpResponse::Ok().json(page.page(stores, |s| i64::from(s.id))))
}

/// A new store (replicated to its city's node).
#[utoipa::path(
    post,
    path = "/stores",
    tag = "master data",
    security(("bearer" = [])),
    params(IdempotencyKeyHeader),
    request_body = NewStore,
    responses(
        (status = 201, description = "The store created", body = Store),
        pos_shared::openapi::BadJson,
        pos_shared::openapi::Unauthorized,
        pos_shared::openapi::NotAdmin,
        super::CreateRefusals,
        pos_shared::openapi::ServerErrors,
    ),
)]
#[tracing::instrument(skip_all)]
pub async fn create_store(
    ManagerAccess(actor): ManagerAccess,
    state: web::Data<AppState>,
    request: Idempotent<NewStore>,
) -> Reply {
    let store = request.body;
    created_once(&state, &actor, request.key.as_ref(), async |tx| {
        master::create_store(
            tx,
            store.code.as_str(),
            store.name.as_str(),
            store.city_id.get(),
        )
        .await
        .map_err(write_error)
    })
    .await
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
        pos_shared::openapi::BadJson,
        pos_shared::openapi::Unauthorized,
        pos_shared::openapi::NotAdmin,
        (status = 404, description = "No such store, or the id is not a number (`not_found`)", body = ErrorBody),
        super::WriteRefusals,
        pos_shared::openapi::ServerErrors,
    ),
)]
#[tracing::instrument(skip_all)]
pub async fn update_store(
    ManagerAccess(actor): ManagerAccess,
    state: web::Data<AppState>,
    id: Id,
    Body(patch): Body<StorePatch>,
) -> Reply {
    let store = written(&state, &actor, async |tx| {
        master::update_store(
            tx,
            *id,
            patch.name.as_ref().map(StoreName::as_str),
            patch.city_id.map(CityId::get),
            patch.active,
        )
        .await
        .map_err(write_error)
    })
    .await?
    .ok_or_else(|| ApiError::not_found(format!("no store {id}")))?;
    Ok(HttpResponse::Ok().json(store))
}

pos_shared::routes! {
    schemas(NewStore, StorePatch, Store),
    "/stores" => { GET => list_stores, POST => create_store },
    "/stores/{id}" => { PATCH => update_store },
}
