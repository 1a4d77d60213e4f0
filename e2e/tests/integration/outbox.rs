use std::time::Duration;

use serde_json::json;
use uuid::Uuid;

use crate::chain::SalesChain;
use crate::common::eventually;

const WAIT: Duration = Duration::from_secs(30);

/// Sales go on while central's database is down; afterwards every sale reaches order_mapping once.
#[tokio::test]
async fn sales_reach_central_exactly_once_even_across_an_outage() {
    let chain = SalesChain::start().await;
    let SalesChain {
        central_pg,
        central,
        node,
        ..
    } = &chain;
    let first = chain.sell().await;
    eventually("the first sale reaches central", WAIT, || chain.mappings(1)).await;
    let mapped: Uuid = central
        .db()
        .await
        .query_one("SELECT global_order_id FROM order_mapping", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(mapped, first);

    central_pg.stop().unwrap();
    for _ in 0..5 {
        chain.sell().await;
    }
    assert_eq!(
        chain.outbox_waiting().await,
        5,
        "sales made during the outage wait in the outbox"
    );
    central_pg.start().unwrap();
    eventually("every sale reaches central exactly once", WAIT, || {
        chain.mappings(6)
    })
    .await;
    // The node settles its entries a moment after central has committed them.
    eventually("the outbox settles", WAIT, || async {
        chain.outbox_waiting().await == 0
    })
    .await;

    // A refund reaches central too, once, and nets the order's amount.
    chain.refund(first).await;
    eventually("the refund reaches central", WAIT, || async {
        chain.refunded_at_central(first).await.as_deref() == Some("150.00")
    })
    .await;

    // Head office finds the order, with its lines from the node; the mapping alone when the node is down.
    let (status, view) = central.get(&format!("/orders/{first}")).await;
    assert_eq!(status, 200, "{view}");
    assert_eq!(view["details_source"], "node");
    assert_eq!(view["details"]["items"][0]["name"], "Chai");
    assert_eq!(view["mapping"]["refunded_amount"], "150.00");
    node.instance.stop().ok();
    let (status, view) = central.get(&format!("/orders/{first}")).await;
    node.instance.start().unwrap();
    assert_eq!(
        (status, view["details_source"].as_str()),
        (200, Some("unavailable")),
        "{view}"
    );
    assert_eq!(view["mapping"]["total_amount"], "150.00");
    assert_eq!(
        central.get(&format!("/orders/{}", Uuid::new_v4())).await.0,
        404
    );
}

/// A mapping central refuses (its store number is taken at central, as after a node restored from an
/// old backup) is set aside alone as Dead with central's reason: the sales batched with it and after it
/// arrive, and `/sync/status` shows it.
#[tokio::test]
async fn a_mapping_central_refuses_is_set_aside_alone() {
    let chain = SalesChain::start().await;
    chain.take_store_number_at_central(2).await;
    // The four sales wait out an outage of central and go up together in one batch on its return.
    chain.central_pg.stop().unwrap();
    let mut orders = Vec::new();
    for _ in 0..4 {
        orders.push(chain.sell().await);
    }
    chain.central_pg.start().unwrap();
    eventually("the rest of the batch reaches central", WAIT, || {
        chain.mappings(1 + 3)
    })
    .await;
    chain.sell().await;
    eventually("every other sale reaches central", WAIT, || {
        chain.mappings(1 + 4)
    })
    .await;
    eventually("the node settles what central took", WAIT, || async {
        chain.node_get("/sync/status").await["pending"] == json!(0)
    })
    .await;
    let body = chain.node_get("/sync/status").await;
    assert_eq!(body["dead"], json!(1), "{body}");
    assert_eq!(body["pending"], json!(0), "{body}");
    let error = body["last_error"].as_str().unwrap_or_default();
    assert!(error.contains("store_order_id"), "{body}");
    assert_eq!(
        chain.refunded_at_central(orders[1]).await,
        None,
        "sale no. 2 was refused"
    );
}

/// A refund that reaches central before its sale is kept, and central's figures for that sale are net
/// of it once the sale arrives.
#[tokio::test]
async fn a_refund_that_arrives_before_its_sale_is_counted() {
    let chain = SalesChain::start().await;
    // Both are made while central is down; then the sale's outbox entry is held (the worker skips
    // locked entries) while central comes back, so the refund goes up first.
    chain.central_pg.stop().unwrap();
    let order = chain.sell().await;
    chain.refund(order).await;
    let node_db = chain.node.db().await;
    node_db.batch_execute("BEGIN").await.unwrap();
    node_db
        .query_one(
            "SELECT id FROM outbox WHERE global_order_id = $1 AND kind = 'order' FOR UPDATE",
            &[&order],
        )
        .await
        .unwrap();
    chain.central_pg.start().unwrap();
    eventually("the refund reaches central first", WAIT, || async {
        let client = chain.central.db().await;
        client
            .query_one(
                "SELECT count(*) FROM refund_mapping WHERE global_order_id = $1",
                &[&order],
            )
            .await
            .unwrap()
            .get::<_, i64>(0)
            == 1
    })
    .await;
    assert_eq!(chain.refunded_at_central(order).await, None);
    node_db.batch_execute("COMMIT").await.unwrap();
    eventually("the sale arrives, net of its refund", WAIT, || async {
        chain.refunded_at_central(order).await.as_deref() == Some("150.00")
    })
    .await;
}

/// Central restored from a backup lost a sale the node had delivered: head office asks the node to send
/// again what it delivered since then (`POST /nodes/{city_id}/resend`), and the sale is back, once.
#[tokio::test]
async fn head_office_asks_a_node_to_send_again_what_a_restored_central_lost() {
    let chain = SalesChain::start().await;
    let lost = chain.sell().await;
    let kept = chain.sell().await;
    eventually("both sales reach central", WAIT, || chain.mappings(2)).await;
    let since = chrono::Utc::now() - chrono::Duration::minutes(10);
    // What a restore from a backup taken before the first sale looks like at central.
    chain
        .central
        .db()
        .await
        .execute(
            "DELETE FROM order_mapping WHERE global_order_id = $1",
            &[&lost],
        )
        .await
        .unwrap();
    assert!(chain.mappings(1).await);

    let (status, resent) = chain
        .central
        .send(
            reqwest::Method::POST,
            "/nodes/1/resend",
            &json!({"since": since}),
        )
        .await;
    assert_eq!(status, 202, "{resent}");
    assert_eq!(
        (resent["requeued"].as_i64(), resent["unsendable"].as_i64()),
        (Some(2), Some(0))
    );
    eventually(
        "the lost sale is back, and the kept one is not doubled",
        WAIT,
        || chain.mappings(2),
    )
    .await;
    let db = chain.central.db().await;
    for id in [lost, kept] {
        let found: i64 = db
            .query_one(
                "SELECT count(*) FROM order_mapping WHERE global_order_id = $1",
                &[&id],
            )
            .await
            .unwrap()
            .get(0);
        assert_eq!(found, 1);
    }
    let (status, _) = chain
        .central
        .send(
            reqwest::Method::POST,
            "/nodes/99/resend",
            &json!({"since": since}),
        )
        .await;
    assert_eq!(status, 404);
    let (status, _) = chain
        .central
        .send(
            reqwest::Method::POST,
            "/nodes/1/resend",
            &json!({"since": "yesterday"}),
        )
        .await;
    assert_eq!(status, 422);
}
