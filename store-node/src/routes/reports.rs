use actix_web::{HttpResponse, web};
use anyhow::Context;
use pos_shared::auth::{Authenticated, Principal};
use pos_shared::domain::{Day, StoreId};
use pos_shared::error::{ApiError, ErrorBody};
use pos_shared::extract::Query;
use serde::Deserialize;

use crate::db;
use crate::db::reports::DailyReport;
use crate::state::AppState;

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct DailyQuery {
    /// The business day, `YYYY-MM-DD` (the store's today, in its city's time zone, by default).
    #[param(inline)]
    pub date: Option<Day>,
    /// The store: a cashier's own by default; required for head office.
    #[param(inline)]
    pub store_id: Option<StoreId>,
}

/// The store to report on: a cashier's own (403 for another), or the one head office names.
pub fn store_of(principal: Principal, asked: Option<i32>) -> Result<i32, ApiError> {
    match (principal, asked) {
        (Principal::Cashier { store_id, .. }, None) => Ok(store_id),
        (Principal::Cashier { store_id, .. }, Some(asked)) if asked == store_id => Ok(store_id),
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
#[utoipa::path(
    get,
    path = "/reports/daily",
    operation_id = "daily_report",
    tag = "reports",
    security(("bearer" = [])),
    params(DailyQuery),
    responses(
        (status = 200, description = "The store's day: sales, gross, refunds, net, by payment method", body = DailyReport),
        pos_shared::openapi::Unauthorized,
        (status = 403, description = "A cashier asking about another store (`forbidden`)", body = ErrorBody),
        (status = 422, description = "Malformed query, a bad date, or head office without `store_id` (`validation_failed`)", body = ErrorBody),
        pos_shared::openapi::ServerErrors,
    ),
)]
pub async fn daily(
    Authenticated(principal): Authenticated,
    state: web::Data<AppState>,
    query: Query<DailyQuery>,
) -> Result<HttpResponse, ApiError> {
    let store_id = store_of(principal, query.store_id.map(StoreId::get))?;
    let client = state.pool.get().await.context("getting a connection")?;
    // Business days are the store's (its city's time zone), not this process's or the database's clock.
    let date = match query.date {
        None => db::reports::today(&client, store_id).await?,
        Some(day) => day.get(),
    };
    Ok(HttpResponse::Ok().json(db::reports::daily(&client, store_id, date).await?))
}

// What `sync_status` answers (it adds a field to `OutboxBacklog` as JSON): for the OpenAPI document
// only; the integration tests check it against a real answer.
/// The outbox backlog, whether this node has a link to central's database configured, and whether the
/// outbox's last batch or probe reached central.
#[derive(utoipa::ToSchema)]
pub struct SyncStatusView {
    #[serde(flatten)]
    pub status: pos_shared::outbox::OutboxBacklog,
    pub central_link_configured: bool,
    /// False while the outbox finds central out of reach (or hung) and probes for its return; false
    /// too without a configured link.
    pub central_reachable: bool,
}

/// How far the node's reports to central are behind.
#[utoipa::path(
    get,
    path = "/sync/status",
    operation_id = "sync_status",
    tag = "reports",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The outbox backlog, whether a link to central is configured, and whether central is reachable", body = SyncStatusView),
        pos_shared::openapi::Unauthorized,
        pos_shared::openapi::ServerErrors,
    ),
)]
pub async fn sync_status(
    _: Authenticated,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let client = state.pool.get().await.context("getting a connection")?;
    let mut status =
        serde_json::to_value(pos_shared::outbox::backlog(&client).await?).context("serialising")?;
    let configured = state.config.central_database_url.is_some();
    status["central_link_configured"] = configured.into();
    status["central_reachable"] = (configured && state.outbox.target_reachable()).into();
    Ok(HttpResponse::Ok().json(status))
}

/// What the node's `GET /metrics` reads when scraped: the outbox backlog towards central.
pub fn metrics_scrape(pool: deadpool_postgres::Pool) -> pos_shared::metrics::ScrapeHook {
    pos_shared::metrics::ScrapeHook(std::sync::Arc::new(move |metrics| {
        let pool = pool.clone();
        Box::pin(async move {
            let read = async {
                let client = pool.get().await.context("getting a connection")?;
                pos_shared::outbox::backlog(&client).await
            };
            match read.await {
                Ok(b) => metrics.set_backlog("outbox", "central", b.pending, b.failed, b.dead),
                Err(e) => {
                    tracing::warn!(error = %format!("{e:#}"), "metrics: reading the outbox backlog")
                }
            }
        })
    }))
}

pos_shared::routes! {
    schemas(
        crate::db::reports::DailyReport,
        crate::db::reports::MethodTotals,
        crate::db::reports::AdjustmentTotals,
        pos_shared::outbox::OutboxBacklog,
        SyncStatusView,
    ),
    "/reports/daily" => { GET => daily },
    "/sync/status" => { GET => sync_status },
}
