//! The replicator: delivers `replication_log` entries to the nodes within milliseconds of the commit.
//!
//! - One LISTEN connection receives `pos_replication` notifications (payload: the target city, or `*`)
//!   and wakes that node's worker. On every (re)connect all workers sweep, since notifications sent while
//!   disconnected are lost.
//! - One worker per node, each with its own database session holding the node's named dblink
//!   connection. A down or slow node only ever holds up its own worker.
//! - After a failed attempt a worker backs off; the scheduled retry job (cron from configuration) asks
//!   every worker to re-attempt due `Failed` entries.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use anyhow::Context;
use futures_util::StreamExt;
use tokio::sync::{Mutex, Notify};
use tokio::task::JoinHandle;
use tokio::time::Instant;
use tokio_postgres::{AsyncMessage, NoTls};

use crate::config::ReplicationConfig;
use crate::db;

pub const CHANNEL: &str = "pos_replication";
/// Even without notifications, each worker looks for undelivered entries this often.
const SWEEP_INTERVAL: Duration = Duration::from_secs(5);
const RECONNECT_DELAY: Duration = Duration::from_secs(1);

#[derive(Default)]
struct NodeSignal {
    wake: Notify,
    retry_due: AtomicBool,
}

struct Worker {
    signal: Arc<NodeSignal>,
    task: JoinHandle<()>,
}

#[derive(Clone)]
pub struct Replicator {
    db: tokio_postgres::Config,
    pool: deadpool_postgres::Pool,
    config: ReplicationConfig,
    workers: Arc<Mutex<HashMap<i32, Worker>>>,
}

impl Replicator {
    pub fn new(
        db: tokio_postgres::Config,
        pool: deadpool_postgres::Pool,
        config: ReplicationConfig,
    ) -> Self {
        Self {
            db,
            pool,
            config,
            workers: Arc::default(),
        }
    }

    /// Starts a worker for every enabled node that has none yet.
    pub async fn sync_nodes(&self) -> anyhow::Result<()> {
        let client = self.pool.get().await.context("getting a connection")?;
        let ids = db::replication::enabled_node_ids(&client).await?;
        drop(client);
        let mut workers = self.workers.lock().await;
        for city_id in ids {
            if workers.get(&city_id).is_some_and(|w| !w.task.is_finished()) {
                continue;
            }
            let signal = Arc::new(NodeSignal::default());
            let task = tokio::spawn(run_worker(
                city_id,
                signal.clone(),
                self.db.clone(),
                self.config.clone(),
            ));
            signal.wake.notify_one();
            workers.insert(city_id, Worker { signal, task });
        }
        Ok(())
    }

    /// Wakes one node's worker, or all of them.
    pub async fn wake(&self, city_id: Option<i32>) {
        let workers = self.workers.lock().await;
        for (id, worker) in workers.iter() {
            if city_id.is_none_or(|c| c == *id) {
                worker.signal.wake.notify_one();
            }
        }
    }

    /// Asks every worker to re-attempt due `Failed` entries now (the retry job).
    pub async fn retry_due(&self) {
        let workers = self.workers.lock().await;
        for worker in workers.values() {
            worker.signal.retry_due.store(true, Ordering::SeqCst);
            worker.signal.wake.notify_one();
        }
    }

    /// The LISTEN loop; runs until aborted.
    pub fn spawn_listener(&self) -> JoinHandle<()> {
        let replicator = self.clone();
        tokio::spawn(async move {
            loop {
                if let Err(e) = replicator.listen_once().await {
                    tracing::warn!(error = %format!("{e:#}"), "replication listener disconnected; reconnecting");
                }
                tokio::time::sleep(RECONNECT_DELAY).await;
            }
        })
    }

