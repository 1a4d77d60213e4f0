//! Voids: a sale given back whole within the shift it was made in (a manager, or a cashier with a
//! manager's void approval), restocked, each payment given back, counted apart in the X and Z reports,
//! which add up to the shift's sales, refunds, voids and cash movements; a sale of another shift, or one
//! voided already, is refunded instead.

use serde_json::{Value, json};
use uuid::Uuid;

use crate::TestStoreNode;
use crate::pricing::{sale, taxed_node};
use crate::shifts::{call, close_shift, credentials, post, x_report};

fn void_of(order: &Value, approval: Option<&Value>) -> (String, Value) {
    (
        format!(
            "/orders/{}/void",
            order["global_order_id"].as_str().unwrap()
        ),
        json!({"idempotency_key": Uuid::new_v4(), "reason": "customer changed their mind",
               "approval_id": approval.map(|a| a["approval_id"].clone())}),
    )
}

async fn stock(node: &TestStoreNode, product_id: i32) -> i32 {
    node.db
        .query_one(
            "SELECT quantity FROM inventory WHERE store_id = 1 AND product_id = $1",
            &[&product_id],
        )
        .await
        .unwrap()
        .get(0)
}

fn paid(product_id: i32, method: &str, amount: &str) -> Value {
    json!({"idempotency_key": Uuid::new_v4(), "customer_id": null,
           "items": [{"product_id": product_id, "quantity": 1}],
           "payments": [{"method": method, "amount": amount}]})
}

