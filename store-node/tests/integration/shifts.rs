//! Shifts at a terminal: opened with a float, cash in and (a manager) out, the X report, and the Z
//! report at close that adds up to the shift's sales, refunds and cash movements, numbered per terminal
//! and immutable; what a closed or missing shift refuses.

use std::time::Duration;

use serde_json::{Value, json};
use uuid::Uuid;

use crate::TestStoreNode;
use crate::pricing::{sale, taxed_node};

/// Credentials as replication delivers them: 7 a cashier and 8 a manager at terminal T1, 9 a cashier
/// at no terminal. Their tokens, once the node has loaded them.
pub async fn credentials(node: &TestStoreNode) -> [String; 3] {
    let tokens = [(); 3].map(|_| pos_shared::auth::generate_token());
    for (id, (token, (terminal, role))) in (7..).zip(tokens.iter().zip([
        (Some("T1"), "cashier"),
        (Some("T1"), "manager"),
        (None, "cashier"),
    ])) {
        node.db
            .execute(
                "INSERT INTO cashier_tokens (id, store_id, token_sha256, cashier, terminal, role, version, created_at, updated_at)
                 VALUES ($1, 1, $2, 'Cashier ' || $1::integer, $3, $4, 1, now(), now())",
                &[&id, &pos_shared::auth::token_digest_hex(token), &terminal, &role],
            )
            .await
            .unwrap();
    }
    let started = std::time::Instant::now();
    while node.get("/products", Some(&tokens[2])).await.0 != 200 {
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "credentials load"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    tokens
}

pub async fn call(
    node: &TestStoreNode,
    method: reqwest::Method,
    path: &str,
    token: &str,
    body: Option<Value>,
) -> (u16, Value) {
    let mut request = node
        .http
        .request(method, format!("{}{path}", node.url))
        .bearer_auth(token);
    if let Some(body) = body {
        request = request.json(&body);
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or_default())
}

pub async fn post(node: &TestStoreNode, path: &str, token: &str, body: Value) -> (u16, Value) {
    call(node, reqwest::Method::POST, path, token, Some(body)).await
}

pub async fn x_report(node: &TestStoreNode, token: &str) -> (u16, Value) {
    call(
        node,
        reqwest::Method::GET,
        "/shifts/current/report",
        token,
        None,
    )
    .await
}

/// Closes the terminal's shift with `counted` cash: the Z report.
pub async fn close_shift(node: &TestStoreNode, token: &str, counted: &str) -> (u16, Value) {
    post(
        node,
        "/shifts/current/close",
        token,
        json!({"counted_cash": counted}),
    )
    .await
}

#[tokio::test]
async fn a_shifts_z_report_adds_up_to_its_sales_refunds_and_cash_movements() {
    let node = taxed_node().await;
    let [cashier, manager, no_terminal] = credentials(&node).await;
    // No shift has ever been opened: closing or reporting one is a conflict, not an error.
    assert_eq!(close_shift(&node, &cashier, "1").await.0, 409);
    assert_eq!(x_report(&node, &cashier).await.0, 409);

    assert_eq!(
        post(
            &node,
            "/shifts",
            &no_terminal,
            json!({"opening_float": "100"})
        )
        .await
        .0,
        409
    );
    // Before the shift opens, a sale belongs to no shift.
    let (status, before) = post(&node, "/orders", &cashier, sale(&[(1, 1)], "150")).await;
    assert_eq!(status, 201);
    let (status, opened) = post(
        &node,
        "/shifts",
        &cashier,
        json!({"opening_float": "1000.00"}),
    )
    .await;
    assert_eq!(
        (status, &opened["expected_cash"]),
        (201, &json!("1000.00")),
        "{opened}"
    );
    assert_eq!(
        post(&node, "/shifts", &manager, json!({"opening_float": "5"}))
            .await
            .0,
        409,
        "one open shift per terminal"
    );

    // 2 × 150.00 for 400.00 cash (100.00 change), 99.50 by card, then one unit of the first refunded.
    let (_, cash_sale) = post(&node, "/orders", &cashier, sale(&[(1, 2)], "400")).await;
    let card = json!({"idempotency_key": Uuid::new_v4(), "customer_id": null, "items": [{"product_id": 2, "quantity": 1}],
                      "payments": [{"method": "card", "amount": "99.50"}]});
    assert_eq!(post(&node, "/orders", &manager, card).await.0, 201);
    let refund =
        json!({"idempotency_key": Uuid::new_v4(), "items": [{"line_no": 1, "quantity": 1}]});
    let path = format!(
        "/orders/{}/refunds",
        cash_sale["global_order_id"].as_str().unwrap()
    );
    assert_eq!(
        call(&node, reqwest::Method::POST, &path, &cashier, Some(refund))
            .await
            .0,
        201
    );
    let cash =
        |kind: &str, amount: &str| json!({"kind": kind, "amount": amount, "reason": "float"});
    assert_eq!(
        post(
            &node,
            "/shifts/current/cash-movements",
            &cashier,
            cash("in", "200")
        )
        .await
        .0,
        201
    );
    let (status, refused) = post(
        &node,
        "/shifts/current/cash-movements",
        &cashier,
        cash("out", "50"),
    )
    .await;
    assert_eq!(
        (status, refused["error"].as_str()),
        (403, Some("forbidden")),
        "cash out needs a manager"
    );
    assert_eq!(
        post(
            &node,
            "/shifts/current/cash-movements",
            &manager,
            cash("out", "50")
        )
        .await
        .0,
        201
    );

    let (status, x) = x_report(&node, &cashier).await;
    assert_eq!(status, 200, "{x}");
    let figures = |r: &Value| {
        [
            "sales_count",
            "sales",
            "refunds_count",
            "refunds",
            "tax",
            "cash_in",
            "cash_out",
            "expected_cash",
        ]
        .map(|k| r[k].to_string())
    };
    // Float 1000 + cash taken 300 − cash refunded 150 + in 200 − out 50 = 1300. Tax: 43.59 (300 at
    // 17 %) + 4.74 (99.50 at 5 %) − 21.80 (half of 43.59, half up) = 26.53.
    let expected = [
        "2",
        "\"399.50\"",
        "1",
        "\"150.00\"",
        "\"26.53\"",
        "\"200.00\"",
        "\"50.00\"",
        "\"1300.00\"",
    ];
    assert_eq!(figures(&x), expected.map(String::from), "{x}");
    let methods: Vec<(String, String)> = x["by_payment_method"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            (
                m["method"].as_str().unwrap().to_owned(),
                m["net"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert_eq!(
        methods,
        [
            ("card".into(), "99.50".into()),
            ("cash".into(), "150.00".into()),
            ("store_credit".into(), "0.00".into()),
            ("wallet".into(), "0.00".into())
        ]
    );

    let (status, z) = close_shift(&node, &manager, "1295.00").await;
    assert_eq!(status, 200, "{z}");
    assert_eq!(
        figures(&z),
        expected.map(String::from),
        "the Z report is the X report at close"
    );
    assert_eq!(
        (&z["z_number"], &z["counted_cash"], &z["variance"]),
        (&json!(1), &json!("1295.00"), &json!("-5.00"))
    );
    assert!(z["closed_at"].is_string());

    // Closed: nothing more joins it or changes it.
    assert_eq!(x_report(&node, &cashier).await.0, 409);
    assert_eq!(close_shift(&node, &cashier, "1").await.0, 409);
    assert_eq!(
        post(
            &node,
            "/shifts/current/cash-movements",
            &cashier,
            cash("in", "5")
        )
        .await
        .0,
        409
    );
    let (_, after) = post(&node, "/orders", &cashier, sale(&[(1, 1)], "150")).await;
    let shift_of = |id: &Value| {
        let db = &node.db;
        let id: Uuid = id.as_str().unwrap().parse().unwrap();
        async move {
            db.query_one(
                "SELECT shift_id FROM orders WHERE global_order_id = $1",
                &[&id],
            )
            .await
            .unwrap()
            .get::<_, Option<i64>>(0)
        }
    };
    assert_eq!(shift_of(&before["global_order_id"]).await, None);
    assert_eq!(
        shift_of(&cash_sale["global_order_id"]).await,
        z["shift_id"].as_i64()
    );
    assert_eq!(shift_of(&after["global_order_id"]).await, None);
    let tampered = node
        .db
        .execute("UPDATE shifts SET counted_cash = 1300", &[])
        .await;
    assert!(tampered.is_err(), "a Z report stands");

    // The terminal's next shift closes as Z number 2.
    post(&node, "/shifts", &cashier, json!({"opening_float": "0"})).await;
    let (_, second) = close_shift(&node, &cashier, "0").await;
    assert_eq!(
        (&second["z_number"], &second["variance"]),
        (&json!(2), &json!("0.00")),
        "{second}"
    );

    // A close sent twice at once (a till's retry) while a sale is in flight (its share of the shift's
    // row held here): one closes the shift once the sale is done, the other then finds it closed.
    post(&node, "/shifts", &cashier, json!({"opening_float": "0"})).await;
    node.db
        .batch_execute("BEGIN; SELECT id FROM shifts WHERE closed_at IS NULL FOR SHARE")
        .await
        .unwrap();
    let close = json!({"counted_cash": "0"});
    let closes = async {
        tokio::join!(
            post(&node, "/shifts/current/close", &cashier, close.clone()),
            post(&node, "/shifts/current/close", &manager, close.clone())
        )
    };
    let sale_ends = async {
        tokio::time::sleep(Duration::from_millis(500)).await;
        node.db.batch_execute("COMMIT").await.unwrap();
    };
    let ((first, again), ()) = tokio::join!(closes, sale_ends);
    let mut statuses = [first.0, again.0];
    statuses.sort_unstable();
    assert_eq!(statuses, [200, 409], "{} {}", first.1, again.1);
}

#[tokio::test]
async fn cash_the_drawer_or_its_report_cannot_hold_is_refused_and_the_report_stays_whole() {
    let node = taxed_node().await;
    let [cashier, manager, _] = credentials(&node).await;
    post(&node, "/shifts", &cashier, json!({"opening_float": "100"})).await;
    let move_cash = async |token: &str, kind: &str, amount: &str| {
        let body = json!({"kind": kind, "amount": amount, "reason": "count"});
        post(&node, "/shifts/current/cash-movements", token, body).await
    };
    let conflict = |(status, body): (u16, Value)| {
        assert_eq!(
            (status, body["error"].as_str()),
            (409, Some("conflict")),
            "{body}"
        );
        body
    };

    // Not more out than the drawer is expected to hold (the float's 100.00).
    let refused = conflict(move_cash(&manager, "out", "100.01").await);
    assert!(
        refused["message"].as_str().unwrap().contains("100.00"),
        "says what the drawer holds: {refused}"
    );
    // Two large sums in, each a valid amount, would take the shift past what its figures hold: the second
    // is refused, and the X report and the close still add up.
    let big = "8000000000.00";
    assert_eq!(move_cash(&cashier, "in", big).await.0, 201);
    conflict(move_cash(&cashier, "in", big).await);
    let (status, x) = x_report(&node, &cashier).await;
    assert_eq!(status, 200, "{x}");
    assert_eq!(
        (&x["cash_in"], &x["cash_out"], &x["expected_cash"]),
        (&json!(big), &json!("0.00"), &json!("8000000100.00")),
        "only the movement taken counts: {x}"
    );
    // Out again, within the drawer: the total out is checked the same way.
    assert_eq!(move_cash(&manager, "out", big).await.0, 201);
    let (status, z) = close_shift(&node, &cashier, "100").await;
    assert_eq!(
        (status, &z["expected_cash"], &z["variance"]),
        (200, &json!("100.00"), &json!("0.00")),
        "{z}"
    );

    // A shift whose cash came to more than one amount may be (movements kept from before the limit)
    // still reports and closes, its sums as they are.
    post(&node, "/shifts", &cashier, json!({"opening_float": "0"})).await;
    node.db
        .execute(
            "INSERT INTO cash_movements (shift_id, kind, amount, reason, credential_id)
             SELECT id, 'in', 9000000000, 'kept', 7 FROM shifts, generate_series(1, 2) WHERE closed_at IS NULL",
            &[],
        )
        .await
        .unwrap();
    let (status, x) = x_report(&node, &cashier).await;
    assert_eq!(
        (status, &x["cash_in"], &x["expected_cash"]),
        (200, &json!("18000000000.00"), &json!("18000000000.00")),
        "{x}"
    );
    let (status, z) = close_shift(&node, &cashier, "0").await;
    assert_eq!(
        (status, &z["variance"]),
        (200, &json!("-18000000000.00")),
        "{z}"
    );
}
