//! Customers (admin only): replicated to their city's node.

use crate::auth::ManagerAccess;
use actix_web::{HttpResponse, web};
use pos_shared::domain::{CityId, CustomerName, Email, Phone};
use pos_shared::error::{ApiError, ErrorBody};
use pos_shared::extract::{Body, Id, Query};
use pos_shared::idempotency::{IdempotencyKeyHeader, Idempotent};
use pos_shared::page::{Page, PageQuery};
use serde::Deserialize;

use super::{Reply, client, created_once, written};
use crate::db::master::Customer;
use crate::db::{master, write_error};
use crate::state::AppState;
use pos_shared::catalogue::{CustomerPatch, NewCustomer};

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct CustomerQuery {
    /// The exact phone number.
    #[param(inline)]
    pub phone: Option<Phone>,
    /// Only this city's customers.
    #[param(inline)]
    pub city_id: Option<CityId>,
}

/// Customers, optionally by exact phone number or by city.
#[utoipa::path(
    get,
    path = "/customers",
    tag = "master data",
    security(("bearer" = [])),
    params(CustomerQuery, PageQuery),
    responses(
        (status = 200, description = "Matching customers by id, a page", body = Page<Customer>),
        pos_shared::openapi::Unauthorized,
        pos_shared::openapi::NotAdmin,
        pos_shared::openapi::BadPage,
        pos_shared::openapi::ServerErrors,
    ),
)]
pub async fn list_customers(
    _: ManagerAccess,
    state: web::Data<AppState>,
    query: Query<CustomerQuery>,
    page: Query<PageQuery>,
) -> Reply {
    let page = page.request()?;
    let customers = master::list_customers(
        &client(&state).await?,
        query.phone.as_ref().map(Phone::as_str),
        query.city_id.map(CityId::get),
        page,
    )
    .await?;
    Ok(HttpResponse::Ok().json(page.page(customers, |c| i64::from(c.id))))
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
        pos_shared::openapi::Unauthorized,
        pos_shared::openapi::NotAdmin,
        (status = 404, description = "No such customer, or the id is not a number (`not_found`)", body = ErrorBody),
        pos_shared::openapi::ServerErrors,
    ),
)]
pub async fn get_customer(_: ManagerAccess, state: web::Data<AppState>, id: Id) -> Reply {
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
    params(IdempotencyKeyHeader),
    request_body = NewCustomer,
    responses(
        (status = 201, description = "The customer created", body = Customer),
        pos_shared::openapi::BadJson,
        pos_shared::openapi::Unauthorized,
        pos_shared::openapi::NotAdmin,
        super::CreateRefusals,
        pos_shared::openapi::ServerErrors,
    ),
)]
#[tracing::instrument(skip_all)]
pub async fn create_customer(
    ManagerAccess(actor): ManagerAccess,
    state: web::Data<AppState>,
    request: Idempotent<NewCustomer>,
) -> Reply {
    let customer = request.body;
    created_once(&state, &actor, request.key.as_ref(), async |tx| {
        master::create_customer(
            tx,
            customer.name.as_str(),
            customer.phone.as_ref().map(Phone::as_str),
            customer.email.as_ref().map(Email::as_str),
            customer.city_id.get(),
        )
        .await
        .map_err(write_error)
    })
    .await
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
        pos_shared::openapi::BadJson,
        pos_shared::openapi::Unauthorized,
        pos_shared::openapi::NotAdmin,
        (status = 404, description = "No such customer, or the id is not a number (`not_found`)", body = ErrorBody),
        super::WriteRefusals,
        pos_shared::openapi::ServerErrors,
    ),
)]
#[tracing::instrument(skip_all)]
pub async fn update_customer(
    ManagerAccess(actor): ManagerAccess,
    state: web::Data<AppState>,
    id: Id,
    Body(patch): Body<CustomerPatch>,
) -> Reply {
    let customer = written(&state, &actor, async |tx| {
        master::update_customer(
            tx,
            *id,
            patch.name.as_ref().map(CustomerName::as_str),
            patch.phone.as_ref().map(|p| p.as_ref().map(Phone::as_str)),
            patch.email.as_ref().map(|e| e.as_ref().map(Email::as_str)),
            patch.city_id.map(CityId::get),
        )
        .await
        .map_err(write_error)
    })
    .await?
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
        pos_shared::openapi::Unauthorized,
        pos_shared::openapi::NotAdmin,
        (status = 404, description = "No such customer, or the id is not a number (`not_found`)", body = ErrorBody),
        pos_shared::openapi::ServerErrors,
    ),
)]
#[tracing::instrument(skip_all)]
pub async fn delete_customer(
    ManagerAccess(actor): ManagerAccess,
    state: web::Data<AppState>,
    id: Id,
) -> Reply {
    let deleted = written(&state, &actor, async |tx| {
        Ok(master::delete_customer(tx, *id).await?)
    })
    .await?;
    if !deleted {
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
