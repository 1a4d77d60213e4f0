use actix_web::{HttpResponse, web};
use anyhow::Context;
use pos_shared::auth::{Authenticated, Cashier};
use pos_shared::catalogue::{CustomerPatch, NewCustomer};
use pos_shared::domain::{CustomerName, Phone, PhonePrefix};
use pos_shared::error::{ApiError, ErrorBody};
use pos_shared::extract::{Body, Id, Query};
use pos_shared::page::{Page, PageQuery};
use serde::Deserialize;

use super::orders::sale_error;
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
        (status = 404, description = "No such customer in this city, or the id is not a number, or (the message says so, naming the customer kept) a customer head office merged into another who had the number first (`not_found`)", body = ErrorBody),
        pos_shared::openapi::ServerErrors,
    ),
)]
pub async fn get(
    _: Authenticated,
    state: web::Data<AppState>,
    id: Id,
) -> Result<HttpResponse, ApiError> {
    let client = state.pool.get().await.context("getting a connection")?;
    let Some(customer) = db::customers::get(&client, state.config.city_id, *id).await? else {
        return Err(ApiError::not_found(
            match db::customers::merged_into(&client, state.config.city_id, *id).await? {
                Some(kept) => format!(
                    "customer {id} was merged into customer {kept}, who had the number first (head office keeps one customer per number)"
                ),
                None => format!("no customer {id} in this city"),
            },
        ));
    };
    Ok(HttpResponse::Ok().json(customer))
}

/// Signs a customer of this city up at the till (the same body as head office's), also while central is
/// down: the customer is written here at once under an id of this node's own block, and goes up to head
/// office, which keeps one live customer per number (README: "Customers signed up at the till").
#[utoipa::path(
    post,
    path = "/customers",
    operation_id = "sign_up_customer",
    tag = "catalogue",
    security(("bearer" = [])),
    request_body = NewCustomer,
    responses(
        (status = 201, description = "The customer", body = Customer),
        pos_shared::openapi::BadJson,
        pos_shared::openapi::Unauthorized,
        (status = 403, description = "Not a cashier's token (`forbidden`)", body = ErrorBody),
        (status = 409, description = "The number is a customer's of this city already (`conflict`, with their `customer_id` in `details`)", body = ErrorBody),
        (status = 422, description = "JSON of the wrong shape, an invalid field, or a city other than this node's (`validation_failed`)", body = ErrorBody),
        pos_shared::openapi::ServerErrors,
    ),
)]
#[tracing::instrument(skip_all, fields(store_id = cashier.store_id))]
pub async fn sign_up(
    cashier: Cashier,
    state: web::Data<AppState>,
    Body(customer): Body<NewCustomer>,
) -> Result<HttpResponse, ApiError> {
    let client = state.pool.get().await.context("getting a connection")?;
    let id = db::customers::sign_up(&client, cashier.store_id, &customer)
        .await
        .map_err(sale_error)?;
    let customer = db::customers::get(&client, state.config.city_id, id)
        .await?
        .context("the customer just signed up")?;
    Ok(HttpResponse::Created().json(customer))
}

/// Changes a customer's name, number or email at the till (`null` clears the number or the email). Head
/// office resolves it with its own edits field by field: the later edit of each field wins.
#[utoipa::path(
    patch,
    path = "/customers/{id}",
    operation_id = "edit_customer",
    tag = "catalogue",
    security(("bearer" = [])),
    params(("id" = i32, Path, description = "The customer's id")),
    request_body = CustomerPatch,
    responses(
        (status = 200, description = "The customer as they are now at this node", body = Customer),
        pos_shared::openapi::BadJson,
        pos_shared::openapi::Unauthorized,
        (status = 403, description = "Not a cashier's token (`forbidden`)", body = ErrorBody),
        (status = 404, description = "No such customer in this city, or the id is not a number (`not_found`)", body = ErrorBody),
        (status = 409, description = "The number is another customer's of this city (`conflict`, with their `customer_id` in `details`)", body = ErrorBody),
        (status = 422, description = "JSON of the wrong shape, an invalid field, or a city (a customer moves city at head office) (`validation_failed`)", body = ErrorBody),
        pos_shared::openapi::ServerErrors,
    ),
)]
#[tracing::instrument(skip_all, fields(store_id = cashier.store_id))]
pub async fn edit(
    cashier: Cashier,
    state: web::Data<AppState>,
    id: Id,
    Body(patch): Body<CustomerPatch>,
) -> Result<HttpResponse, ApiError> {
    if patch.city_id.is_some() {
        return Err(ApiError::validation(
            "city_id",
            "a customer moves to another city at head office",
        ));
    }
    let mut fields = serde_json::Map::new();
    if let Some(name) = &patch.name {
        fields.insert("name".into(), name.as_str().into());
    }
    if let Some(phone) = &patch.phone {
        fields.insert("phone".into(), phone.as_ref().map(|p| p.as_str()).into());
    }
    if let Some(email) = &patch.email {
        fields.insert("email".into(), email.as_ref().map(|e| e.as_str()).into());
    }
    let client = state.pool.get().await.context("getting a connection")?;
    let found = db::customers::edit(&client, cashier.store_id, *id, &fields.into())
        .await
        .map_err(sale_error)?;
    if !found {
        return Err(ApiError::not_found(format!(
            "no customer {id} in this city"
        )));
    }
    let customer = db::customers::get(&client, state.config.city_id, *id)
        .await?
        .context("the customer just edited")?;
    Ok(HttpResponse::Ok().json(customer))
}

pos_shared::routes! {
    schemas(crate::db::customers::Customer, NewCustomer, CustomerPatch),
    "/customers" => { GET => list, POST => sign_up },
    "/customers/{id}" => { GET => get, PATCH => edit },
}
