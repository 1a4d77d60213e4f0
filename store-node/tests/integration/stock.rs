//! Stock besides sales: adjustments with a reason (a manager's, never below zero), a count entered while
//! sales go on that moves the stock only by what it found wrong, reorder levels and low stock.

use serde_json::{Value, json};
use uuid::Uuid;

use crate::TestStoreNode;
use crate::pricing::{sale, taxed_node};
use crate::shifts::{call, credentials, post};

async fn stock(node: &TestStoreNode) -> Vec<i32> {
    node.db
        .query(
            "SELECT quantity FROM inventory WHERE store_id = 1 ORDER BY product_id",
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect()
}

fn adjustment(reason: &str, items: Value) -> Value {
    json!({"idempotency_key": Uuid::new_v4(), "reason": reason, "note": "aisle 3", "items": items})
}

async fn put(node: &TestStoreNode, path: &str, token: &str, body: Value) -> (u16, Value) {
    call(node, reqwest::Method::PUT, path, token, Some(body)).await
}

#[tokio::test]
async fn adjustments_have_a_reason_a_manager_and_never_go_below_zero() {
    let node = taxed_node().await;
    let [cashier, manager, _] = credentials(&node).await;
    assert_eq!(stock(&node).await, [10, 100]);
    let damaged = adjustment("damage", json!([{"product_id": 1, "change": -2}]));
    assert_eq!(
        post(&node, "/inventory/adjustments", &cashier, damaged.clone())
            .await
            .0,
        403
    );
    let (status, written) = post(&node, "/inventory/adjustments", &manager, damaged.clone()).await;
    assert_eq!(status, 201, "{written}");
    assert_eq!(
        written["items"],
        json!([{"product_id": 1, "change": -2, "quantity_after": 8}])
    );
    let (status, replay) = post(&node, "/inventory/adjustments", &manager, damaged).await;
    assert_eq!(
        (status, &replay["adjustment_id"]),
        (200, &written["adjustment_id"])
    );
    // More than there is: refused whole, nothing changes.
    let (status, short) = post(
        &node,
        "/inventory/adjustments",
        &manager,
        adjustment(
            "theft",
            json!([{"product_id": 2, "change": 1}, {"product_id": 1, "change": -9}]),
        ),
    )
    .await;
    assert_eq!(
        (
            status,
            short["error"].as_str(),
            &short["details"]["available"]
        ),
        (409, Some("insufficient_stock"), &json!(8)),
        "{short}"
    );
    for bad in [
        json!([{"product_id": 1, "change": 0}]),
        json!([{"product_id": 99, "change": 1}]),
    ] {
        let (status, refused) = post(
            &node,
            "/inventory/adjustments",
            &manager,
            adjustment("correction", bad),
        )
        .await;
        assert_eq!(status, 422, "{refused}");
    }
    assert_eq!(stock(&node).await, [8, 100]);
    let (status, _) = post(
        &node,
        "/inventory/adjustments",
        &manager,
        adjustment("correction", json!([{"product_id": 2, "change": 5}])),
    )
    .await;
    assert_eq!(status, 201);

    // The day's report shows them by reason.
    let (_, today) = call(
        &node,
        reqwest::Method::GET,
        "/reports/daily",
        &manager,
        None,
    )
    .await;
    assert_eq!(
        today["stock_adjustments"],
        json!([{"reason": "correction", "adjustments": 1, "net_units": 5},
               {"reason": "damage", "adjustments": 1, "net_units": -2}]),
        "{today}"
    );

    // A shelf near an integer's limit: an adjustment past it is refused whole as a conflict, not a
    // server error, and changes nothing.
    node.db
        .execute(
            "UPDATE inventory SET quantity = 2147483640 WHERE store_id = 1 AND product_id = 2",
            &[],
        )
        .await
        .unwrap();
    let (status, refused) = post(
        &node,
        "/inventory/adjustments",
        &manager,
        adjustment(
            "correction",
            json!([{"product_id": 1, "change": 1}, {"product_id": 2, "change": 100}]),
        ),
    )
    .await;
    assert_eq!(
        (status, refused["error"].as_str()),
        (409, Some("conflict")),
        "{refused}"
    );
    assert!(
        !refused["message"].as_str().unwrap().contains("integer"),
        "no PostgreSQL wording: {refused}"
    );
    assert_eq!(stock(&node).await, [8, 2147483640]);
}

#[tokio::test]
async fn a_count_taken_while_sales_go_on_moves_stock_only_by_what_it_found_wrong() {
    let node = taxed_node().await;
    let [cashier, manager, _] = credentials(&node).await;
    assert_eq!(
        post(&node, "/stock-counts", &cashier, json!({})).await.0,
        403
    );
    let (status, count) = post(&node, "/stock-counts", &manager, json!({})).await;
    assert_eq!(status, 201, "{count}");
    assert_eq!(
        post(&node, "/stock-counts", &manager, json!({})).await.0,
        409,
        "one open count per store"
    );
    let id = count["count_id"].as_str().unwrap();
    let lines = format!("/stock-counts/{id}/lines");

    // 7 teas on the shelf where the system holds 10; then 2 are sold; the rusks are right.
    let counted = |product: i32, n: i32| json!({"items": [{"product_id": product, "counted": n}]});
    assert_eq!(put(&node, &lines, &cashier, counted(1, 7)).await.0, 200);
    let (status, _) = post(&node, "/orders", &cashier, sale(&[(1, 2)], "300")).await;
    assert_eq!(status, 201);
    let (status, count) = put(&node, &lines, &cashier, counted(2, 100)).await;
    assert_eq!(status, 200, "{count}");
    let seen: Vec<[i64; 4]> = count["lines"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| ["counted", "book", "variance", "quantity_now"].map(|k| l[k].as_i64().unwrap()))
        .collect();
    assert_eq!(seen, [[7, 10, -3, 8], [100, 100, 0, 100]]);
    let (status, unknown) = put(&node, &lines, &cashier, counted(99, 1)).await;
    assert_eq!(status, 422, "{unknown}");

    // Applied: the tea moves by -3 from 8, not to 7, as the 2 sold since were counted by the sale.
    let apply = format!("/stock-counts/{id}/apply");
    assert_eq!(post(&node, &apply, &cashier, json!({})).await.0, 403);
    let (status, applied) = post(&node, &apply, &manager, json!({})).await;
    assert_eq!(status, 200, "{applied}");
    assert!(applied["applied_at"].is_string());
    assert_eq!(stock(&node).await, [5, 100]);
    assert_eq!(post(&node, &apply, &manager, json!({})).await.0, 409);
    assert_eq!(put(&node, &lines, &cashier, counted(1, 1)).await.0, 409);
    let (status, _) = call(
        &node,
        reqwest::Method::GET,
        &format!("/stock-counts/{}", Uuid::new_v4()),
        &cashier,
        None,
    )
    .await;
    assert_eq!(status, 404);
    let (_, today) = call(
        &node,
        reqwest::Method::GET,
        "/reports/daily",
        &manager,
        None,
    )
    .await;
    assert_eq!(
        today["stock_adjustments"],
        json!([{"reason": "count", "adjustments": 1, "net_units": -3}])
    );
}

#[tokio::test]
async fn a_line_at_or_below_its_reorder_level_is_low() {
    let node = taxed_node().await;
    let [cashier, manager, _] = credentials(&node).await;
    let level = |n: Value| json!({"reorder_level": n});
    assert_eq!(
        put(
            &node,
            "/inventory/2/reorder-level",
            &cashier,
            level(json!(100))
        )
        .await
        .0,
        403
    );
    assert_eq!(
        put(
            &node,
            "/inventory/2/reorder-level",
            &manager,
            level(json!(100))
        )
        .await
        .0,
        204
    );
    assert_eq!(
        put(
            &node,
            "/inventory/99/reorder-level",
            &manager,
            level(json!(1))
        )
        .await
        .0,
        404
    );
    let low = |query: &'static str| {
        let node = &node;
        let cashier = &cashier;
        async move {
            let (status, lines) = call(
                node,
                reqwest::Method::GET,
                &format!("/inventory/low{query}"),
                cashier,
                None,
            )
            .await;
            assert_eq!(status, 200, "{lines}");
            lines
                .as_array()
                .unwrap()
                .iter()
                .map(|l| {
                    (
                        l["product_id"].as_i64().unwrap(),
                        l["reorder_level"].clone(),
                    )
                })
                .collect::<Vec<_>>()
        }
    };
    // The rusks (100, at their level) are low; the tea (10) is not under 10.
    assert_eq!(low("").await, [(2, json!(100))]);
    assert_eq!(low("?below=11").await, [(1, Value::Null), (2, json!(100))]);
    put(
        &node,
        "/inventory/2/reorder-level",
        &manager,
        level(Value::Null),
    )
    .await;
    assert_eq!(low("").await, []);
}
