//! A chain of one city for the tests that sell: central and a node, each on a PostgreSQL instance of
//! its own, and the node's service.

use std::time::Duration;

use pos_shared::config::CommonConfig;
use pos_shared::telemetry::LogFormat;
use pos_shared::testkit::TestInstance;
use secrecy::SecretString;
use serde_json::json;
use uuid::Uuid;

use crate::common::{TestCentral, TestNode, eventually, replication_config, spawn_central_on};

const WAIT: Duration = Duration::from_secs(30);

/// Central and one node (Karachi, with store KHI001 and product "Chai" at 150.00 in stock), each on a
/// PostgreSQL instance of its own so that a test may stop either, and the node's service running.
pub struct SalesChain {
    pub central_pg: &'static TestInstance,
    pub central: TestCentral,
    pub node: TestNode,
    pub node_url: String,
    pub cashier: String,
    pub http: reqwest::Client,
    pub product: i64,
    pub store: i32,
}

impl SalesChain {
    pub async fn start() -> Self {
        let central_pg: &'static TestInstance =
            Box::leak(Box::new(TestInstance::start_dedicated().await.unwrap()));
        let central = spawn_central_on(central_pg, replication_config()).await;
        let node_pg: &'static TestInstance =
            Box::leak(Box::new(TestInstance::start_dedicated().await.unwrap()));
        let node = TestNode::on(node_pg).await;
        let city = central.create_city("Karachi").await;
        central.register_node(city, &node).await;
        let category = central.post("/categories", json!({"name": "Tea"})).await["id"].clone();
        let product = central
            .post(
                "/products",
                json!({"sku": "TEA-1", "name": "Chai", "category_id": category, "price": "150.00"}),
            )
            .await["id"]
            .as_i64()
            .unwrap();
        let store = central
            .post(
                "/stores",
                json!({"code": "KHI001", "name": "Saddar", "city_id": city}),
            )
            .await["id"]
            .as_i64()
            .unwrap() as i32;
        eventually("store and product replicated", WAIT, || async {
            node.versions("stores").await.len() == 1 && node.versions("products").await.len() == 1
        })
        .await;

        let cashier = pos_shared::auth::generate_token();
        let node_url = start_node_service(
            &central,
            central_pg,
            &node,
            city,
            vec![(store, SecretString::from(cashier.clone()))],
        )
        .await;
        let http = reqwest::Client::new();
        let receipt = http
            .post(format!("{node_url}/inventory/receipts"))
            .bearer_auth(&cashier)
            .json(&json!({"idempotency_key": Uuid::new_v4(), "items": [{"product_id": product, "quantity": 100}]}))
            .send()
            .await
            .unwrap();
        assert_eq!(receipt.status(), 201);
        Self {
            central_pg,
            central,
            node,
            node_url,
            cashier,
            http,
            product,
            store,
        }
    }

    /// One cash sale of one Chai; its global order id.
    pub async fn sell(&self) -> Uuid {
        let response = self.sell_at(&self.node_url, &self.cashier).await;
        assert_eq!(response.status(), 201);
        let order: serde_json::Value = response.json().await.unwrap();
        order["global_order_id"]
            .as_str()
            .unwrap()
            .parse::<Uuid>()
            .unwrap()
    }

    /// One cash sale of one Chai at the node `node_url` with `token`: the answer as it is.
    pub async fn sell_at(&self, node_url: &str, token: &str) -> reqwest::Response {
        self.http
            .post(format!("{node_url}/orders"))
            .bearer_auth(token)
            .json(
                &json!({"idempotency_key": Uuid::new_v4(), "customer_id": null,
                          "items": [{"product_id": self.product, "quantity": 1}],
                          "payments": [{"method": "cash", "amount": "200.00"}]}),
            )
            .send()
            .await
            .unwrap()
    }

