//! The cluster `posctl up` started, read from its `cluster.json` and `pids.json`, and what the scale
//! benchmark reads of central over a window: CPU per node and database sessions.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::Context;
use pos_shared::testkit::{data_dir_cpu, process_cpu};
use secrecy::SecretString;
use serde_json::Value;

use crate::common::Db;

/// The running cluster as `cluster.json` and `pids.json` describe it.
pub(crate) struct Chain {
    pub(crate) central_url: String,
    pub(crate) token: String,
    pub(crate) central_db: Db,
    pub(crate) nodes: Vec<(i32, Db)>,
    /// The first stores' node URLs and cashier tokens, for sales.
    pub(crate) tills: Vec<(String, String)>,
    pub(crate) central_pid: u32,
    pub(crate) node_pids: Vec<u32>,
    pub(crate) central_data: PathBuf,
}

async fn connect_url(url: &str) -> anyhow::Result<Db> {
    pos_shared::db::connect(&pos_shared::db::parse_url(
        &SecretString::from(url.to_owned()),
        "bench",
    )?)
    .await
}

pub(crate) async fn read_chain(dir: &Path) -> anyhow::Result<Chain> {
    let cluster: Value = serde_json::from_slice(&std::fs::read(dir.join("cluster.json"))?)?;
    let pids: Value = serde_json::from_slice(&std::fs::read(dir.join("pids.json"))?)?;
    let pid_of = |name: &str| {
        pids["services"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|s| s["name"] == name)
            .and_then(|s| s["pid"].as_u64())
            .map(|p| p as u32)
    };
    // posctl names each node's service `store-<instance>`.
    let node_pids = pids["services"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|s| s["name"].as_str().is_some_and(|n| n.starts_with("store-")))
        .filter_map(|s| s["pid"].as_u64().map(|p| p as u32))
        .collect();
    let mut nodes = Vec::new();
    let mut tills = Vec::new();
    for node in cluster["nodes"].as_array().context("cluster.json: nodes")? {
        nodes.push((
            node["city_id"].as_i64().context("city_id")? as i32,
            connect_url(node["database_url"].as_str().context("database_url")?).await?,
        ));
        if let Some(token) = node["stores"][0]["cashier_token"].as_str() {
            tills.push((
                node["url"].as_str().unwrap_or_default().to_owned(),
                token.to_owned(),
            ));
        }
    }
    Ok(Chain {
        central_url: cluster["central"]["url"]
            .as_str()
            .context("central url")?
            .to_owned(),
        token: cluster["central"]["admin_token"]
            .as_str()
            .context("admin token")?
            .to_owned(),
        central_db: connect_url(
            cluster["central"]["database_url"]
                .as_str()
                .context("central database_url")?,
        )
        .await?,
        nodes,
        tills,
        central_pid: pid_of("central").context("pids.json: central")?,
        node_pids,
        central_data: dir.join("pg").join("central"),
    })
}

/// Central's CPU (process and instance) and the wall time over a window.
pub(crate) struct Window {
    central: Duration,
    instance: Duration,
    started: Instant,
}

impl Window {
    pub(crate) fn open(chain: &Chain) -> anyhow::Result<Self> {
        Ok(Self {
            central: process_cpu(chain.central_pid)?,
            instance: data_dir_cpu(&chain.central_data)?,
            started: Instant::now(),
        })
    }

    /// Share of one core per node: (central process, central's instance).
    pub(crate) fn per_node(&self, chain: &Chain) -> anyhow::Result<(f64, f64)> {
        let wall = self.started.elapsed().as_secs_f64();
        let n = chain.nodes.len() as f64;
        Ok((
            (process_cpu(chain.central_pid)? - self.central).as_secs_f64() / wall / n,
            (data_dir_cpu(&chain.central_data)? - self.instance).as_secs_f64() / wall / n,
        ))
    }
}

/// Client sessions on central's instance, and its `max_connections`.
pub(crate) async fn sessions(chain: &Chain) -> anyhow::Result<(i64, i64)> {
    let row = chain
        .central_db
        .query_one(
            "SELECT (SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'client backend'),
                    current_setting('max_connections')::bigint",
            &[],
        )
        .await?;
    Ok((row.get(0), row.get(1)))
}
