//! Replication from central to the nodes: fragments by city, moves between cities, rollbacks, versions
//! and what the replication role may do.

use std::time::Duration;

use reqwest::Method;
use serde_json::{Value, json};

use crate::common::{
    TestCentral, TestNode, central_versions, eventually, replication_config, spawn_central,
};

pub const WAIT: Duration = Duration::from_secs(20);

pub struct TwoCities {
    pub central: TestCentral,
    pub karachi: (i32, TestNode),
    pub lahore: (i32, TestNode),
}

pub async fn two_cities(
    lahore_node: TestNode,
    replication: central::config::ReplicationConfig,
) -> TwoCities {
    let central = spawn_central(replication).await;
    let karachi_node = TestNode::new(1).await;
    let karachi = central.create_city("Karachi").await;
    let lahore = central.create_city("Lahore").await;
    central.register_node(karachi, &karachi_node).await;
    central.register_node(lahore, &lahore_node).await;
    TwoCities {
        central,
        karachi: (karachi, karachi_node),
        lahore: (lahore, lahore_node),
    }
}

/// A customer of `city_id` named `name`, with a number of their own (central keeps one customer per
/// number).
pub async fn customer(central: &TestCentral, name: &str, city_id: i32) -> Value {
    static NEXT_NUMBER: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(1_000_000);
    let number = NEXT_NUMBER.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    central
        .post(
            "/customers",
            json!({"name": name, "phone": format!("+92 300 {number}"), "city_id": city_id}),
        )
        .await
}

pub async fn node_names(node: &TestNode, table: &str) -> Vec<String> {
    node.db()
        .await
        .query(&format!("SELECT name FROM {table} ORDER BY id"), &[])
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect()
}

/// Every node's rows equal central's (same ids, same versions) for the node's fragment.
pub async fn assert_converged(setup: &TwoCities) {
    assert_converged_within(setup, WAIT).await;
}

pub async fn assert_converged_within(setup: &TwoCities, within: Duration) {
    for (city_id, node) in [&setup.karachi, &setup.lahore] {
        let central = &setup.central;
        for table in ["categories", "products"] {
            let expected = central_versions(central, table, None).await;
            eventually(
                &format!("{table} equal on node {city_id}"),
                within,
                || async { node.versions(table).await == expected },
            )
            .await;
        }
        for table in ["customers", "stores"] {
            let expected = central_versions(central, table, Some(*city_id)).await;
            eventually(
                &format!("{table} fragment equal on node {city_id}"),
                within,
                || async {
                    let client = node.db().await;
                    let rows: Vec<(i32, i64)> = client
                        .query(
                            &format!(
                                "SELECT id, version FROM {table} WHERE city_id = $1 ORDER BY id"
                            ),
                            &[city_id],
                        )
                        .await
                        .unwrap()
                        .iter()
                        .map(|r| (r.get(0), r.get(1)))
                        .collect();
                    rows == expected
                },
            )
            .await;
        }
    }
}

