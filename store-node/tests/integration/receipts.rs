//! Receipts: the text an 80 mm printer prints, checked line by line, its JSON, and reprints marked.

use std::time::Duration;

use serde_json::Value;

use crate::pricing::{promotion, sale, taxed_node};

/// `left` and `right` on one 42-column line (ASCII), `right` flush with the edge.
fn row(left: &str, right: &str) -> String {
    format!("{left:<width$}{right}", width = 42 - right.len())
}

fn centred(text: &str) -> String {
    format!("{}{text}", " ".repeat((42 - text.len()) / 2))
}

#[tokio::test]
async fn a_receipt_prints_the_store_lines_discounts_taxes_payments_cashier_and_terminal() {
    let node = taxed_node().await;
    promotion(&node, 1, "product=1", "percent", "10", (-1, 1), true).await;
    // A credential head office issued for Ayesha at terminal T1, as replication delivers it.
    let token = pos_shared::auth::generate_token();
    node.db
        .execute(
            "INSERT INTO cashier_tokens (id, store_id, token_sha256, cashier, terminal, role, version, created_at, updated_at)
             VALUES (7, 1, $1, 'Ayesha Khan', 'T1', 'cashier', 1, now(), now())",
            &[&pos_shared::auth::token_digest_hex(&token)],
        )
        .await
        .unwrap();
    let started = std::time::Instant::now();
    while node.get("/products", Some(&token)).await.0 != 200 {
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "the credential is loaded"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let response = node
        .http
        .post(format!("{}/orders", node.url))
        .bearer_auth(&token)
        .json(&sale(&[(1, 2), (2, 1)], "400"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 201);
    let order: Value = response.json().await.unwrap();
    let receipt_path = format!(
        "{}/orders/{}/receipt",
        node.url,
        order["global_order_id"].as_str().unwrap()
    );
    let print = |format: &'static str| {
        let (http, path, token) = (node.http.clone(), receipt_path.clone(), token.clone());
        async move {
            let response = http
                .get(format!("{path}?format={format}"))
                .bearer_auth(token)
                .send()
                .await
                .unwrap();
            assert_eq!(response.status(), 200);
            response.text().await.unwrap()
        }
    };

    let first: Value = serde_json::from_str(&print("json").await).unwrap();
    assert_eq!(
        (&first["print_no"], &first["reprint"]),
        (&Value::from(1), &Value::Bool(false))
    );
    assert_eq!(
        (&first["cashier"], &first["terminal"]),
        (&Value::from("Ayesha Khan"), &Value::from("T1"))
    );
    let sold_at = first["sold_at"].as_str().unwrap().to_owned();
    assert_eq!(
        sold_at.len(),
        16,
        "YYYY-MM-DD HH:MM, the store's local time: {sold_at}"
    );

    let text = print("text").await;
    let expected = [
        centred("Saddar"),
        centred("KHI001 - Karachi"),
        "-".repeat(42),
        row("Order 1", &sold_at),
        row("Cashier Ayesha Khan", "Terminal T1"),
        "-".repeat(42),
        "Chai".to_owned(),
        row("  2 x 150.00", "300.00"),
        row("  Promotion 1", "-30.00"),
        "Rusk".to_owned(),
        row("  1 x 99.50", "99.50"),
        "-".repeat(42),
        row("Subtotal", "399.50"),
        row("Discounts", "-30.00"),
        row("TOTAL", "369.50"),
        // 270.00 at 17 % and 99.50 at 5 %, tax included.
        row("  incl. tax 17.00%", "39.23"),
        row("  incl. tax 5.00%", "4.74"),
        row("Cash", "400.00"),
        row("Change", "30.50"),
        "-".repeat(42),
        centred(order["global_order_id"].as_str().unwrap()),
        centred("*** REPRINT 2 ***"),
        String::new(),
    ];
    let printed: Vec<&str> = text.split('\n').collect();
    for (n, (got, want)) in printed.iter().zip(&expected).enumerate() {
        assert_eq!(got, want, "line {}", n + 1);
    }
    assert_eq!(printed.len(), expected.len(), "{text}");
    assert!(printed.iter().all(|l| l.chars().count() <= 42), "{text}");

    // Another store's cashier gets nothing; an unknown format is refused.
    let other = node
        .http
        .get(&receipt_path)
        .bearer_auth(&node.tokens[1].1)
        .send()
        .await
        .unwrap();
    assert_eq!(other.status().as_u16(), 404);
    let bad = node
        .http
        .get(format!("{receipt_path}?format=pdf"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status().as_u16(), 422);
    let stored: i32 = node
        .db
        .query_one("SELECT credential_id FROM orders", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(
        stored, 7,
        "the sale records the credential it was made with"
    );
}
