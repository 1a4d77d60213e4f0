use actix_web::{HttpResponse, web};
use anyhow::Context;
use pos_shared::auth::Authenticated;
use pos_shared::domain::{Barcode, ProductName, Sku};
use pos_shared::error::ApiError;
use pos_shared::extract::Query;
use pos_shared::page::{Page, PageQuery};
use serde::Deserialize;

use crate::db;
use crate::db::products::{Lookup, Product};
use crate::state::AppState;

/// What the till looks a product up by: one of these at most.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ProductQuery {
    /// The barcode the scanner read.
    #[param(inline)]
    pub barcode: Option<Barcode>,
    /// The exact SKU.
    #[param(inline)]
    pub sku: Option<Sku>,
    /// Part of the name, in any case (`chai` finds "Doodh Chai").
    #[param(inline)]
    pub q: Option<ProductName>,
}

/// The catalogue with this node's prices and tax rates (any cashier of the node, or head office):
/// all of it, or the products of a barcode, a SKU or part of a name.
#[utoipa::path(
    get,
    path = "/products",
    operation_id = "list_products",
    tag = "catalogue",
    security(("bearer" = [])),
    params(ProductQuery, PageQuery),
    responses(
        (status = 200, description = "Products by id, a page", body = Page<Product>),
        pos_shared::openapi::Unauthorized,
        (status = 422, description = "A page out of range, an invalid barcode, SKU or name, or more than one of them (`validation_failed`)", body = pos_shared::error::ErrorBody),
        pos_shared::openapi::ServerErrors,
    ),
)]
#[tracing::instrument(skip_all)]
pub async fn list(
    _: Authenticated,
    state: web::Data<AppState>,
    query: Query<ProductQuery>,
    page: Query<PageQuery>,
) -> Result<HttpResponse, ApiError> {
    let page = page.request()?;
    let lookup = match (&query.barcode, &query.sku, &query.q) {
        (None, None, None) => Lookup::All,
        (Some(code), None, None) => Lookup::Barcode(code.as_str()),
        (None, Some(sku), None) => Lookup::Sku(sku.as_str()),
        (None, None, Some(words)) => Lookup::Name(words.as_str()),
        _ => {
            return Err(ApiError::validation(
                "q",
                "look a product up by one of barcode, sku and q",
            ));
        }
    };
    let client = state.pool.get().await.context("getting a connection")?;
    let products = db::products::find(&client, lookup, page).await?;
    Ok(HttpResponse::Ok().json(page.page(products, |p| i64::from(p.id))))
}

pos_shared::routes! {
    schemas(crate::db::products::Product),
    "/products" => { GET => list },
}