#[tokio::test]
async fn a_void_gives_a_sale_of_the_shift_back_whole_and_the_z_report_adds_up() {
    let node = taxed_node().await;
    let [cashier, manager, _] = credentials(&node).await;
    let (_, before_shift) = post(&node, "/orders", &cashier, sale(&[(1, 1)], "150")).await;
    post(
        &node,
        "/shifts",
        &cashier,
        json!({"opening_float": "1000.00"}),
    )
    .await;
    // 2 × 150.00 for 400.00 cash (100.00 change), 99.50 by card, 99.50 by wallet.
    let (_, cash_sale) = post(&node, "/orders", &cashier, sale(&[(1, 2)], "400")).await;
    let (_, card_sale) = post(&node, "/orders", &cashier, paid(2, "card", "99.50")).await;
    let (_, wallet_sale) = post(&node, "/orders", &cashier, paid(2, "wallet", "99.50")).await;
    let tea_left = stock(&node, 1).await;

    // A cashier alone may not void; nothing changes.
    let (path, body) = void_of(&cash_sale, None);
    let (status, refused) = post(&node, &path, &cashier, body).await;
    assert_eq!(status, 403, "{refused}");
    assert_eq!(stock(&node, 1).await, tea_left);

    // With a manager's void approval: the whole sale back, and the stock.
    let (_, approval) = post(&node, "/approvals", &manager, json!({"action": "void"})).await;
    let (path, body) = void_of(&cash_sale, Some(&approval));
    let (status, void) = post(&node, &path, &cashier, body.clone()).await;
    assert_eq!(
        (status, &void["kind"], &void["amount"]),
        (201, &json!("void"), &json!("300.00")),
        "{void}"
    );
    assert_eq!(stock(&node, 1).await, tea_left + 2);
    // The same request again is the same void; another is refused, and so is a refund of it.
    let (status, replay) = post(&node, &path, &cashier, body).await;
    assert_eq!((status, &replay["refund_id"]), (200, &void["refund_id"]));
    let (_, body) = void_of(&cash_sale, None);
    let (status, again) = post(&node, &path, &manager, body).await;
    assert_eq!(
        (status, again["error"].as_str()),
        (409, Some("conflict")),
        "{again}"
    );
    let refund =
        json!({"idempotency_key": Uuid::new_v4(), "items": [{"line_no": 1, "quantity": 1}]});
    let refund_path = path.replace("/void", "/refunds");
    assert_eq!(post(&node, &refund_path, &manager, refund).await.0, 422);
    // A sale of no shift (made before this one opened) is refunded instead.
    let (path, body) = void_of(&before_shift, None);
    let (status, other) = post(&node, &path, &manager, body).await;
    assert_eq!((status, other["error"].as_str()), (409, Some("conflict")));
    // A manager voids without approval.
    let (path, body) = void_of(&card_sale, None);
    assert_eq!(post(&node, &path, &manager, body).await.0, 201);
    // The wallet sale is refunded in cash instead, and 200.00 goes into the drawer.
    let refund = json!({"idempotency_key": Uuid::new_v4(), "method": "cash",
                        "items": [{"line_no": 1, "quantity": 1}]});
    let wallet_refunds = format!(
        "/orders/{}/refunds",
        wallet_sale["global_order_id"].as_str().unwrap()
    );
    assert_eq!(post(&node, &wallet_refunds, &cashier, refund).await.0, 201);
    let cash_in = json!({"kind": "in", "amount": "200", "reason": "change for the drawer"});
    assert_eq!(
        post(&node, "/shifts/current/cash-movements", &cashier, cash_in)
            .await
            .0,
        201
    );

    // The order shows it; the receipt says it; central hears of it as a refund of the whole sale.
    let order_path = format!("/orders/{}", cash_sale["global_order_id"].as_str().unwrap());
    let (_, order) = call(&node, reqwest::Method::GET, &order_path, &cashier, None).await;
    assert_eq!(order["refunds"][0]["kind"], json!("void"), "{order}");
    let (status, receipt) = call(
        &node,
        reqwest::Method::GET,
        &format!("{order_path}/receipt?format=json"),
        &cashier,
        None,
    )
    .await;
    assert_eq!((status, &receipt["voided"]), (200, &json!(true)));
    let text = node
        .http
        .get(format!("{}{order_path}/receipt?format=text", node.url))
        .bearer_auth(&cashier)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        text.lines()
            .any(|l| l == format!("{:14}*** VOIDED ***", "")),
        "{text}"
    );
    let reported: Value = node
        .db
        .query_one(
            "SELECT payload FROM outbox WHERE kind = 'refund' AND payload ->> 'refund_id' = $1",
            &[&void["refund_id"].as_str().unwrap()],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(reported["amount"], json!(300.00));

    // Sales 300.00 + 99.50 + 99.50; voids 300.00 and 99.50; the wallet's 99.50 refunded: no tax left.
    // The drawer: float 1000 + cash 300 − 300 voided − 99.50 refunded + 200 in = 1100.50.
    let figures = |r: &Value| {
        [
            "sales_count",
            "sales",
            "voids_count",
            "voids",
            "refunds_count",
            "refunds",
            "cash_in",
            "tax",
            "expected_cash",
        ]
        .map(|k| r[k].to_string())
    };
    let expected = [
        "3",
        "\"499.00\"",
        "2",
        "\"399.50\"",
        "1",
        "\"99.50\"",
        "\"200.00\"",
        "\"0.00\"",
        "\"1100.50\"",
    ];
    let (_, x) = x_report(&node, &cashier).await;
    assert_eq!(figures(&x), expected.map(String::from), "{x}");
    let methods: Vec<[&str; 4]> = x["by_payment_method"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| ["method", "taken", "voided", "net"].map(|k| m[k].as_str().unwrap()))
        .collect();
    assert_eq!(
        methods,
        [
            ["card", "99.50", "99.50", "0.00"],
            ["cash", "300.00", "300.00", "-99.50"],
            ["store_credit", "0.00", "0.00", "0.00"],
            ["wallet", "99.50", "0.00", "99.50"]
        ]
    );
    let (status, z) = close_shift(&node, &cashier, "1100.50").await;
    assert_eq!(status, 200, "{z}");
    assert_eq!(figures(&z), expected.map(String::from));
    assert_eq!(z["variance"], json!("0.00"));

    // The next shift may not void the last one's sale.
    post(&node, "/shifts", &cashier, json!({"opening_float": "0"})).await;
    let (path, body) = void_of(&wallet_sale, None);
    let (status, other) = post(&node, &path, &manager, body).await;
    assert_eq!((status, other["error"].as_str()), (409, Some("conflict")));
    assert!(
        other["message"]
            .as_str()
            .unwrap()
            .contains("refund it instead"),
        "{other}"
    );
}
