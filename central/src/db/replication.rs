//! The replication log: delivery, retries, re-queues, purges and the per-node backlog.

use anyhow::Context;
use chrono::{DateTime, Utc};
use deadpool_postgres::GenericClient;
use pos_shared::page::PageRequest;
use serde::Serialize;

/// Writes the retry policy from the configuration into `replication_settings`.
pub async fn configure(
    client: &impl GenericClient,
    config: &crate::config::ReplicationConfig,
) -> anyhow::Result<()> {
    let stmt = client
        .prepare_cached("SELECT configure_replication($1, $2, $3, $4)")
        .await?;
    client
        .execute(
            &stmt,
            &[
                &config.base_backoff_ms,
                &config.max_backoff_ms,
                &config.batch_size,
                &config.statement_timeout_ms,
            ],
        )
        .await
        .context("writing replication settings")?;
    Ok(())
}

pub async fn retry_failed(client: &impl GenericClient) -> anyhow::Result<i32> {
    let stmt = client
        .prepare_cached("SELECT retry_failed_replications()")
        .await?;
    Ok(client
        .query_one(&stmt, &[])
        .await
        .context("retrying replication")?
        .get(0))
}

/// Where a purge of entries delivered more than `older_than_hours` ago stops (see
/// `replication_purge_bound()`); `None` when the log is empty.
pub async fn purge_bound(
    client: &impl GenericClient,
    older_than_hours: i32,
) -> anyhow::Result<Option<i64>> {
    let stmt = client
        .prepare_cached("SELECT replication_purge_bound(make_interval(hours => $1))")
        .await?;
    Ok(client
        .query_one(&stmt, &[&older_than_hours])
        .await
        .context("finding where to stop purging the replication log")?
        .get(0))
}

/// Deletes up to `limit` entries delivered more than `older_than_hours` ago, below `bound`; how many
/// it deleted.
pub async fn purge_delivered(
    client: &impl GenericClient,
    older_than_hours: i32,
    limit: i32,
    bound: i64,
) -> anyhow::Result<i32> {
    let stmt = client
        .prepare_cached("SELECT purge_delivered_replications(make_interval(hours => $1), $2, $3)")
        .await?;
    Ok(client
        .query_one(&stmt, &[&older_than_hours, &limit, &bound])
        .await
        .context("purging delivered replication entries")?
        .get(0))
}

