//! Asks every enabled node the same question at once: each on its own pooled session, each with its own
//! timeout, so that the answer takes as long as the slowest node that answers in time, not the sum.

use std::future::Future;
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

/// `(answer, value)` per enabled node, in city order; `value` is `None` for nodes that did not answer.
pub async fn ask_every_node<T, F, Fut>(
    pool: &Pool,
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
        let pool = pool.clone();
        let ask = &ask;
        async move {
            let attempt = async {
                let client = pool.get().await.context("getting a connection")?;
                ask(client, node.city_id).await
            };
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
