//! Product categories (admin only): replicated to every node.

use crate::auth::ManagerAccess;
use actix_web::{HttpResponse, web};
use pos_shared::domain::{CategoryName, TaxRate};
use pos_shared::error::{ApiError, ErrorBody};
use pos_shared::extract::{Body, Id, Query};
use pos_shared::idempotency::{IdempotencyKeyHeader, Idempotent};
use pos_shared::money::Money;
use pos_shared::page::{Page, PageQuery};
use serde::Deserialize;

use super::{Reply, client, created_once, written};
use crate::db::master::Category;
use crate::db::{master, write_error};
use crate::state::AppState;

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewCategory {
    pub name: CategoryName,
    /// Percent, tax included in the prices; 0 when not given.
    #[serde(default)]
    pub tax_rate: Option<TaxRate>,
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CategoryPatch {
    pub name: Option<CategoryName>,
    pub tax_rate: Option<TaxRate>,
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
    let category = request.body;
    let tax_rate = category.tax_rate.map_or(Money::ZERO, TaxRate::get);
    created_once(&state, &actor, request.key.as_ref(), async |tx| {
        master::create_category(tx, category.name.as_str(), tax_rate)
            .await
            .map_err(write_error)
    })
    .await
}

/// Changes the fields given (replicated to every node): a new tax rate applies to the sales from the
/// moment a node has it.
#[utoipa::path(
    patch,
    path = "/categories/{id}",
    tag = "master data",
    security(("bearer" = [])),
    params(("id" = i32, Path, description = "The category's id")),
    request_body = CategoryPatch,
    responses(
        (status = 200, description = "The category as it is now", body = Category),
        pos_shared::openapi::BadJson,
        pos_shared::openapi::Unauthorized,
        pos_shared::openapi::NotAdmin,
        (status = 404, description = "No such category, or the id is not a number (`not_found`)", body = ErrorBody),
        super::WriteRefusals,
        pos_shared::openapi::ServerErrors,
    ),
)]
#[tracing::instrument(skip_all)]
pub async fn update_category(
    ManagerAccess(actor): ManagerAccess,
    state: web::Data<AppState>,
    id: Id,
    Body(patch): Body<CategoryPatch>,
) -> Reply {
    let category = written(&state, &actor, async |tx| {
        master::update_category(
            tx,
            *id,
            patch.name.as_ref().map(CategoryName::as_str),
            patch.tax_rate.map(TaxRate::get),
        )
        .await
        .map_err(write_error)
    })
    .await?
    .ok_or_else(|| ApiError::not_found(format!("no category {id}")))?;
    Ok(HttpResponse::Ok().json(category))
}

pos_shared::routes! {
    schemas(NewCategory, CategoryPatch, Category),
    "/categories" => { GET => list_categories, POST => create_category },
    "/categories/{id}" => { PATCH => update_category },
}
