//! The replication queue as it grows: purges, dead entries, long-lived sessions, turns per node, and
//! the log's lookups, each shown not to walk the history.

use pos_shared::testkit::table_reads;
use serde_json::Value;

use crate::common::{eventually, replication_config, spawn_central};
use crate::replication::{WAIT, node_names};
use crate::replication_psql::central_from_psql;

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
    let config = pos_shared::db::parse_url(&instance.owner_url(&db_name), "test").unwrap();
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
    let config = pos_shared::db::parse_url(&instance.owner_url(&db_name), "test").unwrap();
    let db = pos_shared::db::connect(&config).await.unwrap();
    db.batch_execute(
        "INSERT INTO cities (id, name, time_zone) VALUES (7, 'Quetta', 'Asia/Karachi');
         INSERT INTO nodes (city_id, server_name, central_login) VALUES (7, 'node_quetta', 'pos_node_7');
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
    let (config, central, node) = central_from_psql(&["Karachi"]).await;
    // No statistics refresh in the middle of the test (it would replan): a change the owner makes.
    let mut as_owner = config.clone();
    as_owner.user(pos_shared::pgctl::OWNER_ROLE).password(
        &pos_shared::testkit::shared_instance(0)
            .await
            .unwrap()
            .owner_password,
    );
    pos_shared::db::connect(&as_owner)
        .await
        .unwrap()
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
    // The statement's five rows are one entry.
    let attempts: Vec<(i32, i32)> = operator
        .query(
            "SELECT attempts, cardinality(record_ids) FROM replication_log
             WHERE status = 'Success' AND table_name = 'customers' ORDER BY id",
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect();
    assert_eq!(attempts, [(1, 5)], "the entry settled once");
    assert_eq!(node_names(&node, "customers").await.len(), 5);
}

/// `GET /replication/log?status=` reads the few open or dead entries through their own indexes, also
/// once its prepared statement has a generic plan, instead of walking the delivered history newest
/// first; each filter still returns its entries newest first.
#[tokio::test]
async fn the_log_finds_failed_and_dead_entries_without_walking_the_history() {
    let (instance, db_name) = crate::common::central_database().await;
    let config = pos_shared::db::parse_url(&instance.owner_url(&db_name), "test").unwrap();
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
            let page = pos_shared::page::PageRequest::first(limit);
            let entries = central::db::replication::log_entries(&db, status, city_id, page)
                .await
                .unwrap();
            page.page(entries, |e| e.id)
                .items
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
