//! Goods back without a sale to refund: a return without a receipt (a manager, or a cashier with a
//! return approval) to cash or to store credit, store credit spent by later sales and never below zero,
//! and an exchange made in one transaction (or not at all).

use serde_json::{Value, json};
use uuid::Uuid;

use crate::TestStoreNode;
use crate::pricing::{sale, taxed_node};
use crate::shifts::{call, credentials, post, x_report};

fn goods_back(items: Value, method: &str, approval: Option<&Value>) -> Value {
    json!({"idempotency_key": Uuid::new_v4(), "items": items, "method": method, "reason": "no receipt",
           "approval_id": approval.map(|a| a["approval_id"].clone())})
}

/// Stock of each product at store 1, and the credit notes' balances: what a refused write leaves.
async fn written(node: &TestStoreNode) -> String {
    node.db
        .query_one(
            "SELECT concat_ws(' ', (SELECT string_agg(quantity::text, ',' ORDER BY product_id) FROM inventory
                                    WHERE store_id = 1),
                              (SELECT string_agg(balance::text, ',' ORDER BY id) FROM credit_notes),
                              (SELECT count(*) FROM refunds), (SELECT count(*) FROM orders))",
            &[],
        )
        .await
        .unwrap()
        .get(0)
}

fn paid_with_credit(code: &Value, amount: &str) -> Value {
    json!({"idempotency_key": Uuid::new_v4(), "customer_id": null,
           "items": [{"product_id": 1, "quantity": 1}],
           "payments": [{"method": "store_credit", "amount": amount, "credit_note": code}]})
}

