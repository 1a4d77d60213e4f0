//! Transfers between two stores of this node: shipped by the source's manager (never more than it has),
//! received at the destination in full or short with a reason, cancelled at once with the stock back;
//! received or cancelled, never both, even when both are asked at once. Across two nodes: see the
//! e2e tests (e2e/tests/integration/transfers.rs).

use serde_json::{Value, json};
use uuid::Uuid;

use crate::TestStoreNode;
use crate::pricing::taxed_node;
use crate::shifts::{call, credentials, post};

async fn stock(node: &TestStoreNode, store: i32, product: i32) -> i32 {
    node.db
        .query_opt(
            "SELECT quantity FROM inventory WHERE store_id = $1 AND product_id = $2",
            &[&store, &product],
        )
        .await
        .unwrap()
        .map_or(0, |r| r.get(0))
}

fn shipment(to: i32, items: Value) -> Value {
    json!({"idempotency_key": Uuid::new_v4(), "to_store_id": to, "note": "for the weekend", "items": items})
}

fn keyed(items: Value) -> Value {
    json!({"idempotency_key": Uuid::new_v4(), "items": items})
}

async fn transfers_written(node: &TestStoreNode) -> (i64, i64) {
    let row = node
        .db
        .query_one(
            "SELECT (SELECT count(*) FROM transfers), (SELECT count(*) FROM outbox WHERE kind = 'transfer')",
            &[],
        )
        .await
        .unwrap();
    (row.get(0), row.get(1))
}

