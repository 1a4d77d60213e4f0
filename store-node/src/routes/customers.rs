use actix_web::{HttpResponse, web};
use anyhow::Context;
use pos_shared::auth::Authenticated;
use pos_shared::domain::Phone;
use pos_shared::error::{ApiError, ErrorBody};
use pos_shared::extract::{Id, Query};
use pos_shared::page::{Page, PageQuery};
use serde::Deserialize;

use crate::db;
use crate::db::customers::Customer;
use crate::state::AppState;

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct CustomerQuery {
    /// The exact phone number (surrounding spaces ignored); absent: all.
    #[param(inline)]
    pub phone: Option<Phone>,
}

/// This city's customers (`?phone=` for the exact number a customer gives at the till).
#[utoipa::path(
    get,
    path = "/customers",
    operation_id = "list_customers",
    tag = "catalogue",
    security(("bearer" = [])),
    params(CustomerQuery, PageQuery),
    responses(
        (status = 200, description = "This city's matching customers by id, a page", body = Page<Customer>),
        pos_shared::openapi::Unauthorized,
        pos_shared::openapi::BadPage,
        pos_shared::openapi::ServerErrors,
    ),
)]
pub async fn list(
    _: Authenticated,
    state: web::Data<AppState>,
    query: Query<CustomerQuery>,
    page: Query<PageQuery>,
) -> Result<HttpResponse, ApiError> {
    let page = page.request()?;
    let client = state.pool.get().await.context("getting a connection")?;
    let phone = query.phone.as_ref().map(Phone::as_str);
    let customers = db::customers::list(&client, state.config.city_id, phone, page).await?;
    Ok(HttpResponse::Ok().json(page.page(customers, |c| i64::from(c.id))))
}

/// One of this city's customers; 404 for anyone else's.
#[utoipa::path(
    get,
    path = "/customers/{id}",
    operation_id = "get_customer",
    tag = "catalogue",
    security(("bearer" = [])),
    params(("id" = i32, Path, description = "The customer's id")),
    responses(
        (status = 200, description = "The customer", body = Customer),
        pos_shared::openapi::Unauthorized,
        (status = 404, description = "No such customer in this city, or the id is not a number (`not_found`)", body = ErrorBody),
        pos_shared::openapi::ServerErrors,
    ),
)]
pub async fn get(
    _: Authenticated,
    state: web::Data<AppState>,
    id: Id,
) -> Result<HttpResponse, ApiError> {
    let client = state.pool.get().await.context("getting a connection")?;
    let customer = db::customers::get(&client, state.config.city_id, *id)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("no customer {id} in this city")))?;
    Ok(HttpResponse::Ok().json(customer))
}

pos_shared::routes! {
    schemas(crate::db::customers::Customer),
    "/customers" => { GET => list },
    "/customers/{id}" => { GET => get },
}
