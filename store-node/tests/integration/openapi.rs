//! `GET /openapi.json`: every route the store node registers is documented, with the right method and
//! security, and nothing else is.

use pos_shared::testkit::openapi::{self, assert_documents, keys, schema_properties};
use serde_json::{Value, json};
use uuid::Uuid;

use crate::spawn_store_node;

/// Routes open without a bearer token.
const PUBLIC: &[(&str, &str)] = &[
    ("GET", "/health"),
    ("GET", "/metrics"),
    ("GET", "/openapi.json"),
];

/// The schema of `method path`'s `status` JSON answer.
fn answer_schema<'a>(doc: &'a Value, method: &str, path: &str, status: &str) -> &'a Value {
    &doc["paths"][path][method]["responses"][status]["content"]["application/json"]["schema"]
}

#[tokio::test]
async fn openapi_documents_every_registered_route_and_nothing_else() {
    let node = spawn_store_node().await;
    let doc = openapi::fetch(&node.http, &node.url).await.unwrap();
    assert_eq!(doc["info"]["title"], "POS store node");
    assert_eq!(doc["info"]["version"], env!("CARGO_PKG_VERSION"));

    let registered = openapi::registered(&store_node::routes::routes());
    assert!(registered.len() > 10, "{registered:?}");
    assert_documents(&doc, &registered, PUBLIC);

    // Spot checks of what the general check covers.
    assert_eq!(
        doc["paths"]["/orders"]["post"]["security"],
        json!([{ "bearer": [] }])
    );
    assert!(doc["paths"]["/health"]["get"].get("security").is_none());
    assert_eq!(
        doc["paths"]["/orders"]["post"]["requestBody"]["content"]["application/json"]["schema"]["$ref"],
        "#/components/schemas/NewOrder"
    );
    assert_eq!(
        answer_schema(&doc, "post", "/orders", "409")["$ref"],
        "#/components/schemas/ErrorBody"
    );
    let id = doc["paths"]["/orders/{global_order_id}/refunds"]["post"]["parameters"][0].clone();
    assert_eq!(
        (&id["name"], &id["in"], &id["schema"]["format"]),
        (&json!("global_order_id"), &json!("path"), &json!("uuid"))
    );
}

/// `ReceiptResult` and `SyncStatusView` describe bodies the handlers build as JSON: the real answers
/// have their fields.
#[tokio::test]
async fn openapi_hand_described_answers_match_the_real_ones() {
    let node = spawn_store_node().await;
    let doc = openapi::fetch(&node.http, &node.url).await.unwrap();
    let receipt: Value = node
        .http
        .post(format!("{}/inventory/receipts", node.url))
        .bearer_auth(&node.tokens[0].1)
        .json(&json!({
            "idempotency_key": Uuid::new_v4(),
            "items": [{"product_id": 1, "quantity": 5}],
        }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let schema = answer_schema(&doc, "post", "/inventory/receipts", "201");
    assert_eq!(schema_properties(&doc, schema), keys(&receipt), "{receipt}");
    let stock_line =
        &doc["components"]["schemas"]["ReceiptResult"]["properties"]["inventory"]["items"];
    assert_eq!(
        schema_properties(&doc, stock_line),
        keys(&receipt["inventory"][0])
    );

    let (status, sync) = node.get("/sync/status", Some(&node.tokens[0].1)).await;
    assert_eq!(status, 200, "{sync}");
    let schema = answer_schema(&doc, "get", "/sync/status", "200");
    assert_eq!(schema_properties(&doc, schema), keys(&sync), "{sync}");
}
