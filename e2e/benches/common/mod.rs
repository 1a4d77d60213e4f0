//! Cluster start-up shared by the benchmark programs (`mod common;` in each): a migrated central
//! database served in-process by `central::startup::Application`, and two nodes (Karachi, Lahore), each
//! a migrated store database on its own PostgreSQL instance, registered through `POST /nodes`; and the
//! propagation-lag measurement.

// Each benchmark program compiles this module and uses a part of it.
#![allow(dead_code)]

use std::time::{Duration, Instant};

use central::config::{Config, ReplicationConfig};
use central::startup::Application;
use pos_shared::config::CommonConfig;
use pos_shared::telemetry::LogFormat;
use pos_shared::testkit::TestInstance;
use secrecy::SecretString;
use serde_json::json;

pub type Db = tokio_postgres::Client;

/// A session as the services' runtime role.
pub async fn connect(instance: &TestInstance, db: &str) -> anyhow::Result<Db> {
    pos_shared::db::connect(&pos_shared::db::parse_url(&instance.app_url(db), "bench")?).await
}

/// A session as the schema's owner: for a set-up that changes the schema (triggers off, VACUUM).
pub async fn connect_owner(instance: &TestInstance, db: &str) -> anyhow::Result<Db> {
    pos_shared::db::connect(&pos_shared::db::parse_url(
        &instance.owner_url(db),
        "bench",
    )?)
    .await
}

/// The settings every in-process service of the benchmarks runs with: port 0, warnings only, the
/// scheduler on.
pub fn service_config(
    database_url: SecretString,
    owner_url: SecretString,
    pool_size: usize,
) -> CommonConfig {
    CommonConfig {
        http_host: "127.0.0.1".into(),
        http_port: 0,
        database_url,
        migration_database_url: Some(owner_url),
        database_pool_size: pool_size,
        log_format: LogFormat::Human,
        log_filter: "warn".into(),
        scheduler_enabled: true,
        tls: None,
        metrics_token: None,
    }
}

/// A database of `instance` with central's schema.
pub async fn migrated_central(instance: &TestInstance) -> anyhow::Result<String> {
    instance
        .migrated_database("central", |url| async move {
            central::schema::migrate(
                &pos_shared::db::parse_url(&url, "bench")?,
                Some(pos_shared::pgctl::APP_ROLE),
            )
            .await
        })
        .await
}

/// A database of `instance` with a store node's schema.
pub async fn migrated_store(instance: &TestInstance) -> anyhow::Result<String> {
    instance
        .migrated_database("store", |url| async move {
            store_node::schema::migrate(
                &pos_shared::db::parse_url(&url, "bench")?,
                Some(pos_shared::pgctl::APP_ROLE),
            )
            .await
        })
        .await
}

/// A store node served in-process that sells and reports its sales to central's database through its
/// outbox (central's service is not needed for that). Karachi (city 1) with store 1 (Saddar) and
/// store 2 (Hot, no stock yet), `products` products at 10.00 + id with 10,000,000 units each at
/// store 1.
pub struct SellingNode {
    pub url: String,
    /// Store 1's cashier token, and store 2's.
    pub token: String,
    pub hot_token: String,
    /// The node's database as the services' runtime role, and a session as its owner.
    pub node_url: SecretString,
    pub setup: Db,
    /// Central's database, on its own instance.
    pub central_db: String,
}

pub async fn start_selling_node(
    central_pg: &TestInstance,
    node_pg: &TestInstance,
    products: i32,
) -> anyhow::Result<SellingNode> {
    let central_db = migrated_central(central_pg).await?;
    let node_db = migrated_store(node_pg).await?;
    let setup = connect_owner(node_pg, &node_db).await?;
    // Central knows the node (its login) and its stores: a node reports its own city's sales only.
    connect(central_pg, &central_db)
        .await?
        .batch_execute(
            "INSERT INTO cities (id, name, time_zone) VALUES (1, 'Karachi', 'Asia/Karachi');
             INSERT INTO stores (id, code, name, city_id) VALUES (1, 'KHI001', 'Saddar', 1), (2, 'KHI002', 'Hot', 1);
             INSERT INTO nodes (city_id, server_name, central_login) VALUES (1, 'node_karachi', 'pos_node_1');",
        )
        .await?;
    setup
        .batch_execute(&format!(
            "INSERT INTO stores (id, code, name, city_id, active, version, created_at, updated_at)
             VALUES (1, 'KHI001', 'Saddar', 1, true, 1, now(), now()), (2, 'KHI002', 'Hot', 1, true, 1, now(), now());
             INSERT INTO products (id, sku, name, category_id, price, active, version, created_at, updated_at)
             SELECT g, 'SKU' || g, 'Product ' || g, 1, 10.00 + g, true, 1, now(), now() FROM generate_series(1, {products}) g;
             INSERT INTO inventory (store_id, product_id, quantity) SELECT 1, g, 10000000 FROM generate_series(1, {products}) g;"
        ))
        .await?;
    let token = pos_shared::auth::generate_token();
    let hot_token = pos_shared::auth::generate_token();
    let node_url = node_pg.app_url(&node_db);
    let app = store_node::startup::Application::build(store_node::config::Config {
        common: service_config(node_url.clone(), node_pg.owner_url(&node_db), 16),
        city_id: 1,
        cashier_tokens: vec![
            (1, SecretString::from(token.clone())),
            (2, SecretString::from(hot_token.clone())),
        ],
        admin_token: None,
        admin_token_file: None,
        central_database_url: Some(central_pg.node_login_url(1, &central_db).await?),
        outbox_retry_cron: "*/5 * * * * *".into(),
        outbox_retention_hours: 168,
        idempotency_retention_hours: 720,
    })
    .await?;
    let url = format!("http://127.0.0.1:{}", app.port());
    tokio::spawn(app.run_until_stopped());
    Ok(SellingNode {
        url,
        token,
        hot_token,
        node_url,
        setup,
        central_db,
    })
}

