//! Retention at the node: delivered outbox entries and old idempotency keys are deleted by a task that
//! runs every `PURGE_INTERVAL`, in transactions of at most `PURGE_BATCH` rows, so that neither
//! grows with every sale ever made. Undelivered and Dead entries, and the sales themselves, stay.

use std::time::Duration;

use anyhow::Context;
use deadpool_postgres::{GenericClient, Pool};

const PURGE_INTERVAL: Duration = Duration::from_secs(600);
const PURGE_BATCH: i32 = 10_000;

/// Deletes, a batch at a time, what is older than the retention windows; how many rows in all.
pub async fn purge(
    client: &impl GenericClient,
    outbox_hours: i32,
    key_hours: i32,
) -> anyhow::Result<i64> {
    let stmt = client
        .prepare_cached(
            "SELECT purge_node_history(make_interval(hours => $1), make_interval(hours => $2), $3)",
        )
        .await?;
    let mut purged = 0;
    loop {
        let deleted: i32 = client
            .query_one(&stmt, &[&outbox_hours, &key_hours, &PURGE_BATCH])
            .await
            .context("purging delivered outbox entries and old idempotency keys")?
            .get(0);
        purged += i64::from(deleted);
        if deleted < PURGE_BATCH {
            return Ok(purged);
        }
    }
}

pub fn spawn_purger(pool: Pool, outbox_hours: i32, key_hours: i32) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut ticks = tokio::time::interval(PURGE_INTERVAL);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            ticks.tick().await;
            let purged = async {
                let client = pool.get().await.context("getting a connection")?;
                purge(&client, outbox_hours, key_hours).await
            };
            match purged.await {
                Ok(0) => {}
                Ok(purged) => {
                    tracing::info!(purged, "purged delivered outbox entries and old keys")
                }
                Err(e) => {
                    tracing::warn!(error = %format!("{e:#}"), "purging the node's history failed")
                }
            }
        }
    })
}
