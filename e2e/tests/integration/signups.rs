//! Customers signed up at the till while central is down, one customer per number across the chain (a
//! later sign-up of a number merged into the first), and an edit at the till and one at head office of
//! the same customer resolved field by field, the later edit of each field winning, on real instances.

use std::time::Duration;

use reqwest::Method;
use serde_json::{Value, json};

use crate::chain::{SalesChain, start_node_service};
use crate::common::{TestNode, eventually};

const WAIT: Duration = Duration::from_secs(30);

async fn at_node(
    chain: &SalesChain,
    url: &str,
    method: Method,
    path: &str,
    body: Option<Value>,
) -> (u16, Value) {
    let mut request = chain
        .http
        .request(method, format!("{url}{path}"))
        .bearer_auth(&chain.cashier);
    if let Some(body) = body {
        request = request.json(&body);
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or_default())
}

/// The customer as central has it, once it does.
async fn at_central(chain: &SalesChain, id: i64) -> Value {
    let Ok(db) = tokio::time::timeout(Duration::from_secs(3), chain.central.db()).await else {
        return Value::Null;
    };
    db.query_opt(
        "SELECT jsonb_build_object('name', name, 'phone', phone, 'email', email, 'deleted', deleted_at IS NOT NULL,
                                   'merged_into', merged_into, 'version', version)
         FROM customers WHERE id = $1",
        &[&i32::try_from(id).unwrap()],
    )
    .await
    .ok()
    .flatten()
    .map_or(Value::Null, |r| r.get(0))
}

