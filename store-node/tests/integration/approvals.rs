//! Discounts by hand at the till: a cashier's up to the credential's limit, above it with a store
//! manager's approval that holds (one use, before it expires, for discounts, up to its ceiling); a
//! sale's discount shared out over its lines so each keeps its own tax; what is refused writes nothing.

use std::time::Duration;

use serde_json::{Value, json};
use uuid::Uuid;

use crate::TestStoreNode;
use crate::pricing::taxed_node;
use crate::shifts::{credentials, post};

fn discounted_sale(items: Value, discount: Option<Value>, approval: Option<&Value>) -> Value {
    json!({"idempotency_key": Uuid::new_v4(), "customer_id": null, "items": items,
           "payments": [{"method": "cash", "amount": "1000"}], "discount": discount,
           "approval_id": approval.map(|a| a["approval_id"].clone())})
}

async fn approval(node: &TestStoreNode, manager: &str, body: Value) -> Value {
    let (status, approval) = post(node, "/approvals", manager, body).await;
    assert_eq!(status, 201, "{approval}");
    approval
}

/// Sales and stock of product 1 at store 1: what a refused sale must leave as it was.
async fn written(node: &TestStoreNode) -> (i64, i32) {
    let row = node
        .db
        .query_one(
            "SELECT (SELECT count(*) FROM orders),
                    (SELECT quantity FROM inventory WHERE store_id = 1 AND product_id = 1)",
            &[],
        )
        .await
        .unwrap();
    (row.get(0), row.get(1))
}

fn refused(answer: &(u16, Value), status: u16, says: &str) {
    assert_eq!(answer.0, status, "{}", answer.1);
    assert!(
        answer.1["message"].as_str().unwrap().contains(says),
        "{}",
        answer.1
    );
}