/// Puts Dead entries back in the queue: all, one node's, or the ones named.
pub async fn requeue_dead(
    client: &impl GenericClient,
    city_id: Option<i32>,
    ids: Option<&[i64]>,
) -> anyhow::Result<i32> {
    let stmt = client
        .prepare_cached("SELECT requeue_dead_replications($1, $2)")
        .await?;
    Ok(client
        .query_one(&stmt, &[&city_id, &ids])
        .await
        .context("re-queueing dead entries")?
        .get(0))
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct NodeBacklog {
    pub city_id: i32,
    pub city: String,
    /// Changed rows waiting for their first delivery (an entry may name a statement's rows).
    pub pending: i64,
    /// Changed rows waiting out a back-off after a failed attempt.
    pub failed: i64,
    /// Entries the node refused, one row each.
    pub dead: i64,
    /// Age in seconds of the oldest entry not yet delivered (Pending or Failed).
    pub oldest_pending_age_seconds: Option<f64>,
    pub last_success: Option<DateTime<Utc>>,
    pub last_error: Option<String>,
}

pub async fn backlog(client: &impl GenericClient) -> anyhow::Result<Vec<NodeBacklog>> {
    let stmt = client
        .prepare_cached(
            // The queue (Pending, Failed) and the Dead entries each through their own partial index.
            "SELECT n.city_id, c.name AS city, q.pending, q.failed, d.dead, q.oldest_pending_age_seconds,
                    n.last_success_at AS last_success,
                    (SELECT e.message
                     FROM ((SELECT l.id, l.message FROM replication_log l
                            WHERE l.target_city_id = n.city_id AND l.status IN ('Pending', 'Failed')
                              AND l.status = 'Failed'
                            ORDER BY l.id DESC LIMIT 1)
                           UNION ALL
                           (SELECT l.id, l.message FROM replication_log l
                            WHERE l.target_city_id = n.city_id AND l.status = 'Dead'
                            ORDER BY l.id DESC LIMIT 1)) e
                     ORDER BY e.id DESC LIMIT 1) AS last_error
             FROM nodes n
             JOIN cities c ON c.id = n.city_id
             CROSS JOIN LATERAL (
                 SELECT coalesce(sum(log_entry_rows(l.record_ids)) FILTER (WHERE l.status = 'Pending'), 0) AS pending,
                        coalesce(sum(log_entry_rows(l.record_ids)) FILTER (WHERE l.status = 'Failed'), 0) AS failed,
                        extract(epoch FROM now() - min(l.created_at))::float8 AS oldest_pending_age_seconds
                 FROM replication_log l
                 WHERE l.target_city_id = n.city_id AND l.status IN ('Pending', 'Failed')) q
             CROSS JOIN LATERAL (
                 SELECT count(*) AS dead FROM replication_log l
                 WHERE l.target_city_id = n.city_id AND l.status = 'Dead') d
             ORDER BY n.city_id",
        )
        .await?;
    let rows = client
        .query(&stmt, &[])
        .await
        .context("reading the replication backlog")?;
    Ok(rows
        .iter()
        .map(|r| NodeBacklog {
            city_id: r.get("city_id"),
            city: r.get("city"),
            pending: r.get("pending"),
            failed: r.get("failed"),
            dead: r.get("dead"),
            oldest_pending_age_seconds: r.get("oldest_pending_age_seconds"),
            last_success: r.get("last_success"),
            last_error: r.get("last_error"),
        })
        .collect())
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct LogEntry {
    pub id: i64,
    pub table_name: String,
    /// The changed row; for an entry of a statement's rows, the first of `record_ids`.
    pub record_id: i32,
    /// Every row an entry of a statement that changed several names (up to 1,000 a node); null for a
    /// single row's entry.
    pub record_ids: Option<Vec<i32>>,
    pub target_city_id: i32,
    pub operation: String,
    pub status: String,
    pub attempts: i32,
    pub message: Option<String>,
    pub created_at: DateTime<Utc>,
    pub last_attempt_at: Option<DateTime<Utc>>,
    pub next_attempt_at: Option<DateTime<Utc>>,
    pub delivered_at: Option<DateTime<Utc>>,
}

/// Log entries, newest first, older than the page's key.
pub async fn log_entries(
    client: &impl GenericClient,
    status: Option<&str>,
    city_id: Option<i32>,
    page: PageRequest,
) -> anyhow::Result<Vec<LogEntry>> {
    let stmt = client
        .prepare_cached(
            // One branch per index: the open entries', the dead ones' and the delivered history (the
            // primary key). Each names its statuses as literals, so that even a generic plan (a
            // prepared statement's after five calls) reads the few open or dead entries through their
            // own index instead of walking a week of history newest first.
            "SELECT id, table_name::text, record_id, record_ids, target_city_id, operation::text, status::text, attempts,
                    message, created_at, last_attempt_at, next_attempt_at, delivered_at
             FROM ((SELECT * FROM replication_log
                    WHERE status IN ('Pending', 'Failed') AND ($1::text IS NULL OR status::text = $1)
                      AND ($2::int IS NULL OR target_city_id = $2) AND id < $4
                    ORDER BY id DESC LIMIT $3)
                   UNION ALL
                   (SELECT * FROM replication_log
                    WHERE status = 'Dead' AND ($1::text IS NULL OR $1 = 'Dead')
                      AND ($2::int IS NULL OR target_city_id = $2) AND id < $4
                    ORDER BY id DESC LIMIT $3)
                   UNION ALL
                   (SELECT * FROM replication_log
                    WHERE status = 'Success' AND ($1::text IS NULL OR $1 = 'Success')
                      AND ($2::int IS NULL OR target_city_id = $2) AND id < $4
                    ORDER BY id DESC LIMIT $3)) e
             ORDER BY id DESC LIMIT $3",
        )
        .await?;
    let rows = client
        .query(
            &stmt,
            &[&status, &city_id, &page.fetch(), &page.after_descending()],
        )
        .await
        .context("reading the replication log")?;
    Ok(rows
        .iter()
        .map(|r| LogEntry {
            id: r.get("id"),
            table_name: r.get("table_name"),
            record_id: r.get("record_id"),
            record_ids: r.get("record_ids"),
            target_city_id: r.get("target_city_id"),
            operation: r.get("operation"),
            status: r.get("status"),
            attempts: r.get("attempts"),
            message: r.get("message"),
            created_at: r.get("created_at"),
            last_attempt_at: r.get("last_attempt_at"),
            next_attempt_at: r.get("next_attempt_at"),
            delivered_at: r.get("delivered_at"),
        })
        .collect())
}
