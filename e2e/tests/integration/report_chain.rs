//! A chain of two cities with sales of every kind on both nodes, for the report tests and the
//! dashboard's.

use std::time::Duration;

use central::config::ReplicationConfig;
use rust_decimal::Decimal;
use serde_json::{Value, json};
use uuid::Uuid;

use crate::common::{TestCentral, TestNode, eventually, replication_config, spawn_central};

pub const WAIT: Duration = Duration::from_secs(20);

/// Sells on a node straight through process_order, as a till would through the API.
pub async fn sell(node: &TestNode, store: i64, items: Value, cash: &str) -> Uuid {
    node.db()
        .await
        .query_one(
            "SELECT process_order($1, NULL, $2, $3, gen_random_uuid())",
            &[
                &(store as i32),
                &items,
                &json!([{"method": "cash", "amount": cash}]),
            ],
        )
        .await
        .unwrap()
        .get(0)
}

/// What a node itself says its net revenue is.
pub async fn node_net_revenue(node: &TestNode) -> Decimal {
    node_net(node).await.0
}

/// The node's sales less its refunds: (revenue, the tax it includes).
pub async fn node_net(node: &TestNode) -> (Decimal, Decimal) {
    let row = node
        .db()
        .await
        .query_one(
            "SELECT (SELECT coalesce(sum(total), 0) FROM orders) - (SELECT coalesce(sum(amount), 0) FROM refunds),
                    (SELECT coalesce(sum(tax_total), 0) FROM orders) - (SELECT coalesce(sum(tax_amount), 0) FROM refunds)",
            &[],
        )
        .await
        .unwrap();
    (row.get(0), row.get(1))
}

pub struct Chain {
    pub central: TestCentral,
    pub karachi: TestNode,
    pub lahore: TestNode,
}

pub async fn chain_with_sales(lahore: TestNode) -> Chain {
    // The dashboards drawn from this chain are compared whole with the API's reports while a browser
    // starts on the same cores: a node slow to answer must not make the page partial. (The one-deadline
    // behaviour is hung_node.rs's.)
    let central = spawn_central(ReplicationConfig {
        dashboard_deadline_ms: 10_000,
        ..replication_config()
    })
    .await;
    let karachi = TestNode::new(1).await;
    let khi = central.create_city("Karachi").await;
    let lhr = central.create_city("Lahore").await;
    central.register_node(khi, &karachi).await;
    central.register_node(lhr, &lahore).await;
    let tea = central
        .post("/categories", json!({"name": "Tea", "tax_rate": "17"}))
        .await["id"]
        .clone();
    let snacks = central.post("/categories", json!({"name": "Snacks"})).await["id"].clone();
    let chai = central
        .post(
            "/products",
            json!({"sku": "CHAI", "name": "Chai", "category_id": tea, "price": "150.00"}),
        )
        .await["id"]
        .as_i64()
        .unwrap();
    let rusk = central
        .post(
            "/products",
            json!({"sku": "RUSK", "name": "Rusk", "category_id": snacks, "price": "99.50"}),
        )
        .await["id"]
        .as_i64()
        .unwrap();
    let khi_store = central
        .post(
            "/stores",
            json!({"code": "KHI001", "name": "Saddar", "city_id": khi}),
        )
        .await["id"]
        .as_i64()
        .unwrap();
    let lhr_store = central
        .post(
            "/stores",
            json!({"code": "LHR001", "name": "Mall Road", "city_id": lhr}),
        )
        .await["id"]
        .as_i64()
        .unwrap();
    for node in [&karachi, &lahore] {
        eventually("catalogue and stores replicated", WAIT, || async {
            node.versions("products").await.len() == 2 && node.versions("stores").await.len() == 1
        })
        .await;
    }
    for (node, store, city) in [(&karachi, khi_store, khi), (&lahore, lhr_store, lhr)] {
        // The city the node serves, as its service writes it at start-up: its business day is that
        // city's (without it, the database's own date, which differs from Karachi's for five hours a day).
        node.db()
            .await
            .execute("UPDATE node_settings SET city_id = $1", &[&city])
            .await
            .unwrap();
        node.db()
            .await
            .execute(
                "INSERT INTO inventory (store_id, product_id, quantity) VALUES ($1, $2, 100), ($1, $3, 100)",
                &[&(store as i32), &(chai as i32), &(rusk as i32)],
            )
            .await
            .unwrap();
    }
    sell(
        &karachi,
        khi_store,
        json!([{"product_id": chai, "quantity": 2}]),
        "300.00",
    )
    .await;
    let refunded = sell(
        &karachi,
        khi_store,
        json!([{"product_id": chai, "quantity": 1}, {"product_id": rusk, "quantity": 2}]),
        "400.00",
    )
    .await;
    karachi
        .db()
        .await
        .query_one(
            "SELECT refund_order($1, $2, '[{\"line_no\": 2, \"quantity\": 1}]', NULL, NULL, gen_random_uuid())",
            &[&(khi_store as i32), &refunded],
        )
        .await
        .unwrap();
    sell(
        &lahore,
        lhr_store,
        json!([{"product_id": rusk, "quantity": 3}]),
        "300.00",
    )
    .await;
    // A sale made offline on an earlier day and reported late keeps its own business day.
    let late = sell(
        &lahore,
        lhr_store,
        json!([{"product_id": chai, "quantity": 1}]),
        "150.00",
    )
    .await;
    lahore
        .db()
        .await
        .execute(
            "UPDATE orders SET business_date = $2 WHERE global_order_id = $1",
            &[&late, &late_day()],
        )
        .await
        .unwrap();
    Chain {
        central,
        karachi,
        lahore,
    }
}

/// The business day of the sale that was reported late: ten days ago.
pub fn late_day() -> chrono::NaiveDate {
    chrono::Utc::now().date_naive() - chrono::Days::new(10)
}

/// A range covering every sale of the test, whatever day it runs on.
pub fn range() -> String {
    let today = chrono::Utc::now().date_naive();
    format!(
        "from={}&to={}",
        today - chrono::Days::new(30),
        today + chrono::Days::new(1)
    )
}

pub fn money(value: &Value) -> Decimal {
    value.as_str().unwrap().parse().unwrap()
}