#[tokio::test]
async fn fragments_route_by_city_and_names_arrive_intact() {
    let setup = two_cities(TestNode::new(2).await, replication_config()).await;
    let central = &setup.central;
    let (karachi, karachi_node) = &setup.karachi;
    let (lahore, lahore_node) = &setup.lahore;
    let category = central
        .post("/categories", json!({"name": "Snacks & Drinks"}))
        .await["id"]
        .clone();
    for i in 0..3 {
        central
            .post("/products", json!({"sku": format!("SKU-{i}"), "name": format!("Chai {i}"), "category_id": category, "price": "150.00"}))
            .await;
    }
    let tricky = [
        "D'Souza; DROP TABLE customers;--",
        "Zoë Ahmed",
        "Ayşe Yılmaz",
        "Muñoz \"Pepe\"",
    ];
    for name in tricky {
        customer(central, name, *karachi).await;
    }
    customer(central, "Lahore Only", *lahore).await;
    central
        .post(
            "/stores",
            json!({"code": "KHI001", "name": "Karachi Saddar", "city_id": karachi}),
        )
        .await;
    central
        .post(
            "/stores",
            json!({"code": "LHR001", "name": "Lahore Mall Road", "city_id": lahore}),
        )
        .await;

    assert_converged(&setup).await;
    assert_eq!(node_names(karachi_node, "customers").await, tricky);
    assert_eq!(node_names(lahore_node, "customers").await, ["Lahore Only"]);
    assert_eq!(node_names(karachi_node, "stores").await, ["Karachi Saddar"]);
    assert_eq!(
        node_names(lahore_node, "products").await.len(),
        3,
        "products reach every node"
    );

    // A price change reaches both nodes with the new version.
    let product = central.get("/products").await.1["items"][0].clone();
    central
        .patch(
            &format!("/products/{}", product["id"]),
            json!({"price": "175.50"}),
        )
        .await;
    assert_converged(&setup).await;
    let price: rust_decimal::Decimal = lahore_node
        .db()
        .await
        .query_one(
            "SELECT price FROM products WHERE id = $1",
            &[&(product["id"].as_i64().unwrap() as i32)],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(price.to_string(), "175.50");

    // The node serves its fragment.
    let status = central.get("/replication/status").await.1;
    for node in status["nodes"].as_array().unwrap() {
        assert_eq!(node["pending"], 0, "{status}");
        assert_eq!(node["reachable"], true, "{status}");
        assert!(node["last_success"].is_string(), "{status}");
    }
}

#[tokio::test]
async fn a_moved_row_reaches_its_new_city_and_leaves_the_old_one() {
    let setup = two_cities(TestNode::new(2).await, replication_config()).await;
    let central = &setup.central;
    let (karachi, karachi_node) = &setup.karachi;
    let (lahore, lahore_node) = &setup.lahore;
    let moving = customer(central, "Moving Customer", *karachi).await;
    assert_converged(&setup).await;
    central
        .patch(
            &format!("/customers/{}", moving["id"]),
            json!({"city_id": lahore}),
        )
        .await;
    assert_converged(&setup).await;
    let id = moving["id"].as_i64().unwrap() as i32;
    // Karachi keeps the row (its orders may refer to it) but with Lahore's city: no longer its own.
    let row = karachi_node
        .db()
        .await
        .query_one(
            "SELECT city_id, version FROM customers WHERE id = $1",
            &[&id],
        )
        .await
        .unwrap();
    assert_eq!(row.get::<_, i32>(0), *lahore);
    assert_eq!(row.get::<_, i64>(1), 2);
    assert_eq!(
        node_names(lahore_node, "customers").await,
        ["Moving Customer"]
    );
}

#[tokio::test]
async fn a_rolled_back_change_leaves_no_trace() {
    let setup = two_cities(TestNode::new(2).await, replication_config()).await;
    let (karachi, karachi_node) = &setup.karachi;
    let mut client = setup.central.db().await;
    let tx = client.transaction().await.unwrap();
    tx.execute(
        "INSERT INTO customers (name, city_id) VALUES ('Ghost', $1)",
        &[karachi],
    )
    .await
    .unwrap();
    let inside: i64 = tx
        .query_one(
            "SELECT count(*) FROM replication_log WHERE table_name = 'customers'",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(inside, 1, "captured inside the transaction");
    tx.rollback().await.unwrap();
    let after: i64 = client
        .query_one(
            "SELECT count(*) FROM replication_log WHERE table_name = 'customers'",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(after, 0);
    // Something committed afterwards arrives, the ghost never does.
    customer(&setup.central, "Real", *karachi).await;
    assert_converged(&setup).await;
    assert_eq!(node_names(karachi_node, "customers").await, ["Real"]);
}

#[tokio::test]
async fn an_older_version_never_overwrites_a_newer_one() {
    let setup = two_cities(TestNode::new(2).await, replication_config()).await;
    let (karachi, karachi_node) = &setup.karachi;
    let c = customer(&setup.central, "Versioned", *karachi).await;
    for name in ["V2", "V3"] {
        setup
            .central
            .patch(&format!("/customers/{}", c["id"]), json!({"name": name}))
            .await;
    }
    assert_converged(&setup).await;
    // Replay stale batches straight at the node, as a late retry would: versions 1 and 2 after 3.
    let node = karachi_node.db().await;
    for (version, name) in [(1, "V1 stale"), (2, "V2 stale")] {
        let batch = json!({"customers": [{
            "id": c["id"], "name": name, "phone": null, "email": null, "city_id": karachi,
            "deleted_at": null, "version": version,
            "created_at": "2026-01-01T00:00:00Z", "updated_at": "2026-01-01T00:00:00Z"
        }]});
        let applied: i32 = node
            .query_one("SELECT apply_replication($1::jsonb)", &[&batch])
            .await
            .unwrap()
            .get(0);
        assert_eq!(applied, 0);
    }
    assert_eq!(node_names(karachi_node, "customers").await, ["V3"]);
    assert_converged(&setup).await;
}

#[tokio::test]
async fn the_replication_role_may_only_apply_batches() {
    let node = TestNode::new(1).await;
    let url = node.instance.pg.url(
        pos_shared::pgctl::REPLICATOR_ROLE,
        &node.instance.replicator_password,
        &node.db_name,
    );
    let config = pos_shared::db::parse_url(&secrecy::SecretString::from(url), "test").unwrap();
    let client = pos_shared::db::connect(&config).await.unwrap();
    client
        .query_one("SELECT apply_replication('{}'::jsonb)", &[])
        .await
        .unwrap();
    for forbidden in [
        "SELECT * FROM customers",
        "DELETE FROM products",
        "INSERT INTO inventory (store_id, product_id, quantity) VALUES (1, 1, 1)",
    ] {
        let err = client.batch_execute(forbidden).await.unwrap_err();
        assert_eq!(
            err.code(),
            Some(&tokio_postgres::error::SqlState::INSUFFICIENT_PRIVILEGE),
            "{forbidden}"
        );
    }
}

/// Deliveries leave the audit trail to changes people made: a node's trail holds its registration and
/// an operator's disabling, not the bookkeeping every delivered batch writes.
#[tokio::test]
async fn deliveries_leave_no_trace_in_the_audit_trail() {
    let setup = two_cities(TestNode::new(2).await, replication_config()).await;
    let central = &setup.central;
    for i in 0..3 {
        customer(central, &format!("Audited {i}"), setup.karachi.0).await;
        assert_converged(&setup).await;
    }
    let actions = async || {
        let (_, trail) = central.get("/audit?entity=nodes").await;
        trail["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| {
                (
                    e["entity_id"].as_i64().unwrap(),
                    e["action"].as_str().unwrap().to_owned(),
                )
            })
            .collect::<Vec<_>>()
    };
    let create = |city: i32| (i64::from(city), "create".to_owned());
    assert_eq!(
        actions().await,
        [create(setup.lahore.0), create(setup.karachi.0)]
    );
    let (code, body) = central
        .send(
            Method::PATCH,
            &format!("/nodes/{}", setup.lahore.0),
            &json!({"enabled": false}),
        )
        .await;
    assert_eq!(code, 200, "{body}");
    assert_eq!(
        actions().await,
        [
            (i64::from(setup.lahore.0), "update".to_owned()),
            create(setup.lahore.0),
            create(setup.karachi.0)
        ]
    );
}
