//! Sales at the till: pricing and change, stock that never oversells, retries made once, lock order,
//! and bad sales refused without a trace.

use std::sync::Arc;

use serde_json::{Value, json};
use uuid::Uuid;

use crate::{TestStoreNode, spawn_store_node};

pub fn sale(product_id: i32, quantity: i64, cash: &str) -> Value {
    json!({
        "idempotency_key": Uuid::new_v4(), "customer_id": null,
        "items": [{"product_id": product_id, "quantity": quantity}],
        "payments": [{"method": "cash", "amount": cash}]
    })
}

impl TestStoreNode {
    pub async fn post_order(&self, body: &Value) -> (u16, Value) {
        let response = self
            .http
            .post(format!("{}/orders", self.url))
            .bearer_auth(&self.tokens[0].1)
            .json(body)
            .send()
            .await
            .unwrap();
        let status = response.status().as_u16();
        (status, response.json().await.unwrap_or_default())
    }

    pub async fn count(&self, sql: &str) -> i64 {
        self.db.query_one(sql, &[]).await.unwrap().get(0)
    }

    pub async fn stock(&self, product_id: i32) -> i32 {
        self.db
            .query_one(
                "SELECT quantity FROM inventory WHERE store_id = 1 AND product_id = $1",
                &[&product_id],
            )
            .await
            .unwrap()
            .get(0)
    }
}

#[tokio::test]
async fn a_sale_is_priced_by_the_node_and_gives_change() {
    let node = spawn_store_node().await;
    let body = json!({
        "idempotency_key": Uuid::new_v4(), "customer_id": 1,
        "items": [{"product_id": 1, "quantity": 2}, {"product_id": 2, "quantity": 1}],
        "payments": [{"method": "card", "amount": "300.00"}, {"method": "cash", "amount": "100"}]
    });
    let (status, order) = node.post_order(&body).await;
    assert_eq!(status, 201, "{order}");
    assert_eq!(order["total"], "399.50");
    assert_eq!(order["change_due"], "0.50");
    assert_eq!(order["store_order_id"], 1);
    assert_eq!(order["items"][0]["unit_price"], "150.00");
    assert_eq!(order["items"][1]["line_total"], "99.50");
    assert_eq!((node.stock(1).await, node.stock(2).await), (8, 99));
    assert_eq!(
        node.count("SELECT count(*) FROM outbox WHERE kind = 'order'")
            .await,
        1
    );
    let id = order["global_order_id"].as_str().unwrap();
    let (status, again) = node
        .get(&format!("/orders/{id}"), Some(&node.tokens[0].1))
        .await;
    assert_eq!((status, &again), (200, &order));
    assert_eq!(
        node.get(&format!("/orders/{id}"), Some(&node.tokens[1].1))
            .await
            .0,
        404
    );
}

#[tokio::test]
async fn concurrent_sales_never_oversell() {
    let node = Arc::new(spawn_store_node().await);
    // Stock of product 1 at store 1 is 10; 30 cashiers try to sell one each.
    let attempts = (0..30).map(|_| {
        let node = node.clone();
        tokio::spawn(async move { node.post_order(&sale(1, 1, "150.00")).await })
    });
    let results = futures_util::future::join_all(attempts).await;
    let mut sold = 0;
    let mut refused = 0;
    for result in results {
        let (status, body) = result.unwrap();
        match status {
            201 => sold += 1,
            409 => {
                assert_eq!(body["error"], "insufficient_stock", "{body}");
                assert_eq!(body["details"]["product_id"], 1);
                refused += 1;
            }
            other => panic!("unexpected {other}: {body}"),
        }
    }
    assert_eq!((sold, refused), (10, 20));
    assert_eq!(node.stock(1).await, 0);
    assert_eq!(node.count("SELECT count(*) FROM orders").await, 10);
    let numbers = node
        .count("SELECT count(DISTINCT store_order_id) FROM orders WHERE store_id = 1")
        .await;
    assert_eq!(numbers, 10, "store order numbers are unique");
}

