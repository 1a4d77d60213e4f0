use std::time::Duration;

use pos_shared::config::CommonConfig;
use pos_shared::telemetry::LogFormat;
use pos_shared::testkit::TestInstance;
use secrecy::SecretString;
use serde_json::json;
use uuid::Uuid;

use crate::common::{TestNode, eventually, replication_config, spawn_central_on};

const WAIT: Duration = Duration::from_secs(30);

/// Sales go on while central's database is down; afterwards every sale reaches order_mapping once.
#[tokio::test]
async fn sales_reach_central_exactly_once_even_across_an_outage() {
    let central_pg: &'static TestInstance =
        Box::leak(Box::new(TestInstance::start_dedicated().await.unwrap()));
    let central = spawn_central_on(central_pg, replication_config()).await;
    // The node has an instance of its own too: this test stops it.
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
    let app = store_node::startup::Application::build(store_node::config::Config {
        common: CommonConfig {
            http_host: "127.0.0.1".into(),
            http_port: 0,
            database_url: node.instance.app_url(&node.db_name),
            database_pool_size: 4,
            log_format: LogFormat::Human,
            log_filter: "info".into(),
            scheduler_enabled: true,
        },
        city_id: city,
        cashier_tokens: vec![(store, SecretString::from(cashier.clone()))],
        admin_token: None,
        central_database_url: Some(SecretString::from(central_pg.pg.url(
            pos_shared::pgctl::REPLICATOR_ROLE,
            &central_pg.replicator_password,
            &central.db_name,
        ))),
        outbox_retry_cron: "*/1 * * * * *".into(),
    })
    .await
    .unwrap();
    let node_url = format!("http://127.0.0.1:{}", app.port());
    tokio::spawn(app.run_until_stopped());
    let http = reqwest::Client::new();
    let receipt = http
        .post(format!("{node_url}/inventory/receipts"))
        .bearer_auth(&cashier)
        .json(&json!({"idempotency_key": Uuid::new_v4(), "items": [{"product_id": product, "quantity": 100}]}))
        .send()
        .await
        .unwrap();
    assert_eq!(receipt.status(), 201);
    let sell = || async {
        let response = http
            .post(format!("{node_url}/orders"))
            .bearer_auth(&cashier)
            .json(
                &json!({"idempotency_key": Uuid::new_v4(), "customer_id": null,
                          "items": [{"product_id": product, "quantity": 1}],
                          "payments": [{"method": "cash", "amount": "200.00"}]}),
            )
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 201);
        let order: serde_json::Value = response.json().await.unwrap();
        order["global_order_id"]
            .as_str()
            .unwrap()
            .parse::<Uuid>()
            .unwrap()
    };

    let first = sell().await;
    let mappings = |expected: i64| {
        let central = &central;
        async move {
            let Ok(client) = tokio::time::timeout(Duration::from_secs(3), central.db()).await
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
    };
    eventually("the first sale reaches central", WAIT, || mappings(1)).await;
    let mapped: Uuid = central
        .db()
        .await
        .query_one("SELECT global_order_id FROM order_mapping", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(mapped, first);

    central_pg.stop().unwrap();
    for _ in 0..5 {
        sell().await;
    }
    let waiting: i64 = node
        .db()
        .await
        .query_one("SELECT count(*) FROM outbox WHERE status <> 'Success'", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(
        waiting, 5,
        "sales made during the outage wait in the outbox"
    );
    central_pg.start().unwrap();
    eventually("every sale reaches central exactly once", WAIT, || {
        mappings(6)
    })
    .await;
    let sync: i64 = node
        .db()
        .await
        .query_one("SELECT count(*) FROM outbox WHERE status <> 'Success'", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(sync, 0);

    // A refund reaches central too, once, and nets the order's amount.
    let refund = http
        .post(format!("{node_url}/orders/{first}/refunds"))
        .bearer_auth(&cashier)
        .json(&json!({"idempotency_key": Uuid::new_v4(), "items": [{"line_no": 1, "quantity": 1}]}))
        .send()
        .await
        .unwrap();
    assert_eq!(refund.status(), 201);
    eventually("the refund reaches central", WAIT, || async {
        let refunded: rust_decimal::Decimal = central
            .db()
            .await
            .query_one(
                "SELECT refunded_amount FROM order_mapping WHERE global_order_id = $1",
                &[&first],
            )
            .await
            .unwrap()
            .get(0);
        refunded.to_string() == "150.00"
    })
    .await;

    // Head office finds the order, with its lines from the node; the mapping alone when the node is down.
    let (status, view) = central.get(&format!("/orders/{first}")).await;
    assert_eq!(status, 200, "{view}");
    assert_eq!(view["details_source"], "node");
    assert_eq!(view["details"]["items"][0]["name"], "Chai");
    assert_eq!(view["mapping"]["refunded_amount"], "150.00");
    node.instance.stop().ok();
    let (status, view) = central.get(&format!("/orders/{first}")).await;
    node.instance.start().unwrap();
    assert_eq!(
        (status, view["details_source"].as_str()),
        (200, Some("unavailable")),
        "{view}"
    );
    assert_eq!(view["mapping"]["total_amount"], "150.00");
    assert_eq!(
        central.get(&format!("/orders/{}", Uuid::new_v4())).await.0,
        404
    );
}
