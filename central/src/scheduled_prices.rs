//! Scheduled prices that have taken effect become the products' prices at central. The nodes switched
//! at the moment already, each by its own clock; this keeps head office's product list in step and
//! leaves the product free for its next scheduled change.

use anyhow::Context;
use deadpool_postgres::Pool;

/// Adds the folding job to `scheduler`, on `cron` (the retry job's, `POS_REPLICATION_RETRY_CRON`).
pub async fn add_fold_job(
    scheduler: &tokio_cron_scheduler::JobScheduler,
    cron: &str,
    pool: Pool,
) -> anyhow::Result<()> {
    let job = tokio_cron_scheduler::Job::new_async(cron, move |_id, _scheduler| {
        let pool = pool.clone();
        Box::pin(async move {
            let folded = async {
                let client = pool.get().await.context("getting a connection")?;
                crate::db::master::fold_scheduled_prices(&client).await
            };
            match folded.await {
                Ok(0) => {}
                Ok(folded) => tracing::info!(folded, "scheduled prices took effect"),
                Err(e) => {
                    tracing::warn!(error = %format!("{e:#}"), "folding scheduled prices failed")
                }
            }
        })
    })
    .with_context(|| format!("{cron:?} is not a valid cron expression"))?;
    scheduler
        .add(job)
        .await
        .context("adding the scheduled-price job")?;
    Ok(())
}