    async fn listen_once(&self) -> anyhow::Result<()> {
        let (client, mut connection) = self
            .db
            .connect(NoTls)
            .await
            .context("connecting the replication listener")?;
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
        let driver = tokio::spawn(async move {
            let mut messages = futures_util::stream::poll_fn(move |cx| connection.poll_message(cx));
            while let Some(message) = messages.next().await {
                match message {
                    Ok(AsyncMessage::Notification(n)) => {
                        if tx.send(n.payload().to_owned()).is_err() {
                            break;
                        }
                    }
                    Ok(_) => {}
                    Err(e) => {
                        tracing::debug!(error = %e, "listener connection error");
                        break;
                    }
                }
            }
        });
        client
            .batch_execute(&format!("LISTEN {CHANNEL}"))
            .await
            .context("LISTEN")?;
        // Notifications sent while we were not listening are lost: sweep.
        self.sync_nodes().await?;
        self.wake(None).await;
        while let Some(payload) = rx.recv().await {
            match payload.parse::<i32>() {
                Ok(city_id) => {
                    if !self.workers.lock().await.contains_key(&city_id) {
                        self.sync_nodes().await?;
                    }
                    self.wake(Some(city_id)).await;
                }
                Err(_) => self.wake(None).await,
            }
        }
        driver.abort();
        anyhow::bail!("the notification stream ended")
    }

    pub async fn shutdown(&self) {
        for worker in self.workers.lock().await.values() {
            worker.task.abort();
        }
    }
}

/// The worker's session: a pool of one connection, so that the node's named dblink connection lives as
/// long as the session and a broken session is replaced on the next use.
fn worker_session(
    db: &tokio_postgres::Config,
    city_id: i32,
) -> anyhow::Result<deadpool_postgres::Pool> {
    let mut config = db.clone();
    config.application_name(format!("central-replicator-{city_id}"));
    // Bounds a delivery whose node stops answering mid-statement.
    config.options("-c statement_timeout=60000");
    pos_shared::db::pool(config, 1)
}

async fn run_worker(
    city_id: i32,
    signal: Arc<NodeSignal>,
    db: tokio_postgres::Config,
    config: ReplicationConfig,
) {
    let base = Duration::from_millis(u64::try_from(config.base_backoff_ms).unwrap_or(1000));
    let max = Duration::from_millis(u64::try_from(config.max_backoff_ms).unwrap_or(300_000));
    let batch_size = config.batch_size;
    let session = match worker_session(&db, city_id) {
        Ok(pool) => pool,
        Err(e) => {
            tracing::error!(city_id, error = %format!("{e:#}"), "replicator worker cannot start");
            return;
        }
    };
    let mut backoff = base;
    let mut paused_until: Option<Instant> = None;
    loop {
        tokio::select! {
            () = signal.wake.notified() => {}
            () = tokio::time::sleep(SWEEP_INTERVAL) => {}
        }
        let retry_due = signal.retry_due.swap(false, Ordering::SeqCst);
        if paused_until.is_some_and(|t| Instant::now() < t) && !retry_due {
            continue;
        }
        let client = match session.get().await {
            Ok(client) => client,
            Err(e) => {
                tracing::warn!(city_id, error = %e, "replicator cannot reach central's database");
                continue;
            }
        };
        loop {
            let span = tracing::info_span!("replication_batch", city_id);
            let result = tracing::Instrument::instrument(
                db::replication::deliver(&client, city_id, retry_due),
                span,
            )
            .await;
            match result {
                Ok((delivered, failed)) => {
                    if failed > 0 {
                        tracing::warn!(city_id, failed, "delivery to node failed; backing off");
                        paused_until = Some(Instant::now() + backoff);
                        backoff = (backoff * 2).min(max);
                        break;
                    }
                    paused_until = None;
                    backoff = base;
                    if delivered > 0 {
                        tracing::debug!(city_id, delivered, "delivered");
                    }
                    if delivered < batch_size {
                        break;
                    }
                }
                Err(e) => {
                    tracing::warn!(city_id, error = %format!("{e:#}"), "delivery call failed");
                    break;
                }
            }
        }
    }
}

/// The scheduled retry job (`POS_REPLICATION_RETRY_CRON`, with seconds).
pub async fn start_retry_job(
    replicator: Replicator,
    cron: &str,
) -> anyhow::Result<tokio_cron_scheduler::JobScheduler> {
    let scheduler = tokio_cron_scheduler::JobScheduler::new()
        .await
        .context("starting the job scheduler")?;
    let job = tokio_cron_scheduler::Job::new_async(cron, move |_id, _scheduler| {
        let replicator = replicator.clone();
        Box::pin(async move {
            replicator.retry_due().await;
        })
    })
    .with_context(|| {
        format!("POS_REPLICATION_RETRY_CRON: {cron:?} is not a valid cron expression")
    })?;
    scheduler.add(job).await.context("adding the retry job")?;
    scheduler.start().await.context("starting the retry job")?;
    Ok(scheduler)
}
