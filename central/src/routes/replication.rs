//! Replication operations (admin only): status, the log, retries and re-queues, and what `/metrics` reads
//! of the replication backlog.

use crate::auth::AdminAccess;
use actix_web::{HttpResponse, web};
use std::time::Duration;

use anyhow::Context;
use pos_shared::domain::{CityId, LogEntryId};
use pos_shared::error::{ApiError, ErrorBody};
use pos_shared::extract::{Body, Query};
use pos_shared::page::{Page, PageQuery};
use serde::{Deserialize, Serialize};

use super::{Reply, client};
use crate::db::replication::{self as repl, LogEntry};
use crate::state::AppState;

#[derive(Serialize, utoipa::ToSchema)]
pub struct NodeStatus {
    #[serde(flatten)]
    pub backlog: repl::NodeBacklog,
    pub reachable: bool,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct ReplicationStatus {
    pub nodes: Vec<NodeStatus>,
}

/// Per node: backlog counts, oldest pending age, last success, and a live reachability probe (all nodes
/// probed in parallel, each on its own connection, so one hung node does not hold up the answer).
pub async fn replication_status(
    state: &AppState,
    probe_deadline: Option<Duration>,
) -> Result<ReplicationStatus, ApiError> {
    let backlog = repl::backlog(&client(state).await?).await?;
    let probes = backlog.iter().map(|node| {
        let pool = state.pool.clone();
        let city_id = node.city_id;
        // Its own task: a probe past the deadline finishes on its own and gives its connection back
        // idle, instead of being dropped in the middle of its call.
        let probe = tokio::spawn(async move {
            let Ok(db) = pool.get().await else {
                return false;
            };
            // Bounded in SQL: connect_timeout, then a deadline per call (probe_node()).
            crate::db::nodes::probe_node(&db, city_id)
                .await
                .unwrap_or(false)
        });
        async move {
            match probe_deadline {
                Some(deadline) => {
                    matches!(tokio::time::timeout(deadline, probe).await, Ok(Ok(true)))
                }
                None => probe.await.unwrap_or(false),
            }
        }
    });
    let reachable = futures_util::future::join_all(probes).await;
    Ok(ReplicationStatus {
        nodes: backlog
            .into_iter()
            .zip(reachable)
            .map(|(backlog, reachable)| NodeStatus { backlog, reachable })
            .collect(),
    })
}

/// Per node: pending, failed and dead entries, oldest pending age, last success, and whether it answers now.
#[utoipa::path(
    get,
    path = "/replication/status",
    operation_id = "replication_status",
    tag = "replication",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Backlog and reachability per node", body = ReplicationStatus),
        pos_shared::openapi::Unauthorized,
        pos_shared::openapi::NotAdmin,
        pos_shared::openapi::ServerErrors,
    ),
)]
pub async fn status(_: AdminAccess, state: web::Data<AppState>) -> Reply {
    Ok(HttpResponse::Ok().json(replication_status(&state, None).await?))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct LogQuery {
    /// `Pending`, `Success`, `Failed` or `Dead`.
    #[param(pattern = "^(Pending|Success|Failed|Dead)$")]
    pub status: Option<String>,
    /// Only entries for this city's node.
    pub city_id: Option<CityId>,
}

/// Replication log entries, newest first.
#[utoipa::path(
    get,
    path = "/replication/log",
    operation_id = "replication_log",
    tag = "replication",
    security(("bearer" = [])),
    params(LogQuery, PageQuery),
    responses(
        (status = 200, description = "Log entries, newest first, a page (`next` is older)", body = Page<LogEntry>),
        pos_shared::openapi::Unauthorized,
        pos_shared::openapi::NotAdmin,
        pos_shared::openapi::BadPage,
        pos_shared::openapi::ServerErrors,
    ),
)]
pub async fn log(
    _: AdminAccess,
    state: web::Data<AppState>,
    query: Query<LogQuery>,
    page: Query<PageQuery>,
) -> Reply {
    let status = query.status.as_deref();
    if let Some(s) = status
        && !["Pending", "Success", "Failed", "Dead"].contains(&s)
    {
        return Err(ApiError::validation(
            "status",
            "must be Pending, Success, Failed or Dead",
        ));
    }
    let page = page.request()?;
    let entries = repl::log_entries(
        &client(&state).await?,
        status,
        query.city_id.map(CityId::get),
        page,
    )
    .await?;
    Ok(HttpResponse::Ok().json(page.page(entries, |e| e.id)))
}

#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RetryRequest {
    /// Also put `Dead` entries back in the queue (of one node, or all when absent).
    #[serde(default)]
    pub requeue_dead: bool,
    pub city_id: Option<CityId>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct RetryResult {
    pub requeued: i32,
    pub delivered: i32,
}

