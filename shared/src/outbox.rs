//! A node's outbox backlog as `sync_backlog()` (sql/store/reports.sql) answers it: read by the node's
//! `GET /sync/status` and by head office's dashboard, which asks every node and can re-queue the
//! entries central refused.

use anyhow::Context;
use chrono::{DateTime, Utc};
use deadpool_postgres::GenericClient;
use serde::Serialize;

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct OutboxBacklog {
    pub pending: i64,
    pub failed: i64,
    /// Entries central refused, set aside until an operator re-queues them.
    pub dead: i64,
    /// Age in seconds of the oldest entry not yet at central (Pending or Failed).
    pub oldest_pending_age_seconds: Option<f64>,
    pub last_delivered_at: Option<DateTime<Utc>>,
    /// The newest Failed or Dead entry's error (redacted).
    pub last_error: Option<String>,
}

pub async fn backlog(client: &impl GenericClient) -> anyhow::Result<OutboxBacklog> {
    let stmt = client
        .prepare_cached(
            "SELECT pending, failed, dead, oldest_pending_age_seconds, last_delivered_at, last_error
             FROM sync_backlog()",
        )
        .await?;
    let row = client
        .query_one(&stmt, &[])
        .await
        .context("reading the outbox backlog")?;
    Ok(OutboxBacklog {
        pending: row.get("pending"),
        failed: row.get("failed"),
        dead: row.get("dead"),
        oldest_pending_age_seconds: row.get("oldest_pending_age_seconds"),
        last_delivered_at: row.get("last_delivered_at"),
        last_error: row.get("last_error"),
    })
}

/// Puts the outbox entries central refused (`Dead`) back in the queue; how many.
pub async fn requeue_dead(client: &impl GenericClient) -> anyhow::Result<i32> {
    let stmt = client
        .prepare_cached("SELECT requeue_dead_outbox()")
        .await?;
    Ok(client
        .query_one(&stmt, &[])
        .await
        .context("re-queueing the refused outbox entries")?
        .get(0))
}
