//! Node operations that repair a node's replicas: disable and enable, resync, and a node restored from
//! an old backup.

use std::time::Duration;

use reqwest::Method;
use serde_json::{Value, json};

use crate::chain::SalesChain;
use crate::common::{TestCentral, TestNode, eventually, replication_config, spawn_central};

const WAIT: Duration = Duration::from_secs(30);

/// `(id, version, text)` of rows of `table`: the product's price or the customer's name and city.
async fn rows(db: &tokio_postgres::Client, sql: &str) -> Vec<(i32, i64, String)> {
    db.query(sql, &[])
        .await
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2)))
        .collect()
}

const PRODUCTS: &str =
    "SELECT id, version, price::text || ' ' || active::text FROM products WHERE active ORDER BY id";
const CUSTOMERS: &str = "SELECT id, version, name FROM customers
                         WHERE city_id = 1 AND deleted_at IS NULL ORDER BY id";

/// The node's replicas equal central's fragment (city 1), row for row.
async fn fragment_equal(central: &TestCentral, node: &TestNode) -> bool {
    let (c, n) = (central.db().await, node.db().await);
    rows(&c, PRODUCTS).await == rows(&n, PRODUCTS).await
        && rows(&c, CUSTOMERS).await == rows(&n, CUSTOMERS).await
}

async fn customer(central: &TestCentral, name: &str, city_id: i32) -> Value {
    central
        .post("/customers", json!({"name": name, "city_id": city_id}))
        .await
}

