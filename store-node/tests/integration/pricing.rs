//! How the node prices a sale by itself: tax included per line and rounded half up, the best promotion
//! running in the store's local time, a scheduled price from its moment on, and refunds that give back
//! their share of a discounted, taxed line; where a city's prices exclude tax, the tax added per line.

use serde_json::{Value, json};
use uuid::Uuid;

use crate::shifts::{credentials, post};
use crate::{TestStoreNode, spawn_store_node};

/// The city in a zone 14 hours ahead of UTC, so that a promotion placed by local time cannot be
/// running by UTC's clock; category 1 taxed at 17 %, and Rusk (product 2) at its own 5 %.
pub async fn taxed_node() -> TestStoreNode {
    let node = spawn_store_node().await;
    node.db
        .batch_execute(
            "INSERT INTO cities (id, name, time_zone, version, created_at, updated_at)
             VALUES (1, 'Karachi', 'Pacific/Kiritimati', 1, now(), now());
             INSERT INTO categories (id, name, tax_rate, version, created_at, updated_at)
             VALUES (1, 'Tea and biscuits', 17, 1, now(), now());
             UPDATE products SET tax_rate = 5 WHERE id = 2;",
        )
        .await
        .unwrap();
    node
}

/// A promotion as replication delivers it, `from_hours`..`to_hours` around the store's local now.
pub async fn promotion(
    node: &TestStoreNode,
    id: i32,
    target: &str,
    kind: &str,
    value: &str,
    hours: (i32, i32),
    active: bool,
) {
    let (column, target_id) = target.split_once('=').unwrap();
    let target_id: i32 = target_id.parse().unwrap();
    let (product, category) = if column == "product" {
        (Some(target_id), None)
    } else {
        (None, Some(target_id))
    };
    node.db
        .execute(
            "INSERT INTO promotions (id, name, kind, value, product_id, category_id, starts_at, ends_at, active,
                                     version, created_at, updated_at)
             SELECT $1, 'Promotion ' || $1::integer, $2, $3::text::numeric, $4, $5,
                    (now() AT TIME ZONE 'Pacific/Kiritimati') + make_interval(hours => $6),
                    (now() AT TIME ZONE 'Pacific/Kiritimati') + make_interval(hours => $7), $8, 1, now(), now()",
            &[&id, &kind, &value, &product, &category, &hours.0, &hours.1, &active],
        )
        .await
        .unwrap();
}

pub fn sale(lines: &[(i32, i64)], cash: &str) -> Value {
    let items: Vec<Value> = lines
        .iter()
        .map(|(product_id, quantity)| json!({"product_id": product_id, "quantity": quantity}))
        .collect();
    json!({"idempotency_key": Uuid::new_v4(), "customer_id": null, "items": items,
           "payments": [{"method": "cash", "amount": cash}]})
}

/// (unit price, discount, promotion, tax rate, tax, line total) of each line.
fn lines(order: &Value) -> Vec<(String, String, Value, String, String, String)> {
    order["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| {
            let text = |k: &str| l[k].as_str().unwrap().to_owned();
            (
                text("unit_price"),
                text("discount"),
                l["promotion_id"].clone(),
                text("tax_rate"),
                text("tax_amount"),
                text("line_total"),
            )
        })
        .collect()
}

#[tokio::test]
async fn tax_is_included_in_the_price_and_rounded_per_line_half_up() {
    let node = taxed_node().await;
    // 100 % makes the tax half the line: 10.01 / 2 = 5.005, which half up makes 5.01 (half to even
    // would make 5.00).
    node.db
        .batch_execute(
            "INSERT INTO products (id, sku, name, category_id, price, tax_rate, active, version, created_at, updated_at)
             VALUES (3, 'LUX', 'Luxury', 1, 10.01, 100, true, 1, now(), now());
             INSERT INTO inventory (store_id, product_id, quantity) VALUES (1, 3, 5);",
        )
        .await
        .unwrap();
    let (status, order) = node
        .post_order(&sale(&[(1, 3), (2, 1), (3, 1)], "600"))
        .await;
    assert_eq!(status, 201, "{order}");
    let line = |price: &str, rate: &str, tax: &str, total: &str| {
        (
            price.to_owned(),
            "0.00".to_owned(),
            Value::Null,
            rate.to_owned(),
            tax.to_owned(),
            total.to_owned(),
        )
    };
    assert_eq!(
        lines(&order),
        [
            // 450 × 17 / 117 = 65.3846…; the category's rate.
            line("150.00", "17.00", "65.38", "450.00"),
            // 99.50 × 5 / 105 = 4.7380…; the product's own rate.
            line("99.50", "5.00", "4.74", "99.50"),
            line("10.01", "100.00", "5.01", "10.01"),
        ]
    );
    assert_eq!(
        (
            &order["total"],
            &order["tax_total"],
            &order["discount_total"],
            &order["change_due"]
        ),
        (
            &json!("559.51"),
            &json!("75.13"),
            &json!("0.00"),
            &json!("40.49")
        )
    );
    let stored: (String, String) = {
        let row = node
            .db
            .query_one("SELECT tax_total::text, total::text FROM orders", &[])
            .await
            .unwrap();
        (row.get(0), row.get(1))
    };
    assert_eq!(stored, ("75.13".to_owned(), "559.51".to_owned()));
}