    /// `GET path` at the node's service with the cashier's token: the JSON answer.
    pub async fn node_get(&self, path: &str) -> serde_json::Value {
        let response = self
            .http
            .get(format!("{}{path}", self.node_url))
            .bearer_auth(&self.cashier)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200, "GET {path} at the node");
        response.json().await.unwrap()
    }

    /// Central files a sale of its own under the store's number `store_order_id`, so that the node's
    /// sale of that number is refused there (as after a node restored from an old backup).
    pub async fn take_store_number_at_central(&self, store_order_id: i64) {
        self.central
            .db()
            .await
            .execute(
                "INSERT INTO order_mapping (global_order_id, store_id, store_order_id, total_amount, city_id,
                                            business_date, order_time)
                 VALUES (gen_random_uuid(), $1, $2, 1, 1, current_date, now())",
                &[&self.store, &store_order_id],
            )
            .await
            .unwrap();
    }

    /// Refunds the sale's one line.
    pub async fn refund(&self, order: Uuid) {
        let refund = self
            .http
            .post(format!("{}/orders/{order}/refunds", self.node_url))
            .bearer_auth(&self.cashier)
            .json(&json!({"idempotency_key": Uuid::new_v4(), "items": [{"line_no": 1, "quantity": 1}]}))
            .send()
            .await
            .unwrap();
        assert_eq!(refund.status(), 201);
    }

    /// Central's refunded_amount of an order, once it has the order.
    pub async fn refunded_at_central(&self, order: Uuid) -> Option<String> {
        let client = tokio::time::timeout(Duration::from_secs(3), self.central.db())
            .await
            .ok()?;
        client
            .query_opt(
                "SELECT refunded_amount::text FROM order_mapping WHERE global_order_id = $1",
                &[&order],
            )
            .await
            .unwrap()
            .map(|r| r.get(0))
    }

    /// Central has exactly `expected` mappings, each once.
    pub async fn mappings(&self, expected: i64) -> bool {
        let Ok(client) = tokio::time::timeout(Duration::from_secs(3), self.central.db()).await
        else {
            return false;
        };
        let row = client
            .query_one(
                "SELECT count(*), count(DISTINCT global_order_id) FROM order_mapping",
                &[],
            )
            .await
            .unwrap();
        row.get::<_, i64>(0) == expected && row.get::<_, i64>(1) == expected
    }

    pub async fn outbox_waiting(&self) -> i64 {
        self.node
            .db()
            .await
            .query_one(
                "SELECT count(*) FROM outbox WHERE status IN ('Pending', 'Failed')",
                &[],
            )
            .await
            .unwrap()
            .get(0)
    }
}

/// Starts a store-node service for `node` (the node of `city`), reporting to `central` under its own
/// login, accepting the given cashier tokens besides those head office issued; its URL.
pub async fn start_node_service(
    central: &TestCentral,
    central_pg: &TestInstance,
    node: &TestNode,
    city: i32,
    cashier_tokens: Vec<(i32, SecretString)>,
) -> String {
    start_node_service_reporting_as(central, central_pg, node, city, city, cashier_tokens).await
}

/// Like [`start_node_service`], but reporting under the login of the node of `login_city`.
pub async fn start_node_service_reporting_as(
    central: &TestCentral,
    central_pg: &TestInstance,
    node: &TestNode,
    city: i32,
    login_city: i32,
    cashier_tokens: Vec<(i32, SecretString)>,
) -> String {
    start_node(
        central,
        central_pg,
        node,
        (city, login_city),
        cashier_tokens,
        None,
    )
    .await
}

/// Like [`start_node_service`], and accepting head office's token as well (as compose's nodes do).
pub async fn start_node_service_for_head_office(
    central: &TestCentral,
    central_pg: &TestInstance,
    node: &TestNode,
    city: i32,
    cashier_tokens: Vec<(i32, SecretString)>,
) -> String {
    let admin = SecretString::from(central.admin_token.clone());
    start_node(
        central,
        central_pg,
        node,
        (city, city),
        cashier_tokens,
        Some(admin),
    )
    .await
}

/// A store-node service for `node`: the node of `cities.0`, reporting under the login of `cities.1`.
async fn start_node(
    central: &TestCentral,
    central_pg: &TestInstance,
    node: &TestNode,
    (city, login_city): (i32, i32),
    cashier_tokens: Vec<(i32, SecretString)>,
    admin_token: Option<SecretString>,
) -> String {
    let app = store_node::startup::Application::build(store_node::config::Config {
        common: CommonConfig {
            http_host: "127.0.0.1".into(),
            http_port: 0,
            database_url: node.instance.app_url(&node.db_name),
            migration_database_url: Some(node.instance.owner_url(&node.db_name)),
            database_pool_size: 4,
            log_format: LogFormat::Human,
            log_filter: "info".into(),
            scheduler_enabled: true,
            tls: None,
            metrics_token: None,
        },
        city_id: city,
        cashier_tokens,
        admin_token,
        admin_token_file: None,
        central_database_url: Some(
            central_pg
                .node_login_url(login_city, &central.db_name)
                .await
                .unwrap(),
        ),
        outbox_retry_cron: "*/1 * * * * *".into(),
        outbox_retention_hours: 168,
        idempotency_retention_hours: 720,
    })
    .await
    .unwrap();
    let node_url = format!("http://127.0.0.1:{}", app.port());
    tokio::spawn(app.run_until_stopped());
    node_url
}
