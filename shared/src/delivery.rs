//! The delivery engine both directions use: replication (central → each node, `central/src/replicator.rs`)
//! and the outbox (each node → central, `store-node/src/outbox.rs`). A direction supplies a
//! [`DeliveryTarget`]: how to ship one batch and how to ask whether an unreachable peer answers again.
//! What to read, where to send it and how to settle it live in that target's SQL function
//! (`deliver_replication()`, `push_outbox()`); back-off, setting aside a refused row and telling an
//! unreachable peer from a refusal are shared SQL (sql/common/functions.sql). The engine owns the rest:
//!
//! - a worker per target, which sleeps until woken (the retry job, a notification, a commit in this
//!   process) or until its poll interval passes, then ships batch after batch while they come back full.
//!   A batch that is not full ends the round: what arrives meanwhile goes in the next one, instead of the
//!   worker spinning on a few entries at a time (each batch costs a remote call and a commit);
//! - reachability: once a batch finds the peer out of reach, the worker probes it every probe interval
//!   (one round trip, no batch) and, the moment it answers, ships its whole backlog at once. However
//!   long the peer is away, nothing is given up: entries wait as `Failed`;
//! - the metrics: entries delivered, failed and set aside, whether the peer is reachable, and the lag
//!   from a change's commit to the peer's answer.

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use prometheus::{HistogramOpts, HistogramVec, IntCounterVec, IntGaugeVec, Opts, Registry};
use tokio::sync::Notify;

/// How a worker is woken, and what it last found of its target (for status pages).
#[derive(Debug)]
pub struct DeliverySignal {
    wake: Notify,
    reachable: AtomicBool,
}

impl Default for DeliverySignal {
    fn default() -> Self {
        Self {
            wake: Notify::new(),
            reachable: AtomicBool::new(true),
        }
    }
}

impl DeliverySignal {
    /// New work may be waiting, or failed entries may be due: look now.
    pub fn wake(&self) {
        self.wake.notify_one();
    }

    /// Whether the worker's last batch or probe reached its target (true until it finds otherwise).
    pub fn target_reachable(&self) -> bool {
        self.reachable.load(Ordering::Relaxed)
    }

    fn set_reachable(&self, reachable: bool) {
        self.reachable.store(reachable, Ordering::Relaxed);
    }
}

#[derive(Debug, Clone, Copy)]
pub struct DeliveryPolicy {
    /// How often the worker looks for new entries when nothing wakes it.
    pub poll_interval: Duration,
    /// How often an unreachable peer is probed.
    pub probe_interval: Duration,
    /// After a wake, wait this long before shipping, so that what arrives meanwhile goes in the same
    /// batch (one remote call for many entries instead of one each).
    pub linger: Duration,
}

/// Outcome of one batch, as the target's SQL function reports it.
#[derive(Debug, Clone, Default)]
pub struct BatchOutcome {
    pub delivered: i32,
    /// Rows (the outbox: entries) left `Failed` for a retry.
    pub failed: i32,
    /// Rows the peer refused, each set aside as a `Dead` entry.
    pub dead: i32,
    /// The batch failed because the peer could not be reached.
    pub unreachable: bool,
    /// The batch was as large as a batch may be: more may be waiting.
    pub full: bool,
    /// Per delivered entry: seconds from its commit to the peer's answer.
    pub lag_seconds: Vec<f64>,
}

impl BatchOutcome {
    /// Reads `delivered, failed, dead, unreachable, lag_seconds`, the columns both directions' SQL
    /// functions return; `full` is left for the caller, which knows the batch size.
    fn from_row(row: &tokio_postgres::Row) -> Self {
        Self {
            delivered: row.get("delivered"),
            failed: row.get("failed"),
            dead: row.get("dead"),
            unreachable: row.get("unreachable"),
            full: false,
            lag_seconds: row
                .get::<_, Option<Vec<f64>>>("lag_seconds")
                .unwrap_or_default(),
        }
    }
}

/// One direction's peer, as the engine drives it.
pub trait DeliveryTarget: Send + 'static {
    /// Ships one batch: new entries and failed ones that are due.
    fn deliver(&self) -> impl Future<Output = anyhow::Result<BatchOutcome>> + Send;
    /// Does the unreachable peer answer again? When it does, its failed entries are made due.
    fn probe(&self) -> impl Future<Output = anyhow::Result<bool>> + Send;
}

/// A peer reached through a database session of the worker's own (a pool of one connection, so that
/// the session's named dblink connection lives as long as it does, and a broken session is replaced on
/// the next use). Each direction names its two SQL calls: `deliver` ships one batch and returns the
/// columns of [`BatchOutcome::from_row`]; `probe` returns whether the peer answers again (and makes its
/// failed entries due when it does).
pub struct SessionTarget {
    pub session: deadpool_postgres::Pool,
    pub deliver: Call,
    pub probe: Call,
    /// Rows per batch (an entry names one row, or a statement's rows): a batch this large may have left
    /// more behind.
    pub batch_size: i32,
}

/// One SQL statement and its integer parameters.
pub struct Call {
    pub sql: &'static str,
    pub args: Vec<i32>,
}

impl Call {
    async fn row(&self, session: &deadpool_postgres::Pool) -> anyhow::Result<tokio_postgres::Row> {
        use anyhow::Context;
        let client = session
            .get()
            .await
            .context("getting the delivery session")?;
        let stmt = client.prepare_cached(self.sql).await?;
        let args: Vec<&(dyn tokio_postgres::types::ToSql + Sync)> = self
            .args
            .iter()
            .map(|arg| arg as &(dyn tokio_postgres::types::ToSql + Sync))
            .collect();
        client
            .query_one(&stmt, &args)
            .await
            .with_context(|| format!("calling {}", self.sql))
    }
}

