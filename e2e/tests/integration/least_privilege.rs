//! Least privilege, tried: the services' runtime role reads and writes rows but cannot change the
//! schema; each node reports its sales at central under a login of its own, and only its own city's.

use secrecy::SecretString;
use serde_json::json;
use tokio_postgres::error::SqlState;
use uuid::Uuid;

use crate::chain::start_node_service_reporting_as;
use crate::common::{TestNode, eventually, replication_config, spawn_central};
use crate::replication::WAIT;

/// The SQLSTATE and message `sql` fails with.
async fn refusal(db: &tokio_postgres::Client, sql: &str) -> (SqlState, String) {
    let err = db.batch_execute(sql).await.expect_err(sql);
    let db_err = err.as_db_error().expect("a database error");
    (db_err.code().clone(), db_err.message().to_owned())
}

#[tokio::test]
async fn the_runtime_role_cannot_drop_alter_or_truncate_at_central_or_a_node() {
    let central = spawn_central(replication_config()).await;
    // It works as the service works: rows in, rows out.
    central
        .post(
            "/cities",
            json!({"name": "Karachi", "time_zone": "Asia/Karachi"}),
        )
        .await;
    let node = TestNode::new(1).await;
    for (db, table) in [
        (central.db().await, "order_mapping"),
        (node.db().await, "orders"),
    ] {
        for sql in [
            format!("DROP TABLE {table}"),
            format!("ALTER TABLE {table} ADD COLUMN sneaky integer"),
            format!("TRUNCATE {table}"),
            "CREATE TABLE sneaky (id integer)".to_owned(),
            "CREATE OR REPLACE FUNCTION is_rejection(p text) RETURNS boolean LANGUAGE sql AS 'SELECT true'"
                .to_owned(),
            "UPDATE schema_functions SET sha256 = 'x'".to_owned(),
        ] {
            let (code, message) = refusal(&db, &sql).await;
            assert_eq!(code, SqlState::INSUFFICIENT_PRIVILEGE, "{sql}: {message}");
        }
        let rows: i64 = db
            .query_one(&format!("SELECT count(*) FROM {table}"), &[])
            .await
            .unwrap()
            .get(0);
        assert_eq!(rows, 0);
    }
}

