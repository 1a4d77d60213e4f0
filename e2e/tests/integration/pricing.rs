//! Prices from head office to the till: tax rates, promotions and scheduled prices set at central reach
//! the node, which applies them by itself with central's PostgreSQL stopped; and central refuses what
//! no till could sell by, writing nothing.

use std::time::Duration;

use chrono::{NaiveDateTime, Utc};
use serde_json::{Value, json};
use uuid::Uuid;

use crate::chain::SalesChain;
use crate::common::{eventually, replication_config, spawn_central};

const WAIT: Duration = Duration::from_secs(30);

/// The sale's one line as (unit price, discount, tax, line total).
fn line(order: &Value) -> [String; 4] {
    ["unit_price", "discount", "tax_amount", "line_total"]
        .map(|k| order["items"][0][k].as_str().unwrap_or_default().to_owned())
}

#[tokio::test]
async fn promotions_and_scheduled_prices_take_effect_on_a_node_with_central_stopped() {
    let chain = SalesChain::start().await;
    let central = &chain.central;
    let product_path = format!("/products/{}", chain.product);
    let (_, product) = central.get(&product_path).await;
    central
        .patch(
            &format!("/categories/{}", product["category_id"]),
            json!({"tax_rate": "17"}),
        )
        .await;
    // Running from an hour ago until an hour from now in Karachi's local time.
    let local_now: NaiveDateTime = central
        .db()
        .await
        .query_one(
            "SELECT date_trunc('second', now() AT TIME ZONE 'Asia/Karachi')",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    let hour = chrono::Duration::hours(1);
    central
        .post(
            "/promotions",
            json!({"name": "Winter tea", "kind": "percent", "value": "10", "product_id": chain.product,
                   "starts_at": local_now - hour, "ends_at": local_now + hour}),
        )
        .await;
    // Far enough ahead for the credentials and the changes to reach the node, and central to stop, on a
    // loaded machine, before the first sale.
    let effective_at = Utc::now() + chrono::Duration::seconds(15);
    let scheduled = central
        .patch(
            &product_path,
            json!({"scheduled_price": {"price": "120.00", "effective_at": effective_at}}),
        )
        .await;
    assert_eq!(scheduled["price"], "150.00", "{scheduled}");
    assert_eq!(scheduled["scheduled_price"]["price"], "120.00");
    // Ayesha's credential at terminal T1, issued at central, with up to 5 % off by hand.
    let issued = central
        .post(
            &format!("/stores/{}/cashier-tokens", chain.store),
            json!({"cashier": "Ayesha Khan", "terminal": "T1", "discount_limit": "5"}),
        )
        .await;
    assert_eq!(
        (
            &issued["role"],
            &issued["terminal"],
            &issued["discount_limit"]
        ),
        (&json!("cashier"), &json!("T1"), &json!("5.00"))
    );
    let token = issued["token"].as_str().unwrap().to_owned();
    // And the store manager's, who takes goods back without a receipt.
    let manager = central
        .post(
            &format!("/stores/{}/cashier-tokens", chain.store),
            json!({"cashier": "Bilal", "terminal": "T2", "role": "manager"}),
        )
        .await["token"]
        .as_str()
        .unwrap()
        .to_owned();
    for token in [&token, &manager] {
        eventually("the credentials work at the node", WAIT, || async {
            chain
                .http
                .get(format!("{}/products", chain.node_url))
                .bearer_auth(token)
                .send()
                .await
                .is_ok_and(|r| r.status() == 200)
        })
        .await;
    }
    eventually(
        "tax, promotion and scheduled price reach the node",
        WAIT,
        || async {
            let node = chain.node.db().await;
            node.query_one(
                "SELECT (SELECT count(*) FROM promotions) = 1
                    AND (SELECT bool_and(tax_rate = 17) FROM categories)
                    AND (SELECT next_price = 120 FROM products)",
                &[],
            )
            .await
            .unwrap()
            .get::<_, Option<bool>>(0)
                == Some(true)
        },
    )
    .await;

    chain.central_pg.stop().unwrap();
    let sell = || async {
        let response = chain.sell_at(&chain.node_url, &token).await;
        assert_eq!(response.status(), 201);
        response.json::<Value>().await.unwrap()
    };
    // 10 % off 150.00; the tax of 135.00 at 17 % is 19.615…, half up 19.62.
    let before = sell().await;
    assert_eq!(line(&before), ["150.00", "15.00", "19.62", "135.00"]);
    assert!(
        Utc::now() < effective_at,
        "the first sale came before the moment"
    );
    tokio::time::sleep((effective_at - Utc::now()).to_std().unwrap_or_default()).await;
    let after = sell().await;
    // The node's own clock switched it: 10 % off 120.00, tax of 108.00 = 15.692…
    assert_eq!(line(&after), ["120.00", "12.00", "15.69", "108.00"]);
    assert_eq!(after["tax_total"], "15.69");
    // The credential's discount limit came with it: 5 % by hand off what the promotion left (108.00)
    // goes through, 6 % needs a manager's approval.
    let by_hand = |percent: &str| {
        chain
            .http
            .post(format!("{}/orders", chain.node_url))
            .bearer_auth(&token)
            .json(
                &json!({"idempotency_key": Uuid::new_v4(), "customer_id": null,
                          "items": [{"product_id": chain.product, "quantity": 1,
                                     "discount": {"percent": percent}}],
                          "payments": [{"method": "cash", "amount": "200.00"}]}),
            )
            .send()
    };
    assert_eq!(by_hand("6").await.unwrap().status(), 403);
    let discounted: Value = by_hand("5").await.unwrap().json().await.unwrap();
    assert_eq!(line(&discounted), ["120.00", "17.40", "14.91", "102.60"]);
    // A return without a receipt, at today's price before promotions.
    let returned: Value = chain
        .http
        .post(format!("{}/returns", chain.node_url))
        .bearer_auth(&manager)
        .json(
            &json!({"idempotency_key": Uuid::new_v4(), "method": "cash", "reason": "no receipt",
                      "items": [{"product_id": chain.product, "quantity": 1}]}),
        )
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(returned["amount"], "120.00", "{returned}");
    // The receipt names the cashier and terminal from the replicated credential, central still down.
    let receipt = chain
        .http
        .get(format!(
            "{}/orders/{}/receipt?format=text",
            chain.node_url,
            after["global_order_id"].as_str().unwrap()
        ))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let cashier_line = format!("{:<31}{}", "Cashier Ayesha Khan", "Terminal T1");
    assert!(receipt.lines().any(|l| l == cashier_line), "{receipt}");
    assert!(
        receipt
            .lines()
            .any(|l| l.starts_with("  Winter tea") && l.ends_with("-12.00")),
        "{receipt}"
    );
    chain.central_pg.start().unwrap();

    eventually("the sales and the return reach central", WAIT, || async {
        let Ok(db) = tokio::time::timeout(Duration::from_secs(3), central.db()).await else {
            return false;
        };
        let totals: Vec<String> = db
            .query(
                "SELECT total_amount::text FROM order_mapping ORDER BY store_order_id",
                &[],
            )
            .await
            .unwrap()
            .iter()
            .map(|r| r.get(0))
            .collect();
        let returns: Vec<String> = db
            .query(
                "SELECT amount::text FROM refund_mapping WHERE global_order_id IS NULL",
                &[],
            )
            .await
            .unwrap()
            .iter()
            .map(|r| r.get(0))
            .collect();
        totals == ["135.00", "108.00", "102.60"] && returns == ["120.00"]
    })
    .await;
    // Central folds the change that took effect into the product's price.
    eventually("central's product shows the new price", WAIT, || async {
        let (_, product) = central.get(&product_path).await;
        product["price"] == "120.00" && product["scheduled_price"].is_null()
    })
    .await;
}

#[tokio::test]
async fn rates_promotions_and_schedules_no_till_could_use_are_refused_and_write_nothing() {
    let central = spawn_central(replication_config()).await;
    let category = central
        .post("/categories", json!({"name": "Tea", "tax_rate": "17.5"}))
        .await;
    assert_eq!(category["tax_rate"], "17.50");
    let product = central
        .post(
            "/products",
            json!({"sku": "TEA-1", "name": "Chai", "category_id": category["id"], "price": "150.00"}),
        )
        .await;
    assert_eq!(
        product["tax_rate"],
        Value::Null,
        "the category's rate applies"
    );
    let product_path = format!("/products/{}", product["id"]);
    let db = central.db().await;
    // Promotions, log entries, and the product's and categories' rates, schedules and versions.
    let written = || async {
        db.query_one(
            "SELECT concat_ws(' ', (SELECT count(*) FROM promotions), (SELECT count(*) FROM replication_log),
                              (SELECT string_agg(row(tax_rate, next_price, version)::text, ',') FROM products),
                              (SELECT string_agg(row(tax_rate, version)::text, ',') FROM categories))",
            &[],
        )
        .await
        .unwrap()
        .get::<_, String>(0)
    };
    let before = written().await;
    let start = "2026-12-24T09:00:00";
    let promotion = |changes: Value| {
        let mut body = json!({"name": "Christmas", "kind": "percent", "value": "10",
                              "product_id": product["id"], "starts_at": start, "ends_at": "2026-12-27T00:00:00"});
        for (k, v) in changes.as_object().unwrap() {
            body[k] = v.clone();
        }
        body
    };
    let refusals = [
        (
            "/categories",
            "POST",
            json!({"name": "Sweets", "tax_rate": "101"}),
            "tax_rate",
        ),
        (
            "/categories",
            "POST",
            json!({"name": "Sweets", "tax_rate": "-1"}),
            "tax_rate",
        ),
        (
            "/categories",
            "POST",
            json!({"name": "Sweets", "tax_rate": "17.555"}),
            "tax_rate",
        ),
        (
            &product_path,
            "PATCH",
            json!({"tax_rate": "100.01"}),
            "tax_rate",
        ),
        (
            &product_path,
            "PATCH",
            json!({"scheduled_price": {"price": "120.00", "effective_at": "2020-01-01T00:00:00Z"}}),
            "effective_at",
        ),
        (
            &product_path,
            "PATCH",
            json!({"scheduled_price": {"price": "-1.00", "effective_at": "2099-01-01T00:00:00Z"}}),
            "price",
        ),
        (
            "/promotions",
            "POST",
            promotion(json!({"ends_at": start})),
            "ends_at",
        ),
        (
            "/promotions",
            "POST",
            promotion(json!({"ends_at": "2026-12-01T00:00:00"})),
            "ends_at",
        ),
        (
            "/promotions",
            "POST",
            promotion(json!({"value": "150"})),
            "value",
        ),
        (
            "/promotions",
            "POST",
            promotion(json!({"value": "0"})),
            "value",
        ),
        (
            "/promotions",
            "POST",
            promotion(json!({"category_id": category["id"]})),
            "product_id",
        ),
        (
            "/promotions",
            "POST",
            promotion(json!({"product_id": null})),
            "product_id",
        ),
        (
            "/promotions",
            "POST",
            promotion(json!({"product_id": 999})),
            "product_id",
        ),
        (
            "/promotions",
            "POST",
            promotion(json!({"kind": "bogof"})),
            "kind",
        ),
    ];
    for (path, method, body, field) in refusals {
        let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
        let (status, answer) = central.send(method, path, &body).await;
        assert_eq!(
            (
                status,
                answer["error"].as_str(),
                answer["details"]["field"].as_str()
            ),
            (422, Some("validation_failed"), Some(field)),
            "{path} {body}: {answer}"
        );
    }
    assert_eq!(written().await, before, "nothing was written");

    // A schedule that took effect (the nodes sell at 120.00) and is replaced, or cancelled, before
    // central folds it: the product keeps 120.00, not the price before it. One transaction, so that
    // central's fold job cannot fold it first.
    for (replacement, next) in [
        ("70, now() + interval '1 hour'", Some("70.00")),
        ("NULL, NULL", None),
    ] {
        db.batch_execute(&format!(
            "BEGIN;
             UPDATE products SET price = 150, next_price = 120, next_price_at = now() - interval '1 second';
             UPDATE products SET (next_price, next_price_at) = ({replacement});
             COMMIT;"
        ))
        .await
        .unwrap();
        let row = db
            .query_one("SELECT price::text, next_price::text FROM products", &[])
            .await
            .unwrap();
        assert_eq!(
            (row.get::<_, String>(0), row.get::<_, Option<String>>(1)),
            ("120.00".to_owned(), next.map(str::to_owned)),
            "{replacement}"
        );
    }

    // A promotion's end moved before its start is refused too; a valid one is kept.
    let made = central.post("/promotions", promotion(json!({}))).await;
    let path = format!("/promotions/{}", made["id"]);
    let (status, answer) = central
        .send(
            reqwest::Method::PATCH,
            &path,
            &json!({"ends_at": "2026-12-01T00:00:00"}),
        )
        .await;
    assert_eq!(
        (status, answer["details"]["field"].as_str()),
        (422, Some("ends_at")),
        "{answer}"
    );
    let ended = central.patch(&path, json!({"active": false})).await;
    assert_eq!(
        (ended["active"].as_bool(), ended["ends_at"].as_str()),
        (Some(false), Some("2026-12-27T00:00:00"))
    );
}

