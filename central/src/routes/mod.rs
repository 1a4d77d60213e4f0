//! Central's HTTP routes. Each module registers its own paths and documents them (`pos_shared::routes!`);
//! this one puts them together.

use actix_web::HttpResponse;
use actix_web::http::StatusCode;
use anyhow::Context;
use pos_shared::error::ApiError;
use pos_shared::idempotency::{IdempotencyKey, REPLAYED_HEADER};
use serde::Serialize;

use crate::auth::Actor;
use crate::state::AppState;

pub mod accounts;
pub mod categories;
pub mod cities;
pub mod customers;
pub mod dashboard;
pub mod nodes;
pub mod orders;
pub mod products;
pub mod promotions;
pub mod replication;
pub mod reports;
pub mod stores;
pub mod tokens;
pub mod transfers;

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

/// How a create can be refused besides a malformed body (documentation only, never built).
#[derive(utoipa::IntoResponses)]
pub enum CreateRefusals {
    #[response(
        status = 409,
        description = "A unique field is taken (`conflict`), or the Idempotency-Key was used for another request (`idempotency_mismatch`)"
    )]
    Conflict(pos_shared::error::ErrorBody),
    #[response(
        status = 422,
        description = "JSON of the wrong shape, an invalid field or Idempotency-Key, or a reference to a row that does not exist (`validation_failed`)"
    )]
    Invalid(pos_shared::error::ErrorBody),
}

pub async fn client(state: &AppState) -> Result<deadpool_postgres::Object, ApiError> {
    Ok(state.pool.get().await.context("getting a connection")?)
}

/// Runs `write` in a transaction of its own that names `actor` to the audit trail's triggers.
pub async fn written<T>(
    state: &AppState,
    actor: &Actor,
    write: impl AsyncFnOnce(&deadpool_postgres::Transaction<'_>) -> Result<T, ApiError>,
) -> Result<T, ApiError> {
    let mut db = client(state).await?;
    let tx = db.transaction().await.context("beginning a transaction")?;
    crate::db::accounts::set_actor(&tx, &actor.name).await?;
    let value = write(&tx).await?;
    tx.commit().await.context("committing a write")?;
    Ok(value)
}

/// Makes a master-data row with `create` (see [`written`]) and answers 201 with it. Under an
/// `Idempotency-Key` the key is claimed in that transaction first: a retry with the same request gets
/// the first answer again (marked `Idempotent-Replayed`), another request under the key 409, and
/// concurrent retries wait for the first to end. A refused create keeps nothing, so its key stays free.
pub async fn created_once<T: Serialize>(
    state: &AppState,
    actor: &Actor,
    key: Option<&IdempotencyKey>,
    create: impl AsyncFnOnce(&deadpool_postgres::Transaction<'_>) -> Result<T, ApiError>,
) -> Reply {
    written(state, actor, async |tx| {
        if let Some(key) = key
            && let Some(first) =
                crate::db::idempotency::claim(tx, &key.key, &key.fingerprint).await?
        {
            if first.fingerprint != key.fingerprint {
                return Err(ApiError::Conflict {
                    code: "idempotency_mismatch",
                    message: "this Idempotency-Key was used for a different request".into(),
                    details: None,
                });
            }
            let status = u16::try_from(first.status)
                .ok()
                .and_then(|s| StatusCode::from_u16(s).ok())
                .context("an idempotency key's status")?;
            return Ok(HttpResponse::build(status)
                .insert_header((REPLAYED_HEADER, "true"))
                .json(first.response));
        }
        let made = serde_json::to_value(create(tx).await?).context("encoding the answer")?;
        if let Some(key) = key {
            crate::db::idempotency::record(tx, &key.key, 201, &made).await?;
        }
        Ok(HttpResponse::Created().json(made))
    })
    .await
}

pos_shared::route_modules![
    accounts,
    cities,
    nodes,
    categories,
    products,
    promotions,
    stores,
    tokens,
    customers,
    replication,
    orders,
    transfers,
    reports,
    dashboard,
];
