//! A store moved to another city: the old node refuses its new sales once it hears of the move, the new
//! node sells for it with the same head-office credential and no restart, and every sale made at either
//! node reaches central exactly once, filed under the node that made it.

use std::time::Duration;

use reqwest::Method;
use serde_json::{Value, json};
use uuid::Uuid;

use crate::chain::{SalesChain, start_node_service};
use crate::common::{TestNode, eventually};

const WAIT: Duration = Duration::from_secs(30);

async fn order_id(response: reqwest::Response) -> (Uuid, i64) {
    assert_eq!(response.status(), 201);
    let order: Value = response.json().await.unwrap();
    (
        order["global_order_id"].as_str().unwrap().parse().unwrap(),
        order["store_order_id"].as_i64().unwrap(),
    )
}

#[tokio::test]
async fn a_moved_store_sells_at_its_new_node_and_every_sale_arrives_once() {
    let chain = SalesChain::start().await;
    let central = &chain.central;
    let (karachi, store) = (1, chain.store);
    // A credential issued by head office, replicated to every node.
    let issued = central
        .post(
            &format!("/stores/{store}/cashier-tokens"),
            json!({"label": "till 1"}),
        )
        .await;
    let token = issued["token"].as_str().unwrap().to_owned();
    let lahore = central.create_city("Lahore").await;
    let lahore_node = TestNode::new(2).await;
    central.register_node(lahore, &lahore_node).await;
    let lahore_url =
        start_node_service(central, chain.central_pg, &lahore_node, lahore, Vec::new()).await;
    eventually("the credential works at Karachi's node", WAIT, || async {
        chain.sell_at(&chain.node_url, &token).await.status() == 201
    })
    .await;
    eventually("the first sale reaches central", WAIT, || chain.mappings(1)).await;

    // Two sales while central is down; they are still in Karachi's outbox when the store moves (held
    // there: the outbox worker skips locked entries).
    chain.central_pg.stop().unwrap();
    let mut karachi_sales = Vec::new();
    for _ in 0..2 {
        karachi_sales.push(order_id(chain.sell_at(&chain.node_url, &token).await).await);
    }
    let karachi_db = chain.node.db().await;
    karachi_db.batch_execute("BEGIN").await.unwrap();
    let held = karachi_db
        .query(
            "SELECT id FROM outbox WHERE status <> 'Success' FOR UPDATE",
            &[],
        )
        .await
        .unwrap();
    assert_eq!(held.len(), 2);
    chain.central_pg.start().unwrap();
    central
        .patch(&format!("/stores/{store}"), json!({"city_id": lahore}))
        .await;

    // Until Karachi's node hears of the move it still sells for the store; those sales count too.
    let started = std::time::Instant::now();
    loop {
        let response = chain.sell_at(&chain.node_url, &token).await;
        if response.status() == 409 {
            let body: Value = response.json().await.unwrap();
            assert_eq!(body["error"], "store_moved", "{body}");
            break;
        }
        karachi_sales.push(order_id(response).await);
        assert!(
            started.elapsed() < WAIT,
            "Karachi's node never heard of the move"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let receipt = |url: String| {
        let chain = &chain;
        let token = token.clone();
        async move {
            chain
                .http
                .post(format!("{url}/inventory/receipts"))
                .bearer_auth(&token)
                .json(&json!({"idempotency_key": Uuid::new_v4(),
                              "items": [{"product_id": chain.product, "quantity": 10}]}))
                .send()
                .await
                .unwrap()
                .status()
        }
    };
    eventually(
        "the store and its credential reach Lahore's node",
        WAIT,
        || async { receipt(lahore_url.clone()).await == 201 },
    )
    .await;
    let mut lahore_sales = vec![order_id(chain.sell_at(&lahore_url, &token).await).await];
    assert_eq!(
        lahore_sales[0].1, 1_000_000_001,
        "the new node numbers the store's sales in the move's epoch"
    );
    // Central down again for part of it: a Lahore sale waits in Lahore's outbox.
    chain.central_pg.stop().unwrap();
    lahore_sales.push(order_id(chain.sell_at(&lahore_url, &token).await).await);
    chain.central_pg.start().unwrap();
    karachi_db.batch_execute("COMMIT").await.unwrap();

    let made = 1 + karachi_sales.len() + lahore_sales.len();
    eventually("every sale reaches central exactly once", WAIT, || {
        chain.mappings(made as i64)
    })
    .await;
    let db = central.db().await;
    for ((id, number), city) in karachi_sales
        .iter()
        .map(|s| (s, karachi))
        .chain(lahore_sales.iter().map(|s| (s, lahore)))
    {
        let row = db
            .query_one(
                "SELECT store_order_id, city_id FROM order_mapping WHERE global_order_id = $1",
                &[id],
            )
            .await
            .unwrap();
        assert_eq!(
            (row.get::<_, i64>(0), row.get::<_, i32>(1)),
            (*number, city)
        );
        let (code, view) = central.get(&format!("/orders/{id}")).await;
        assert_eq!(
            (code, view["details_source"].as_str()),
            (200, Some("node")),
            "{view}"
        );
    }
    for node in [&chain.node, &lahore_node] {
        let stuck: i64 = node
            .db()
            .await
            .query_one("SELECT count(*) FROM outbox WHERE status <> 'Success'", &[])
            .await
            .unwrap()
            .get(0);
        assert_eq!(stuck, 0, "no outbox stalls");
    }

    // Revoking the credential reaches the nodes too.
    let (code, _) = central
        .send(
            Method::DELETE,
            &format!("/cashier-tokens/{}", issued["id"]),
            &json!({}),
        )
        .await;
    assert_eq!(code, 204);
    eventually("the revoked credential stops working", WAIT, || async {
        chain.sell_at(&lahore_url, &token).await.status() == 401
    })
    .await;
}