#[tokio::test]
async fn a_retried_sale_is_made_once() {
    let node = Arc::new(spawn_store_node().await);
    let body = Arc::new(sale(2, 3, "500.00"));
    let attempts = (0..20).map(|_| {
        let node = node.clone();
        let body = body.clone();
        tokio::spawn(async move { node.post_order(&body).await })
    });
    let results: Vec<(u16, Value)> = futures_util::future::join_all(attempts)
        .await
        .into_iter()
        .map(Result::unwrap)
        .collect();
    let created = results.iter().filter(|(s, _)| *s == 201).count();
    let replayed = results.iter().filter(|(s, _)| *s == 200).count();
    assert_eq!((created, replayed), (1, 19), "{results:?}");
    let ids: std::collections::HashSet<_> = results
        .iter()
        .map(|(_, b)| b["global_order_id"].clone())
        .collect();
    assert_eq!(ids.len(), 1);
    assert_eq!(node.count("SELECT count(*) FROM orders").await, 1);
    assert_eq!(node.count("SELECT count(*) FROM payments").await, 1);
    assert_eq!(node.stock(2).await, 97);

    let mut other = (*body).clone();
    other["items"][0]["quantity"] = json!(4);
    let (status, mismatch) = node.post_order(&other).await;
    assert_eq!(
        (status, mismatch["error"].as_str()),
        (409, Some("idempotency_mismatch"))
    );
}

