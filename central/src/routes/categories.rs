//! Product categories (admin only): replicated to every node.

use crate::auth::ManagerAccess;
use actix_web::{HttpResponse, web};
use pos_shared::domain::CategoryName;
use pos_shared::extract::Query;
use pos_shared::idempotency::{IdempotencyKeyHeader, Idempotent};
use pos_shared::page::{Page, PageQuery};
use serde::Deserialize;

use super::{Reply, client, created_once};
use crate::db::master::Category;
use crate::db::{master, write_error};
use crate::state::AppState;

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewCategory {
    pub name: CategoryName,
}

/// Every product category.
#[utoipa::path(
    get,
    path = "/categories",
    tag = "master data",
    security(("bearer" = [])),
    params(PageQuery),
    responses(
        (status = 200, description = "Categories by id, a page", body = Page<Category>),
        pos_shared::openapi::Unauthorized,
        pos_shared::openapi::NotAdmin,
        pos_shared::openapi::BadPage,
        pos_shared::openapi::ServerErrors,
    ),
)]
pub async fn list_categories(
    _: ManagerAccess,
    state: web::Data<AppState>,
    page: Query<PageQuery>,
) -> Reply {
    let page = page.request()?;
    let categories = master::list_categories(&client(&state).await?, page).await?;
    Ok(HttpResponse::Ok().json(page.page(categories, |c| i64::from(c.id))))
}

/// A new category (replicated to every node).
#[utoipa::path(
    post,
    path = "/categories",
    tag = "master data",
    security(("bearer" = [])),
    params(IdempotencyKeyHeader),
    request_body = NewCategory,
    responses(
        (status = 201, description = "The category created", body = Category),
        pos_shared::openapi::BadJson,
        pos_shared::openapi::Unauthorized,
        pos_shared::openapi::NotAdmin,
        super::CreateRefusals,
        pos_shared::openapi::ServerErrors,
    ),
)]
#[tracing::instrument(skip_all)]
pub async fn create_category(
    ManagerAccess(actor): ManagerAccess,
    state: web::Data<AppState>,
    request: Idempotent<NewCategory>,
) -> Reply {
    let name = request.body.name;
    created_once(&state, &actor, request.key.as_ref(), async |tx| {
        master::create_category(tx, name.as_str())
            .await
            .map_err(write_error)
    })
    .await
}

pos_shared::routes! {
    schemas(NewCategory, Category),
    "/categories" => { GET => list_categories, POST => create_category },
}
