//! The delivery loop both directions of replication use (central → nodes, node outbox → central).
//!
//! A worker sleeps until woken (a notification, a commit in this process, the retry job) or until the
//! sweep interval passes, then calls its delivery function batch after batch while the batches come back
//! full. A batch that is not full ends the round: what arrives meanwhile waits for the next wake or
//! sweep and goes in one batch, instead of the worker spinning on a few entries at a time (each batch
//! costs a remote call and a commit whatever its size).
//! After a failed batch it backs off exponentially; only the retry job wakes it early then.

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use tokio::sync::Notify;
use tokio::time::Instant;

/// How a worker is woken.
#[derive(Debug, Default)]
pub struct DeliverySignal {
    wake: Notify,
    retry_due: AtomicBool,
}

impl DeliverySignal {
    /// New work may be waiting.
    pub fn wake(&self) {
        self.wake.notify_one();
    }

    /// Re-attempt failed entries that are due, even while backing off.
    pub fn retry_due(&self) {
        self.retry_due.store(true, Ordering::SeqCst);
        self.wake.notify_one();
    }
}

#[derive(Debug, Clone, Copy)]
pub struct DeliveryPolicy {
    pub sweep_interval: Duration,
    pub base_backoff: Duration,
    pub max_backoff: Duration,
    /// After a wake, wait this long before shipping, so that what arrives meanwhile goes in the same
    /// batch (one remote call for many entries instead of one each).
    pub linger: Duration,
}

/// Outcome of one batch.
#[derive(Debug, Clone, Copy, Default)]
pub struct BatchOutcome {
    pub delivered: i32,
    pub failed: i32,
    /// The batch was as large as a batch may be: more may be waiting.
    pub full: bool,
}

/// Runs until aborted. `deliver()` ships one batch: new entries and failed ones that are due.
pub async fn run_worker<F, Fut>(
    name: String,
    signal: Arc<DeliverySignal>,
    policy: DeliveryPolicy,
    mut deliver: F,
) where
    F: FnMut() -> Fut,
    Fut: Future<Output = anyhow::Result<BatchOutcome>>,
{
    let mut backoff = policy.base_backoff;
    let mut paused_until: Option<Instant> = None;
    loop {
        tokio::select! {
            () = signal.wake.notified() => {}
            () = tokio::time::sleep(policy.sweep_interval) => {}
        }
        let retry_due = signal.retry_due.swap(false, Ordering::SeqCst);
        if paused_until.is_some_and(|t| Instant::now() < t) && !retry_due {
            continue;
        }
        if !policy.linger.is_zero() {
            tokio::time::sleep(policy.linger).await;
        }
        loop {
            let span = tracing::info_span!("delivery_batch", target = %name);
            match tracing::Instrument::instrument(deliver(), span).await {
                Ok(outcome) if outcome.failed > 0 => {
                    tracing::warn!(target = %name, failed = outcome.failed, "delivery failed; backing off");
                    paused_until = Some(Instant::now() + backoff);
                    backoff = (backoff * 2).min(policy.max_backoff);
                    break;
                }
                Ok(outcome) => {
                    paused_until = None;
                    backoff = policy.base_backoff;
                    if outcome.delivered > 0 {
                        tracing::debug!(target = %name, delivered = outcome.delivered, "delivered");
                    }
                    if !outcome.full {
                        break;
                    }
                }
                Err(e) => {
                    tracing::warn!(target = %name, error = %format!("{e:#}"), "delivery call failed");
                    break;
                }
            }
        }
    }
}

/// A scheduled job (cron with seconds) that asks `signals` to retry due entries.
pub async fn start_retry_job<F>(
    cron: &str,
    setting: &str,
    signals: F,
) -> anyhow::Result<tokio_cron_scheduler::JobScheduler>
where
    F: Fn() -> Vec<Arc<DeliverySignal>> + Send + Sync + 'static,
{
    use anyhow::Context;
    let scheduler = tokio_cron_scheduler::JobScheduler::new()
        .await
        .context("starting the job scheduler")?;
    let signals = Arc::new(signals);
    let job = tokio_cron_scheduler::Job::new_async(cron, move |_id, _scheduler| {
        let signals = signals.clone();
        Box::pin(async move {
            for signal in signals() {
                signal.retry_due();
            }
        })
    })
    .with_context(|| format!("{setting}: {cron:?} is not a valid cron expression"))?;
    scheduler.add(job).await.context("adding the retry job")?;
    scheduler.start().await.context("starting the retry job")?;
    Ok(scheduler)
}