#[tokio::test]
async fn a_transfer_between_two_stores_of_the_node_is_shipped_received_short_and_reported() {
    let node = taxed_node().await;
    let [cashier, manager, _] = credentials(&node).await;
    let clifton = node.tokens[1].1.clone();
    let chai = shipment(2, json!([{"product_id": 1, "quantity": 3}]));

    // A cashier does not ship; bad shipments are refused whole.
    assert_eq!(
        post(&node, "/transfers", &cashier, chai.clone()).await.0,
        403
    );
    for (body, status, code) in [
        (
            shipment(1, json!([{"product_id": 1, "quantity": 1}])),
            422,
            "validation_failed",
        ),
        (
            shipment(2, json!([{"product_id": 99, "quantity": 1}])),
            422,
            "validation_failed",
        ),
        (
            shipment(2, json!([{"product_id": 1, "quantity": 11}])),
            409,
            "insufficient_stock",
        ),
        (
            shipment(2, json!([{"product_id": 1, "quantity": 0}])),
            422,
            "validation_failed",
        ),
    ] {
        let (got, answer) = post(&node, "/transfers", &manager, body.clone()).await;
        assert_eq!(
            (got, answer["error"].as_str()),
            (status, Some(code)),
            "{body} → {answer}"
        );
    }
    assert_eq!(transfers_written(&node).await, (0, 0));
    assert_eq!(stock(&node, 1, 1).await, 10);

    let (status, shipped) = post(&node, "/transfers", &manager, chai.clone()).await;
    assert_eq!(status, 201, "{shipped}");
    assert_eq!(shipped["status"], "in_transit");
    assert_eq!(
        shipped["lines"],
        json!([{"product_id": 1, "quantity": 3, "received": null, "reason": null}])
    );
    let id = shipped["transfer_id"].as_str().unwrap().to_owned();
    let (status, replay) = post(&node, "/transfers", &manager, chai).await;
    assert_eq!(
        (status, &replay["transfer_id"]),
        (200, &shipped["transfer_id"])
    );
    assert_eq!(
        (stock(&node, 1, 1).await, stock(&node, 2, 1).await),
        (7, 20)
    );

    // The destination sees it coming; the source's store cannot receive it.
    let (status, incoming) = call(
        &node,
        reqwest::Method::GET,
        "/transfers?direction=in",
        &clifton,
        None,
    )
    .await;
    assert_eq!(
        (status, incoming["items"][0]["transfer_id"].as_str()),
        (200, Some(id.as_str()))
    );
    let (_, outgoing) = call(
        &node,
        reqwest::Method::GET,
        "/transfers?direction=in",
        &manager,
        None,
    )
    .await;
    assert_eq!(outgoing["items"], json!([]));
    let receive = format!("/transfers/{id}/receive");
    assert_eq!(
        post(&node, &receive, &manager, keyed(json!([]))).await.0,
        404
    );
    // An id that is not a UUID: 404 in the API's words, not the parser's.
    let (status, answer) = post(&node, "/transfers/123/receive", &clifton, keyed(json!([]))).await;
    assert_eq!(status, 404);
    let message = answer["message"].as_str().unwrap();
    assert!(
        !message.contains("deserialize") && !message.contains("parsing"),
        "{message}"
    );

    // Receipts that do not add up are refused, and change nothing.
    for (items, field) in [
        (json!([{"product_id": 1, "quantity": 4}]), "quantity"),
        (
            json!([{"product_id": 2, "quantity": 1, "reason": "extra"}]),
            "product_id",
        ),
        (json!([{"product_id": 1, "quantity": 2}]), "reason"),
    ] {
        let (status, answer) = post(&node, &receive, &clifton, keyed(items.clone())).await;
        assert_eq!(
            (status, answer["details"]["field"].as_str()),
            (422, Some(field)),
            "{items} → {answer}"
        );
    }
    assert_eq!(stock(&node, 2, 1).await, 20);

    let short = keyed(json!([{"product_id": 1, "quantity": 2, "reason": "one broken in the van"}]));
    let (status, received) = post(&node, &receive, &clifton, short.clone()).await;
    assert_eq!(status, 200, "{received}");
    assert_eq!(received["status"], "received");
    assert_eq!(
        received["lines"],
        json!([{"product_id": 1, "quantity": 3, "received": 2, "reason": "one broken in the van"}])
    );
    assert_eq!(
        (stock(&node, 1, 1).await, stock(&node, 2, 1).await),
        (7, 22)
    );
    // The till retries a lost answer: the same receipt, not a second one.
    assert_eq!(post(&node, &receive, &clifton, short).await.0, 200);
    assert_eq!(stock(&node, 2, 1).await, 22);
    let (status, again) = post(&node, &receive, &clifton, keyed(json!([]))).await;
    assert_eq!((status, again["error"].as_str()), (409, Some("conflict")));
    let cancel = json!({"idempotency_key": Uuid::new_v4()});
    let (status, _) = post(&node, &format!("/transfers/{id}/cancel"), &manager, cancel).await;
    assert_eq!(status, 409, "a received transfer is not cancelled");

    // Each step goes up to central: shipped, then received with what arrived.
    let steps: Vec<(String, String)> = node
        .db
        .query(
            "SELECT payload ->> 'status', payload ->> 'store_id' FROM outbox WHERE kind = 'transfer' ORDER BY id",
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect();
    assert_eq!(
        steps,
        [
            ("in_transit".into(), "1".into()),
            ("received".into(), "2".into())
        ]
    );
}

#[tokio::test]
async fn a_cancelled_transfer_puts_the_stock_back_and_a_race_with_its_receipt_has_one_winner() {
    let node = taxed_node().await;
    let [_, manager, _] = credentials(&node).await;
    let clifton = node.tokens[1].1.clone();
    let items = json!([{"product_id": 1, "quantity": 2}, {"product_id": 2, "quantity": 5}]);

    let (status, shipped) = post(&node, "/transfers", &manager, shipment(2, items.clone())).await;
    assert_eq!(status, 201, "{shipped}");
    let id = shipped["transfer_id"].as_str().unwrap().to_owned();
    assert_eq!(
        (stock(&node, 1, 1).await, stock(&node, 1, 2).await),
        (8, 95)
    );
    let (status, cancelled) = post(
        &node,
        &format!("/transfers/{id}/cancel"),
        &manager,
        json!({"idempotency_key": Uuid::new_v4()}),
    )
    .await;
    assert_eq!(
        (status, cancelled["status"].as_str()),
        (200, Some("cancelled"))
    );
    assert_eq!(
        (stock(&node, 1, 1).await, stock(&node, 1, 2).await),
        (10, 100)
    );
    let (status, _) = post(
        &node,
        &format!("/transfers/{id}/receive"),
        &clifton,
        keyed(json!([])),
    )
    .await;
    assert_eq!(status, 409, "a cancelled transfer is not received");

    // Ten transfers, each cancelled and received at the same moment: one of the two wins each time, and
    // the stock of both stores says which. Each ships one of the ten of product 1, so even ten receipts
    // leave stock for the next shipment.
    let items = json!([{"product_id": 1, "quantity": 1}, {"product_id": 2, "quantity": 5}]);
    for _ in 0..10 {
        let (status, shipped) =
            post(&node, "/transfers", &manager, shipment(2, items.clone())).await;
        assert_eq!(status, 201, "{shipped}");
        let id = shipped["transfer_id"].as_str().unwrap().to_owned();
        let cancel_path = format!("/transfers/{id}/cancel");
        let receive_path = format!("/transfers/{id}/receive");
        let ((cancel, _), (receive, _)) = tokio::join!(
            post(
                &node,
                &cancel_path,
                &manager,
                json!({"idempotency_key": Uuid::new_v4()})
            ),
            post(&node, &receive_path, &clifton, keyed(json!([]))),
        );
        assert!(
            matches!((cancel, receive), (200, 409) | (409, 200)),
            "cancel {cancel}, receive {receive}"
        );
    }
    let received: i64 = node
        .db
        .query_one(
            "SELECT count(*) FROM transfers WHERE status = 'received'",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    let received = i32::try_from(received).unwrap();
    assert_eq!(
        (stock(&node, 1, 1).await, stock(&node, 2, 1).await),
        (10 - received, 20 + received)
    );
    assert_eq!(
        (stock(&node, 1, 2).await, stock(&node, 2, 2).await),
        (100 - 5 * received, 5 * received)
    );
}