/// A node disabled while central changes (a price, a customer moved away, a customer deleted) and
/// damaged by hand (a price changed without a new version, a row deleted, rows central never had):
/// enabling it resyncs it online, with central's writes going on, and afterwards its replicas equal
/// central's fragment row for row.
#[tokio::test]
async fn enabling_a_disabled_node_resyncs_its_fragment() {
    let central = spawn_central(replication_config()).await;
    let node = TestNode::new(1).await;
    let karachi = central.create_city("Karachi").await;
    assert_eq!(karachi, 1, "the queries above name city 1");
    let lahore = central.create_city("Lahore").await;
    central.register_node(karachi, &node).await;
    let category = central.post("/categories", json!({"name": "Tea"})).await;
    let mut products = Vec::new();
    for i in 0..3 {
        products.push(
            central
                .post(
                    "/products",
                    json!({"sku": format!("TEA-{i}"), "name": "Chai", "category_id": category["id"], "price": "100.00"}),
                )
                .await,
        );
    }
    let mut customers = Vec::new();
    for i in 0..3 {
        customers.push(customer(&central, &format!("Customer {i}"), karachi).await);
    }
    eventually("the first load arrives", WAIT, || {
        fragment_equal(&central, &node)
    })
    .await;

    let (code, body) = central
        .send(Method::PATCH, "/nodes/1", &json!({"enabled": false}))
        .await;
    assert_eq!(code, 200, "{body}");
    central
        .patch(
            &format!("/products/{}", products[0]["id"]),
            json!({"price": "90.00"}),
        )
        .await;
    central
        .patch(
            &format!("/customers/{}", customers[0]["id"]),
            json!({"city_id": lahore}),
        )
        .await;
    let (code, _) = central
        .send(
            Method::DELETE,
            &format!("/customers/{}", customers[1]["id"]),
            &json!({}),
        )
        .await;
    assert_eq!(code, 204);
    let (code, body) = central
        .send(Method::POST, "/nodes/1/resync", &json!({}))
        .await;
    assert_eq!(
        (code, body["error"].as_str()),
        (409, Some("conflict")),
        "{body}"
    );
    let db = node.db().await;
    db.batch_execute(&format!(
        "UPDATE products SET price = 1.00 WHERE id = {p};
         DELETE FROM customers WHERE id = {c};
         INSERT INTO customers (id, name, city_id, version, created_at, updated_at)
         VALUES (9001, 'Written by hand', 1, 1, now(), now());
         INSERT INTO products (id, sku, name, category_id, price, active, version, created_at, updated_at)
         VALUES (9002, 'HAND-1', 'By hand', 1, 5, true, 1, now(), now())",
        p = products[1]["id"],
        c = customers[2]["id"],
    ))
    .await
    .unwrap();
    assert!(!fragment_equal(&central, &node).await);

    // Central's writes go on during the resync.
    let writes = async {
        for i in 0..20 {
            customer(&central, &format!("During {i}"), karachi).await;
        }
    };
    let enable = async {
        let (code, body) = central
            .send(Method::PATCH, "/nodes/1", &json!({"enabled": true}))
            .await;
        assert_eq!(code, 200, "{body}");
        assert_eq!(body["resync"]["node_checked"], json!(true), "{body}");
        assert!(body["resync"]["queued"].as_i64().unwrap() >= 6, "{body}");
    };
    tokio::join!(writes, enable);
    eventually("the node equals central's fragment", WAIT, || {
        fragment_equal(&central, &node)
    })
    .await;
    let retired: i64 = db
        .query_one(
            "SELECT count(*) FROM products WHERE id = 9002 AND NOT active",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(retired, 1, "a product central never had is retired");
    let (_, dead) = central.get("/replication/log?status=Dead").await;
    assert_eq!(dead["items"], json!([]));

    // A resync of an enabled node, from the API, repairs the next damage too.
    db.batch_execute(&format!(
        "UPDATE products SET price = 2.00 WHERE id = {}",
        products[2]["id"]
    ))
    .await
    .unwrap();
    let (code, body) = central
        .send(Method::POST, "/nodes/1/resync", &json!({}))
        .await;
    assert_eq!(code, 202, "{body}");
    eventually("repaired again", WAIT, || fragment_equal(&central, &node)).await;
    let (code, _) = central
        .send(Method::POST, "/nodes/99/resync", &json!({}))
        .await;
    assert_eq!(code, 404);
}

/// A node restored from a dump taken before some of its sales: a resync repairs its replicas and
/// raises its order counters, so its next sales are numbered after the ones central already holds and
/// reach central (no collision, nothing set aside).
#[tokio::test]
async fn a_node_restored_from_an_old_backup_is_repaired_by_a_resync() {
    let chain = SalesChain::start().await;
    for _ in 0..3 {
        chain.sell().await;
    }
    eventually("three sales at central", WAIT, || chain.mappings(3)).await;
    let pg = &chain.node.instance.pg;
    let backup = pg.dump(&chain.node.db_name).unwrap();
    for _ in 0..2 {
        chain.sell().await;
    }
    eventually("five sales at central", WAIT, || chain.mappings(5)).await;
    chain
        .central
        .patch(
            &format!("/products/{}", chain.product),
            json!({"price": "175.00"}),
        )
        .await;
    eventually("the price reaches the node", WAIT, || async {
        chain.node.versions("products").await[0].1 == 2
    })
    .await;

    pg.restore(&chain.node.db_name, &backup).await.unwrap();
    let counter: i64 = chain
        .node
        .db()
        .await
        .query_one("SELECT last_order_id FROM store_order_counters", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(counter, 3, "the backup is older than two of the sales");
    assert_eq!(chain.node.versions("products").await[0].1, 1);

    let (code, body) = chain
        .central
        .send(Method::POST, "/nodes/1/resync", &json!({}))
        .await;
    assert_eq!(code, 202, "{body}");
    assert_eq!(body["node_checked"], json!(true), "{body}");
    eventually("the price is back", WAIT, || async {
        chain.node.versions("products").await[0].1 == 2
    })
    .await;
    let sale = chain.sell().await;
    eventually("the new sale reaches central", WAIT, || chain.mappings(6)).await;
    let number: i64 = chain
        .central
        .db()
        .await
        .query_one(
            "SELECT store_order_id FROM order_mapping WHERE global_order_id = $1",
            &[&sale],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(number, 6);
    let dead: i64 = chain
        .node
        .db()
        .await
        .query_one("SELECT count(*) FROM outbox WHERE status = 'Dead'", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(dead, 0);
}