#[tokio::test]
async fn a_node_reports_only_its_own_citys_sales_under_its_own_login() {
    let central = spawn_central(replication_config()).await;
    let (karachi_node, lahore_node) = (TestNode::new(1).await, TestNode::new(2).await);
    let karachi = central.create_city("Karachi").await;
    let lahore = central.create_city("Lahore").await;
    let registered = central.register_node(karachi, &karachi_node).await;
    assert_eq!(registered["central_login"], format!("pos_node_{karachi}"));
    central.register_node(lahore, &lahore_node).await;
    let store = |code: &str, city: i32| json!({"code": code, "name": code, "city_id": city});
    let saddar = central.post("/stores", store("KHI001", karachi)).await["id"].clone();
    let gulberg = central.post("/stores", store("LHE001", lahore)).await["id"].clone();
    let mapping = |store_id: &serde_json::Value, city: i32| {
        json!([{"kind": "order", "global_order_id": Uuid::new_v4(), "store_id": store_id,
                "store_order_id": 1, "customer_id": null, "total_amount": "10.00", "city_id": city,
                "business_date": "2026-12-03", "order_time": "2026-12-03T10:00:00Z"}])
    };
    let report = async |login: SecretString, batch: serde_json::Value| {
        let config = pos_shared::db::parse_url(&login, "test").unwrap();
        let db = pos_shared::db::connect(&config).await.unwrap();
        db.query_one("SELECT apply_order_mappings($1::jsonb)", &[&batch])
            .await
            .map(|row| row.get::<_, i32>(0))
            .map_err(|e| {
                let db_err = e.as_db_error().unwrap();
                (db_err.code().code().to_owned(), db_err.message().to_owned())
            })
    };
    let instance = central.instance;
    let karachi_login = instance
        .node_login_url(karachi, &central.db_name)
        .await
        .unwrap();

    // Its own store: taken. Another city's store, or a sale it says another city made: refused.
    assert_eq!(
        report(karachi_login.clone(), mapping(&saddar, karachi)).await,
        Ok(1)
    );
    let (code, message) = report(karachi_login.clone(), mapping(&gulberg, lahore))
        .await
        .unwrap_err();
    assert_eq!(code, "PS403", "{message}");
    assert!(message.contains("not a store of its city"), "{message}");
    let (code, _) = report(karachi_login.clone(), mapping(&saddar, lahore))
        .await
        .unwrap_err();
    assert_eq!(code, "PS403");

    // The shared replication login is no node's: refused as a whole (a setting to fix, not data).
    let shared = SecretString::from(instance.pg.url(
        pos_shared::pgctl::REPLICATOR_ROLE,
        &instance.replicator_password,
        &central.db_name,
    ));
    let (code, message) = report(shared, mapping(&saddar, karachi)).await.unwrap_err();
    assert_eq!(code, SqlState::INSUFFICIENT_PRIVILEGE.code(), "{message}");

    // A store that moves to Lahore: Karachi's node may still report the sales it made before.
    let moved = central.post("/stores", store("KHI002", karachi)).await["id"].clone();
    central
        .patch(&format!("/stores/{moved}"), json!({"city_id": lahore}))
        .await;
    assert_eq!(
        report(karachi_login.clone(), mapping(&moved, karachi)).await,
        Ok(1)
    );

    // Through the outbox: Karachi's node misconfigured with Lahore's login. Its sale is refused by
    // central and set aside at the node with central's reason; central keeps nothing of it.
    let category = central.post("/categories", json!({"name": "Tea"})).await["id"].clone();
    let product = central
        .post(
            "/products",
            json!({"sku": "TEA-1", "name": "Chai", "category_id": category, "price": "150.00"}),
        )
        .await["id"]
        .clone();
    eventually("the catalogue reaches Karachi", WAIT, || async {
        karachi_node.versions("products").await.len() == 1
    })
    .await;
    let cashier = pos_shared::auth::generate_token();
    let saddar_id = i32::try_from(saddar.as_i64().unwrap()).unwrap();
    let node_url = start_node_service_reporting_as(
        &central,
        instance,
        &karachi_node,
        karachi,
        lahore,
        vec![(saddar_id, SecretString::from(cashier.clone()))],
    )
    .await;
    let http = reqwest::Client::new();
    let post = async |path: &str, body: serde_json::Value| {
        let response = http
            .post(format!("{node_url}{path}"))
            .bearer_auth(&cashier)
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 201, "POST {path}");
    };
    post(
        "/inventory/receipts",
        json!({"idempotency_key": Uuid::new_v4(), "items": [{"product_id": product, "quantity": 5}]}),
    )
    .await;
    post(
        "/orders",
        json!({"idempotency_key": Uuid::new_v4(), "customer_id": null,
               "items": [{"product_id": product, "quantity": 1}],
               "payments": [{"method": "cash", "amount": "150.00"}]}),
    )
    .await;
    let node_db = karachi_node.db().await;
    eventually(
        "the refused sale is set aside at the node",
        WAIT,
        || async {
            node_db
                .query_opt(
                    "SELECT message FROM outbox WHERE kind = 'order' AND status = 'Dead'",
                    &[],
                )
                .await
                .unwrap()
                .is_some_and(|row| {
                    row.get::<_, String>(0).contains(&format!(
                        "the node of city {lahore} may not report a order of store {saddar}"
                    ))
                })
        },
    )
    .await;
    let kept: i64 = central
        .db()
        .await
        .query_one(
            "SELECT count(*) FROM order_mapping WHERE store_id = $1 AND store_order_id = 1 AND total_amount = 150.00",
            &[&saddar_id],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(kept, 0);
    // No secret of the login in what the node shows.
    let message: String = node_db
        .query_one("SELECT message FROM outbox WHERE status = 'Dead'", &[])
        .await
        .unwrap()
        .get(0);
    assert!(!message.contains(instance.replicator_password.as_str()));
}
