//! Replication run by an operator from psql, without the service, and an upgrade of an old log.

use crate::common::TestNode;
use crate::replication::node_names;

/// A central database with `cities` (the first is city 1) and a node registered for city 1 as an
/// operator would from psql, its initial load delivered; no central service runs. Its connection
/// settings (for more sessions), a session, and the node.
pub async fn central_from_psql(
    cities: &[&str],
) -> (pos_shared::db::DbConfig, tokio_postgres::Client, TestNode) {
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
            "SELECT register_node(1, '127.0.0.1', $1, $2, $3, $4, NULL)",
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
    let config = pos_shared::db::parse_url(&instance.owner_url(&db), "test").unwrap();
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

    central::schema::migrate(&config, Some(pos_shared::pgctl::APP_ROLE))
        .await
        .unwrap();
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
