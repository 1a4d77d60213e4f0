use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use pos_shared::testkit::free_port;
use serde_json::json;
use uuid::Uuid;

const INITIAL_STOCK: i32 = 100_000;

/// A store-node service run as a process of its own on `node`'s database, reporting to central under
/// `central_login`, so that a test may `kill -9` it and start it again on the same port.
pub struct NodeProcess {
    child: Child,
    env: Vec<(String, String)>,
    pub url: String,
    http: reqwest::Client,
}

impl Drop for NodeProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl NodeProcess {
    /// Starts it (node of city 1, with `cashier_tokens` as `POS_CASHIER_TOKENS` when given) and waits
    /// until it answers.
    pub async fn start(
        node: &crate::common::TestNode,
        central_login: &secrecy::SecretString,
        cashier_tokens: Option<String>,
    ) -> Self {
        let expose = |s: &secrecy::SecretString| secrecy::ExposeSecret::expose_secret(s).to_owned();
        let port = free_port().unwrap();
        let mut env = vec![
            ("POS_HTTP_PORT".to_owned(), port.to_string()),
            (
                "POS_DATABASE_URL".to_owned(),
                expose(&node.instance.app_url(&node.db_name)),
            ),
            (
                "POS_MIGRATION_DATABASE_URL".to_owned(),
                expose(&node.instance.owner_url(&node.db_name)),
            ),
            ("POS_CITY_ID".to_owned(), "1".to_owned()),
            ("POS_LOG".to_owned(), "warn".to_owned()),
            ("POS_CENTRAL_DATABASE_URL".to_owned(), expose(central_login)),
            (
                "POS_OUTBOX_RETRY_CRON".to_owned(),
                "*/1 * * * * *".to_owned(),
            ),
        ];
        env.extend(cashier_tokens.map(|tokens| ("POS_CASHIER_TOKENS".to_owned(), tokens)));
        let mut process = Self {
            child: Self::spawn(&env),
            env,
            url: format!("http://127.0.0.1:{port}"),
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(5))
                .build()
                .unwrap(),
        };
        process.wait_healthy().await;
        process
    }

    fn spawn(env: &[(String, String)]) -> Child {
        Command::new(crate::common::service_binary("store-node"))
            .env_clear()
            .envs(env.iter().cloned())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("store-node starts")
    }

    async fn wait_healthy(&mut self) {
        crate::common::wait_process_healthy(
            &mut self.child,
            &self.url,
            Duration::from_secs(30),
            "store-node",
            String::new,
        )
        .await;
    }

    /// After `after`: SIGKILL (no shutdown, no cleanup), then a new process on the same settings, once
    /// it answers.
    pub async fn kill_9_and_restart(&mut self, after: Duration) {
        tokio::time::sleep(after).await;
        self.child.kill().unwrap();
        self.child.wait().unwrap();
        tokio::time::sleep(Duration::from_millis(300)).await;
        self.child = Self::spawn(&self.env);
        self.wait_healthy().await;
    }
}

