//! After the sale: stock receipts, refunds, the end-of-day report and the folding of sales into the
//! daily totals.

use serde_json::{Value, json};
use uuid::Uuid;

use crate::sales::sale;
use crate::spawn_store_node;

#[tokio::test]
async fn stock_receipts_add_stock_once() {
    let node = spawn_store_node().await;
    let receive = |body: Value| {
        let node = &node;
        async move {
            let response = node
                .http
                .post(format!("{}/inventory/receipts", node.url))
                .bearer_auth(&node.tokens[0].1)
                .json(&body)
                .send()
                .await
                .unwrap();
            let status = response.status().as_u16();
            (status, response.json::<Value>().await.unwrap_or_default())
        }
    };
    let body = json!({"idempotency_key": Uuid::new_v4(), "reference": "PO-1",
                      "items": [{"product_id": 1, "quantity": 5}, {"product_id": 2, "quantity": 1}]});
    for expected in [201, 200] {
        assert_eq!(receive(body.clone()).await.0, expected);
    }
    assert_eq!((node.stock(1).await, node.stock(2).await), (15, 101));
    let bad =
        json!({"idempotency_key": Uuid::new_v4(), "items": [{"product_id": 77, "quantity": 5}]});
    assert_eq!(receive(bad).await.0, 422);

    // A shelf near what its count can hold: a receipt past it is refused whole, and writes nothing.
    let full = 2_147_483_000;
    node.db
        .execute(
            "UPDATE inventory SET quantity = $1 WHERE product_id = 1",
            &[&full],
        )
        .await
        .unwrap();
    let receipts = || async {
        node.db
            .query_one("SELECT count(*) FROM stock_receipts", &[])
            .await
            .unwrap()
            .get::<_, i64>(0)
    };
    let before = receipts().await;
    let (status, refused) = receive(json!({"idempotency_key": Uuid::new_v4(),
        "items": [{"product_id": 2, "quantity": 1}, {"product_id": 1, "quantity": 1000}]}))
    .await;
    assert_eq!(
        (status, refused["error"].as_str()),
        (409, Some("conflict")),
        "{refused}"
    );
    assert_eq!(
        (node.stock(1).await, node.stock(2).await, receipts().await),
        (full, 101, before)
    );
}

#[tokio::test]
async fn refunds_are_capped_restock_and_are_reported() {
    let node = spawn_store_node().await;
    let (_, order) = node.post_order(&sale(2, 3, "300.00")).await;
    let id = order["global_order_id"].as_str().unwrap().to_owned();
    let refund = |quantity: i64, key: Uuid, token: String| {
        let node = &node;
        let id = id.clone();
        async move {
            let response = node
                .http
                .post(format!("{}/orders/{id}/refunds", node.url))
                .bearer_auth(token)
                .json(&json!({"idempotency_key": key, "items": [{"line_no": 1, "quantity": quantity}], "reason": "damaged"}))
                .send()
                .await
                .unwrap();
            let status = response.status().as_u16();
            (status, response.json::<Value>().await.unwrap_or_default())
        }
    };
    let cashier = node.tokens[0].1.clone();
    let first_key = Uuid::new_v4();
    let (status, first) = refund(2, first_key, cashier.clone()).await;
    assert_eq!(status, 201, "{first}");
    assert_eq!(first["amount"], "199.00");
    assert_eq!(first["method"], "cash");
    assert_eq!(node.stock(2).await, 99, "restocked");
    assert_eq!(
        refund(2, first_key, cashier.clone()).await.0,
        200,
        "a retried refund is made once"
    );
    let (status, over) = refund(2, Uuid::new_v4(), cashier.clone()).await;
    assert_eq!(
        (status, over["details"]["field"].as_str()),
        (422, Some("quantity")),
        "{over}"
    );
    assert_eq!(
        refund(1, Uuid::new_v4(), node.tokens[1].1.clone()).await.0,
        404,
        "not the other store's sale"
    );
    assert_eq!(refund(1, Uuid::new_v4(), cashier).await.0, 201);
    assert_eq!(node.stock(2).await, 100);
    assert_eq!(node.count("SELECT count(*) FROM refunds").await, 2);
    assert_eq!(
        node.count("SELECT count(*) FROM outbox WHERE kind = 'refund'")
            .await,
        2
    );
}

#[tokio::test]
async fn the_daily_report_adds_up() {
    let node = spawn_store_node().await;
    let (_, cash_sale) = node.post_order(&sale(1, 2, "400.00")).await; // 300.00, change 100.00
    let card = json!({"idempotency_key": Uuid::new_v4(), "customer_id": null,
                      "items": [{"product_id": 2, "quantity": 1}],
                      "payments": [{"method": "card", "amount": "99.50"}]});
    assert_eq!(node.post_order(&card).await.0, 201);
    let id = cash_sale["global_order_id"].as_str().unwrap();
    let refund = node
        .http
        .post(format!("{}/orders/{id}/refunds", node.url))
        .bearer_auth(&node.tokens[0].1)
        .json(&json!({"idempotency_key": Uuid::new_v4(), "items": [{"line_no": 1, "quantity": 1}]}))
        .send()
        .await
        .unwrap();
    assert_eq!(refund.status(), 201);
    let (status, report) = node.get("/reports/daily", Some(&node.tokens[0].1)).await;
    assert_eq!(status, 200, "{report}");
    assert_eq!(report["sales_count"], 2);
    assert_eq!(report["gross"], "399.50");
    assert_eq!(report["refunds"], "150.00");
    assert_eq!(report["net"], "249.50");
    let cash = report["by_payment_method"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["method"] == "cash")
        .unwrap()
        .clone();
    assert_eq!(
        (
            cash["collected"].as_str(),
            cash["refunded"].as_str(),
            cash["net"].as_str()
        ),
        (Some("300.00"), Some("150.00"), Some("150.00"))
    );
    let (status, other_store) = node
        .get("/reports/daily?store_id=2", Some(&node.tokens[0].1))
        .await;
    assert_eq!(
        (status, other_store["error"].as_str()),
        (403, Some("forbidden"))
    );
    assert_eq!(
        node.get("/reports/daily?date=yesterday", Some(&node.tokens[0].1))
            .await
            .0,
        422
    );
    let (status, sync) = node.get("/sync/status", Some(&node.tokens[0].1)).await;
    assert_eq!(status, 200);
    assert_eq!(
        sync["pending"], 3,
        "two sales and a refund wait for central: {sync}"
    );
    assert_eq!(sync["central_link_configured"], false);
}

#[tokio::test]
async fn the_service_folds_sales_into_the_daily_totals() {
    let node = spawn_store_node().await;
    assert_eq!(node.post_order(&sale(1, 2, "300.00")).await.0, 201);
    assert_eq!(node.post_order(&sale(2, 1, "99.50")).await.0, 201);
    let queued =
        "SELECT (SELECT count(*) FROM sales_to_fold) + (SELECT count(*) FROM refunds_to_fold)";
    let started = std::time::Instant::now();
    while node.count(queued).await > 0 {
        assert!(
            started.elapsed() < std::time::Duration::from_secs(10),
            "sales still queued after 10 s"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let store_day = node
        .db
        .query_one(
            "SELECT orders, units, revenue::text FROM daily_sales
             WHERE grain = 'store' AND store_id = 1 AND business_date = current_date",
            &[],
        )
        .await
        .unwrap();
    assert_eq!(
        (
            store_day.get::<_, i64>(0),
            store_day.get::<_, i64>(1),
            store_day.get::<_, String>(2)
        ),
        (2, 3, "399.50".to_owned())
    );
}