#[tokio::test]
async fn a_return_without_a_receipt_gives_cash_or_store_credit_that_later_sales_spend() {
    let node = taxed_node().await;
    let [cashier, manager, _] = credentials(&node).await;
    post(&node, "/shifts", &cashier, json!({"opening_float": "500"})).await;
    let one_tea = json!([{"product_id": 1, "quantity": 1}]);

    // A cashier alone may not take goods back without a receipt.
    let before = written(&node).await;
    let (status, refused) = post(
        &node,
        "/returns",
        &cashier,
        goods_back(one_tea.clone(), "cash", None),
    )
    .await;
    assert_eq!(status, 403, "{refused}");
    assert_eq!(written(&node).await, before);

    // With a manager's return approval: today's price back in cash, and the tea back on the shelf.
    let (_, approval) = post(&node, "/approvals", &manager, json!({"action": "return"})).await;
    let (status, cash_back) = post(
        &node,
        "/returns",
        &cashier,
        goods_back(one_tea, "cash", Some(&approval)),
    )
    .await;
    assert_eq!(status, 201, "{cash_back}");
    assert_eq!(
        (
            &cash_back["kind"],
            &cash_back["amount"],
            &cash_back["global_order_id"]
        ),
        (&json!("return"), &json!("150.00"), &Value::Null)
    );
    // A manager's, to store credit: a credit note for 2 × 99.50.
    let (status, credit) = post(
        &node,
        "/returns",
        &manager,
        goods_back(
            json!([{"product_id": 2, "quantity": 2}]),
            "store_credit",
            None,
        ),
    )
    .await;
    assert_eq!(status, 201, "{credit}");
    let code = credit["credit_note"]["code"].clone();
    assert_eq!(credit["credit_note"]["amount"], json!("199.00"));
    assert_eq!(
        node.db
            .query_one(
                "SELECT string_agg(quantity::text, ',' ORDER BY product_id) FROM inventory WHERE store_id = 1",
                &[],
            )
            .await
            .unwrap()
            .get::<_, String>(0),
        "11,102",
        "restocked"
    );

    // A sale spends 150.00 of it; the note keeps 49.00, which a sale of 50.00 cannot spend.
    let (status, spent) = post(
        &node,
        "/orders",
        &cashier,
        paid_with_credit(&code, "150.00"),
    )
    .await;
    assert_eq!(status, 201, "{spent}");
    let note_path = format!("/credit-notes/{}", code.as_str().unwrap());
    let (_, note) = call(&node, reqwest::Method::GET, &note_path, &cashier, None).await;
    assert_eq!(note["balance"], json!("49.00"), "{note}");
    let before = written(&node).await;
    let (status, short) = post(&node, "/orders", &cashier, paid_with_credit(&code, "50.00")).await;
    assert_eq!(status, 422, "{short}");
    assert!(short["message"].as_str().unwrap().contains("holds 49.00"));
    // A store-credit payment names its note, and no other payment names one.
    let mut nameless = paid_with_credit(&code, "10.00");
    nameless["payments"][0]
        .as_object_mut()
        .unwrap()
        .remove("credit_note");
    let mut cash_with_note = paid_with_credit(&code, "150.00");
    cash_with_note["payments"][0]["method"] = json!("cash");
    for body in [nameless, cash_with_note] {
        assert_eq!(post(&node, "/orders", &cashier, body).await.0, 422);
    }
    assert_eq!(written(&node).await, before);
    let (status, _) = call(
        &node,
        reqwest::Method::GET,
        "/credit-notes/CN-0000000000000000",
        &cashier,
        None,
    )
    .await;
    assert_eq!(status, 404);

    // The shift: both returns are refunds (350 left in the drawer), the credit taken and given.
    let (_, x) = x_report(&node, &cashier).await;
    assert_eq!(
        (&x["refunds_count"], &x["refunds"], &x["expected_cash"]),
        (&json!(2), &json!("349.00"), &json!("350.00")),
        "{x}"
    );
    let credit_line = x["by_payment_method"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["method"] == "store_credit")
        .unwrap()
        .clone();
    assert_eq!(
        (&credit_line["taken"], &credit_line["refunded"]),
        (&json!("150.00"), &json!("199.00"))
    );
    // The day's totals count the returns against their products; central hears of them as returns.
    node.db.execute("SELECT fold_sales()", &[]).await.unwrap();
    let rusk: rust_decimal::Decimal = node
        .db
        .query_one(
            "SELECT sum(revenue) FROM daily_sales WHERE grain = 'product' AND key = 2",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(rusk.to_string(), "-199.00");
    let returns: i64 = node
        .db
        .query_one(
            "SELECT count(*) FROM outbox WHERE kind = 'return' AND global_order_id IS NULL",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(returns, 2);

    // A sale spending the note twice, voided: both payments go back onto it.
    let mut twice = paid_with_credit(&code, "20.00");
    twice["payments"] = json!([{"method": "store_credit", "amount": "20.00", "credit_note": code},
                               {"method": "store_credit", "amount": "29.00", "credit_note": code},
                               {"method": "cash", "amount": "101.00"}]);
    let (status, spent) = post(&node, "/orders", &cashier, twice).await;
    assert_eq!(status, 201, "{spent}");
    let (_, note) = call(&node, reqwest::Method::GET, &note_path, &cashier, None).await;
    assert_eq!(note["balance"], json!("0.00"));
    let void = json!({"idempotency_key": Uuid::new_v4(), "reason": "wrong customer"});
    let void_path = format!(
        "/orders/{}/void",
        spent["global_order_id"].as_str().unwrap()
    );
    assert_eq!(post(&node, &void_path, &manager, void).await.0, 201);
    let (_, note) = call(&node, reqwest::Method::GET, &note_path, &cashier, None).await;
    assert_eq!(note["balance"], json!("49.00"));
}

#[tokio::test]
async fn an_exchange_refunds_to_store_credit_and_sells_in_one_transaction() {
    let node = taxed_node().await;
    let [_, manager, _] = credentials(&node).await;
    let (_, original) = post(&node, "/orders", &manager, sale(&[(2, 2)], "200")).await;
    let path = format!(
        "/orders/{}/exchanges",
        original["global_order_id"].as_str().unwrap()
    );
    let exchange = |new_items: Value, payments: Option<Value>| {
        json!({"idempotency_key": Uuid::new_v4(), "items": [{"line_no": 1, "quantity": 1}],
               "sale": {"customer_id": null, "items": new_items, "payments": payments}})
    };

    // Not enough tea for the new sale: nothing happens, not even the refund.
    let before = written(&node).await;
    let (status, refused) = post(
        &node,
        &path,
        &manager,
        exchange(json!([{"product_id": 1, "quantity": 1000}]), None),
    )
    .await;
    assert_eq!(status, 409, "{refused}");
    assert_eq!(written(&node).await, before);

    // A rusk (99.50) back for a tea (150.00): the credit pays first, cash the rest (60.00, 9.50 change).
    let body = exchange(
        json!([{"product_id": 1, "quantity": 1}]),
        Some(json!([{"method": "cash", "amount": "60.00"}])),
    );
    let (status, made) = post(&node, &path, &manager, body.clone()).await;
    assert_eq!(status, 201, "{made}");
    assert_eq!(
        (
            &made["returned"],
            &made["order"]["total"],
            &made["order"]["change_due"]
        ),
        (&json!("99.50"), &json!("150.00"), &json!("9.50"))
    );
    let payments: Vec<[&str; 2]> = made["order"]["payments"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| ["method", "amount"].map(|k| p[k].as_str().unwrap()))
        .collect();
    assert_eq!(payments, [["store_credit", "99.50"], ["cash", "60.00"]]);
    assert_eq!(made["credit_note"]["balance"], json!("0.00"));
    let (status, replay) = post(&node, &path, &manager, body).await;
    assert_eq!(
        (status, &replay["exchange_id"]),
        (200, &made["exchange_id"])
    );

    // The other rusk for one with 20.00 off: the credit covers it, and 20.00 stays on the note.
    let (status, cheaper) = post(
        &node,
        &path,
        &manager,
        exchange(
            json!([{"product_id": 2, "quantity": 1, "discount": {"amount": "20"}}]),
            None,
        ),
    )
    .await;
    assert_eq!(status, 201, "{cheaper}");
    assert_eq!(
        (
            &cheaper["order"]["total"],
            &cheaper["credit_note"]["balance"]
        ),
        (&json!("79.50"), &json!("20.00"))
    );
    // Both lines are back now.
    let (status, _) = post(
        &node,
        &path,
        &manager,
        exchange(json!([{"product_id": 2, "quantity": 1}]), None),
    )
    .await;
    assert_eq!(status, 422);
}

/// Tills at once: sales spending one credit note never take it below zero (each fits or is refused), and
/// exchanges beside sales of the same products never deadlock (no answer is a 5xx).
#[tokio::test]
async fn one_note_spent_at_once_and_exchanges_beside_sales_neither_overspend_nor_fail() {
    let node = taxed_node().await;
    let [_, manager, _] = credentials(&node).await;
    node.db
        .execute(
            "UPDATE inventory SET quantity = 100 WHERE store_id = 1",
            &[],
        )
        .await
        .unwrap();
    let (_, credit) = post(
        &node,
        "/returns",
        &manager,
        goods_back(
            json!([{"product_id": 2, "quantity": 2}]),
            "store_credit",
            None,
        ),
    )
    .await;
    let code = credit["credit_note"]["code"].clone();
    // Ten sales at once, each paying 30.00 of the 199.00 with the note and the rest in cash.
    let spend = || {
        let mut sale = paid_with_credit(&code, "30.00");
        sale["payments"]
            .as_array_mut()
            .unwrap()
            .push(json!({"method": "cash", "amount": "120.00"}));
        post(&node, "/orders", &manager, sale)
    };
    let answers = futures_util::future::join_all((0..10).map(|_| spend())).await;
    let mut statuses: Vec<u16> = answers.iter().map(|(status, _)| *status).collect();
    statuses.sort_unstable();
    assert_eq!(statuses, [201, 201, 201, 201, 201, 201, 422, 422, 422, 422]);
    let note_path = format!("/credit-notes/{}", code.as_str().unwrap());
    let (_, note) = call(&node, reqwest::Method::GET, &note_path, &manager, None).await;
    assert_eq!(note["balance"], json!("19.00"));

    // Rusks back for tea, while other tills sell tea and rusks together.
    let mut originals = Vec::new();
    for _ in 0..4 {
        let (_, sold) = post(&node, "/orders", &manager, sale(&[(2, 1)], "100")).await;
        originals.push(sold["global_order_id"].as_str().unwrap().to_owned());
    }
    let paths: Vec<String> = originals
        .iter()
        .map(|id| format!("/orders/{id}/exchanges"))
        .collect();
    let exchanges = paths.iter().map(|path| {
        post(
            &node,
            path,
            &manager,
            json!({"idempotency_key": Uuid::new_v4(), "items": [{"line_no": 1, "quantity": 1}],
                   "sale": {"customer_id": null, "items": [{"product_id": 1, "quantity": 1}],
                            "payments": [{"method": "cash", "amount": "60.00"}]}}),
        )
    });
    let sales = (0..4).map(|_| post(&node, "/orders", &manager, sale(&[(1, 1), (2, 1)], "300")));
    let (exchanged, sold) = futures_util::future::join(
        futures_util::future::join_all(exchanges),
        futures_util::future::join_all(sales),
    )
    .await;
    for (status, body) in exchanged.iter().chain(&sold) {
        assert_eq!(*status, 201, "{body}");
    }
}
