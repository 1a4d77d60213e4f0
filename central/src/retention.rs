//! Retention of the replication log: delivered entries are deleted once they are older than the
//! configured retention, by a scheduled job, so that the log holds recent history rather than every
//! change ever made. Entries that are not delivered (Pending, Failed, Dead) are never deleted. The same
//! job deletes the idempotency keys of master-data creates past theirs.

use anyhow::Context;
use deadpool_postgres::Pool;

use crate::db;

/// Entries deleted per call (one transaction each), so that no purge holds a long transaction.
const PURGE_BATCH: i32 = 10_000;

/// Deletes every delivered entry older than `retention_hours`, a batch at a time; how many in all.
/// The batches share one bound, found once: each then walks only what it deletes, so that a first
/// purge of a long log costs its length, not its length squared over the batch.
pub async fn purge_delivered(pool: &Pool, retention_hours: i32) -> anyhow::Result<i64> {
    let client = pool.get().await.context("getting a connection")?;
    let Some(bound) = db::replication::purge_bound(&client, retention_hours).await? else {
        return Ok(0);
    };
    let mut purged = 0;
    loop {
        let deleted =
            db::replication::purge_delivered(&client, retention_hours, PURGE_BATCH, bound).await?;
        purged += i64::from(deleted);
        if deleted < PURGE_BATCH {
            return Ok(purged);
        }
    }
}

/// Adds the purge job to `scheduler`, on `cron` (`POS_REPLICATION_PURGE_CRON`).
pub async fn add_purge_job(
    scheduler: &tokio_cron_scheduler::JobScheduler,
    cron: &str,
    pool: Pool,
    retention_hours: i32,
    key_retention_hours: i32,
) -> anyhow::Result<()> {
    let job = tokio_cron_scheduler::Job::new_async(cron, move |_id, _scheduler| {
        let pool = pool.clone();
        Box::pin(async move {
            match purge_delivered(&pool, retention_hours).await {
                Ok(0) => {}
                Ok(purged) => tracing::info!(purged, "purged delivered replication entries"),
                Err(e) => {
                    tracing::warn!(error = %format!("{e:#}"), "purging the replication log failed")
                }
            }
            let keys = async {
                let client = pool.get().await.context("getting a connection")?;
                db::idempotency::purge(&client, key_retention_hours).await
            };
            if let Err(e) = keys.await {
                tracing::warn!(error = %format!("{e:#}"), "purging old idempotency keys failed");
            }
        })
    })
    .with_context(|| {
        format!("POS_REPLICATION_PURGE_CRON: {cron:?} is not a valid cron expression")
    })?;
    scheduler.add(job).await.context("adding the purge job")?;
    Ok(())
}
