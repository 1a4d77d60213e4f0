use actix_web::{HttpResponse, web};
use anyhow::Context;
use pos_shared::auth::Authenticated;
use pos_shared::domain::{CustomerName, Phone, PhonePrefix};
use pos_shared::error::{ApiError, ErrorBody};
use pos_shared::extract::{Id, Query};
use pos_shared::page::{Page, PageQuery};
use serde::Deserialize;

use crate::db;
use crate::db::customers::{Customer, Lookup};
use crate::state::AppState;

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct CustomerQuery {
    /// The exact phone number (surrounding spaces ignored).
    #[param(inline)]
    pub phone: Option<Phone>,
    /// The first digits of the number (3 to 20; spaces, dashes and `+` ignored), however it was written.
    #[param(inline)]
    pub phone_prefix: Option<PhonePrefix>,
    /// Part of the name, in any case.
    #[param(inline)]
    pub q: Option<CustomerName>,
}

/// This city's customers: all, or by the exact number (`?phone=`), the first digits of it
/// (`?phone_prefix=`) or part of the name (`?q=`), one of them.
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
        (status = 422, description = "A page out of range, an invalid number, prefix or name, or more than one of them (`validation_failed`)", body = ErrorBody),
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
    let digits = query.phone_prefix.as_ref().map(PhonePrefix::digits);
    let lookup = match (&query.phone, &digits, &query.q) {
        (None, None, None) => Lookup::All,
        (Some(phone), None, None) => Lookup::Phone(phone.as_str()),
        (None, Some(digits), None) => Lookup::PhoneDigits(digits),
        (None, None, Some(words)) => Lookup::Name(words.as_str()),
        _ => {
            return Err(ApiError::validation(
                "q",
                "look a customer up by one of phone, phone_prefix and q",
            ));
        }
    };
    let customers = db::customers::list(&client, state.config.city_id, lookup, page).await?;
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
