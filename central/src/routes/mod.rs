//! Central's HTTP routes. Each module registers its own paths and documents them (`pos_shared::routes!`);
//! this one puts them together.

use actix_web::HttpResponse;
use anyhow::Context;
use pos_shared::error::ApiError;

use crate::state::AppState;

pub mod categories;
pub mod cities;
pub mod customers;
pub mod dashboard;
pub mod nodes;
pub mod orders;
pub mod products;
pub mod replication;
pub mod reports;
pub mod stores;
pub mod tokens;

pub type Reply = Result<HttpResponse, ApiError>;

/// How a master-data write can be refused besides a malformed body (documentation only, never built):
/// a unique field taken, or an invalid field or reference.
#[derive(utoipa::IntoResponses)]
pub enum WriteRefusals {
    #[response(status = 409, description = "A unique field is taken (`conflict`)")]
    Conflict(pos_shared::error::ErrorBody),
    #[response(
        status = 422,
        description = "JSON of the wrong shape, an invalid field, or a reference to a row that does not exist (`validation_failed`)"
    )]
    Invalid(pos_shared::error::ErrorBody),
}

pub async fn client(state: &AppState) -> Result<deadpool_postgres::Object, ApiError> {
    Ok(state.pool.get().await.context("getting a connection")?)
}

pos_shared::route_modules![
    cities,
    nodes,
    categories,
    products,
    stores,
    tokens,
    customers,
    replication,
    orders,
    reports,
    dashboard,
];
