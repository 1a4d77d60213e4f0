//! The replicator: delivers `replication_log` entries to the nodes within milliseconds of the commit.
//!
//! - Each node's worker polls its queue every `POS_REPLICATION_POLL_MS` (an index probe when empty): the
//!   capture triggers do not notify, because notifying commits serialise on one lock.
//! - One LISTEN connection receives `pos_replication` notifications of the rarer events (a node
//!   registered, dead entries re-queued; payload: the city, or `*`) and wakes that node's worker at once.
//! - One worker per node (the shared delivery loop), each with its own database session holding the
//!   node's named dblink connection. A down or slow node only ever holds up its own worker.
//! - The scheduled retry job (cron from configuration) asks every worker to re-attempt due entries.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use anyhow::Context;
use futures_util::StreamExt;
use pos_shared::delivery::{
    Call, DeliveryMetrics, DeliveryPolicy, DeliverySignal, SessionTarget, WorkerName, run_worker,
};
use tokio::task::JoinHandle;
use tokio_postgres::AsyncMessage;

use crate::config::ReplicationConfig;
use crate::db;

pub const CHANNEL: &str = "pos_replication";
const RECONNECT_DELAY: Duration = Duration::from_secs(1);

struct Worker {
    signal: Arc<DeliverySignal>,
    task: JoinHandle<()>,
}

#[derive(Clone)]
pub struct Replicator {
    db: pos_shared::db::DbConfig,
    pool: deadpool_postgres::Pool,
    config: ReplicationConfig,
    metrics: DeliveryMetrics,
    workers: Arc<Mutex<HashMap<i32, Worker>>>,
}

impl Replicator {
    pub fn new(
        db: pos_shared::db::DbConfig,
        pool: deadpool_postgres::Pool,
        config: ReplicationConfig,
        metrics: DeliveryMetrics,
    ) -> Self {
        Self {
            db,
            pool,
            config,
            metrics,
            workers: Arc::default(),
        }
    }

    fn workers(&self) -> std::sync::MutexGuard<'_, HashMap<i32, Worker>> {
        self.workers.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Starts a worker for every enabled node that has none yet.
    pub async fn sync_nodes(&self) -> anyhow::Result<()> {
        let client = self.pool.get().await.context("getting a connection")?;
        let ids = db::nodes::enabled_node_ids(&client).await?;
        drop(client);
        let mut workers = self.workers();
        for city_id in ids {
            if workers.get(&city_id).is_some_and(|w| !w.task.is_finished()) {
                continue;
            }
            let signal = Arc::new(DeliverySignal::default());
            let task = tokio::spawn(node_worker(
                city_id,
                signal.clone(),
                self.db.clone(),
                self.config.clone(),
                self.metrics.clone(),
            ));
            signal.wake();
            workers.insert(city_id, Worker { signal, task });
        }
        Ok(())
    }

    /// Wakes one node's worker, or all of them.
    pub fn wake(&self, city_id: Option<i32>) {
        for (id, worker) in self.workers().iter() {
            if city_id.is_none_or(|c| c == *id) {
                worker.signal.wake();
            }
        }
    }

    pub fn signals(&self) -> Vec<Arc<DeliverySignal>> {
        self.workers().values().map(|w| w.signal.clone()).collect()
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
            .connect(self.db.tls())
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
        self.wake(None);
        while let Some(payload) = rx.recv().await {
            match payload.parse::<i32>() {
                Ok(city_id) => {
                    if !self.workers().contains_key(&city_id) {
                        self.sync_nodes().await?;
                    }
                    self.wake(Some(city_id));
                }
                Err(_) => self.wake(None),
            }
        }
        driver.abort();
        anyhow::bail!("the notification stream ended")
    }

    pub fn shutdown(&self) {
        for worker in self.workers().values() {
            worker.task.abort();
        }
    }
}

async fn node_worker(
    city_id: i32,
    signal: Arc<DeliverySignal>,
    db: pos_shared::db::DbConfig,
    config: ReplicationConfig,
    metrics: DeliveryMetrics,
) {
    let mut session_config = db;
    session_config.application_name(format!("central-replicator-{city_id}"));
    // statement_timeout bounds a delivery whose node stops answering mid-statement.
    // synchronous_commit=off: this session's commits only settle log entries of rows the node has
    // already committed, so one lost in a crash of central is delivered again (a version-guarded no-op);
    // not waiting for its WAL flush keeps it out of the queue of central's writers' durable commits.
    session_config.options("-c statement_timeout=60000 -c synchronous_commit=off");
    let session = match pos_shared::db::pool(session_config, 1) {
        Ok(pool) => pool,
        Err(e) => {
            tracing::error!(city_id, error = %format!("{e:#}"), "replicator worker cannot start");
            return;
        }
    };
    let policy = DeliveryPolicy {
        // The capture triggers do not notify (see sql/central/capture.sql): poll the queue.
        poll_interval: Duration::from_millis(config.poll_ms.max(1)),
        probe_interval: Duration::from_millis(config.probe_ms.max(1)),
        // Master-data changes are rare and should be at the nodes at once.
        linger: Duration::ZERO,
    };
    let name = WorkerName {
        queue: "replication",
        target: city_id.to_string(),
    };
    // The node's session is a pool of one connection: its named dblink connection to the node lives
    // as long as it does, and a broken session is replaced on the next use.
    let target = SessionTarget {
        session,
        deliver: Call {
            sql: "SELECT * FROM deliver_replication($1)",
            args: vec![city_id],
        },
        probe: Call {
            sql: "SELECT node_answers($1)",
            args: vec![city_id],
        },
        batch_size: config.batch_size,
    };
    run_worker(name, signal, policy, metrics, target).await;
}