#[tokio::test]
async fn the_best_promotion_running_in_the_stores_local_time_applies() {
    let node = taxed_node().await;
    promotion(&node, 1, "product=1", "percent", "10", (-1, 1), true).await;
    promotion(&node, 2, "category=1", "amount", "20", (-1, 1), true).await;
    // Would take more, but has not started in local time, has ended, or was switched off.
    promotion(&node, 3, "product=1", "percent", "50", (1, 3), true).await;
    promotion(&node, 4, "product=1", "percent", "60", (-3, -1), true).await;
    promotion(&node, 5, "product=1", "percent", "90", (-1, 1), false).await;
    // Running by UTC's clock, 14 hours behind the store's: not running at the store.
    promotion(&node, 6, "product=2", "percent", "70", (-15, -13), true).await;
    let (status, order) = node.post_order(&sale(&[(1, 2), (2, 1)], "400")).await;
    assert_eq!(status, 201, "{order}");
    assert_eq!(
        lines(&order),
        [
            // 20 off each of two units beats 10 % of 300; tax: 260 × 17 / 117 = 37.777…
            (
                "150.00".into(),
                "40.00".into(),
                json!(2),
                "17.00".into(),
                "37.78".into(),
                "260.00".into()
            ),
            // 79.50 × 5 / 105 = 3.7857…
            (
                "99.50".into(),
                "20.00".into(),
                json!(2),
                "5.00".into(),
                "3.79".into(),
                "79.50".into()
            ),
        ]
    );
    assert_eq!(
        (
            &order["total"],
            &order["discount_total"],
            &order["tax_total"],
            &order["change_due"]
        ),
        (
            &json!("339.50"),
            &json!("60.00"),
            &json!("41.57"),
            &json!("60.50")
        )
    );
    // An amount off larger than the price leaves the line at zero, never below.
    promotion(&node, 7, "product=2", "amount", "500", (-1, 1), true).await;
    let (status, order) = node.post_order(&sale(&[(2, 2)], "1")).await;
    assert_eq!(status, 201, "{order}");
    assert_eq!(
        (
            &order["items"][0]["discount"],
            &order["items"][0]["line_total"],
            &order["total"]
        ),
        (&json!("199.00"), &json!("0.00"), &json!("0.00"))
    );
    let (_, again) = node
        .get(
            &format!("/orders/{}", order["global_order_id"].as_str().unwrap()),
            Some(&node.tokens[0].1),
        )
        .await;
    assert_eq!(
        again, order,
        "the stored order reads back as the sale answered"
    );
    // The end of the day shows both sales' discounts (60.00 and 199.00) and the tax they include.
    let (_, day) = node.get("/reports/daily", Some(&node.tokens[0].1)).await;
    assert_eq!(
        (&day["gross"], &day["discounts"], &day["net_tax"]),
        (&json!("339.50"), &json!("259.00"), &json!("41.57")),
        "{day}"
    );
}

#[tokio::test]
async fn a_scheduled_price_takes_effect_at_its_moment_by_the_nodes_clock() {
    let node = taxed_node().await;
    // Far enough ahead for the sale and the listing before it on a loaded machine.
    let lead = std::time::Duration::from_secs(5);
    let scheduled = std::time::Instant::now();
    node.db
        .execute(
            "UPDATE products SET next_price = 120.00, next_price_at = now() + interval '5 seconds' WHERE id = 1",
            &[],
        )
        .await
        .unwrap();
    // The moment is at most this far ahead (the server's now() fell between the two instants).
    let set = std::time::Instant::now();
    let token = node.tokens[0].1.clone();
    let (_, before) = node.post_order(&sale(&[(1, 1)], "150")).await;
    assert_eq!(before["items"][0]["unit_price"], "150.00");
    let (_, listed) = node.get("/products", Some(&token)).await;
    assert_eq!(listed["items"][0]["price"], "150.00", "{listed}");
    assert_eq!(
        listed["items"][0]["scheduled_price"]["price"], "120.00",
        "{listed}"
    );
    assert!(
        scheduled.elapsed() < lead,
        "the first sale came before the moment"
    );
    tokio::time::sleep(
        (lead + std::time::Duration::from_millis(100)).saturating_sub(set.elapsed()),
    )
    .await;
    let (_, after) = node.post_order(&sale(&[(1, 1)], "150")).await;
    assert_eq!(
        (&after["items"][0]["unit_price"], &after["change_due"]),
        (&json!("120.00"), &json!("30.00"))
    );
    let (_, listed) = node.get("/products", Some(&token)).await;
    assert_eq!(
        (
            &listed["items"][0]["price"],
            &listed["items"][0]["scheduled_price"]
        ),
        (&json!("120.00"), &Value::Null)
    );
}

