//! Asks every enabled node the same question at once: each on its own pooled session, each with its own
//! timeout, so that the answer takes as long as the slowest node that answers in time, not the sum.
//!
//! Each node has its own few sessions on central's database, and each of those keeps its dblink
//! connection to that node open: asking costs a query, not a connection (a backend and a password
//! exchange on the node), and no session holds connections to every node.

use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use anyhow::Context;
use deadpool_postgres::Pool;
use serde::Serialize;

use crate::db;

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct NodeAnswer {
    pub city_id: i32,
    pub city: String,
    /// `ok` or `unreachable`.
    pub status: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// Why a node did not answer, in words for head office (details go to the log).
fn reason(err: &anyhow::Error) -> String {
    match pos_shared::db::sqlstate(err).map(|s| s.code()) {
        Some("08001" | "08000" | "08006") => "cannot connect to the node's database".into(),
        _ if pos_shared::db::is_unavailable(err) => "central's own database is unavailable".into(),
        _ => "the node's query failed".into(),
    }
}

/// Sessions per node: the dashboard asks each node three questions at once.
const SESSIONS_PER_NODE: usize = 3;

/// The sessions that ask nodes, a small pool per node, opened when first needed.
#[derive(Clone)]
pub struct NodeSessions {
    config: tokio_postgres::Config,
    pools: Arc<Mutex<HashMap<i32, Pool>>>,
}

impl NodeSessions {
    pub fn new(config: tokio_postgres::Config) -> Self {
        Self {
            config,
            pools: Arc::default(),
        }
    }

    async fn session(&self, city_id: i32) -> anyhow::Result<deadpool_postgres::Object> {
        let pool = {
            let mut pools = self.pools.lock().unwrap_or_else(PoisonError::into_inner);
            match pools.get(&city_id) {
                Some(pool) => pool.clone(),
                None => {
                    let mut config = self.config.clone();
                    config.application_name(format!("central-reports-{city_id}"));
                    let pool = pos_shared::db::pool(config, SESSIONS_PER_NODE)?;
                    pools.insert(city_id, pool.clone());
                    pool
                }
            }
        };
        pool.get().await.context("getting a session for the node")
    }
}

/// `(answer, value)` per enabled node, in city order; `value` is `None` for nodes that did not answer.
/// `pool` lists the nodes; each is asked on one of its own sessions.
pub async fn ask_every_node<T, F, Fut>(
    pool: &Pool,
    sessions: &NodeSessions,
    timeout: Duration,
    ask: F,
) -> anyhow::Result<Vec<(NodeAnswer, Option<T>)>>
where
    F: Fn(deadpool_postgres::Object, i32) -> Fut,
    Fut: Future<Output = anyhow::Result<T>>,
{
    let nodes = {
        let client = pool.get().await.context("getting a connection")?;
        db::replication::list_nodes(&client).await?
    };
    let asks = nodes.into_iter().filter(|n| n.enabled).map(|node| {
        let ask = &ask;
        async move {
            let attempt = async { ask(sessions.session(node.city_id).await?, node.city_id).await };
            let result = match tokio::time::timeout(timeout, attempt).await {
                Ok(Ok(value)) => Ok(value),
                Ok(Err(e)) => {
                    tracing::warn!(city_id = node.city_id, error = %format!("{e:#}"), "node did not answer");
                    Err(reason(&e))
                }
                Err(_) => Err(format!("no answer within {} ms", timeout.as_millis())),
            };
            match result {
                Ok(value) => (
                    NodeAnswer { city_id: node.city_id, city: node.city, status: "ok", reason: None },
                    Some(value),
                ),
                Err(reason) => (
                    NodeAnswer { city_id: node.city_id, city: node.city, status: "unreachable", reason: Some(reason) },
                    None,
                ),
            }
        }
    });
    Ok(futures_util::future::join_all(asks).await)
}
