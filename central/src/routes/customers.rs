//! Customers (admin only): replicated to their city's node.

use actix_web::{HttpResponse, web};
use pos_shared::auth::Admin;
use pos_shared::error::{ApiError, ErrorBody};
use pos_shared::validate;
use serde::{Deserialize, Deserializer};

use super::{Reply, client};
use crate::db::master::Customer;
use crate::db::{master, write_error};
use crate::state::AppState;

/// Distinguishes an absent field (`None`) from an explicit `null` (`Some(None)`) in PATCH bodies.
fn nullable<'de, D, T>(deserializer: D) -> Result<Option<Option<T>>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(deserializer).map(Some)
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewCustomer {
    pub name: String,
    pub phone: Option<String>,
    pub email: Option<String>,
    pub city_id: i32,
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CustomerPatch {
    pub name: Option<String>,
    #[serde(default, deserialize_with = "nullable")]
    pub phone: Option<Option<String>>,
    #[serde(default, deserialize_with = "nullable")]
    pub email: Option<Option<String>>,
    pub city_id: Option<i32>,
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct CustomerQuery {
    /// The exact phone number.
    pub phone: Option<String>,
    /// Only this city's customers.
    pub city_id: Option<i32>,
}

/// Customers, optionally by exact phone number or by city.
#[utoipa::path(
    get,
    path = "/customers",
    tag = "master data",
    security(("bearer" = [])),
    params(CustomerQuery),
    responses(
        (status = 200, description = "Matching customers by id", body = Vec<Customer>),
        (status = 401, description = "Missing or unknown bearer token (`unauthorized`)", body = ErrorBody),
        (status = 403, description = "Not the admin token (`forbidden`)", body = ErrorBody),
        (status = 422, description = "Malformed query (`validation_failed`)", body = ErrorBody),
        (status = 500, description = "Unexpected failure; the cause is in the log (`internal`)", body = ErrorBody),
        (status = 503, description = "The database is unavailable (`unavailable`)", body = ErrorBody),
    ),
)]
pub async fn list_customers(
    _: Admin,
    state: web::Data<AppState>,
    query: web::Query<CustomerQuery>,
) -> Reply {
    let customers = master::list_customers(
        &client(&state).await?,
        query.phone.as_deref(),
        query.city_id,
    )
    .await?;
    Ok(HttpResponse::Ok().json(customers))
}

/// One customer.
#[utoipa::path(
    get,
    path = "/customers/{id}",
    tag = "master data",
    security(("bearer" = [])),
    params(("id" = i32, Path, description = "The customer's id")),
    responses(
        (status = 200, description = "The customer", body = Customer),
        (status = 401, description = "Missing or unknown bearer token (`unauthorized`)", body = ErrorBody),
        (status = 403, description = "Not the admin token (`forbidden`)", body = ErrorBody),
        (status = 404, description = "No such customer, or the id is not a number (`not_found`)", body = ErrorBody),
        (status = 500, description = "Unexpected failure; the cause is in the log (`internal`)", body = ErrorBody),
        (status = 503, description = "The database is unavailable (`unavailable`)", body = ErrorBody),
    ),
)]
pub async fn get_customer(_: Admin, state: web::Data<AppState>, id: web::Path<i32>) -> Reply {
    let customer = master::get_customer(&client(&state).await?, *id)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("no customer {id}")))?;
    Ok(HttpResponse::Ok().json(customer))
}

/// A new customer (replicated to their city's node).
#[utoipa::path(
    post,
    path = "/customers",
    tag = "master data",
    security(("bearer" = [])),
    request_body = NewCustomer,
    responses(
        (status = 201, description = "The customer created", body = Customer),
        (status = 400, description = "Malformed JSON, not `application/json`, or too large (`bad_request`)", body = ErrorBody),
        (status = 401, description = "Missing or unknown bearer token (`unauthorized`)", body = ErrorBody),
        (status = 403, description = "Not the admin token (`forbidden`)", body = ErrorBody),
        (status = 409, description = "A unique field is taken (`conflict`)", body = ErrorBody),
        (status = 422, description = "JSON of the wrong shape, an invalid field, or a reference to a row that does not exist (`validation_failed`)", body = ErrorBody),
        (status = 500, description = "Unexpected failure; the cause is in the log (`internal`)", body = ErrorBody),
        (status = 503, description = "The database is unavailable (`unavailable`)", body = ErrorBody),
    ),
)]
#[tracing::instrument(skip_all, err)]
pub async fn create_customer(
    _: Admin,
    state: web::Data<AppState>,
    body: web::Json<NewCustomer>,
) -> Reply {
    let name = validate::text("name", &body.name, 200)?;
    let phone = validate::phone("phone", body.phone.as_deref())?;
    let email = validate::email("email", body.email.as_deref())?;
    let city_id = validate::positive_id("city_id", body.city_id)?;
    let customer = master::create_customer(
        &client(&state).await?,
        &name,
        phone.as_deref(),
        email.as_deref(),
        city_id,
    )
    .await
    .map_err(write_error)?;
    Ok(HttpResponse::Created().json(customer))
}

