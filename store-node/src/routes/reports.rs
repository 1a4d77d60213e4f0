use actix_web::{HttpResponse, web};
use anyhow::Context;
use chrono::NaiveDate;
use pos_shared::auth::{Authenticated, Principal};
use pos_shared::error::ApiError;
use serde::Deserialize;

use crate::db;
use crate::startup::AppState;

#[derive(Debug, Deserialize)]
pub struct DailyQuery {
    pub date: Option<String>,
    pub store_id: Option<i32>,
}

/// The store to report on: a cashier's own (403 for another), or the one head office names.
pub fn store_of(principal: Principal, asked: Option<i32>) -> Result<i32, ApiError> {
    match (principal, asked) {
        (Principal::Cashier { store_id }, None) => Ok(store_id),
        (Principal::Cashier { store_id }, Some(asked)) if asked == store_id => Ok(store_id),
        (Principal::Cashier { .. }, Some(_)) => Err(ApiError::Forbidden(
            "a cashier sees only their own store".into(),
        )),
        (Principal::Admin, Some(asked)) => Ok(asked),
        (Principal::Admin, None) => Err(ApiError::validation(
            "store_id",
            "is required for head office",
        )),
    }
}

/// End of day: sales, gross, refunds, net, by payment method (`?date=YYYY-MM-DD`, default today).
pub async fn daily(
    Authenticated(principal): Authenticated,
    state: web::Data<AppState>,
    query: web::Query<DailyQuery>,
) -> Result<HttpResponse, ApiError> {
    let store_id = store_of(principal, query.store_id)?;
    let client = state.pool.get().await.context("getting a connection")?;
    // Business days are the node's (its database's time zone), not this process's clock.
    let date = match query.date.as_deref() {
        None => db::reports::today(&client).await?,
        Some(text) => NaiveDate::parse_from_str(text, "%Y-%m-%d")
            .map_err(|_| ApiError::validation("date", "must be a date as YYYY-MM-DD"))?,
    };
    Ok(HttpResponse::Ok().json(db::reports::daily(&client, store_id, date).await?))
}

/// How far the node's reports to central are behind.
pub async fn sync_status(
    _: Authenticated,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let client = state.pool.get().await.context("getting a connection")?;
    let mut status =
        serde_json::to_value(db::reports::sync_status(&client).await?).context("serialising")?;
    status["central_link_configured"] = state.config.central_database_url.is_some().into();
    Ok(HttpResponse::Ok().json(status))
}

/// `GET /metrics`: request figures plus the outbox backlog, read now.
pub async fn metrics(
    state: web::Data<AppState>,
    metrics: web::Data<pos_shared::metrics::Metrics>,
) -> HttpResponse {
    let backlog = async {
        let client = state.pool.get().await.context("getting a connection")?;
        db::reports::sync_status(&client).await
    };
    match backlog.await {
        Ok(status) => {
            for (name, value) in [("Pending", status.pending), ("Failed", status.failed)] {
                metrics
                    .backlog
                    .with_label_values(&["outbox", "central", name])
                    .set(value as f64);
            }
        }
        Err(e) => tracing::warn!(error = %format!("{e:#}"), "metrics: reading the outbox backlog"),
    }
    metrics.render()
}
