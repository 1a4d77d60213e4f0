//! Asks every enabled node the same question at once: each on a session of its own, each with its own
//! timeout, so that the answer takes as long as the slowest node that answers in time, not the sum.
//!
//! The service connects to each node's database directly, as the node's replication role, with the
//! credentials of the node's user mapping (read from central's database when the node is first asked,
//! kept only in memory). A question is then a prepared statement on the node, answered from a plan the
//! node keeps for that session. Going through central's database instead (a central session per node
//! calling dblink) cost each node about twice the CPU: a second backend, the query text parsed and
//! planned on every call, and the rows converted to JSON and back.

use pos_shared::page::PageRequest;
use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use anyhow::Context;
use deadpool_postgres::Pool;
use secrecy::ExposeSecret;
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

/// Sessions per node: the dashboard asks each node three questions at once.
const SESSIONS_PER_NODE: usize = 3;
/// libpq's minimum, as in the nodes' foreign servers.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);

/// The sessions that ask nodes: a small pool per node, opened when first needed.
#[derive(Clone)]
pub struct NodeSessions {
    /// Central's own database: the nodes and their connections.
    central: Pool,
    /// Per node and question; also the nodes' statement timeout, so that a node stops working on a
    /// question nobody waits for any more.
    timeout: Duration,
    pools: Arc<Mutex<HashMap<i32, Pool>>>,
}

/// A node that did not answer, and why in words for head office (the details go to the log).
struct Unanswered {
    reason: String,
    error: Option<anyhow::Error>,
}

impl Unanswered {
    fn new(reason: &str, error: anyhow::Error) -> Self {
        Self {
            reason: reason.into(),
            error: Some(error),
        }
    }
}

impl NodeSessions {
    pub fn new(central: Pool, timeout: Duration) -> Self {
        Self {
            central,
            timeout,
            pools: Arc::default(),
        }
    }

    /// The same sessions, each question given at most `timeout` (the dashboard's deadline). The nodes'
    /// own statement timeout stays the one the sessions were opened with.
    pub fn within(&self, timeout: Duration) -> Self {
        Self {
            timeout: timeout.min(self.timeout),
            ..self.clone()
        }
    }

    fn pools(&self) -> std::sync::MutexGuard<'_, HashMap<i32, Pool>> {
        self.pools.lock().unwrap_or_else(PoisonError::into_inner)
    }

    async fn node_pool(&self, city_id: i32) -> Result<Pool, Unanswered> {
        if let Some(pool) = self.pools().get(&city_id) {
            return Ok(pool.clone());
        }
        let connection = async {
            let client = self.central.get().await.context("getting a connection")?;
            db::nodes::node_connection(&client, city_id).await
        }
        .await
        .map_err(|e| {
            let reason = if pos_shared::db::is_unavailable(&e) {
                "central's own database is unavailable"
            } else {
                "the node's connection settings could not be read"
            };
            Unanswered::new(reason, e)
        })?;
        let mut config = tokio_postgres::Config::new();
        config
            .host(&connection.host)
            .port(connection.port)
            .dbname(&connection.dbname)
            .user(&connection.user)
            .password(connection.password.expose_secret())
            .connect_timeout(CONNECT_TIMEOUT)
            .keepalives_idle(Duration::from_secs(30))
            .application_name(format!("central-reports-{city_id}"))
            .options(format!("-c statement_timeout={}", self.timeout.as_millis()));
        let pool = pos_shared::db::DbConfig::new(config, &connection.tls)
            .and_then(|config| pos_shared::db::pool(config, SESSIONS_PER_NODE))
            .map_err(|e| Unanswered::new("the node's connection settings are invalid", e))?;
        // Questions asked at once (the dashboard's) may each have built a pool: the first one kept serves all.
        Ok(self.pools().entry(city_id).or_insert(pool).clone())
    }

    /// A session on the node's database. When none can be opened, the node's pool is dropped, so that
    /// the next question reads its connection settings again (they may have been corrected).
    async fn session(&self, city_id: i32) -> Result<deadpool_postgres::Object, Unanswered> {
        let pool = self.node_pool(city_id).await?;
        pool.get().await.map_err(|e| {
            self.pools().remove(&city_id);
            Unanswered::new(
                "cannot connect to the node's database",
                anyhow::Error::new(e).context("connecting to the node"),
            )
        })
    }

    /// `(answer, value)` per enabled node, in city order; `value` is `None` for nodes that did not
    /// answer. `ask` gets a session on the node's own database and the node's city.
    pub async fn ask_every_node<T, F, Fut>(
        &self,
        ask: F,
    ) -> anyhow::Result<Vec<(NodeAnswer, Option<T>)>>
    where
        F: Fn(deadpool_postgres::Object, i32) -> Fut,
        Fut: Future<Output = anyhow::Result<T>>,
    {
        let nodes = {
            let client = self.central.get().await.context("getting a connection")?;
            db::nodes::list_nodes(&client, PageRequest::all()).await?
        };
        let asks = nodes.into_iter().filter(|n| n.enabled).map(|node| {
            let ask = &ask;
            async move {
                let answer = self.ask_node(node.city_id, ask).await;
                let (status, reason, value) = match answer {
                    Ok(value) => ("ok", None, Some(value)),
                    Err(reason) => ("unreachable", Some(reason), None),
                };
                let answer = NodeAnswer {
                    city_id: node.city_id,
                    city: node.city,
                    status,
                    reason,
                };
                (answer, value)
            }
        });
        Ok(futures_util::future::join_all(asks).await)
    }

    /// Asks one node, within the timeout and on one of the node's few sessions: a node that hangs
    /// holds up only the questions asked of it, never central's own connections. `Err` says in words
    /// for head office why the node did not answer (the details go to the log).
    pub async fn ask_node<T, F, Fut>(&self, city_id: i32, ask: F) -> Result<T, String>
    where
        F: Fn(deadpool_postgres::Object, i32) -> Fut,
        Fut: Future<Output = anyhow::Result<T>>,
    {
        let attempt = async {
            let session = self.session(city_id).await?;
            ask(session, city_id).await.map_err(|e| {
                let reason = if pos_shared::db::is_unavailable(&e) {
                    "the connection to the node was lost"
                } else {
                    "the node's query failed"
                };
                Unanswered::new(reason, e)
            })
        };
        let result = tokio::time::timeout(self.timeout, attempt)
            .await
            .unwrap_or_else(|_| {
                Err(Unanswered {
                    reason: format!("no answer within {} ms", self.timeout.as_millis()),
                    error: None,
                })
            });
        result.map_err(|unanswered| {
            if let Some(e) = &unanswered.error {
                tracing::warn!(city_id, error = %format!("{e:#}"), "node did not answer");
            }
            unanswered.reason
        })
    }
}
