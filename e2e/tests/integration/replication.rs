use std::time::{Duration, Instant};

use pos_shared::testkit::table_reads;
use reqwest::Method;
use serde_json::{Value, json};

use crate::common::{
    TestCentral, TestNode, central_versions, eventually, replication_config, spawn_central,
};

const WAIT: Duration = Duration::from_secs(20);

struct TwoCities {
    central: TestCentral,
    karachi: (i32, TestNode),
    lahore: (i32, TestNode),
}

async fn two_cities(
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

async fn customer(central: &TestCentral, name: &str, city_id: i32) -> Value {
    central
        .post(
            "/customers",
            json!({"name": name, "phone": "+92 300 1234567", "city_id": city_id}),
        )
        .await
}

async fn node_names(node: &TestNode, table: &str) -> Vec<String> {
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
async fn assert_converged(setup: &TwoCities) {
    assert_converged_within(setup, WAIT).await;
}

async fn assert_converged_within(setup: &TwoCities, within: Duration) {
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
    let product = central.get("/products").await.1[0].clone();
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

/// One node's database is stopped for longer than entries used to live (8 attempts, then Dead), while
/// prices and customers change: central's writes keep their latency, the other node keeps receiving,
/// the entries go through more than 8 failed attempts and none dies; once the node is back it equals
/// central within 5 s, with no operator step.
#[tokio::test]
async fn a_node_down_longer_than_the_old_dead_time_catches_up_by_itself() {
    let lahore_instance: &'static pos_shared::testkit::TestInstance = Box::leak(Box::new(
        pos_shared::testkit::TestInstance::start_dedicated()
            .await
            .unwrap(),
    ));
    let lahore_node = TestNode::on(lahore_instance).await;
    let setup = two_cities(lahore_node, replication_config()).await;
    let central = &setup.central;
    let (karachi, karachi_node) = &setup.karachi;
    let (lahore, _) = &setup.lahore;
    let category = central.post("/categories", json!({"name": "Tea"})).await;
    let product = central
        .post(
            "/products",
            json!({"sku": "TEA-1", "name": "Green tea", "category_id": category["id"], "price": "100.00"}),
        )
        .await;
    assert_converged(&setup).await;

    lahore_instance.stop().unwrap();
    let mut slowest = Duration::ZERO;
    for i in 0..20 {
        let started = Instant::now();
        customer(central, &format!("Karachi {i}"), *karachi).await;
        customer(central, &format!("Lahore {i}"), *lahore).await;
        slowest = slowest.max(started.elapsed() / 2);
    }
    central
        .patch(
            &format!("/products/{}", product["id"]),
            json!({"price": "125.50"}),
        )
        .await;
    assert!(
        slowest < Duration::from_millis(500),
        "a write took {slowest:?} with a node down (the dblink connect timeout is 2 s)"
    );
    eventually("Karachi keeps receiving", WAIT, || async {
        node_names(karachi_node, "customers").await.len() == 20
    })
    .await;
    // An operator's retries from psql as well as the service's own: more failed attempts than the
    // old dead threshold, each after the back-off (at most 1 s here) has passed.
    let db = central.db().await;
    for _ in 0..10 {
        tokio::time::sleep(Duration::from_millis(1100)).await;
        db.query_one("SELECT retry_failed_replications()", &[])
            .await
            .unwrap();
    }
    let row = db
        .query_one(
            "SELECT max(attempts), count(*) FILTER (WHERE status = 'Dead'),
                    count(*) FILTER (WHERE status = 'Failed')
             FROM replication_log WHERE target_city_id = $1",
            &[lahore],
        )
        .await
        .unwrap();
    let (attempts, dead, failed): (i32, i64, i64) = (row.get(0), row.get(1), row.get(2));
    assert!(attempts > 8, "only {attempts} attempts");
    assert_eq!(dead, 0, "an unreachable node never makes entries Dead");
    assert!(failed > 0);
    let status = central.get("/replication/status").await.1;
    let lahore_status = status["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|n| n["city_id"] == json!(lahore))
        .cloned()
        .unwrap();
    assert_eq!(lahore_status["reachable"], json!(false), "{lahore_status}");
    let message = lahore_status["last_error"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    assert!(
        !message.is_empty(),
        "the failure is explained: {lahore_status}"
    );
    let secret = &lahore_instance.replicator_password;
    for body in [
        central
            .get("/replication/log?status=Failed")
            .await
            .1
            .to_string(),
        central.get("/nodes").await.1.to_string(),
        status.to_string(),
    ] {
        assert!(!body.contains(secret.as_str()), "a password leaked: {body}");
    }

    lahore_instance.start().unwrap();
    let back = Instant::now();
    assert_converged_within(&setup, Duration::from_secs(5)).await;
    let caught_up = back.elapsed();
    let (_, dead) = central.get("/replication/log?status=Dead").await;
    assert_eq!(dead, json!([]));
    let price: rust_decimal::Decimal = setup
        .lahore
        .1
        .db()
        .await
        .query_one("SELECT price FROM products WHERE sku = 'TEA-1'", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(price.to_string(), "125.50");
    eprintln!("caught up {caught_up:?} after the node's return");
}

/// A node that refuses one row (here a rule of its own that central's data breaks): that row's entry
/// alone is set aside as Dead with the node's reason, every other row of its batch and every later
/// change arrives, and once the node accepts the row a re-queue delivers it.
#[tokio::test]
async fn a_row_the_node_refuses_is_set_aside_alone() {
    let setup = two_cities(TestNode::new(2).await, replication_config()).await;
    let central = &setup.central;
    let (karachi, karachi_node) = &setup.karachi;
    assert_converged(&setup).await;
    let node = karachi_node.db().await;
    node.batch_execute(
        "ALTER TABLE customers ADD CONSTRAINT no_test_names CHECK (name NOT LIKE 'Refused%')",
    )
    .await
    .unwrap();
    // One batch: the worker is held off the node while the rows are written.
    let db = central.db().await;
    db.batch_execute("BEGIN").await.unwrap();
    db.query_one(
        "SELECT pg_advisory_xact_lock(hashtext('deliver_replication'), $1)",
        &[karachi],
    )
    .await
    .unwrap();
    customer(central, "Before", *karachi).await;
    let refused = customer(central, "Refused O'Neil", *karachi).await;
    for i in 0..5 {
        customer(central, &format!("After {i}"), *karachi).await;
    }
    db.batch_execute("COMMIT").await.unwrap();
    eventually("the rest of the batch arrives", WAIT, || async {
        node_names(karachi_node, "customers").await.len() == 6
    })
    .await;
    customer(central, "Later", *karachi).await;
    eventually("later changes arrive", WAIT, || async {
        node_names(karachi_node, "customers").await.len() == 7
    })
    .await;
    let (_, dead) = central.get("/replication/log?status=Dead").await;
    let dead = dead.as_array().unwrap();
    assert_eq!(dead.len(), 1, "{dead:?}");
    assert_eq!(dead[0]["record_id"], refused["id"]);
    let message = dead[0]["message"].as_str().unwrap();
    assert!(message.contains("no_test_names"), "{message}");
    let status = central.get("/replication/status").await.1;
    let karachi_status = status["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|n| n["city_id"] == json!(karachi))
        .cloned()
        .unwrap();
    assert_eq!(karachi_status["dead"], json!(1), "{karachi_status}");
    assert_eq!(karachi_status["reachable"], json!(true), "{karachi_status}");

    node.batch_execute("ALTER TABLE customers DROP CONSTRAINT no_test_names")
        .await
        .unwrap();
    let (code, requeued) = central
        .send(
            Method::POST,
            "/replication/requeue",
            &json!({"ids": [dead[0]["id"]]}),
        )
        .await;
    assert_eq!(code, 200, "{requeued}");
    assert_eq!(requeued["requeued"], json!(1));
    assert_converged(&setup).await;
    let (_, dead) = central.get("/replication/log?status=Dead").await;
    assert_eq!(dead, json!([]));
}

/// Customers written while a node is being registered all reach it: each is in the initial load or in
/// the log, none in neither.
#[tokio::test]
async fn rows_written_during_a_registration_reach_the_node() {
    let central = spawn_central(replication_config()).await;
    let node = TestNode::new(1).await;
    let lahore = central.create_city("Lahore").await;
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let mut writers = Vec::new();
    for w in 0..4 {
        let stop = stop.clone();
        let db = central.db().await;
        writers.push(tokio::spawn(async move {
            let mut i = 0;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                db.execute(
                    "INSERT INTO customers (name, city_id) VALUES ($1, $2)",
                    &[&format!("Writer {w} no. {i}"), &lahore],
                )
                .await
                .unwrap();
                i += 1;
            }
            i
        }));
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    central.register_node(lahore, &node).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let mut written = 0;
    for writer in writers {
        written += writer.await.unwrap();
    }
    let expected = central_versions(&central, "customers", Some(lahore)).await;
    assert_eq!(expected.len(), written);
    eventually("every customer reaches the node", WAIT, || async {
        node.versions("customers").await == expected
    })
    .await;
}

/// A central database with `cities` (the first is city 1) and a node registered for city 1 as an
/// operator would from psql, its initial load delivered; no central service runs. Its connection
/// settings (for more sessions), a session, and the node.
async fn central_from_psql(
    cities: &[&str],
) -> (tokio_postgres::Config, tokio_postgres::Client, TestNode) {
    let (instance, db_name) = crate::common::central_database().await;
    let node = TestNode::new(1).await;
    let config = pos_shared::db::parse_url(&instance.app_url(&db_name), "test").unwrap();
    let central = pos_shared::db::connect(&config).await.unwrap();
    central
        .execute(
            "INSERT INTO cities (name, time_zone) SELECT unnest($1::text[]), 'Asia/Karachi'",
            &[&cities],
        )
        .await
        .unwrap();
    central
        .query_one(
            "SELECT register_node(1, '127.0.0.1', $1, $2, $3, $4)",
            &[
                &i32::from(node.instance.pg.port),
                &node.db_name,
                &pos_shared::pgctl::REPLICATOR_ROLE,
                &node.instance.replicator_password,
            ],
        )
        .await
        .unwrap();
    // The initial load (the cities, here), so that each test starts with an empty queue.
    central
        .query_one("SELECT retry_failed_replications()", &[])
        .await
        .unwrap();
    (config, central, node)
}

/// An operator with psql and no central service running: register a node, write, deliver.
#[tokio::test]
async fn replication_works_from_psql_without_the_service() {
    let (_, central, node) = central_from_psql(&["Karachi", "Lahore"]).await;
    central
        .batch_execute(
            "INSERT INTO customers (name, city_id) VALUES ('Psql Karachi', 1), ('Psql Lahore', 2);
             INSERT INTO categories (name) VALUES ('Tea');",
        )
        .await
        .unwrap();
    // A failed attempt that is due, as an earlier outage would leave it.
    central
        .execute(
            "UPDATE replication_log SET status = 'Failed', attempts = 1, next_attempt_at = now() - interval '1 second'
             WHERE table_name = 'categories'",
            &[],
        )
        .await
        .unwrap();
    let delivered: i32 = central
        .query_one("SELECT retry_failed_replications()", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(
        delivered, 2,
        "the Karachi customer and the category (Lahore has no node)"
    );
    assert_eq!(node_names(&node, "customers").await, ["Psql Karachi"]);
    assert_eq!(node_names(&node, "categories").await, ["Tea"]);
    let open: i64 = central
        .query_one(
            "SELECT count(*) FROM replication_log WHERE status <> 'Success'",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(open, 0);
    let connections: Option<Vec<String>> = central
        .query_one("SELECT dblink_get_connections()", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(connections, None, "connections it opened are closed again");
}

/// Release 1 kept the log's table, operation and status as text; the upgrade makes them enums. Entries of
/// every kind must come through it unchanged, and the upgraded log must work.
#[tokio::test]
async fn upgrading_from_text_statuses_keeps_every_log_entry() {
    pos_shared::telemetry::init_for_tests();
    let instance = pos_shared::testkit::shared_instance(0).await.unwrap();
    let db = instance.create_database(None).await.unwrap();
    let config = pos_shared::db::parse_url(&instance.app_url(&db), "test").unwrap();
    central::schema::migrate_to_version(&config, 1)
        .await
        .unwrap();
    let client = pos_shared::db::connect(&config).await.unwrap();
    let entries = async || -> Vec<String> {
        client
            .query(
                "SELECT concat_ws('|', table_name, record_id, target_city_id, operation, status, attempts, message)
                 FROM replication_log ORDER BY id",
                &[],
            )
            .await
            .unwrap()
            .iter()
            .map(|r| r.get(0))
            .collect()
    };
    client
        .batch_execute(
            "INSERT INTO replication_log (table_name, record_id, target_city_id, operation, status, attempts, message)
             VALUES ('customers', 1, 1, 'INSERT', 'Pending', 0, NULL),
                    ('stores', 2, 1, 'UPDATE', 'Success', 1, NULL),
                    ('products', 3, 2, 'DELETE', 'Failed', 2, 'could not connect'),
                    ('categories', 4, 2, 'LOAD', 'Dead', 8, 'gave up')",
        )
        .await
        .unwrap();
    let before = entries().await;
    assert_eq!(
        before,
        [
            "customers|1|1|INSERT|Pending|0",
            "stores|2|1|UPDATE|Success|1",
            "products|3|2|DELETE|Failed|2|could not connect",
            "categories|4|2|LOAD|Dead|8|gave up",
        ]
    );

    central::schema::migrate(&config).await.unwrap();
    assert_eq!(entries().await, before);
    // The upgraded log refuses what the old CHECK constraints refused, and operators' re-queue works.
    let bad = client
        .execute(
            "UPDATE replication_log SET status = 'pending' WHERE record_id = 1",
            &[],
        )
        .await;
    assert!(bad.is_err(), "an unknown status must be refused");
    let requeued: i32 = client
        .query_one("SELECT requeue_dead_replications()", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(requeued, 1);
    let open: i64 = client
        .query_one(
            "SELECT count(*) FROM replication_log WHERE status IN ('Pending', 'Failed')",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(open, 3);
}

/// Two delivered entries older than a week, entries of every other status as old, and a recent
/// delivered one (records 1-5 of city 99, in capture order).
const AGED_LOG: &str = "INSERT INTO replication_log
        (table_name, record_id, target_city_id, operation, status, attempts, created_at, delivered_at)
    VALUES ('customers', 1, 99, 'INSERT', 'Success', 1, now() - interval '10 days', now() - interval '10 days'),
           ('customers', 2, 99, 'INSERT', 'Success', 1, now() - interval '9 days', now() - interval '9 days'),
           ('customers', 3, 99, 'INSERT', 'Dead', 8, now() - interval '9 days', NULL),
           ('customers', 4, 99, 'INSERT', 'Failed', 1, now() - interval '9 days', NULL),
           ('customers', 5, 99, 'INSERT', 'Success', 1, now() - interval '1 hour', now() - interval '1 hour')";

async fn logged_records(db: &tokio_postgres::Client) -> Vec<i32> {
    db.query(
        "SELECT record_id FROM replication_log WHERE target_city_id = 99 ORDER BY record_id",
        &[],
    )
    .await
    .unwrap()
    .iter()
    .map(|r| r.get(0))
    .collect()
}

/// From psql: delivered entries older than the retention go, a limited number per call; undelivered
/// entries stay whatever their age.
#[tokio::test]
async fn purge_deletes_only_old_delivered_entries() {
    let (instance, db_name) = crate::common::central_database().await;
    let config = pos_shared::db::parse_url(&instance.app_url(&db_name), "test").unwrap();
    let db = pos_shared::db::connect(&config).await.unwrap();
    db.batch_execute(AGED_LOG).await.unwrap();
    let mut deleted = Vec::new();
    for _ in 0..3 {
        deleted.push(
            db.query_one(
                "SELECT purge_delivered_replications(interval '7 days', 1)",
                &[],
            )
            .await
            .unwrap()
            .get::<_, i32>(0),
        );
    }
    assert_eq!(deleted, [1, 1, 0], "one entry per call, then none left");
    assert_eq!(logged_records(&db).await, [3, 4, 5]);
}

/// The service's purge job (every second in tests, retention 168 hours) does the same unattended.
#[tokio::test]
async fn the_purge_job_keeps_a_week_of_delivered_entries() {
    let central = spawn_central(replication_config()).await;
    let db = central.db().await;
    db.batch_execute(AGED_LOG).await.unwrap();
    eventually("old delivered entries are purged", WAIT, || async {
        logged_records(&db).await == [3, 4, 5]
    })
    .await;
}

/// Dead entries wait for an operator outside the queue's indexes: the queue's first entry is found
/// without reading any of them, and the status page and the re-queue still find them.
#[tokio::test]
async fn dead_entries_are_not_in_the_way_of_the_queue() {
    let (instance, db_name) = crate::common::central_database().await;
    let config = pos_shared::db::parse_url(&instance.app_url(&db_name), "test").unwrap();
    let db = pos_shared::db::connect(&config).await.unwrap();
    db.batch_execute(
        "INSERT INTO cities (id, name, time_zone) VALUES (7, 'Quetta', 'Asia/Karachi');
         INSERT INTO nodes (city_id, server_name) VALUES (7, 'node_quetta');
         INSERT INTO replication_log (table_name, record_id, target_city_id, operation, status, attempts, message)
         SELECT 'customers', g, 7, 'INSERT', 'Dead', 8, 'gave up' FROM generate_series(1, 1000) g;
         INSERT INTO replication_log (table_name, record_id, target_city_id, operation)
         VALUES ('customers', 1001, 7, 'INSERT');
         ANALYZE replication_log",
    )
    .await
    .unwrap();
    // The queue's first entry, read as deliver_replication() reads it (bitmap scans off, as in there).
    db.batch_execute("SET enable_bitmapscan = off")
        .await
        .unwrap();
    let plan: Value = db
        .query_one(
            "EXPLAIN (ANALYZE, FORMAT JSON)
             SELECT l.id FROM replication_log l
             WHERE l.target_city_id BETWEEN 7 AND 7 AND l.status IN ('Pending', 'Failed') AND l.status = 'Pending'
             ORDER BY l.target_city_id, l.id LIMIT 1",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    let mut scan = &plan[0]["Plan"];
    while scan["Relation Name"] != "replication_log" {
        scan = &scan["Plans"][0];
    }
    assert_eq!(scan["Index Name"], "replication_log_open_idx", "{plan}");
    assert_eq!(scan["Actual Rows"], 1, "{plan}");
    assert_eq!(
        scan["Rows Removed by Filter"].as_i64().unwrap_or(0),
        0,
        "no dead entry read: {plan}"
    );
    let pooled = pos_shared::db::pool(config, 1)
        .unwrap()
        .get()
        .await
        .unwrap();
    let status = central::db::replication::backlog(&pooled).await.unwrap();
    let quetta = status.iter().find(|n| n.city_id == 7).unwrap();
    assert_eq!((quetta.pending, quetta.failed, quetta.dead), (1, 0, 1000));
    assert_eq!(quetta.last_error.as_deref(), Some("gave up"));
    let requeued: i32 = db
        .query_one("SELECT requeue_dead_replications(7)", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(requeued, 1000);
}

/// A replicator session lives for days. Once the log has grown, its deliveries still settle each batch
/// through the entries' row addresses: plans it made while the log was short (which PostgreSQL caches
/// for the session's life) do not make every delivery read the whole log.
#[tokio::test]
async fn a_long_lived_delivery_session_never_reads_the_whole_log() {
    let (_, central, node) = central_from_psql(&["Karachi"]).await;
    // No statistics refresh in the middle of the test (it would replan).
    central
        .batch_execute("ALTER TABLE replication_log SET (autovacuum_enabled = off)")
        .await
        .unwrap();
    // Each delivery ships a batch of `count` new customers.
    let deliver = async |name: &str, count: i32| {
        central
            .execute(
                "INSERT INTO customers (name, city_id) SELECT $1, 1 FROM generate_series(1, $2)",
                &[&name, &count],
            )
            .await
            .unwrap();
        let delivered: i32 = central
            .query_one("SELECT delivered FROM deliver_replication(1)", &[])
            .await
            .unwrap()
            .get(0);
        assert_eq!(delivered, count, "{name}");
    };
    // Past its fifth call a session may keep a generic plan, when one costs less than the plans made
    // for each call did: for batches of a dozen entries in a short log, reading the log costs less.
    for i in 0..8 {
        deliver(&format!("Early {i}"), 12).await;
    }
    // A week of delivered history.
    central
        .batch_execute(
            "INSERT INTO replication_log (table_name, record_id, target_city_id, operation, status, attempts, delivered_at)
             SELECT 'customers', g, 1, 'INSERT', 'Success', 1, now() FROM generate_series(1000, 30999) g",
        )
        .await
        .unwrap();
    let before = table_reads(&central, "replication_log").await.unwrap();
    deliver("Late", 12).await;
    let reads = table_reads(&central, "replication_log").await.unwrap() - before;
    assert_eq!(reads.seq_scans, 0, "a delivery read the whole log");
    assert_eq!(
        node_names(&node, "customers")
            .await
            .last()
            .map(String::as_str),
        Some("Late")
    );
}

/// One delivery per node at a time: while the node's worker ships a batch, an operator's retry from
/// psql finds nothing to do, and every entry is delivered once.
#[tokio::test]
async fn deliveries_to_one_node_take_turns() {
    let (config, worker, node) = central_from_psql(&["Karachi"]).await;
    let operator = pos_shared::db::connect(&config).await.unwrap();
    worker
        .batch_execute(
            "INSERT INTO customers (name, city_id) SELECT 'Turn ' || g, 1 FROM generate_series(1, 5) g",
        )
        .await
        .unwrap();
    // The worker's delivery, its transaction still open.
    worker.batch_execute("BEGIN").await.unwrap();
    let by_worker: i32 = worker
        .query_one("SELECT delivered FROM deliver_replication(1)", &[])
        .await
        .unwrap()
        .get(0);
    let by_operator: i32 = operator
        .query_one("SELECT retry_failed_replications(1)", &[])
        .await
        .unwrap()
        .get(0);
    worker.batch_execute("COMMIT").await.unwrap();
    assert_eq!((by_worker, by_operator), (5, 0));
    let attempts: Vec<i32> = operator
        .query(
            "SELECT attempts FROM replication_log WHERE status = 'Success' AND table_name = 'customers'
             ORDER BY id",
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(attempts, [1; 5], "each entry settled once");
    assert_eq!(node_names(&node, "customers").await.len(), 5);
}

/// `GET /replication/log?status=` reads the few open or dead entries through their own indexes, also
/// once its prepared statement has a generic plan, instead of walking the delivered history newest
/// first; each filter still returns its entries newest first.
#[tokio::test]
async fn the_log_finds_failed_and_dead_entries_without_walking_the_history() {
    let (instance, db_name) = crate::common::central_database().await;
    let config = pos_shared::db::parse_url(&instance.app_url(&db_name), "test").unwrap();
    let db = pos_shared::db::pool(config, 1)
        .unwrap()
        .get()
        .await
        .unwrap();
    db.batch_execute(
        "INSERT INTO replication_log (table_name, record_id, target_city_id, operation, status, attempts, message)
         VALUES ('customers', 1, 7, 'INSERT', 'Failed', 1, 'refused'), ('customers', 2, 7, 'INSERT', 'Dead', 8, 'gave up'),
                ('customers', 3, 8, 'INSERT', 'Failed', 1, 'refused');
         INSERT INTO replication_log (table_name, record_id, target_city_id, operation, status, attempts, delivered_at)
         SELECT 'customers', g, 7, 'INSERT', 'Success', 1, now() FROM generate_series(10, 20009) g;
         ANALYZE replication_log",
    )
    .await
    .unwrap();
    let records =
        async |status: Option<&str>, city_id: Option<i32>, limit: i64| -> Vec<(i32, String)> {
            central::db::replication::log_entries(&db, status, city_id, limit)
                .await
                .unwrap()
                .into_iter()
                .map(|e| (e.record_id, e.status))
                .collect()
        };
    let failed = || vec![(3, "Failed".to_owned()), (1, "Failed".to_owned())];
    // Past five calls, the statement may run on a generic plan.
    for _ in 0..6 {
        assert_eq!(records(Some("Failed"), None, 100).await, failed());
    }
    let before = table_reads(&db, "replication_log").await.unwrap();
    assert_eq!(records(Some("Failed"), None, 100).await, failed());
    assert_eq!(
        records(Some("Dead"), Some(7), 100).await,
        [(2, "Dead".to_owned())]
    );
    let reads = table_reads(&db, "replication_log").await.unwrap() - before;
    assert_eq!(reads.seq_scans, 0);
    assert!(
        reads.rows_fetched_by_index < 10,
        "{} rows read for three entries",
        reads.rows_fetched_by_index
    );
    assert_eq!(
        records(Some("Success"), Some(7), 2).await,
        [(20009, "Success".to_owned()), (20008, "Success".to_owned())]
    );
    assert_eq!(
        records(None, None, 3).await,
        [
            (20009, "Success".to_owned()),
            (20008, "Success".to_owned()),
            (20007, "Success".to_owned())
        ]
    );
    assert_eq!(
        records(None, Some(8), 100).await,
        [(3, "Failed".to_owned())]
    );
}