#[tokio::test]
async fn a_customer_signed_up_while_central_is_down_reaches_it_and_a_second_of_the_number_is_merged()
 {
    let chain = SalesChain::start().await;
    let node_url = chain.node_url.clone();

    chain.central_pg.stop().unwrap();
    let (status, signed) = at_node(
        &chain,
        &node_url,
        Method::POST,
        "/customers",
        Some(json!({"name": "Ayesha", "phone": "+92 300 5550001", "city_id": 1})),
    )
    .await;
    assert_eq!(status, 201, "{signed}");
    let id = signed["id"].as_i64().unwrap();
    assert_eq!(id, 1_010_000_001);
    chain.central_pg.start().unwrap();
    eventually("the sign-up reaches central", WAIT, || async {
        at_central(&chain, id).await["name"] == "Ayesha"
    })
    .await;
    // Central's answer comes back: the node's row now carries central's version.
    eventually("central's version reaches the node", WAIT, || async {
        at_node(
            &chain,
            &node_url,
            Method::GET,
            &format!("/customers/{id}"),
            None,
        )
        .await
        .1["version"]
            == 1
    })
    .await;
    // Head office cannot create a second customer of that number, written any way.
    let (status, refused) = chain
        .central
        .send(
            Method::POST,
            "/customers",
            &json!({"name": "Someone", "phone": "923005550001", "city_id": 1}),
        )
        .await;
    assert_eq!(
        (status, refused["error"].as_str()),
        (409, Some("conflict")),
        "{refused}"
    );

    // Lahore's node signs the same number up (it cannot know Karachi's customers): central keeps the
    // first, and Lahore's is merged into it, deleted at Lahore's node.
    let lahore = chain.central.create_city("Lahore").await;
    let lahore_node = TestNode::new(2).await;
    chain.central.register_node(lahore, &lahore_node).await;
    let lahore_store = chain
        .central
        .post(
            "/stores",
            json!({"code": "LHE001", "name": "Anarkali", "city_id": lahore}),
        )
        .await["id"]
        .as_i64()
        .unwrap();
    let issued = chain
        .central
        .post(
            &format!("/stores/{lahore_store}/cashier-tokens"),
            json!({"cashier": "Omar"}),
        )
        .await;
    let token = issued["token"].as_str().unwrap().to_owned();
    let lahore_url = start_node_service(
        &chain.central,
        chain.central_pg,
        &lahore_node,
        lahore,
        Vec::new(),
    )
    .await;
    let sign_up_at_lahore = || async {
        chain
            .http
            .post(format!("{lahore_url}/customers"))
            .bearer_auth(&token)
            .json(&json!({"name": "Ayesha K.", "phone": "+92-300-555-0001", "city_id": lahore}))
            .send()
            .await
            .unwrap()
    };
    let started = std::time::Instant::now();
    let second = loop {
        let response = sign_up_at_lahore().await;
        if response.status() == 201 {
            break response.json::<Value>().await.unwrap()["id"]
                .as_i64()
                .unwrap();
        }
        assert!(
            started.elapsed() < WAIT,
            "the credential never worked at Lahore's node"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(second, 1_000_000_000 + i64::from(lahore) * 10_000_000 + 1);
    eventually("central merges the second into the first", WAIT, || async {
        let merged = at_central(&chain, second).await;
        merged["deleted"] == true && merged["merged_into"].as_i64() == Some(id)
    })
    .await;
    eventually("Lahore's node hears of the merge", WAIT, || async {
        lahore_node
            .db()
            .await
            .query_one(
                "SELECT merged_into FROM customers WHERE id = $1 AND deleted_at IS NOT NULL",
                &[&i32::try_from(second).unwrap()],
            )
            .await
            .is_ok_and(|r| r.get::<_, Option<i32>>(0).map(i64::from) == Some(id))
    })
    .await;
    assert_eq!(
        at_central(&chain, id).await["deleted"],
        false,
        "the first stays"
    );
    // Lahore's till is told where the customer went.
    let gone = chain
        .http
        .get(format!("{lahore_url}/customers/{second}"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(gone.status(), 404);
    let gone: Value = gone.json().await.unwrap();
    assert!(
        gone["message"]
            .as_str()
            .is_some_and(|m| m.contains(&format!("merged into customer {id}"))),
        "{gone}"
    );
}

#[tokio::test]
async fn an_edit_at_the_till_and_one_at_head_office_are_resolved_field_by_field_the_later_winning()
{
    let chain = SalesChain::start().await;
    let node_url = chain.node_url.clone();
    let customer = chain
        .central
        .post(
            "/customers",
            json!({"name": "Bilal", "phone": "+92 321 0000001", "email": "bilal@example.com", "city_id": 1}),
        )
        .await;
    let id = customer["id"].as_i64().unwrap();
    let path = format!("/customers/{id}");
    eventually("the customer reaches the node", WAIT, || async {
        at_node(&chain, &node_url, Method::GET, &path, None).await.0 == 200
    })
    .await;

    // The till changes the name and the number while central is down; its step waits in the outbox (held
    // there until head office has edited too: the outbox worker skips locked entries).
    chain.central_pg.stop().unwrap();
    let (status, _) = at_node(
        &chain,
        &node_url,
        Method::PATCH,
        &path,
        Some(json!({"name": "Bilal at the till", "phone": "+92 321 0000002"})),
    )
    .await;
    assert_eq!(status, 200);
    let node_db = chain.node.db().await;
    node_db.batch_execute("BEGIN").await.unwrap();
    let held = node_db
        .query(
            "SELECT id FROM outbox WHERE status <> 'Success' FOR UPDATE",
            &[],
        )
        .await
        .unwrap();
    assert_eq!(held.len(), 1);
    chain.central_pg.start().unwrap();
    // Head office changes the name later than the till did, and the email.
    eventually("head office edits", WAIT, || async {
        chain
            .central
            .send(
                Method::PATCH,
                &path,
                &json!({"name": "Bilal Ahmed", "email": "bilal.ahmed@example.com"}),
            )
            .await
            .0
            == 200
    })
    .await;
    node_db.batch_execute("COMMIT").await.unwrap();

    // The name is head office's (its edit is the later one), the number the till's (head office never
    // changed it after the till did), the email head office's; both sides end equal.
    let expected = json!({"name": "Bilal Ahmed", "phone": "+92 321 0000002", "email": "bilal.ahmed@example.com"});
    eventually("central resolves the two edits", WAIT, || async {
        let now = at_central(&chain, id).await;
        now["name"] == expected["name"]
            && now["phone"] == expected["phone"]
            && now["email"] == expected["email"]
    })
    .await;
    eventually("the node ends as central", WAIT, || async {
        let (_, now) = at_node(&chain, &node_url, Method::GET, &path, None).await;
        now["name"] == expected["name"]
            && now["phone"] == expected["phone"]
            && now["email"] == expected["email"]
    })
    .await;
}