/// A running central with its two nodes registered. Each benchmark uses the fields it needs.
pub struct Cluster {
    pub central_db: String,
    pub http: reqwest::Client,
    pub url: String,
    pub token: String,
    pub karachi_city: i32,
    pub lahore_city: i32,
    pub karachi_db: String,
    pub lahore_db: String,
}

pub async fn start(
    central: &TestInstance,
    karachi: &TestInstance,
    lahore: &TestInstance,
    replication: ReplicationConfig,
) -> anyhow::Result<Cluster> {
    let central_db = migrated_central(central).await?;
    let mut node_dbs = Vec::new();
    for instance in [karachi, lahore] {
        node_dbs.push(migrated_store(instance).await?);
    }
    let token = pos_shared::auth::generate_token();
    let app = Application::build(Config {
        common: service_config(
            central.app_url(&central_db),
            central.owner_url(&central_db),
            8,
        ),
        admin_token: SecretString::from(token.clone()),
        admin_token_file: None,
        replication,
        idempotency_retention_hours: 720,
        accounts: Default::default(),
    })
    .await?;
    let url = format!("http://127.0.0.1:{}", app.port());
    tokio::spawn(app.run_until_stopped());
    let http = reqwest::Client::new();
    let mut cities = Vec::new();
    for ((name, instance), db) in [("Karachi", karachi), ("Lahore", lahore)]
        .into_iter()
        .zip(&node_dbs)
    {
        let city: serde_json::Value = http
            .post(format!("{url}/cities"))
            .bearer_auth(&token)
            .json(&json!({"name": name, "time_zone": "Asia/Karachi"}))
            .send()
            .await?
            .json()
            .await?;
        let city_id = city["id"].as_i64().unwrap_or_default();
        http.post(format!("{url}/nodes"))
            .bearer_auth(&token)
            .json(&json!({"city_id": city_id, "host": "127.0.0.1", "port": instance.pg.port, "dbname": db,
                          "user": pos_shared::pgctl::REPLICATOR_ROLE, "password": instance.replicator_password}))
            .send()
            .await?
            .error_for_status()?;
        cities.push(i32::try_from(city_id)?);
    }
    Ok(Cluster {
        central_db,
        http,
        url,
        token,
        karachi_city: cities[0],
        lahore_city: cities[1],
        karachi_db: node_dbs[0].clone(),
        lahore_db: node_dbs[1].clone(),
    })
}

/// Waits until no node has open entries.
pub async fn wait_until_delivered(central: &Db, timeout: Duration) -> anyhow::Result<()> {
    let started = Instant::now();
    loop {
        // Through the queue's index: a count of the whole log would read it every few milliseconds.
        let open: i64 = central
            .query_one(
                "SELECT count(*) FROM replication_log WHERE status IN ('Pending', 'Failed')",
                &[],
            )
            .await?
            .get(0);
        if open == 0 {
            return Ok(());
        }
        anyhow::ensure!(
            started.elapsed() < timeout,
            "{open} entries still undelivered after {timeout:?}"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

pub fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let index = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[index.min(sorted.len() - 1)]
}

/// Writes customers at `rate`/s for `seconds`, spread over the cities of `nodes` in turn, and measures
/// when each becomes visible at its city's node. The lags, sorted.
pub async fn propagation_lag(
    central: &Db,
    nodes: &[(i32, &Db)],
    rate: u32,
    seconds: u32,
) -> anyhow::Result<Vec<Duration>> {
    let total = (rate * seconds) as usize;
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel::<(i32, Instant)>();
    let insert = central
        .prepare("INSERT INTO customers (name, city_id) VALUES ('Lag probe', $1) RETURNING id")
        .await?;
    let writer = async {
        let mut ticker = tokio::time::interval(Duration::from_secs(1) / rate);
        for i in 0..total {
            ticker.tick().await;
            let city = nodes[i % nodes.len()].0;
            let id: i32 = central.query_one(&insert, &[&city]).await?.get(0);
            let _ = tx.send((id, Instant::now()));
        }
        anyhow::Ok(())
    };
    // Each node is watched for the ids written for it, as they appear.
    let expected = total.div_ceil(nodes.len());
    let watchers = nodes.iter().map(|(_, node)| async move {
        let mut seen = std::collections::HashMap::new();
        let mut last: i32 = node
            .query_one("SELECT coalesce(max(id), 0) FROM customers", &[])
            .await?
            .get(0);
        let poll = node
            .prepare("SELECT id FROM customers WHERE id > $1 ORDER BY id")
            .await?;
        let deadline = Instant::now() + Duration::from_secs(u64::from(seconds) + 30);
        while seen.len() < expected && Instant::now() < deadline {
            for row in node.query(&poll, &[&last]).await? {
                let id: i32 = row.get(0);
                seen.insert(id, Instant::now());
                last = last.max(id);
            }
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        anyhow::Ok(seen)
    });
    let (written, seen) = tokio::join!(writer, futures_util::future::join_all(watchers));
    written?;
    drop(tx);
    let mut visible = std::collections::HashMap::new();
    for node_seen in seen {
        visible.extend(node_seen?);
    }
    let mut rx = rx;
    let mut lags = Vec::new();
    while let Ok((id, committed)) = rx.try_recv() {
        if let Some(at) = visible.get(&id) {
            lags.push(at.saturating_duration_since(committed));
        }
    }
    lags.sort();
    Ok(lags)
}
