use std::time::{Duration, Instant};

use central::config::{AccountsConfig, Config, ReplicationConfig};
use central::startup::Application;
use pos_shared::config::CommonConfig;
use pos_shared::telemetry::LogFormat;
use pos_shared::testkit::{TestInstance, shared_instance};
use secrecy::SecretString;
use serde_json::{Value, json};

pub struct TestCentral {
    pub url: String,
    pub admin_token: String,
    pub http: reqwest::Client,
    pub instance: &'static TestInstance,
    pub db_name: String,
}

pub fn replication_config() -> ReplicationConfig {
    ReplicationConfig {
        retry_cron: "*/1 * * * * *".into(),
        base_backoff_ms: 200,
        max_backoff_ms: 1000,
        batch_size: 1000,
        statement_timeout_ms: 5000,
        report_timeout_ms: 3000,
        dashboard_deadline_ms: 1500,
        poll_ms: 20,
        probe_ms: 200,
        purge_cron: "*/1 * * * * *".into(),
        retention_hours: 168,
    }
}

pub async fn central_database() -> (&'static TestInstance, String) {
    central_database_on(shared_instance(0).await.expect("central instance")).await
}

pub async fn central_database_on(
    instance: &'static TestInstance,
) -> (&'static TestInstance, String) {
    pos_shared::telemetry::init_for_tests();
    let db = instance
        .migrated_database("central", |url| async move {
            central::schema::migrate(
                &pos_shared::db::parse_url(&url, "test")?,
                Some(pos_shared::pgctl::APP_ROLE),
            )
            .await
        })
        .await
        .expect("central database");
    (instance, db)
}

pub async fn node_database(instance: &TestInstance) -> String {
    instance
        .migrated_database("store", |url| async move {
            store_node::schema::migrate(
                &pos_shared::db::parse_url(&url, "test")?,
                Some(pos_shared::pgctl::APP_ROLE),
            )
            .await
        })
        .await
        .expect("node database")
}

pub async fn spawn_central(replication: ReplicationConfig) -> TestCentral {
    spawn_central_on(
        shared_instance(0).await.expect("central instance"),
        replication,
    )
    .await
}

pub async fn spawn_central_on(
    instance: &'static TestInstance,
    replication: ReplicationConfig,
) -> TestCentral {
    spawn_central_with(instance, replication, AccountsConfig::default()).await
}

/// Central with its own rules for head office's sessions and logins.
pub async fn spawn_central_with(
    instance: &'static TestInstance,
    replication: ReplicationConfig,
    accounts: AccountsConfig,
) -> TestCentral {
    let (instance, db_name) = central_database_on(instance).await;
    let admin_token = pos_shared::auth::generate_token();
    start_central(instance, db_name, replication, accounts, admin_token).await
}

/// A central service on an existing database `db_name`, started with `POS_ADMIN_TOKEN` set to
/// `admin_setting` (the TestCentral's admin token is its first).
pub async fn start_central(
    instance: &'static TestInstance,
    db_name: String,
    replication: ReplicationConfig,
    accounts: AccountsConfig,
    admin_setting: String,
) -> TestCentral {
    let (mut config, _) = central_config(
        instance.app_url(&db_name),
        Some(instance.owner_url(&db_name)),
        replication,
    );
    config.admin_token = SecretString::from(admin_setting.clone());
    config.accounts = accounts;
    let app = Application::build(config).await.expect("central starts");
    let url = format!("http://127.0.0.1:{}", app.port());
    tokio::spawn(app.run_until_stopped());
    TestCentral {
        url,
        admin_token: admin_setting
            .split(',')
            .next()
            .unwrap_or_default()
            .trim()
            .to_owned(),
        http: reqwest::Client::new(),
        instance,
        db_name,
    }
}

/// Central's configuration for a test on `database_url`, migrated over `migration_database_url`
/// (plain HTTP on a free port), and its admin token.
pub fn central_config(
    database_url: SecretString,
    migration_database_url: Option<SecretString>,
    replication: ReplicationConfig,
) -> (Config, String) {
    let admin_token = pos_shared::auth::generate_token();
    let config = Config {
        common: CommonConfig {
            http_host: "127.0.0.1".into(),
            http_port: 0,
            database_url,
            migration_database_url,
            database_pool_size: 8,
            log_format: LogFormat::Human,
            log_filter: "info".into(),
            scheduler_enabled: true,
            tls: None,
            metrics_token: None,
        },
        admin_token: SecretString::from(admin_token.clone()),
        admin_token_file: None,
        replication,
        idempotency_retention_hours: 720,
        accounts: AccountsConfig::default(),
    };
    (config, admin_token)
}

impl TestCentral {
    pub async fn get(&self, path: &str) -> (u16, Value) {
        let response = self
            .http
            .get(format!("{}{path}", self.url))
            .bearer_auth(&self.admin_token)
            .send()
            .await
            .expect("request");
        let status = response.status().as_u16();
        (status, response.json().await.unwrap_or(Value::Null))
    }

    pub async fn send(&self, method: reqwest::Method, path: &str, body: &Value) -> (u16, Value) {
        let response = self
            .http
            .request(method, format!("{}{path}", self.url))
            .bearer_auth(&self.admin_token)
            .json(body)
            .send()
            .await
            .expect("request");
        let status = response.status().as_u16();
        (status, response.json().await.unwrap_or(Value::Null))
    }