#[tokio::test]
async fn refunds_give_back_their_share_of_a_discounted_taxed_line() {
    let node = taxed_node().await;
    // 1 % of 3 × 99.50 = 2.985, so 2.99 off: the line is 295.51, its tax 295.51 × 5 / 105 = 14.07.
    promotion(&node, 1, "product=2", "percent", "1", (-1, 1), true).await;
    let (_, order) = node.post_order(&sale(&[(2, 3)], "300")).await;
    assert_eq!(
        (
            &order["items"][0]["line_total"],
            &order["items"][0]["tax_amount"]
        ),
        (&json!("295.51"), &json!("14.07"))
    );
    let id = order["global_order_id"].as_str().unwrap();
    let mut given = Vec::new();
    for quantity in [1, 2] {
        let response = node
            .http
            .post(format!("{}/orders/{id}/refunds", node.url))
            .bearer_auth(&node.tokens[0].1)
            .json(&json!({"idempotency_key": Uuid::new_v4(), "items": [{"line_no": 1, "quantity": quantity}]}))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status().as_u16(), 201);
        let (_, read) = node
            .get(&format!("/orders/{id}"), Some(&node.tokens[0].1))
            .await;
        let last = read["refunds"].as_array().unwrap().last().unwrap().clone();
        given.push((last["amount"].clone(), last["tax_amount"].clone()));
    }
    // A third of the line, then the rest: together the whole line and its whole tax.
    assert_eq!(
        given,
        [
            (json!("98.50"), json!("4.69")),
            (json!("197.01"), json!("9.38"))
        ]
    );
    // Everything was refunded: none of the tax is left in the day's figures.
    let (_, day) = node.get("/reports/daily", Some(&node.tokens[0].1)).await;
    assert_eq!(
        (&day["net"], &day["net_tax"]),
        (&json!("0.00"), &json!("0.00")),
        "{day}"
    );
}

#[tokio::test]
async fn where_the_citys_prices_exclude_tax_the_till_adds_it_per_line() {
    let node = taxed_node().await;
    let [_, manager, _] = credentials(&node).await;
    node.db
        .execute("UPDATE cities SET prices_include_tax = false", &[])
        .await
        .unwrap();
    // 2 × 150.00 at 17 %: 51.00 added; 99.50 at 5 %: 4.975, half up 4.98 added.
    let (status, order) = node.post_order(&sale(&[(1, 2), (2, 1)], "500")).await;
    assert_eq!(status, 201, "{order}");
    let taxes_and_totals: Vec<(String, String)> = lines(&order)
        .into_iter()
        .map(|(_, _, _, _, tax, total)| (tax, total))
        .collect();
    assert_eq!(
        taxes_and_totals,
        [
            ("51.00".to_owned(), "351.00".to_owned()),
            ("4.98".to_owned(), "104.48".to_owned())
        ]
    );
    assert_eq!(
        (
            &order["total"],
            &order["tax_total"],
            &order["prices_include_tax"]
        ),
        (&json!("455.48"), &json!("55.98"), &json!(false))
    );
    // The receipt adds the tax before the total.
    let id = order["global_order_id"].as_str().unwrap();
    let receipt = node
        .http
        .get(format!("{}/orders/{id}/receipt?format=text", node.url))
        .bearer_auth(&node.tokens[0].1)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let row = |left: &str, right: &str| format!("{left:<0$}{right}", 42 - right.len());
    let printed: Vec<&str> = receipt.lines().collect();
    let at = printed
        .iter()
        .position(|l| l.starts_with("Subtotal"))
        .unwrap();
    assert_eq!(
        printed[at..at + 4],
        [
            row("Subtotal", "399.50"),
            row("Tax 17.00%", "51.00"),
            row("Tax 5.00%", "4.98"),
            row("TOTAL", "455.48")
        ],
        "{receipt}"
    );
    // A refund gives back what the customer paid, tax and all; so does a return without a receipt.
    let refund =
        json!({"idempotency_key": Uuid::new_v4(), "items": [{"line_no": 1, "quantity": 1}]});
    let (status, refunded) = post(
        &node,
        &format!("/orders/{id}/refunds"),
        &node.tokens[0].1,
        refund,
    )
    .await;
    assert_eq!((status, &refunded["amount"]), (201, &json!("175.50")));
    let returned = json!({"idempotency_key": Uuid::new_v4(), "method": "cash", "reason": "no receipt",
                          "items": [{"product_id": 2, "quantity": 1}]});
    let (status, returned) = post(&node, "/returns", &manager, returned).await;
    assert_eq!((status, &returned["amount"]), (201, &json!("104.48")));
}
