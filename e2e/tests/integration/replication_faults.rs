//! Replication through faults: a node down for longer than entries used to live, a row a node
//! refuses (alone, or among an import's), rows written while a node is being registered.

use std::time::{Duration, Instant};

use reqwest::Method;
use serde_json::json;

use crate::common::{
    TestCentral, TestNode, central_versions, eventually, replication_config, spawn_central,
};
use crate::replication::{
    TwoCities, WAIT, assert_converged, assert_converged_within, customer, node_names, two_cities,
};

/// One node's database is stopped for longer than entries used to live (8 attempts, then Dead), while
/// prices and customers change: central's writes keep their latency, the other node keeps receiving,
/// the entries go through more than 8 failed attempts and none dies; once the node is back it equals
/// central within 10 s, with no operator step.
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
        slowest < Duration::from_millis(1500),
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
    // The node's back-off is at most a second (max_backoff_ms): a retry comes within seconds of its
    // return, on a loaded machine too.
    assert_converged_within(&setup, Duration::from_secs(10)).await;
    let caught_up = back.elapsed();
    let (_, dead) = central.get("/replication/log?status=Dead").await;
    assert_eq!(dead["items"], json!([]));
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

/// Two cities whose Karachi node refuses customers named `Refused…` (a rule of its own that central's
/// data breaks), converged; with the node's owner session, to lift the rule.
async fn karachi_refusing() -> (TwoCities, tokio_postgres::Client) {
    let setup = two_cities(TestNode::new(2).await, replication_config()).await;
    assert_converged(&setup).await;
    let node = setup.karachi.1.owner_db().await;
    node.batch_execute(
        "ALTER TABLE customers ADD CONSTRAINT no_test_names CHECK (name NOT LIKE 'Refused%')",
    )
    .await
    .unwrap();
    (setup, node)
}

/// The node's line of `GET /replication/status`.
async fn node_status(central: &TestCentral, city_id: i32) -> serde_json::Value {
    let status = central.get("/replication/status").await.1;
    status["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|n| n["city_id"] == json!(city_id))
        .cloned()
        .unwrap()
}

/// Lifts the node's rule, then re-queues (`body` of `POST /replication/requeue`) what it refused;
/// returns how many entries went back in the queue.
async fn accept_and_requeue(
    node: &tokio_postgres::Client,
    central: &TestCentral,
    body: serde_json::Value,
) -> serde_json::Value {
    node.batch_execute("ALTER TABLE customers DROP CONSTRAINT no_test_names")
        .await
        .unwrap();
    let (code, requeued) = central
        .send(Method::POST, "/replication/requeue", &body)
        .await;
    assert_eq!(code, 200, "{requeued}");
    requeued["requeued"].clone()
}

/// A node that refuses one row: that row's entry alone is set aside as Dead with the node's reason,
/// every other row of its batch and every later change arrives, and once the node accepts the row a
/// re-queue delivers it.
#[tokio::test]
async fn a_row_the_node_refuses_is_set_aside_alone() {
    let (setup, node) = karachi_refusing().await;
    let central = &setup.central;
    let (karachi, karachi_node) = &setup.karachi;
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
    let dead = dead["items"].as_array().unwrap();
    assert_eq!(dead.len(), 1, "{dead:?}");
    assert_eq!(dead[0]["record_id"], refused["id"]);
    let message = dead[0]["message"].as_str().unwrap();
    assert!(message.contains("no_test_names"), "{message}");
    let karachi_status = node_status(central, *karachi).await;
    assert_eq!(karachi_status["dead"], json!(1), "{karachi_status}");
    assert_eq!(karachi_status["reachable"], json!(true), "{karachi_status}");

    assert_eq!(
        accept_and_requeue(&node, central, json!({"ids": [dead[0]["id"]]})).await,
        json!(1)
    );
    assert_converged(&setup).await;
    let (_, dead) = central.get("/replication/log?status=Dead").await;
    assert_eq!(dead["items"], json!([]));
}

/// An import (one statement of 2,500 customers) is logged in a few entries, each naming up to 1,000 of
/// its rows, not one entry per row; when the node refuses two of its rows, each is set aside alone in
/// a Dead entry naming that row, the other 2,498 arrive, and a re-queue delivers the two once the node
/// accepts them.
#[tokio::test]
async fn a_refused_row_of_an_import_is_set_aside_alone() {
    let (setup, node) = karachi_refusing().await;
    let central = &setup.central;
    let (karachi, karachi_node) = &setup.karachi;
    let before = node_names(karachi_node, "customers").await.len();
    let db = central.db().await;
    let refused: Vec<i32> = db
        .query(
            "WITH imported AS (
                 INSERT INTO customers (name, city_id)
                 SELECT CASE WHEN g IN (700, 1900) THEN 'Refused ' ELSE 'Imported ' END || g, $1
                 FROM generate_series(1, 2500) g
                 RETURNING id, name)
             SELECT id FROM imported WHERE name LIKE 'Refused%' ORDER BY id",
            &[karachi],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    let entries: Vec<(i64, Option<i32>)> = db
        .query(
            "SELECT count(*), sum(cardinality(record_ids))::int FROM replication_log
             WHERE table_name = 'customers' AND target_city_id = $1 AND record_ids IS NOT NULL",
            &[karachi],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect();
    assert!(
        matches!(entries[..], [(3..=4, Some(2500))]),
        "2,500 rows in three or four entries: {entries:?}"
    );
    eventually("the import's other rows arrive", WAIT, || async {
        node_names(karachi_node, "customers").await.len() == before + 2498
    })
    .await;
    let (_, dead) = central.get("/replication/log?status=Dead").await;
    let dead = dead["items"].as_array().unwrap();
    let mut dead_rows: Vec<_> = dead
        .iter()
        .map(|e| (e["record_id"].as_i64().unwrap(), e["record_ids"].clone()))
        .collect();
    dead_rows.sort_by_key(|(id, _)| *id);
    assert_eq!(
        dead_rows,
        refused
            .iter()
            .map(|id| (i64::from(*id), json!(null)))
            .collect::<Vec<_>>()
    );
    assert!(
        dead.iter()
            .all(|e| e["message"].as_str().unwrap().contains("no_test_names")),
        "{dead:?}"
    );
    let karachi_status = node_status(central, *karachi).await;
    assert_eq!(
        (&karachi_status["dead"], &karachi_status["pending"]),
        (&json!(2), &json!(0)),
        "{karachi_status}"
    );

    assert_eq!(
        accept_and_requeue(&node, central, json!({"city_id": karachi})).await,
        json!(2)
    );
    assert_converged(&setup).await;
    assert_eq!(
        node_names(karachi_node, "customers").await.len(),
        before + 2500
    );
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
