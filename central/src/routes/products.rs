//! Products and their head-office prices (admin only): replicated to every node.

use crate::auth::ManagerAccess;
use actix_web::{HttpResponse, web};
use chrono::{DateTime, Utc};
use pos_shared::domain::{Barcode, CategoryId, Price, ProductName, Sku, TaxRate, nullable};
use pos_shared::error::{ApiError, ErrorBody};
use pos_shared::extract::{Body, Id, Query};
use pos_shared::idempotency::{IdempotencyKeyHeader, Idempotent};
use pos_shared::page::{Page, PageQuery};
use serde::Deserialize;

use super::{Reply, client, created_once, written};
use crate::db::master::{Product, ProductChange};
use crate::db::{master, write_error};
use crate::state::AppState;

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewProduct {
    pub sku: Sku,
    pub name: ProductName,
    pub category_id: CategoryId,
    /// Tax included.
    pub price: Price,
    /// The product's own tax rate in percent; absent or `null`: its category's.
    #[serde(default)]
    pub tax_rate: Option<TaxRate>,
    /// As the till's scanner reads it; unique.
    #[serde(default)]
    pub barcode: Option<Barcode>,
}

/// A price to take effect at a moment still to come.
#[derive(Debug, Clone, Copy, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewScheduledPrice {
    pub price: Price,
    pub effective_at: DateTime<Utc>,
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ProductPatch {
    pub name: Option<ProductName>,
    pub category_id: Option<CategoryId>,
    pub price: Option<Price>,
    /// `null`: the category's rate applies again.
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<TaxRate>)]
    pub tax_rate: Option<Option<TaxRate>>,
    /// `null`: none.
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<Barcode>)]
    pub barcode: Option<Option<Barcode>>,
    /// Replaces the waiting price change; `null` cancels it.
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<NewScheduledPrice>)]
    pub scheduled_price: Option<Option<NewScheduledPrice>>,
    pub active: Option<bool>,
}

/// Every product, active or not, with its head-office price.
#[utoipa::path(
    get,
    path = "/products",
    tag = "master data",
    security(("bearer" = [])),
    params(PageQuery),
    responses(
        (status = 200, description = "Products by id, a page", body = Page<Product>),
        pos_shared::openapi::Unauthorized,
        pos_shared::openapi::NotAdmin,
        pos_shared::openapi::BadPage,
        pos_shared::openapi::ServerErrors,
    ),
)]
pub async fn list_products(
    _: ManagerAccess,
    state: web::Data<AppState>,
    page: Query<PageQuery>,
) -> Reply {
    let page = page.request()?;
    let products = master::list_products(&client(&state).await?, page).await?;
    Ok(HttpResponse::Ok().json(page.page(products, |p| i64::from(p.id))))
}

/// One product.
#[utoipa::path(
    get,
    path = "/products/{id}",
    tag = "master data",
    security(("bearer" = [])),
    params(("id" = i32, Path, description = "The product's id")),
    responses(
        (status = 200, description = "The product", body = Product),
        pos_shared::openapi::Unauthorized,
        pos_shared::openapi::NotAdmin,
        (status = 404, description = "No such product, or the id is not a number (`not_found`)", body = ErrorBody),
        pos_shared::openapi::ServerErrors,
    ),
)]
pub async fn get_product(_: ManagerAccess, state: web::Data<AppState>, id: Id) -> Reply {
    let product = master::get_product(&client(&state).await?, *id)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("no product {id}")))?;
    Ok(HttpResponse::Ok().json(product))
}

/// A new product (replicated to every node).
#[utoipa::path(
    post,
    path = "/products",
    tag = "master data",
    security(("bearer" = [])),
    params(IdempotencyKeyHeader),
    request_body = NewProduct,
    responses(
        (status = 201, description = "The product created", body = Product),
        pos_shared::openapi::BadJson,
        pos_shared::openapi::Unauthorized,
        pos_shared::openapi::NotAdmin,
        super::CreateRefusals,
        pos_shared::openapi::ServerErrors,
    ),
)]
#[tracing::instrument(skip_all)]
pub async fn create_product(
    ManagerAccess(actor): ManagerAccess,
    state: web::Data<AppState>,
    request: Idempotent<NewProduct>,
) -> Reply {
    let product = request.body;
    created_once(&state, &actor, request.key.as_ref(), async |tx| {
        master::create_product(
            tx,
            product.sku.as_str(),
            product.name.as_str(),
            product.category_id.get(),
            product.price.get(),
            product.tax_rate.map(TaxRate::get),
            product.barcode.as_ref().map(Barcode::as_str),
        )
        .await
        .map_err(write_error)
    })
    .await
}

/// Changes the fields given (replicated to every node).
#[utoipa::path(
    patch,
    path = "/products/{id}",
    tag = "master data",
    security(("bearer" = [])),
    params(("id" = i32, Path, description = "The product's id")),
    request_body = ProductPatch,
    responses(
        (status = 200, description = "The product as it is now", body = Product),
        pos_shared::openapi::BadJson,
        pos_shared::openapi::Unauthorized,
        pos_shared::openapi::NotAdmin,
        (status = 404, description = "No such product, or the id is not a number (`not_found`)", body = ErrorBody),
        super::WriteRefusals,
        pos_shared::openapi::ServerErrors,
    ),
)]
#[tracing::instrument(skip_all)]
pub async fn update_product(
    ManagerAccess(actor): ManagerAccess,
    state: web::Data<AppState>,
    id: Id,
    Body(patch): Body<ProductPatch>,
) -> Reply {
    if let Some(Some(scheduled)) = patch.scheduled_price
        && scheduled.effective_at <= Utc::now()
    {
        return Err(ApiError::validation(
            "effective_at",
            "a scheduled price must take effect later than now",
        ));
    }
    let change = ProductChange {
        name: patch.name.as_ref().map(ProductName::as_str),
        category_id: patch.category_id.map(CategoryId::get),
        price: patch.price.map(Price::get),
        tax_rate: patch.tax_rate.map(|rate| rate.map(TaxRate::get)),
        barcode: patch
            .barcode
            .as_ref()
            .map(|code| code.as_ref().map(Barcode::as_str)),
        scheduled_price: patch
            .scheduled_price
            .map(|s| s.map(|s| (s.price.get(), s.effective_at))),
        active: patch.active,
    };
    let product = written(&state, &actor, async |tx| {
        master::update_product(tx, *id, &change)
            .await
            .map_err(write_error)
    })
    .await?
    .ok_or_else(|| ApiError::not_found(format!("no product {id}")))?;
    Ok(HttpResponse::Ok().json(product))
}

pos_shared::routes! {
    schemas(NewProduct, ProductPatch, NewScheduledPrice, Product),
    "/products" => { GET => list_products, POST => create_product },
    "/products/{id}" => { GET => get_product, PATCH => update_product },
}
