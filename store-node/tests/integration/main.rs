//! The store node's integration tests: a real PostgreSQL instance, real HTTP. One instance for the
//! binary; every test gets a database of its own.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a failed step should panic

use pos_shared::config::CommonConfig;
use pos_shared::telemetry::LogFormat;
use pos_shared::testkit::shared_instance;
use secrecy::SecretString;
use store_node::config::Config;
use store_node::startup::Application;

pub struct TestStoreNode {
    pub url: String,
    pub http: reqwest::Client,
    pub tokens: Vec<(i32, String)>,
    pub admin_token: String,
    pub db: tokio_postgres::Client,
    /// The node database's URL, for a test that needs a session of its own.
    pub db_url: SecretString,
}

const CITY_ID: i32 = 1;

/// A migrated store database of its own on the shared instance: its URLs (the service role's, the
/// owner's) and a session on it as the service role.
pub async fn store_database() -> ((SecretString, SecretString), tokio_postgres::Client) {
    let instance = shared_instance(0).await.expect("instance");
    let db_name = instance
        .migrated_database("store", |url| async move {
            store_node::schema::migrate(
                &pos_shared::db::parse_url(&url, "test")?,
                Some(pos_shared::pgctl::APP_ROLE),
            )
            .await
        })
        .await
        .expect("database");
    let (db_url, owner_url) = (instance.app_url(&db_name), instance.owner_url(&db_name));
    let db = pos_shared::db::connect(&pos_shared::db::parse_url(&db_url, "test").unwrap())
        .await
        .unwrap();
    ((db_url, owner_url), db)
}

pub async fn spawn_store_node() -> TestStoreNode {
    pos_shared::telemetry::init_for_tests();
    let ((db_url, owner_url), db) = store_database().await;
    // Two stores of this city, as replication would have delivered them.
    db.batch_execute(
        "INSERT INTO stores (id, code, name, city_id, active, version, created_at, updated_at)
         VALUES (1, 'KHI001', 'Saddar', 1, true, 1, now(), now()), (2, 'KHI002', 'Clifton', 1, true, 1, now(), now());
         INSERT INTO products (id, sku, name, category_id, price, active, version, created_at, updated_at)
         VALUES (1, 'TEA', 'Chai', 1, 150.00, true, 1, now(), now()),
                (2, 'RUSK', 'Rusk', 1, 99.50, true, 1, now(), now());
         INSERT INTO inventory (store_id, product_id, quantity) VALUES (1, 1, 10), (1, 2, 100), (2, 1, 20);
         INSERT INTO customers (id, name, city_id, version, created_at, updated_at)
         VALUES (1, 'Zoë', 1, 1, now(), now()), (2, 'Elsewhere', 2, 1, now(), now());",
    )
    .await
    .unwrap();
    let tokens: Vec<(i32, String)> = (1..=2)
        .map(|s| (s, pos_shared::auth::generate_token()))
        .collect();
    let admin_token = pos_shared::auth::generate_token();
    let config = Config {
        common: CommonConfig {
            http_host: "127.0.0.1".into(),
            http_port: 0,
            database_url: db_url.clone(),
            migration_database_url: Some(owner_url),
            database_pool_size: 4,
            log_format: LogFormat::Human,
            log_filter: "info".into(),
            scheduler_enabled: true,
            tls: None,
            metrics_token: None,
        },
        city_id: CITY_ID,
        cashier_tokens: tokens
            .iter()
            .map(|(s, t)| (*s, SecretString::from(t.clone())))
            .collect(),
        admin_token: Some(SecretString::from(admin_token.clone())),
        admin_token_file: None,
        central_database_url: None,
        outbox_retry_cron: "*/1 * * * * *".into(),
        outbox_retention_hours: 168,
        idempotency_retention_hours: 720,
    };
    let app = Application::build(config).await.expect("store node starts");
    let url = format!("http://127.0.0.1:{}", app.port());
    tokio::spawn(app.run_until_stopped());
    TestStoreNode {
        url,
        http: reqwest::Client::new(),
        tokens,
        admin_token,
        db,
        db_url,
    }
}

impl TestStoreNode {
    pub async fn get(&self, path: &str, token: Option<&str>) -> (u16, serde_json::Value) {
        let mut request = self.http.get(format!("{}{path}", self.url));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        let response = request.send().await.unwrap();
        let status = response.status().as_u16();
        (status, response.json().await.unwrap_or_default())
    }
}

