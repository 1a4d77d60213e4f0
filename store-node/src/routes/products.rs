use actix_web::{HttpResponse, web};
use anyhow::Context;
use pos_shared::auth::Authenticated;
use pos_shared::error::ApiError;
use pos_shared::extract::Query;
use pos_shared::page::{Page, PageQuery};

use crate::db;
use crate::db::products::Product;
use crate::state::AppState;

/// The catalogue with this node's prices (any cashier of the node, or head office).
#[utoipa::path(
    get,
    path = "/products",
    operation_id = "list_products",
    tag = "catalogue",
    security(("bearer" = [])),
    params(PageQuery),
    responses(
        (status = 200, description = "Products by id, a page", body = Page<Product>),
        pos_shared::openapi::Unauthorized,
        pos_shared::openapi::BadPage,
        pos_shared::openapi::ServerErrors,
    ),
)]
#[tracing::instrument(skip_all)]
pub async fn list(
    _: Authenticated,
    state: web::Data<AppState>,
    page: Query<PageQuery>,
) -> Result<HttpResponse, ApiError> {
    let page = page.request()?;
    let client = state.pool.get().await.context("getting a connection")?;
    let products = db::products::list(&client, page).await?;
    Ok(HttpResponse::Ok().json(page.page(products, |p| i64::from(p.id))))
}

pos_shared::routes! {
    schemas(crate::db::products::Product),
    "/products" => { GET => list },
}