/// `kill -9` of the store-node process in the middle of a stream of sales: after a restart no sale is
/// partial (every order has its lines, payments and stock decrement) and the outbox drains to central.
#[tokio::test]
async fn a_killed_store_node_leaves_no_partial_sale_and_its_outbox_drains() {
    let (central_instance, central_db) = crate::common::central_database().await;
    let central = pos_shared::db::connect(
        &pos_shared::db::parse_url(&central_instance.app_url(&central_db), "t").unwrap(),
    )
    .await
    .unwrap();
    // Central knows the node (its login) and its store: a node reports its own city's sales only.
    central
        .batch_execute(
            "INSERT INTO cities (id, name, time_zone) VALUES (1, 'Karachi', 'Asia/Karachi');
             INSERT INTO stores (id, code, name, city_id) VALUES (1, 'KHI001', 'Saddar', 1);
             INSERT INTO nodes (city_id, server_name, central_login) VALUES (1, 'node_karachi', 'pos_node_1');",
        )
        .await
        .unwrap();
    let central_login = central_instance
        .node_login_url(1, &central_db)
        .await
        .unwrap();
    let test_node = crate::common::TestNode::new(1).await;
    let node = test_node.db().await;
    node.batch_execute(&format!(
        "INSERT INTO stores (id, code, name, city_id, active, version, created_at, updated_at)
         VALUES (1, 'KHI001', 'Saddar', 1, true, 1, now(), now());
         INSERT INTO products (id, sku, name, category_id, price, active, version, created_at, updated_at)
         VALUES (1, 'A', 'A', 1, 10.00, true, 1, now(), now()), (2, 'B', 'B', 1, 20.00, true, 1, now(), now());
         INSERT INTO inventory (store_id, product_id, quantity) VALUES (1, 1, {INITIAL_STOCK}), (1, 2, {INITIAL_STOCK});"
    ))
    .await
    .unwrap();

    let token = pos_shared::auth::generate_token();
    let mut service =
        NodeProcess::start(&test_node, &central_login, Some(format!("1={token}"))).await;
    let (url, http) = (service.url.clone(), service.http.clone());
    let acknowledged = Arc::new(std::sync::Mutex::new(Vec::<Uuid>::new()));
    let attempts = Arc::new(AtomicUsize::new(0));
    let load = (0..4).map(|worker| {
        let http = http.clone();
        let url = url.clone();
        let token = token.clone();
        let acknowledged = acknowledged.clone();
        let attempts = attempts.clone();
        tokio::spawn(async move {
            let deadline = Instant::now() + Duration::from_secs(4);
            while Instant::now() < deadline {
                attempts.fetch_add(1, Ordering::SeqCst);
                let body = json!({"idempotency_key": Uuid::new_v4(), "customer_id": null,
                    "items": [{"product_id": 1 + worker % 2, "quantity": 1}, {"product_id": 2 - worker % 2, "quantity": 2}],
                    "payments": [{"method": "cash", "amount": "100.00"}]});
                match http.post(format!("{url}/orders")).bearer_auth(&token).json(&body).send().await {
                    Ok(response) if response.status() == 201 => {
                        let order: serde_json::Value = response.json().await.unwrap_or_default();
                        if let Some(id) = order["global_order_id"].as_str().and_then(|s| s.parse().ok()) {
                            acknowledged.lock().unwrap().push(id);
                        }
                    }
                    _ => tokio::time::sleep(Duration::from_millis(20)).await,
                }
            }
        })
    });
    let load = futures_util::future::join_all(load);
    let killer = service.kill_9_and_restart(Duration::from_millis(1500));
    tokio::join!(load, killer);
    let acknowledged = acknowledged.lock().unwrap().clone();
    assert!(
        acknowledged.len() > 20,
        "the load ran ({} sales acknowledged)",
        acknowledged.len()
    );

    let count = |sql: &'static str| {
        let node = &node;
        async move { node.query_one(sql, &[]).await.unwrap().get::<_, i64>(0) }
    };
    assert_eq!(count("SELECT count(*) FROM orders o WHERE NOT EXISTS (SELECT 1 FROM order_items i WHERE i.order_id = o.id)").await, 0);
    assert_eq!(count("SELECT count(*) FROM orders o WHERE NOT EXISTS (SELECT 1 FROM payments p WHERE p.order_id = o.id)").await, 0);
    assert_eq!(count("SELECT count(*) FROM orders o WHERE NOT EXISTS (SELECT 1 FROM outbox x WHERE x.global_order_id = o.global_order_id)").await, 0);
    let unbalanced = count(
        "SELECT count(*) FROM inventory v
         WHERE v.quantity + (SELECT coalesce(sum(i.quantity), 0) FROM order_items i WHERE i.product_id = v.product_id) <> 100000",
    )
    .await;
    assert_eq!(
        unbalanced, 0,
        "every sale decremented its stock exactly once"
    );
    for id in &acknowledged {
        let found: i64 = node
            .query_one(
                "SELECT count(*) FROM orders WHERE global_order_id = $1",
                &[id],
            )
            .await
            .unwrap()
            .get(0);
        assert_eq!(found, 1, "an acknowledged sale survived the crash");
    }
    let orders = count("SELECT count(*) FROM orders").await;
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let mapped: i64 = central
            .query_one("SELECT count(*) FROM order_mapping", &[])
            .await
            .unwrap()
            .get(0);
        // The node settles its entries a moment after central has committed them.
        if mapped == orders
            && count("SELECT count(*) FROM outbox WHERE status <> 'Success'").await == 0
        {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "outbox did not drain: {mapped} of {orders} mapped, or entries not settled"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    drop(service);
}
