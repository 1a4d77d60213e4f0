//! The outbox worker: reports sales to central's `order_mapping` as soon as they commit, and keeps
//! retrying (the scheduled job) while central is down. Selling never waits for it.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use pos_shared::delivery::{
    Call, DeliveryMetrics, DeliveryPolicy, DeliverySignal, SessionTarget, WorkerName, run_worker,
};
use secrecy::SecretString;

/// Points the node's `pos_central` dblink server at central (from `POS_CENTRAL_DATABASE_URL`), with
/// the URL's `sslmode` and `sslrootcert` as the server's options (libpq's own, read on the node's
/// database server: a `sslrootcert` path is a file there).
pub async fn configure_central_link(
    pool: &deadpool_postgres::Pool,
    url: &SecretString,
) -> anyhow::Result<()> {
    let (config, tls) = pos_shared::db::split_url(url).context("POS_CENTRAL_DATABASE_URL")?;
    let host = match config.get_hosts().first() {
        Some(tokio_postgres::config::Host::Tcp(host)) => host.clone(),
        _ => anyhow::bail!("POS_CENTRAL_DATABASE_URL must name a TCP host"),
    };
    let port = i32::from(config.get_ports().first().copied().unwrap_or(5432));
    let dbname = config.get_dbname().unwrap_or("pos_central").to_owned();
    let user = config
        .get_user()
        .context("POS_CENTRAL_DATABASE_URL must name a user")?
        .to_owned();
    let password = config
        .get_password()
        .map(|p| String::from_utf8_lossy(p).into_owned())
        .context("POS_CENTRAL_DATABASE_URL must carry a password (dblink requires one)")?;
    let client = pool.get().await.context("getting a connection")?;
    client
        .execute(
            "SELECT define_dblink_server('pos_central', $1, $2, $3, $4, $5)",
            &[&host, &port, &dbname, &user, &password],
        )
        .await
        .context("defining the link to central")?;
    let root_cert = tls
        .root_cert
        .as_ref()
        .map(|path| {
            path.to_str()
                .context("POS_CENTRAL_DATABASE_URL: sslrootcert is not UTF-8")
        })
        .transpose()?;
    client
        .execute(
            "SELECT set_dblink_tls('pos_central', $1, $2)",
            &[&tls.mode.as_str(), &root_cert],
        )
        .await
        .context("setting the TLS of the link to central")?;
    Ok(())
}

/// Order mappings shipped to central per remote call.
const OUTBOX_BATCH_SIZE: i32 = 500;

/// Spawns the worker; its session keeps the `pos_central` dblink connection open.
pub fn spawn_worker(
    db: &pos_shared::db::DbConfig,
    signal: Arc<DeliverySignal>,
    metrics: DeliveryMetrics,
) -> anyhow::Result<tokio::task::JoinHandle<()>> {
    let mut session_config = db.clone();
    session_config.application_name("store-node-outbox");
    session_config.options("-c statement_timeout=60000");
    let session = pos_shared::db::pool(session_config, 1)?;
    let policy = DeliveryPolicy {
        poll_interval: Duration::from_secs(2),
        probe_interval: Duration::from_secs(1),
        // Sales come in bursts from many tills: a few milliseconds' wait ships them together.
        linger: Duration::from_millis(20),
    };
    let name = WorkerName {
        queue: "outbox",
        target: "central".into(),
    };
    signal.wake();
    Ok(tokio::spawn(run_worker(
        name,
        signal,
        policy,
        metrics,
        SessionTarget {
            session,
            deliver: Call {
                sql: "SELECT * FROM push_outbox(true, $1)",
                args: vec![OUTBOX_BATCH_SIZE],
            },
            probe: Call {
                sql: "SELECT central_answers()",
                args: vec![],
            },
            batch_size: OUTBOX_BATCH_SIZE,
        },
    )))
}