/// (manual discount, line total, tax) of each line.
fn lines(order: &Value) -> Vec<[&str; 3]> {
    order["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| ["manual_discount", "line_total", "tax_amount"].map(|k| l[k].as_str().unwrap()))
        .collect()
}

#[tokio::test]
async fn a_cashier_discounts_up_to_the_limit_and_above_it_with_a_managers_approval() {
    let node = taxed_node().await;
    let [cashier, manager, _] = credentials(&node).await;
    node.db
        .execute(
            "UPDATE cashier_tokens SET discount_limit = 10 WHERE id = 7",
            &[],
        )
        .await
        .unwrap();
    let two_teas =
        |percent: &str| json!([{"product_id": 1, "quantity": 2, "discount": {"percent": percent}}]);

    // 10 % off 2 × 150.00 at 17 % tax (included): 270.00, with 39.23 tax.
    let (status, order) = post(
        &node,
        "/orders",
        &cashier,
        discounted_sale(two_teas("10"), None, None),
    )
    .await;
    assert_eq!(status, 201, "{order}");
    assert_eq!(lines(&order), [["30.00", "270.00", "39.23"]]);
    assert_eq!(
        (&order["total"], &order["discount_total"]),
        (&json!("270.00"), &json!("30.00"))
    );
    let receipt = node
        .http
        .get(format!(
            "{}/orders/{}/receipt?format=text",
            node.url,
            order["global_order_id"].as_str().unwrap()
        ))
        .bearer_auth(&cashier)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        receipt
            .lines()
            .any(|l| l == format!("{:<36}-30.00", "  Discount")),
        "{receipt}"
    );

    // Above the limit: refused, nothing written.
    let before = written(&node).await;
    let over = post(
        &node,
        "/orders",
        &cashier,
        discounted_sale(two_teas("15"), None, None),
    )
    .await;
    refused(&over, 403, "needs a store manager's approval");
    assert_eq!(written(&node).await, before);

    // A cashier grants nothing; a manager grants an approval up to 20 %.
    let (status, _) = post(&node, "/approvals", &cashier, json!({"action": "discount"})).await;
    assert_eq!(status, 403);
    let up_to_20 = approval(
        &node,
        &manager,
        json!({"action": "discount", "max_discount_percent": "20", "reason": "damaged box"}),
    )
    .await;
    // 25 % is more than it allows: refused, and the approval is still there to use.
    refused(
        &post(
            &node,
            "/orders",
            &cashier,
            discounted_sale(two_teas("25"), None, Some(&up_to_20)),
        )
        .await,
        403,
        "more than approval",
    );
    assert_eq!(written(&node).await, before);
    let (status, approved) = post(
        &node,
        "/orders",
        &cashier,
        discounted_sale(two_teas("15"), None, Some(&up_to_20)),
    )
    .await;
    assert_eq!(status, 201, "{approved}");
    assert_eq!(lines(&approved), [["45.00", "255.00", "37.05"]]);
    let approver: Option<i32> = node
        .db
        .query_one(
            "SELECT discount_approved_by FROM orders WHERE global_order_id = $1",
            &[&approved["global_order_id"]
                .as_str()
                .unwrap()
                .parse::<Uuid>()
                .unwrap()],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(approver, Some(8), "the manager who approved is kept");
    // Used once.
    let before = written(&node).await;
    refused(
        &post(
            &node,
            "/orders",
            &cashier,
            discounted_sale(two_teas("15"), None, Some(&up_to_20)),
        )
        .await,
        403,
        "used already",
    );
    // A void approval is no discount approval; an expired one holds no more.
    let void = approval(&node, &manager, json!({"action": "void"})).await;
    refused(
        &post(
            &node,
            "/orders",
            &cashier,
            discounted_sale(two_teas("15"), None, Some(&void)),
        )
        .await,
        403,
        "no discount approval",
    );
    let brief = approval(
        &node,
        &manager,
        json!({"action": "discount", "valid_for_seconds": 1}),
    )
    .await;
    tokio::time::sleep(Duration::from_millis(1_200)).await;
    refused(
        &post(
            &node,
            "/orders",
            &cashier,
            discounted_sale(two_teas("15"), None, Some(&brief)),
        )
        .await,
        403,
        "expired",
    );
    assert_eq!(written(&node).await, before);
    // Within the limit each, 10 % off the line and 10 % off the sale take 19 % together: over it.
    refused(
        &post(
            &node,
            "/orders",
            &cashier,
            discounted_sale(two_teas("10"), Some(json!({"percent": "10"})), None),
        )
        .await,
        403,
        "needs a store manager's approval",
    );
    // A manager's own discount needs no approval.
    let (status, _) = post(
        &node,
        "/orders",
        &manager,
        discounted_sale(two_teas("50"), None, None),
    )
    .await;
    assert_eq!(status, 201);
}

#[tokio::test]
async fn a_sales_discount_is_shared_out_over_its_lines_each_keeping_its_tax() {
    let node = taxed_node().await;
    let [_, manager, _] = credentials(&node).await;
    let tea_and_rusk = json!([{"product_id": 1, "quantity": 1}, {"product_id": 2, "quantity": 1}]);

    // 10.00 off 150.00 (17 %) and 99.50 (5 %): 3.99 of it on the rusk (10 × 99.50 / 249.50 = 3.988),
    // and the largest line takes the rest, 6.01, so the shares add up to the discount.
    let (status, order) = post(
        &node,
        "/orders",
        &manager,
        discounted_sale(tea_and_rusk.clone(), Some(json!({"amount": "10.00"})), None),
    )
    .await;
    assert_eq!(status, 201, "{order}");
    assert_eq!(
        lines(&order),
        [["6.01", "143.99", "20.92"], ["3.99", "95.51", "4.55"]]
    );
    assert_eq!(
        (
            &order["total"],
            &order["discount_total"],
            &order["tax_total"]
        ),
        (&json!("239.50"), &json!("10.00"), &json!("25.47"))
    );

    // A line's own discount first, then the sale's on what is left: 5.00 off the tea leaves 244.50, and
    // 10 % of that is 24.45 (14.50 on the tea's 145.00, 9.95 on the rusk).
    let items = json!([{"product_id": 1, "quantity": 1, "discount": {"amount": "5"}},
                       {"product_id": 2, "quantity": 1}]);
    let (status, order) = post(
        &node,
        "/orders",
        &manager,
        discounted_sale(items, Some(json!({"percent": "10"})), None),
    )
    .await;
    assert_eq!(status, 201, "{order}");
    assert_eq!(
        lines(&order),
        [["19.50", "130.50", "18.96"], ["9.95", "89.55", "4.26"]]
    );
    assert_eq!(order["total"], json!("220.05"));

    // A refund of the discounted line gives back what the customer paid for it.
    let (status, refund) = post(
        &node,
        &format!(
            "/orders/{}/refunds",
            order["global_order_id"].as_str().unwrap()
        ),
        &manager,
        json!({"idempotency_key": Uuid::new_v4(), "items": [{"line_no": 1, "quantity": 1}]}),
    )
    .await;
    assert_eq!(
        (status, &refund["amount"]),
        (201, &json!("130.50")),
        "{refund}"
    );

    // A cent off four equal lines: each line's share is cut to the paisa (nothing), and the two paisas
    // left go one each to the first two lines; no share is negative.
    let (status, order) = post(
        &node,
        "/orders",
        &manager,
        discounted_sale(
            json!([{"product_id": 2, "quantity": 1}, {"product_id": 2, "quantity": 1},
                   {"product_id": 2, "quantity": 1}, {"product_id": 2, "quantity": 1}]),
            Some(json!({"amount": "0.02"})),
            None,
        ),
    )
    .await;
    assert_eq!(status, 201, "{order}");
    let shares: Vec<&str> = lines(&order).iter().map(|l| l[0]).collect();
    assert_eq!(shares, ["0.01", "0.01", "0.00", "0.00"]);

    // Bad discounts: 422, nothing written.
    let before = written(&node).await;
    for (items, discount, says) in [
        (
            json!([{"product_id": 1, "quantity": 1, "discount": {"amount": "150.01"}}]),
            None,
            "more than the line",
        ),
        (
            tea_and_rusk.clone(),
            Some(json!({"amount": "249.51"})),
            "more than the sale",
        ),
        (
            tea_and_rusk.clone(),
            Some(json!({"percent": "10", "amount": "1"})),
            "",
        ),
        (tea_and_rusk.clone(), Some(json!({"percent": "101"})), ""),
    ] {
        let answer = post(
            &node,
            "/orders",
            &manager,
            discounted_sale(items, discount, None),
        )
        .await;
        refused(&answer, 422, says);
    }
    assert_eq!(written(&node).await, before);
}