/// A sale locks its stock rows in product order, whatever the order of its lines, so that two sales of
/// the same products in opposite orders cannot deadlock. Shown without relying on timing: while another
/// session holds product 1's row, a sale of [2, 1] waits for product 1 holding nothing, so a sale of
/// product 2 alone goes through meanwhile. A sale that locked in the order of its lines would hold
/// product 2 while it waits, and the second sale would wait behind it: one half of a deadlock.
#[tokio::test]
async fn a_sale_locks_its_stock_in_product_order_whatever_the_order_of_its_lines() {
    let node = Arc::new(spawn_store_node().await);
    let config = pos_shared::db::parse_url(&node.db_url, "test").unwrap();
    let holder = pos_shared::db::connect(&config).await.unwrap();
    holder
        .batch_execute(
            "BEGIN; SELECT 1 FROM inventory WHERE store_id = 1 AND product_id = 1 FOR UPDATE",
        )
        .await
        .unwrap();
    let reversed = json!({"idempotency_key": Uuid::new_v4(), "customer_id": null,
                          "items": [{"product_id": 2, "quantity": 1}, {"product_id": 1, "quantity": 1}],
                          "payments": [{"method": "cash", "amount": "249.50"}]});
    let waiting = tokio::spawn({
        let node = node.clone();
        async move { node.post_order(&reversed).await }
    });
    let started = std::time::Instant::now();
    while node
        .count(
            "SELECT count(*) FROM pg_stat_activity
             WHERE datname = current_database() AND wait_event_type = 'Lock'",
        )
        .await
        == 0
    {
        assert!(
            started.elapsed() < std::time::Duration::from_secs(10),
            "the sale of [2, 1] never waited for product 1"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    let alone = tokio::time::timeout(
        std::time::Duration::from_secs(5),
        node.post_order(&sale(2, 1, "99.50")),
    )
    .await
    .expect("a sale of product 2 alone waited: the waiting sale holds product 2's row");
    assert_eq!(alone.0, 201, "{}", alone.1);

    holder.batch_execute("COMMIT").await.unwrap();
    let (status, body) = waiting.await.unwrap();
    assert_eq!(status, 201, "{body}");
    assert_eq!((node.stock(1).await, node.stock(2).await), (9, 98));
}

/// Many sales of the same products at once, half of them with the lines reversed: every one goes
/// through, and the stock counts each exactly once.
#[tokio::test]
async fn concurrent_sales_of_the_same_products_all_go_through_and_count_exactly() {
    let node = Arc::new(spawn_store_node().await);
    node.db
        .execute(
            "UPDATE inventory SET quantity = 100 WHERE store_id = 1",
            &[],
        )
        .await
        .unwrap();
    let attempts = (0..16).map(|i| {
        let node = node.clone();
        let items = if i % 2 == 0 {
            json!([{"product_id": 1, "quantity": 1}, {"product_id": 2, "quantity": 1}])
        } else {
            json!([{"product_id": 2, "quantity": 1}, {"product_id": 1, "quantity": 1}])
        };
        let body = json!({"idempotency_key": Uuid::new_v4(), "customer_id": null, "items": items,
                          "payments": [{"method": "cash", "amount": "249.50"}]});
        tokio::spawn(async move { node.post_order(&body).await })
    });
    for result in futures_util::future::join_all(attempts).await {
        let (status, body) = result.unwrap();
        assert_eq!(status, 201, "{body}");
    }
    assert_eq!((node.stock(1).await, node.stock(2).await), (84, 84));
}

#[tokio::test]
async fn bad_sales_are_refused_and_write_nothing() {
    let node = spawn_store_node().await;
    let malformed = node
        .http
        .post(format!("{}/orders", node.url))
        .bearer_auth(&node.tokens[0].1)
        .header("content-type", "application/json")
        .body("{\"items\": [")
        .send()
        .await
        .unwrap();
    assert_eq!(malformed.status(), 400);
    let cases = [
        (sale(1, 0, "150.00"), "quantity"),
        (sale(1, -2, "150.00"), "quantity"),
        (sale(999, 1, "150.00"), "product_id"),
        (sale(1, 2, "100.00"), "payments"),
        (
            json!({"idempotency_key": Uuid::new_v4(), "customer_id": null,
                   "items": [{"product_id": 1, "quantity": 1}],
                   "payments": [{"method": "card", "amount": "200.00"}]}),
            "payments",
        ),
        (
            json!({"idempotency_key": Uuid::new_v4(), "customer_id": null,
                   "items": [{"product_id": 1, "quantity": 1}],
                   "payments": [{"method": "bitcoin", "amount": "150.00"}]}),
            "method",
        ),
        (
            json!({"idempotency_key": Uuid::new_v4(), "customer_id": 424242,
                   "items": [{"product_id": 1, "quantity": 1}],
                   "payments": [{"method": "cash", "amount": "150.00"}]}),
            "customer_id",
        ),
    ];
    for (body, field) in cases {
        let (status, answer) = node.post_order(&body).await;
        assert_eq!(status, 422, "{body}: {answer}");
        assert_eq!(answer["error"], "validation_failed");
        assert_eq!(answer["details"]["field"], field, "{answer}");
    }
    let no_token = node
        .http
        .post(format!("{}/orders", node.url))
        .json(&sale(1, 1, "150.00"))
        .send()
        .await
        .unwrap();
    assert_eq!(no_token.status(), 401);
    assert_eq!(node.count("SELECT count(*) FROM orders").await, 0);
    assert_eq!(node.count("SELECT count(*) FROM idempotency_keys").await, 0);
    assert_eq!(node.stock(1).await, 10);
}

#[tokio::test]
async fn process_order_works_from_psql() {
    let node = spawn_store_node().await;
    let key = Uuid::new_v4();
    let sql = "SELECT process_order(1, NULL, '[{\"product_id\": 2, \"quantity\": 2}]',
                                    '[{\"method\": \"wallet\", \"amount\": \"199.00\"}]', $1)";
    let first: Uuid = node.db.query_one(sql, &[&key]).await.unwrap().get(0);
    let second: Uuid = node.db.query_one(sql, &[&key]).await.unwrap().get(0);
    assert_eq!(first, second, "the same key and request give the same sale");
    assert_eq!(node.stock(2).await, 98);
    let short = node
        .db
        .query_one(
            "SELECT process_order(1, NULL, '[{\"product_id\": 1, \"quantity\": 11}]',
                                  '[{\"method\": \"cash\", \"amount\": \"5000.00\"}]', gen_random_uuid())",
            &[],
        )
        .await
        .unwrap_err();
    assert_eq!(short.code().map(|c| c.code()), Some("PS409"));
}