#[tokio::test]
async fn health_needs_no_token_and_the_rest_does() {
    let node = spawn_store_node().await;
    assert_eq!(node.get("/health", None).await.0, 200);
    let (status, body) = node.get("/products", None).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (401, Some("unauthorized"))
    );
    assert_eq!(node.get("/products", Some("not-a-token")).await.0, 401);
    let (status, products) = node.get("/products", Some(&node.tokens[0].1)).await;
    assert_eq!(status, 200);
    assert_eq!(products["items"][0]["price"], "150.00");
    let metrics = node
        .http
        .get(format!("{}/metrics", node.url))
        .send()
        .await
        .unwrap();
    assert_eq!(metrics.status(), 200);
    let text = metrics.text().await.unwrap();
    assert!(text.contains(r#"pos_backlog{queue="outbox",status="Pending",target="central",service="store-node"} 0"#), "{text}");
}

/// Found by schema fuzzing: a NUL in `?phone=` reached the database (500); a wrong method was 404; the
/// lists were cut at 1,000 rows or not at all.
#[tokio::test]
async fn the_node_refuses_control_characters_and_wrong_methods_and_pages_its_lists() {
    let node = spawn_store_node().await;
    let token = &node.tokens[0].1;
    for query in ["phone=%00", "phone=12%0034"] {
        let (status, body) = node.get(&format!("/customers?{query}"), Some(token)).await;
        assert_eq!(
            (status, body["details"]["field"].as_str()),
            (422, Some("phone")),
            "{query}"
        );
    }
    let response = node
        .http
        .put(format!("{}/orders", node.url))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 405);
    assert_eq!(response.headers()["allow"], "POST");
    let (status, first) = node.get("/products?limit=1", Some(token)).await;
    assert_eq!(status, 200);
    assert_eq!(first["items"].as_array().unwrap().len(), 1);
    let after = first["next"].as_i64().expect("more products follow");
    let (_, rest) = node
        .get(&format!("/products?after={after}"), Some(token))
        .await;
    assert_eq!(rest["next"], serde_json::Value::Null);
    let ids: Vec<i64> = rest["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["id"].as_i64().unwrap())
        .collect();
    assert!(
        !ids.is_empty() && ids.iter().all(|id| *id > after),
        "{ids:?}"
    );
    assert_eq!(node.get("/inventory?limit=0", Some(token)).await.0, 422);
}

#[tokio::test]
async fn a_cashier_of_one_store_is_refused_another_store() {
    let node = spawn_store_node().await;
    let cashier_one = &node.tokens[0].1;
    let (status, own) = node.get("/inventory", Some(cashier_one)).await;
    assert_eq!(status, 200);
    assert_eq!(own["items"][0]["quantity"], 10);
    let (status, body) = node.get("/inventory?store_id=2", Some(cashier_one)).await;
    assert_eq!((status, body["error"].as_str()), (403, Some("forbidden")));
    let (status, other) = node
        .get("/inventory?store_id=2", Some(&node.admin_token))
        .await;
    assert_eq!(
        (status, other["items"][0]["quantity"].as_i64()),
        (200, Some(20))
    );
}

#[tokio::test]
async fn the_node_lists_only_its_own_citys_customers() {
    let node = spawn_store_node().await;
    let token = &node.tokens[1].1;
    let (_, customers) = node.get("/customers", Some(token)).await;
    assert_eq!(customers["items"].as_array().unwrap().len(), 1);
    assert_eq!(customers["items"][0]["name"], "Zoë");
    assert_eq!(node.get("/customers/2", Some(token)).await.0, 404);
    assert_eq!(node.get("/customers/1", Some(token)).await.0, 200);
    let count: i64 = node
        .db
        .query_one("SELECT count(*) FROM customers", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(
        count, 2,
        "the moved-away customer's row stays for its orders"
    );
}

mod after_sales;
mod approvals;
mod lookup;
mod openapi;
mod pricing;
mod receipts;
mod returns;
mod sales;
mod shifts;
mod signups;
mod stock;
mod transfers;
mod voids;

#[tokio::test]
async fn migrations_are_idempotent() {
    let instance = shared_instance(0).await.unwrap();
    let db = instance.create_database(None).await.unwrap();
    let config = pos_shared::db::parse_url(&instance.owner_url(&db), "test").unwrap();
    let runtime = Some(pos_shared::pgctl::APP_ROLE);
    store_node::schema::migrate(&config, runtime).await.unwrap();
    store_node::schema::migrate(&config, runtime).await.unwrap();
    let client = pos_shared::db::connect(&config).await.unwrap();
    pos_shared::testkit::check_each_migration_applied_once(
        &client,
        std::path::Path::new(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../sql/store/migrations"
        )),
    )
    .await
    .unwrap();
}

/// The outbox keeps every delivered sale. A session that pushed while it was short still finds the
/// queue through the queue's own index once the outbox holds a long history: a plan that walked the
/// history in id order (what a generic plan of push_outbox()'s first query does) would read all of it
/// on every push.
#[tokio::test]
async fn an_outbox_push_never_walks_the_delivered_history() {
    let ((_, owner_url), db) = store_database().await;
    let delivered_history = async |count: i32| {
        db.execute(
            "INSERT INTO outbox (kind, global_order_id, payload, status, attempts, delivered_at)
             SELECT 'order', gen_random_uuid(), '{}', 'Success', 1, now() FROM generate_series(1, $1)",
            &[&count],
        )
        .await
        .unwrap();
    };
    // No statistics refresh in the middle of the test (it would replan): a change the owner makes.
    pos_shared::db::connect(&pos_shared::db::parse_url(&owner_url, "test").unwrap())
        .await
        .unwrap()
        .batch_execute("ALTER TABLE outbox SET (autovacuum_enabled = off)")
        .await
        .unwrap();
    delivered_history(3).await;
    let push = async || -> (i32, i32) {
        let row = db
            .query_one("SELECT delivered, failed FROM push_outbox()", &[])
            .await
            .unwrap();
        (row.get(0), row.get(1))
    };
    for _ in 0..8 {
        assert_eq!(push().await, (0, 0), "nothing waits");
    }
    delivered_history(30_000).await;
    let before = pos_shared::testkit::table_reads(&db, "outbox")
        .await
        .unwrap();
    assert_eq!(push().await, (0, 0));
    let reads = pos_shared::testkit::table_reads(&db, "outbox")
        .await
        .unwrap()
        - before;
    assert_eq!(
        (reads.seq_scans, reads.rows_fetched_by_index),
        (0, 0),
        "an empty queue costs an index probe"
    );
}

/// Retention deletes delivered outbox entries and idempotency keys past their windows, in batches, and
/// nothing else: entries not yet at central, Dead ones and young ones stay.
#[tokio::test]
async fn retention_deletes_only_old_delivered_history_and_old_keys() {
    let (_, db) = store_database().await;
    db.batch_execute(
        "INSERT INTO outbox (kind, global_order_id, payload, status, attempts, delivered_at, created_at)
         SELECT 'order', gen_random_uuid(), '{}', 'Success', 1, now() - interval '10 days', now() - interval '10 days'
         FROM generate_series(1, 25);
         INSERT INTO outbox (kind, global_order_id, payload, status, attempts, message)
         VALUES ('order', gen_random_uuid(), '{}', 'Failed', 3, 'central down'),
                ('order', gen_random_uuid(), '{}', 'Dead', 1, 'refused');
         INSERT INTO outbox (kind, global_order_id, payload, status, attempts, delivered_at)
         VALUES ('order', gen_random_uuid(), '{}', 'Success', 1, now());
         INSERT INTO idempotency_keys (idempotency_key, kind, store_id, fingerprint, created_at)
         SELECT gen_random_uuid(), 'order', 1, 'f', now() - interval '40 days' FROM generate_series(1, 12);
         INSERT INTO idempotency_keys (idempotency_key, kind, store_id, fingerprint)
         VALUES (gen_random_uuid(), 'order', 1, 'f');",
    )
    .await
    .unwrap();
    // Batches of 10 of each, called until a call deletes nothing, as the service calls it.
    let mut calls = Vec::new();
    loop {
        let deleted: i32 = db
            .query_one(
                "SELECT purge_node_history(interval '7 days', interval '30 days', 10)",
                &[],
            )
            .await
            .unwrap()
            .get(0);
        calls.push(deleted);
        if deleted == 0 {
            break;
        }
    }
    assert_eq!(calls, [20, 12, 5, 0]);
    let left: Vec<String> = db
        .query("SELECT status FROM outbox ORDER BY id", &[])
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(left, ["Failed", "Dead", "Success"]);
    let keys: i64 = db
        .query_one("SELECT count(*) FROM idempotency_keys", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(keys, 1);
}