/// Changes the fields given; `null` clears phone or email (replicated to the nodes concerned).
#[utoipa::path(
    patch,
    path = "/customers/{id}",
    tag = "master data",
    security(("bearer" = [])),
    params(("id" = i32, Path, description = "The customer's id")),
    request_body = CustomerPatch,
    responses(
        (status = 200, description = "The customer as they are now", body = Customer),
        (status = 400, description = "Malformed JSON, not `application/json`, or too large (`bad_request`)", body = ErrorBody),
        (status = 401, description = "Missing or unknown bearer token (`unauthorized`)", body = ErrorBody),
        (status = 403, description = "Not the admin token (`forbidden`)", body = ErrorBody),
        (status = 404, description = "No such customer, or the id is not a number (`not_found`)", body = ErrorBody),
        (status = 409, description = "A unique field is taken (`conflict`)", body = ErrorBody),
        (status = 422, description = "JSON of the wrong shape, an invalid field, or a reference to a row that does not exist (`validation_failed`)", body = ErrorBody),
        (status = 500, description = "Unexpected failure; the cause is in the log (`internal`)", body = ErrorBody),
        (status = 503, description = "The database is unavailable (`unavailable`)", body = ErrorBody),
    ),
)]
#[tracing::instrument(skip_all, err)]
pub async fn update_customer(
    _: Admin,
    state: web::Data<AppState>,
    id: web::Path<i32>,
    body: web::Json<CustomerPatch>,
) -> Reply {
    let name = body
        .name
        .as_deref()
        .map(|n| validate::text("name", n, 200))
        .transpose()?;
    let phone = body
        .phone
        .as_ref()
        .map(|p| validate::phone("phone", p.as_deref()))
        .transpose()?;
    let email = body
        .email
        .as_ref()
        .map(|e| validate::email("email", e.as_deref()))
        .transpose()?;
    let city_id = body
        .city_id
        .map(|c| validate::positive_id("city_id", c))
        .transpose()?;
    let customer = master::update_customer(
        &client(&state).await?,
        *id,
        name.as_deref(),
        phone.as_ref().map(Option::as_deref),
        email.as_ref().map(Option::as_deref),
        city_id,
    )
    .await
    .map_err(write_error)?
    .ok_or_else(|| ApiError::not_found(format!("no customer {id}")))?;
    Ok(HttpResponse::Ok().json(customer))
}

/// Deletes a customer (marks them deleted; replicated to their city's node).
#[utoipa::path(
    delete,
    path = "/customers/{id}",
    tag = "master data",
    security(("bearer" = [])),
    params(("id" = i32, Path, description = "The customer's id")),
    responses(
        (status = 204, description = "Deleted"),
        (status = 401, description = "Missing or unknown bearer token (`unauthorized`)", body = ErrorBody),
        (status = 403, description = "Not the admin token (`forbidden`)", body = ErrorBody),
        (status = 404, description = "No such customer, or the id is not a number (`not_found`)", body = ErrorBody),
        (status = 500, description = "Unexpected failure; the cause is in the log (`internal`)", body = ErrorBody),
        (status = 503, description = "The database is unavailable (`unavailable`)", body = ErrorBody),
    ),
)]
#[tracing::instrument(skip_all, err)]
pub async fn delete_customer(_: Admin, state: web::Data<AppState>, id: web::Path<i32>) -> Reply {
    if !master::delete_customer(&client(&state).await?, *id).await? {
        return Err(ApiError::not_found(format!("no customer {id}")));
    }
    Ok(HttpResponse::NoContent().finish())
}

pos_shared::routes! {
    schemas(NewCustomer, CustomerPatch, Customer),
    "/customers" => { GET => list_customers, POST => create_customer },
    "/customers/{id}" => {
        GET => get_customer,
        PATCH => update_customer,
        DELETE => delete_customer,
    },
}
