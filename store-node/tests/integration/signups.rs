//! Customers signed up and edited at the till: an id from this node's own block, one live customer per
//! number in the city, this city only, and each write queued for central with the fields it changed.

use serde_json::json;

use crate::TestStoreNode;
use crate::shifts::{call, post};
use crate::spawn_store_node;

async fn queued(node: &TestStoreNode) -> Vec<serde_json::Value> {
    node.db
        .query(
            "SELECT payload FROM outbox WHERE kind = 'customer' ORDER BY id",
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect()
}

#[tokio::test]
async fn a_customer_signed_up_at_the_till_gets_an_id_of_the_nodes_block_and_goes_up_to_central() {
    let node = spawn_store_node().await;
    let cashier = node.tokens[0].1.clone();
    let (status, signed) = post(
        &node,
        "/customers",
        &cashier,
        json!({"name": "Ayesha", "phone": "+92 300 5550001", "email": "ayesha@example.com", "city_id": 1}),
    )
    .await;
    assert_eq!(status, 201, "{signed}");
    let id = signed["id"].as_i64().unwrap();
    assert_eq!(id, 1_010_000_001, "city 1's block, its first sign-up");
    assert_eq!(signed["version"], 0, "central has not answered yet");
    let (status, found) = call(
        &node,
        reqwest::Method::GET,
        "/customers?phone_prefix=92300555",
        &cashier,
        None,
    )
    .await;
    assert_eq!((status, found["items"][0]["id"].as_i64()), (200, Some(id)));

    // The number is taken (written another way); another city's customer; nothing written by either.
    for (body, status) in [
        (
            json!({"name": "Someone", "phone": "+923005550001", "city_id": 1}),
            409,
        ),
        (json!({"name": "Elsewhere", "city_id": 2}), 422),
        (json!({"name": "", "city_id": 1}), 422),
    ] {
        let (got, answer) = post(&node, "/customers", &cashier, body.clone()).await;
        assert_eq!(got, status, "{body} → {answer}");
        if got == 409 {
            assert_eq!(answer["details"]["customer_id"].as_i64(), Some(id));
        }
    }
    assert_eq!(queued(&node).await.len(), 1);

    // An edit: only what changed goes up as edited.
    let path = format!("/customers/{id}");
    let (status, edited) = call(
        &node,
        reqwest::Method::PATCH,
        &path,
        &cashier,
        Some(json!({"name": "Ayesha", "email": null})),
    )
    .await;
    assert_eq!((status, &edited["email"]), (200, &serde_json::Value::Null));
    for (body, status) in [
        (json!({"city_id": 2}), 422),
        (json!({"phone": "0300 5550001 "}), 200),
    ] {
        let (got, answer) = call(
            &node,
            reqwest::Method::PATCH,
            &path,
            &cashier,
            Some(body.clone()),
        )
        .await;
        assert_eq!(got, status, "{body} → {answer}");
    }
    let (status, _) = call(
        &node,
        reqwest::Method::PATCH,
        "/customers/2",
        &cashier,
        Some(json!({"name": "Not here"})),
    )
    .await;
    assert_eq!(status, 404, "another city's customer");
    let steps = queued(&node).await;
    let edited_fields = |step: &serde_json::Value| {
        let mut fields: Vec<String> = step["edited"]
            .as_object()
            .unwrap()
            .keys()
            .cloned()
            .collect();
        fields.sort();
        fields
    };
    assert_eq!(steps.len(), 3);
    assert_eq!(edited_fields(&steps[0]), ["email", "name", "phone"]);
    assert_eq!(edited_fields(&steps[1]), ["email"]);
    assert_eq!(edited_fields(&steps[2]), ["phone"]);
    assert_eq!(steps[2]["phone"], "0300 5550001");
    assert_eq!(steps[2]["store_id"], 1);
}