impl DeliveryTarget for SessionTarget {
    async fn deliver(&self) -> anyhow::Result<BatchOutcome> {
        let mut outcome = BatchOutcome::from_row(&self.deliver.row(&self.session).await?);
        outcome.full = outcome.delivered + outcome.dead >= self.batch_size;
        Ok(outcome)
    }

    async fn probe(&self) -> anyhow::Result<bool> {
        Ok(self.probe.row(&self.session).await?.get(0))
    }
}

/// Counters and gauges of every worker of a service, labelled by queue (`replication`, `outbox`) and
/// target (the node's city id, or `central`).
#[derive(Clone)]
pub struct DeliveryMetrics {
    entries: IntCounterVec,
    reachable: IntGaugeVec,
    lag: HistogramVec,
}

impl DeliveryMetrics {
    pub fn new(registry: &Registry) -> anyhow::Result<Self> {
        let entries = IntCounterVec::new(
            Opts::new(
                "delivery_entries_total",
                "Rows shipped (an outbox entry is one; a replication entry may name a statement's rows), by queue, target and outcome (delivered, failed, dead)",
            ),
            &["queue", "target", "outcome"],
        )?;
        let reachable = IntGaugeVec::new(
            Opts::new(
                "delivery_target_reachable",
                "1 while the target answers, 0 while its worker probes for its return",
            ),
            &["queue", "target"],
        )?;
        let lag = HistogramVec::new(
            HistogramOpts::new(
                "delivery_lag_seconds",
                "Seconds from a change's commit to the target's answer, by queue and target",
            )
            .buckets(vec![
                0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0,
                1800.0, 3600.0, 86400.0,
            ]),
            &["queue", "target"],
        )?;
        registry.register(Box::new(entries.clone()))?;
        registry.register(Box::new(reachable.clone()))?;
        registry.register(Box::new(lag.clone()))?;
        Ok(Self {
            entries,
            reachable,
            lag,
        })
    }

    fn record(&self, queue: &str, target: &str, outcome: &BatchOutcome) {
        for (name, count) in [
            ("delivered", outcome.delivered),
            ("failed", outcome.failed),
            ("dead", outcome.dead),
        ] {
            if count > 0 {
                self.entries
                    .with_label_values(&[queue, target, name])
                    .inc_by(u64::try_from(count).unwrap_or(0));
            }
        }
        if !outcome.lag_seconds.is_empty() {
            let lag = self.lag.with_label_values(&[queue, target]);
            for seconds in &outcome.lag_seconds {
                lag.observe(*seconds);
            }
        }
    }

    fn set_reachable(&self, queue: &str, target: &str, reachable: bool) {
        self.reachable
            .with_label_values(&[queue, target])
            .set(i64::from(reachable));
    }
}

/// Names a worker in logs and metrics.
#[derive(Debug, Clone)]
pub struct WorkerName {
    pub queue: &'static str,
    pub target: String,
}

/// Runs until aborted.
pub async fn run_worker<T: DeliveryTarget>(
    name: WorkerName,
    signal: Arc<DeliverySignal>,
    policy: DeliveryPolicy,
    metrics: DeliveryMetrics,
    target: T,
) {
    let WorkerName { queue, target: to } = &name;
    let mark = |reachable: bool| {
        metrics.set_reachable(queue, to, reachable);
        signal.set_reachable(reachable);
        reachable
    };
    let mut reachable = mark(true);
    loop {
        let wait = if reachable {
            policy.poll_interval
        } else {
            policy.probe_interval
        };
        tokio::select! {
            () = signal.wake.notified() => {}
            () = tokio::time::sleep(wait) => {}
        }
        if !reachable {
            match target.probe().await {
                Ok(true) => {
                    tracing::info!(queue, target = %to, "answers again; shipping its backlog");
                    reachable = mark(true);
                }
                Ok(false) => continue,
                Err(e) => {
                    tracing::warn!(queue, target = %to, error = %format!("{e:#}"), "probe failed");
                    continue;
                }
            }
        } else if !policy.linger.is_zero() {
            tokio::time::sleep(policy.linger).await;
        }
        loop {
            let span = tracing::info_span!("delivery_batch", queue, target = %to);
            match tracing::Instrument::instrument(target.deliver(), span).await {
                Ok(outcome) => {
                    metrics.record(queue, to, &outcome);
                    if outcome.dead > 0 {
                        tracing::warn!(queue, target = %to, dead = outcome.dead, "entries refused by the target, set aside as Dead");
                    }
                    if outcome.unreachable {
                        tracing::warn!(queue, target = %to, failed = outcome.failed, "target unreachable; probing until it answers");
                        reachable = mark(false);
                        break;
                    }
                    if outcome.failed > 0 {
                        tracing::warn!(queue, target = %to, failed = outcome.failed, "delivery failed; retried after back-off");
                        break;
                    }
                    if outcome.delivered > 0 {
                        tracing::debug!(queue, target = %to, delivered = outcome.delivered, "delivered");
                    }
                    if !outcome.full {
                        break;
                    }
                }
                Err(e) => {
                    tracing::warn!(queue, target = %to, error = %format!("{e:#}"), "delivery call failed");
                    break;
                }
            }
        }
    }
}

/// A scheduled job (cron with seconds) that wakes every worker `signals` returns: due failed entries
/// are retried, and unreachable targets probed, at once.
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
                signal.wake();
            }
        })
    })
    .with_context(|| format!("{setting}: {cron:?} is not a valid cron expression"))?;
    scheduler.add(job).await.context("adding the retry job")?;
    scheduler.start().await.context("starting the retry job")?;
    Ok(scheduler)
}
