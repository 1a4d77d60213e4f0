//! Cluster start-up shared by the benchmark programs (`mod common;` in each): a migrated central
//! database served in-process by `central::startup::Application`, and two nodes (Karachi, Lahore), each
//! a migrated store database on its own PostgreSQL instance, registered through `POST /nodes`.

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
#[allow(dead_code)] // not every benchmark changes the schema
pub async fn connect_owner(instance: &TestInstance, db: &str) -> anyhow::Result<Db> {
    pos_shared::db::connect(&pos_shared::db::parse_url(
        &instance.owner_url(db),
        "bench",
    )?)
    .await
}

/// A running central with its two nodes registered. Each benchmark uses the fields it needs.
#[allow(dead_code)]
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
    let central_db = central
        .migrated_database("central", |url| async move {
            central::schema::migrate(
                &pos_shared::db::parse_url(&url, "bench")?,
                Some(pos_shared::pgctl::APP_ROLE),
            )
            .await
        })
        .await?;
    let mut node_dbs = Vec::new();
    for instance in [karachi, lahore] {
        node_dbs.push(
            instance
                .migrated_database("store", |url| async move {
                    store_node::schema::migrate(
                        &pos_shared::db::parse_url(&url, "bench")?,
                        Some(pos_shared::pgctl::APP_ROLE),
                    )
                    .await
                })
                .await?,
        );
    }
    let token = pos_shared::auth::generate_token();
    let app = Application::build(Config {
        common: CommonConfig {
            http_host: "127.0.0.1".into(),
            http_port: 0,
            database_url: central.app_url(&central_db),
            migration_database_url: Some(central.owner_url(&central_db)),
            database_pool_size: 8,
            log_format: LogFormat::Human,
            log_filter: "warn".into(),
            scheduler_enabled: true,
            tls: None,
            metrics_token: None,
        },
        admin_token: SecretString::from(token.clone()),
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