/// Runs `retry_failed_replications()` now (optionally after re-queueing dead entries).
#[utoipa::path(
    post,
    path = "/replication/retry",
    operation_id = "replication_retry",
    tag = "replication",
    security(("bearer" = [])),
    request_body(content = Option<RetryRequest>, description = "Optional; an empty body re-queues nothing"),
    responses(
        (status = 200, description = "How many entries were re-queued and delivered", body = RetryResult),
        (status = 400, description = "Malformed JSON (`bad_request`)", body = ErrorBody),
        (status = 422, description = "JSON of the wrong shape (`validation_failed`)", body = ErrorBody),
        pos_shared::openapi::Unauthorized,
        pos_shared::openapi::NotAdmin,
        pos_shared::openapi::ServerErrors,
    ),
)]
#[tracing::instrument(skip_all)]
pub async fn retry(_: AdminAccess, state: web::Data<AppState>, body: web::Bytes) -> Reply {
    // The body is optional, but one that is there must be right: a typo must not silently re-queue nothing.
    let request: RetryRequest = if body.iter().all(u8::is_ascii_whitespace) {
        RetryRequest::default()
    } else {
        // `null` is the empty request too.
        pos_shared::extract::parse::<Option<RetryRequest>>(&body)?.unwrap_or_default()
    };
    let db = client(&state).await?;
    let requeued = if request.requeue_dead {
        repl::requeue_dead(&db, request.city_id.map(CityId::get), None).await?
    } else {
        0
    };
    let delivered = repl::retry_failed(&db).await?;
    Ok(HttpResponse::Ok().json(RetryResult {
        requeued,
        delivered,
    }))
}

#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RequeueRequest {
    /// Only this node's entries.
    pub city_id: Option<CityId>,
    /// Only these entries (ids from `GET /replication/log?status=Dead`).
    #[schema(max_items = 10000)]
    pub ids: Option<Vec<LogEntryId>>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct RequeueResult {
    pub requeued: i32,
}

/// Puts `Dead` entries (rows a node refused) back in the queue: all of them, one node's, or the ones
/// named. Their node's worker ships them at once.
#[utoipa::path(
    post,
    path = "/replication/requeue",
    operation_id = "replication_requeue",
    tag = "replication",
    security(("bearer" = [])),
    request_body = RequeueRequest,
    responses(
        (status = 200, description = "How many entries were re-queued", body = RequeueResult),
        (status = 400, description = "Malformed JSON (`bad_request`)", body = ErrorBody),
        (status = 422, description = "JSON of the wrong shape (`validation_failed`)", body = ErrorBody),
        pos_shared::openapi::Unauthorized,
        pos_shared::openapi::NotAdmin,
        pos_shared::openapi::ServerErrors,
    ),
)]
#[tracing::instrument(skip_all)]
pub async fn requeue(
    _: AdminAccess,
    state: web::Data<AppState>,
    Body(request): Body<RequeueRequest>,
) -> Reply {
    let city_id = request.city_id.map(CityId::get);
    let ids: Option<Vec<i64>> = request
        .ids
        .map(|ids| ids.into_iter().map(LogEntryId::get).collect());
    if ids.as_ref().is_some_and(|ids| ids.len() > 10_000) {
        return Err(ApiError::validation("ids", "at most 10000 ids at once"));
    }
    let requeued = repl::requeue_dead(&client(&state).await?, city_id, ids.as_deref()).await?;
    state.replicator.wake(city_id);
    Ok(HttpResponse::Ok().json(RequeueResult { requeued }))
}

/// What central's `GET /metrics` reads when scraped: each node's replication backlog.
pub fn metrics_scrape(pool: deadpool_postgres::Pool) -> pos_shared::metrics::ScrapeHook {
    pos_shared::metrics::ScrapeHook(std::sync::Arc::new(move |metrics| {
        let pool = pool.clone();
        Box::pin(async move {
            let read = async {
                let db = pool.get().await.context("getting a connection")?;
                repl::backlog(&db).await
            };
            match read.await {
                Ok(nodes) => {
                    for node in nodes {
                        metrics.set_backlog(
                            "replication",
                            &node.city,
                            node.pending,
                            node.failed,
                            node.dead,
                        );
                    }
                }
                Err(e) => {
                    tracing::warn!(error = %format!("{e:#}"), "metrics: reading the replication backlog");
                }
            }
        })
    }))
}

pos_shared::routes! {
    schemas(
        NodeStatus,
        ReplicationStatus,
        RetryRequest,
        RetryResult,
        RequeueRequest,
        RequeueResult,
        repl::NodeBacklog,
        repl::LogEntry,
    ),
    "/replication/status" => { GET => status },
    "/replication/log" => { GET => log },
    "/replication/retry" => { POST => retry },
    "/replication/requeue" => { POST => requeue },
}
