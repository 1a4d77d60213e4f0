//! Keeps the per-day sales totals current: head office's reports read them (plus the few sales not
//! folded yet) instead of every sale line, so a node answers in about a millisecond.

use std::time::Duration;

use anyhow::Context;
use deadpool_postgres::Pool;

/// How often new sales and refunds are folded into the totals.
const FOLD_INTERVAL: Duration = Duration::from_secs(1);

/// Spawns the task that folds new sales every `FOLD_INTERVAL`.
pub fn spawn_folder(pool: Pool) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut ticks = tokio::time::interval(FOLD_INTERVAL);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            ticks.tick().await;
            let folded = async {
                let client = pool.get().await.context("getting a connection")?;
                crate::db::reports::fold_sales(&client).await
            };
            match folded.await {
                Ok(0) => {}
                Ok(folded) => tracing::debug!(folded, "sales folded into the daily totals"),
                // Reports stay exact meanwhile (they add what is not folded yet); only slower.
                Err(e) => tracing::warn!(error = %format!("{e:#}"), "folding sales failed"),
            }
        }
    })
}