/// A city whose shelf prices exclude tax (set at central, replicated with the city): its node adds the
/// tax at the till, per line, and head office's mapping holds what the customer paid.
#[tokio::test]
async fn where_a_citys_prices_exclude_tax_its_node_adds_it() {
    let chain = SalesChain::start().await;
    let central = &chain.central;
    let (status, city) = central
        .send(
            reqwest::Method::PATCH,
            "/cities/1",
            &json!({"prices_include_tax": false}),
        )
        .await;
    assert_eq!(
        (status, &city["prices_include_tax"]),
        (200, &json!(false)),
        "{city}"
    );
    let product_path = format!("/products/{}", chain.product);
    central
        .patch(&product_path, json!({"tax_rate": "10"}))
        .await;
    eventually("the setting and the rate reach the node", WAIT, || async {
        let node = chain.node.db().await;
        node.query_one(
            "SELECT (SELECT NOT prices_include_tax FROM cities WHERE id = 1)
                AND (SELECT tax_rate = 10 FROM products)",
            &[],
        )
        .await
        .unwrap()
        .get::<_, Option<bool>>(0)
            == Some(true)
    })
    .await;
    let response = chain.sell_at(&chain.node_url, &chain.cashier).await;
    assert_eq!(response.status(), 201);
    let sold: Value = response.json().await.unwrap();
    // 150.00 and 10 % on top.
    assert_eq!(line(&sold), ["150.00", "0.00", "15.00", "165.00"]);
    eventually("central holds what the customer paid", WAIT, || async {
        let (_, order) = central
            .get(&format!(
                "/orders/{}",
                sold["global_order_id"].as_str().unwrap()
            ))
            .await;
        order["mapping"]["total_amount"] == "165.00"
    })
    .await;
}