    pub async fn post(&self, path: &str, body: Value) -> Value {
        let (status, value) = self.send(reqwest::Method::POST, path, &body).await;
        assert_eq!(status, 201, "POST {path} {body}: {value}");
        value
    }

    pub async fn patch(&self, path: &str, body: Value) -> Value {
        let (status, value) = self.send(reqwest::Method::PATCH, path, &body).await;
        assert_eq!(status, 200, "PATCH {path} {body}: {value}");
        value
    }

    /// A direct connection to central's database (as the service role).
    pub async fn db(&self) -> tokio_postgres::Client {
        let config =
            pos_shared::db::parse_url(&self.instance.app_url(&self.db_name), "test").expect("url");
        pos_shared::db::connect(&config).await.expect("central db")
    }

    pub async fn create_city(&self, name: &str) -> i32 {
        self.post(
            "/cities",
            json!({ "name": name, "time_zone": "Asia/Karachi" }),
        )
        .await["id"]
            .as_i64()
            .expect("id") as i32
    }

    /// Registers `db_name` on `instance` as the node of `city_id`.
    pub async fn register_node(&self, city_id: i32, node: &TestNode) -> Value {
        self.post(
            "/nodes",
            json!({
                "city_id": city_id, "host": "127.0.0.1", "port": node.instance.pg.port,
                "dbname": node.db_name, "user": pos_shared::pgctl::REPLICATOR_ROLE,
                "password": node.instance.replicator_password,
            }),
        )
        .await
    }
}

pub struct TestNode {
    pub instance: &'static TestInstance,
    pub db_name: String,
}

impl TestNode {
    pub async fn new(slot: usize) -> Self {
        let instance = shared_instance(slot).await.expect("node instance");
        Self::on(instance).await
    }

    pub async fn on(instance: &'static TestInstance) -> Self {
        let db_name = node_database(instance).await;
        Self { instance, db_name }
    }

    pub async fn db(&self) -> tokio_postgres::Client {
        let config =
            pos_shared::db::parse_url(&self.instance.app_url(&self.db_name), "test").expect("url");
        pos_shared::db::connect(&config).await.expect("node db")
    }

    /// A direct connection as the schema's owner (for a test that changes the schema).
    pub async fn owner_db(&self) -> tokio_postgres::Client {
        let config = pos_shared::db::parse_url(&self.instance.owner_url(&self.db_name), "test")
            .expect("url");
        pos_shared::db::connect(&config).await.expect("node db")
    }

    /// `(id, version)` of every row of `table` on the node (city_id filter for fragments).
    pub async fn versions(&self, table: &str) -> Vec<(i32, i64)> {
        let client = self.db().await;
        let sql = format!("SELECT id, version FROM {table} ORDER BY id");
        client
            .query(&sql, &[])
            .await
            .expect("query")
            .iter()
            .map(|r| (r.get(0), r.get(1)))
            .collect()
    }
}

/// Polls `GET {url}/health` until the service answers 200; panics, naming `what` and `output()` (its
/// log, when kept), when `child` (its process) exits first or `timeout` passes.
pub async fn wait_process_healthy(
    child: &mut std::process::Child,
    url: &str,
    timeout: Duration,
    what: &str,
    output: impl Fn() -> String,
) {
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(5))
        .build()
        .unwrap();
    let started = Instant::now();
    loop {
        if let Ok(response) = http.get(format!("{url}/health")).send().await
            && response.status() == 200
        {
            return;
        }
        let exited = child.try_wait().unwrap();
        assert!(
            exited.is_none() && started.elapsed() < timeout,
            "{what} did not become healthy ({exited:?}): {}",
            output()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// `GET url` with `token` as the bearer: the JSON answer, which must be 200.
pub async fn get_json(url: &str, token: &str) -> Value {
    let response = reqwest::Client::new()
        .get(url)
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200, "GET {url}");
    response.json().await.unwrap()
}

/// Polls `check` until it returns true or `timeout` passes.
/// A service's binary, as `cargo test --workspace` builds it beside the test binaries (for tests that
/// kill it).
pub fn service_binary(name: &str) -> std::path::PathBuf {
    let exe = std::env::current_exe().expect("the test binary's path");
    let dir = exe
        .parent()
        .and_then(std::path::Path::parent)
        .expect("target/<profile>/deps");
    let binary = dir.join(name);
    assert!(
        binary.exists(),
        "{} is not built: run `cargo build -p {name}` (cargo test --workspace builds it)",
        binary.display()
    );
    binary
}

pub async fn eventually<F, Fut>(what: &str, timeout: Duration, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let start = Instant::now();
    loop {
        if check().await {
            return;
        }
        assert!(
            start.elapsed() < timeout,
            "timed out after {timeout:?} waiting for: {what}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// `(id, version)` of rows of `table` on central, optionally one city's fragment.
pub async fn central_versions(
    central: &TestCentral,
    table: &str,
    city_id: Option<i32>,
) -> Vec<(i32, i64)> {
    let client = central.db().await;
    let sql = match city_id {
        Some(_) => format!("SELECT id, version FROM {table} WHERE city_id = $1 ORDER BY id"),
        None => format!("SELECT id, version FROM {table} WHERE $1::int IS NULL ORDER BY id"),
    };
    client
        .query(&sql, &[&city_id])
        .await
        .expect("query")
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect()
}
