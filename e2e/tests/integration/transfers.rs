//! Stock transfers across two cities' nodes: each step is a local transaction at the node that owns it,
//! carried by the outboxes and central's replication, with no transaction spanning two nodes. Shown
//! with the destination's PostgreSQL stopped during the shipment, with central's stopped, with a
//! cancel that comes back as stock, with a destination head office does not know, and with the
//! source's service killed (`kill -9`) in the middle of a stream of shipments.

use std::time::Duration;

use pos_shared::testkit::TestInstance;
use reqwest::Method;
use serde_json::{Value, json};
use uuid::Uuid;

use crate::chain::{SalesChain, start_node_service};
use crate::common::{TestNode, eventually};

const WAIT: Duration = Duration::from_secs(40);

/// Karachi's chain (store KHI001 with 100 Chai) and Lahore's node on an instance of its own, with store
/// LHE001; a manager's credential at KHI001 and a cashier's at LHE001, issued by head office.
struct TwoCities {
    chain: SalesChain,
    lahore_pg: &'static TestInstance,
    lahore_node: TestNode,
    lahore_url: String,
    lahore_store: i64,
    manager: String,
    lahore_cashier: String,
}

impl TwoCities {
    async fn start() -> Self {
        let chain = SalesChain::start().await;
        let central = &chain.central;
        let lahore_pg: &'static TestInstance =
            Box::leak(Box::new(TestInstance::start_dedicated().await.unwrap()));
        let lahore_node = TestNode::on(lahore_pg).await;
        let lahore = central.create_city("Lahore").await;
        central.register_node(lahore, &lahore_node).await;
        let lahore_store = central
            .post(
                "/stores",
                json!({"code": "LHE001", "name": "Anarkali", "city_id": lahore}),
            )
            .await["id"]
            .as_i64()
            .unwrap();
        let lahore_url =
            start_node_service(central, chain.central_pg, &lahore_node, lahore, Vec::new()).await;
        let token = |store: i64, role: &str| {
            let role = role.to_owned();
            async move {
                central
                    .post(
                        &format!("/stores/{store}/cashier-tokens"),
                        json!({"cashier": "Sana", "role": role}),
                    )
                    .await["token"]
                    .as_str()
                    .unwrap()
                    .to_owned()
            }
        };
        let manager = token(i64::from(chain.store), "manager").await;
        let lahore_cashier = token(lahore_store, "cashier").await;
        let cities = Self {
            chain,
            lahore_pg,
            lahore_node,
            lahore_url,
            lahore_store,
            manager,
            lahore_cashier,
        };
        eventually("the credentials reach both nodes", WAIT, || async {
            cities.karachi(Method::GET, "/transfers", None).await.0 == 200
                && cities.lahore(Method::GET, "/transfers", None).await.0 == 200
        })
        .await;
        cities
    }

    async fn call(
        url: &str,
        token: &str,
        method: Method,
        path: &str,
        body: Option<Value>,
    ) -> (u16, Value) {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .build()
            .unwrap();
        let mut request = http
            .request(method, format!("{url}{path}"))
            .bearer_auth(token);
        if let Some(body) = body {
            request = request.json(&body);
        }
        match request.send().await {
            Ok(response) => {
                let status = response.status().as_u16();
                (status, response.json().await.unwrap_or_default())
            }
            Err(_) => (0, Value::Null),
        }
    }

    /// At Karachi's node, as KHI001's manager.
    async fn karachi(&self, method: Method, path: &str, body: Option<Value>) -> (u16, Value) {
        Self::call(&self.chain.node_url, &self.manager, method, path, body).await
    }

    /// At Lahore's node, as LHE001's cashier.
    async fn lahore(&self, method: Method, path: &str, body: Option<Value>) -> (u16, Value) {
        Self::call(&self.lahore_url, &self.lahore_cashier, method, path, body).await
    }

    /// KHI001's manager cancels the transfer: the status and the answer.
    async fn cancel(&self, id: &str) -> (u16, Value) {
        self.karachi(
            Method::POST,
            &format!("/transfers/{id}/cancel"),
            Some(json!({"idempotency_key": Uuid::new_v4()})),
        )
        .await
    }

    /// LHE001's cashier receives the transfer in full: the status and the answer.
    async fn receive_in_full(&self, id: &str) -> (u16, Value) {
        self.lahore(
            Method::POST,
            &format!("/transfers/{id}/receive"),
            Some(json!({"idempotency_key": Uuid::new_v4()})),
        )
        .await
    }

    /// The transfer as Karachi's node has it.
    async fn karachi_view(&self, id: &str) -> Value {
        self.karachi(Method::GET, &format!("/transfers/{id}"), None)
            .await
            .1
    }

    /// Ships `quantity` Chai from KHI001 to `to_store`: the transfer's id.
    async fn ship(&self, to_store: i64, quantity: i32) -> String {
        let (status, shipped) = self
            .karachi(
                Method::POST,
                "/transfers",
                Some(
                    json!({"idempotency_key": Uuid::new_v4(), "to_store_id": to_store,
                            "items": [{"product_id": self.chain.product, "quantity": quantity}]}),
                ),
            )
            .await;
        assert_eq!(status, 201, "{shipped}");
        shipped["transfer_id"].as_str().unwrap().to_owned()
    }

    /// Waits until Lahore's node shows the shipment (central relays it there).
    async fn wait_at_lahore(&self, id: &str) {
        eventually("the shipment reaches Lahore's node", WAIT, || async {
            self.lahore(Method::GET, &format!("/transfers/{id}"), None)
                .await
                .0
                == 200
        })
        .await;
    }

    /// Central's view of the transfer, once it has one.
    async fn at_central(&self, id: &str) -> Value {
        let (status, view) = self.chain.central.get(&format!("/transfers/{id}")).await;
        if status == 200 { view } else { Value::Null }
    }

    async fn stock(node: &TestNode, store: i64, product: i64) -> i64 {
        node.db()
            .await
            .query_opt(
                "SELECT quantity::bigint FROM inventory WHERE store_id = $1 AND product_id = $2",
                &[
                    &i32::try_from(store).unwrap(),
                    &i32::try_from(product).unwrap(),
                ],
            )
            .await
            .unwrap()
            .map_or(0, |r| r.get(0))
    }

    async fn karachi_stock(&self) -> i64 {
        Self::stock(
            &self.chain.node,
            i64::from(self.chain.store),
            self.chain.product,
        )
        .await
    }

    async fn lahore_stock(&self) -> i64 {
        Self::stock(&self.lahore_node, self.lahore_store, self.chain.product).await
    }
}

#[tokio::test]
async fn a_transfer_across_cities_goes_through_with_the_destination_and_central_down_and_a_cancel_comes_back()
 {
    let cities = TwoCities::start().await;
    let central = &cities.chain.central;

    // Lahore's node is down while Karachi ships: the shipment leaves Karachi's stock at once, and central
    // holds it in transit.
    cities.lahore_pg.stop().unwrap();
    let first = cities.ship(cities.lahore_store, 5).await;
    assert_eq!(cities.karachi_stock().await, 95);
    eventually("central hears of the shipment", WAIT, || async {
        cities.at_central(&first).await["status"] == "in_transit"
    })
    .await;
    assert_eq!(cities.at_central(&first).await["to_store_code"], "LHE001");

    // Central is down too while Karachi ships again: still a local transaction.
    cities.chain.central_pg.stop().unwrap();
    let second = cities.ship(cities.lahore_store, 3).await;
    assert_eq!(cities.karachi_stock().await, 92);
    cities.chain.central_pg.start().unwrap();
    cities.lahore_pg.start().unwrap();
    eventually("both shipments reach Lahore's node", WAIT, || async {
        let (status, incoming) = cities
            .lahore(
                Method::GET,
                "/transfers?direction=in&status=in_transit",
                None,
            )
            .await;
        status == 200 && incoming["items"].as_array().is_some_and(|i| i.len() == 2)
    })
    .await;

    // Lahore receives the first with one short; Karachi cancels the second, and gets its stock back
    // once Lahore's node has granted it.
    let receipt = json!({"idempotency_key": Uuid::new_v4(),
                         "items": [{"product_id": cities.chain.product, "quantity": 4,
                                    "reason": "one crushed"}]});
    let (status, received) = cities
        .lahore(
            Method::POST,
            &format!("/transfers/{first}/receive"),
            Some(receipt),
        )
        .await;
    assert_eq!(
        (status, received["status"].as_str()),
        (200, Some("received")),
        "{received}"
    );
    assert_eq!(cities.lahore_stock().await, 4);
    let (status, asked) = cities.cancel(&second).await;
    assert_eq!(
        (status, asked["status"].as_str()),
        (200, Some("cancel_requested")),
        "{asked}"
    );
    assert_eq!(
        cities.karachi_stock().await,
        92,
        "no stock back before the destination grants it"
    );
    eventually(
        "the cancel comes back to Karachi as stock",
        WAIT,
        || async { cities.karachi_view(&second).await["status"] == "cancelled" },
    )
    .await;
    assert_eq!(cities.karachi_stock().await, 95);
    let (status, _) = cities.receive_in_full(&second).await;
    assert_eq!(status, 409, "a cancelled shipment is not received");

    // Central shows both as they ended, with the difference; Karachi sees what arrived of the first.
    eventually("central has both transfers' ends", WAIT, || async {
        cities.at_central(&first).await["status"] == "received"
            && cities.at_central(&second).await["status"] == "cancelled"
    })
    .await;
    let first_view = cities.at_central(&first).await;
    assert_eq!(first_view["units_short"], 1);
    assert_eq!(first_view["lines"][0]["reason"], "one crushed");
    eventually("Karachi hears what arrived", WAIT, || async {
        let view = cities.karachi_view(&first).await;
        view["status"] == "received" && view["lines"][0]["received"] == 4
    })
    .await;
    let (status, listed) = central.get("/transfers?status=received").await;
    assert_eq!(
        (status, listed["items"].as_array().map(Vec::len)),
        (200, Some(1))
    );

    // A shipment to a store head office does not know is refused there, and its stock comes back. (Not
    // read in between: the refusal can be back within milliseconds.)
    let astray = cities.ship(9999, 2).await;
    eventually(
        "the refused shipment comes back to Karachi",
        WAIT,
        || async { cities.karachi_view(&astray).await["status"] == "cancelled" },
    )
    .await;
    assert_eq!(cities.karachi_stock().await, 95);
    let view = cities.karachi_view(&astray).await;
    assert_eq!(view["lines"][0]["quantity"], 2, "it shipped: {view}");
    assert!(
        view["cancel_reason"]
            .as_str()
            .is_some_and(|r| r.contains("9999")),
        "{view}"
    );
    // Nothing was set aside anywhere: every step was delivered.
    let dead: i64 = central
        .db()
        .await
        .query_one(
            "SELECT count(*) FROM replication_log WHERE status = 'Dead'",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(dead, 0);
}

/// `kill -9` of the source's service in the middle of a stream of shipments (a second service on
/// Karachi's node, as a real process): after a restart the tills send again what got no answer, with
/// the same keys. Every shipment exists once, with its stock taken once; central and Lahore's node
/// end with exactly those shipments, and Lahore receives each once.
#[tokio::test]
async fn shipments_survive_a_kill_9_of_the_source_service_exactly_once() {
    use std::sync::{Arc, Mutex};
    use std::time::Instant;

    use crate::crash::NodeProcess;

    let cities = TwoCities::start().await;
    let chain = &cities.chain;
    let (status, _) = TwoCities::call(
        &chain.node_url,
        &chain.cashier,
        Method::POST,
        "/inventory/receipts",
        Some(json!({"idempotency_key": Uuid::new_v4(),
                    "items": [{"product_id": chain.product, "quantity": 9_900}]})),
    )
    .await;
    assert_eq!(status, 201);
    let start = cities.karachi_stock().await;
    assert_eq!(start, 10_000);

    let central_login = chain
        .central_pg
        .node_login_url(1, &chain.central.db_name)
        .await
        .unwrap();
    let mut service = NodeProcess::start(&chain.node, &central_login, None).await;
    let url = service.url.clone();

    // Each till's shipments: the key, and the transfer id if an answer came.
    let sent = Arc::new(Mutex::new(Vec::<(Uuid, Option<String>)>::new()));
    let shipment = |key: Uuid| {
        json!({"idempotency_key": key, "to_store_id": cities.lahore_store,
               "items": [{"product_id": chain.product, "quantity": 1}]})
    };
    let tills = (0..4).map(|_| {
        let sent = sent.clone();
        let (url, manager) = (url.clone(), cities.manager.clone());
        async move {
            let deadline = Instant::now() + Duration::from_secs(3);
            while Instant::now() < deadline {
                let key = Uuid::new_v4();
                let (status, answer) = TwoCities::call(
                    &url,
                    &manager,
                    Method::POST,
                    "/transfers",
                    Some(shipment(key)),
                )
                .await;
                let id =
                    (status == 201).then(|| answer["transfer_id"].as_str().unwrap().to_owned());
                if id.is_none() {
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
                sent.lock().unwrap().push((key, id));
            }
        }
    });
    let killer = service.kill_9_and_restart(Duration::from_millis(1200));
    tokio::join!(futures_util::future::join_all(tills), killer);

    // The tills send again every shipment that got no answer, with its key.
    let mut shipped = Vec::new();
    let mut resent = 0;
    let sent = sent.lock().unwrap().clone();
    for (key, id) in sent {
        let id = match id {
            Some(id) => id,
            None => {
                resent += 1;
                let (status, answer) = TwoCities::call(
                    &url,
                    &cities.manager,
                    Method::POST,
                    "/transfers",
                    Some(shipment(key)),
                )
                .await;
                assert!(matches!(status, 200 | 201), "{status} {answer}");
                answer["transfer_id"].as_str().unwrap().to_owned()
            }
        };
        shipped.push(id);
    }
    assert!(
        shipped.len() > 20 && resent > 0,
        "{} shipments, {resent} sent again",
        shipped.len()
    );
    let karachi_db = cities.chain.node.db().await;
    let count = |sql: &'static str| {
        let karachi_db = &karachi_db;
        async move {
            karachi_db
                .query_one(sql, &[])
                .await
                .unwrap()
                .get::<_, i64>(0)
        }
    };
    eprintln!(
        "{} shipments, {resent} sent again after the kill",
        shipped.len()
    );
    let n = i64::try_from(shipped.len()).unwrap();
    assert_eq!(
        count("SELECT count(*) FROM transfers").await,
        n,
        "each shipment once"
    );
    assert_eq!(
        count("SELECT count(*) FROM transfers t WHERE NOT EXISTS (SELECT 1 FROM transfer_lines l WHERE l.transfer_id = t.transfer_id)").await,
        0,
        "no shipment without its line"
    );
    assert_eq!(
        cities.karachi_stock().await,
        start - n,
        "each shipment's stock taken once"
    );

    // Central and Lahore's node end with exactly those shipments; Lahore receives each once.
    let central_count = || async {
        cities
            .chain
            .central
            .db()
            .await
            .query_one(
                "SELECT count(*), count(*) FILTER (WHERE status = 'received') FROM transfers",
                &[],
            )
            .await
            .map(|r| (r.get::<_, i64>(0), r.get::<_, i64>(1)))
            .unwrap_or((-1, -1))
    };
    eventually("every shipment reaches central once", WAIT, || async {
        central_count().await == (n, 0)
    })
    .await;
    eventually("every shipment reaches Lahore's node", WAIT, || async {
        let lahore = cities.lahore_node.db().await;
        lahore
            .query_one(
                "SELECT count(*) FROM transfers WHERE status = 'in_transit'",
                &[],
            )
            .await
            .unwrap()
            .get::<_, i64>(0)
            == n
    })
    .await;
    for id in &shipped {
        let (status, answer) = cities.receive_in_full(id).await;
        assert_eq!(status, 200, "{answer}");
    }
    assert_eq!(cities.lahore_stock().await, n);
    eventually("central has every one received", WAIT, || async {
        central_count().await == (n, n)
    })
    .await;
    drop(service);
}

/// A destination store that moves to the source's city while a shipment is on its way: neither node
/// receives it (the old one refuses the moved store's till, the new one holds only the source's part),
/// and a cancel at the source is still granted by the old destination node, so the stock comes back once.
#[tokio::test]
async fn a_shipment_to_a_store_that_moves_city_is_received_nowhere_twice_and_its_cancel_comes_back()
{
    let cities = TwoCities::start().await;
    let id = cities.ship(cities.lahore_store, 2).await;
    assert_eq!(cities.karachi_stock().await, 98);
    cities.wait_at_lahore(&id).await;

    cities
        .chain
        .central
        .patch(
            &format!("/stores/{}", cities.lahore_store),
            json!({"city_id": 1}),
        )
        .await;
    let receive = |url: String| {
        let cities = &cities;
        let path = format!("/transfers/{id}/receive");
        async move {
            TwoCities::call(
                &url,
                &cities.lahore_cashier,
                Method::POST,
                &path,
                Some(json!({"idempotency_key": Uuid::new_v4()})),
            )
            .await
        }
    };
    let moved = |node: &'static str| {
        let cities = &cities;
        async move {
            let db = match node {
                "Lahore" => cities.lahore_node.db().await,
                _ => cities.chain.node.db().await,
            };
            db.query_opt(
                "SELECT 1 FROM stores WHERE id = $1 AND city_id = 1",
                &[&i32::try_from(cities.lahore_store).unwrap()],
            )
            .await
            .unwrap()
            .is_some()
        }
    };
    eventually("both nodes hear of the move", WAIT, || async {
        moved("Lahore").await && moved("Karachi").await
    })
    .await;
    let (status, answer) = receive(cities.lahore_url.clone()).await;
    assert_eq!(
        (status, answer["error"].as_str()),
        (409, Some("store_moved")),
        "the store's till at the node it left: {answer}"
    );
    let (status, answer) = receive(cities.chain.node_url.clone()).await;
    assert_eq!(
        status, 404,
        "Karachi's node shipped it and does not receive it: {answer}"
    );

    let (status, asked) = cities.cancel(&id).await;
    assert_eq!(
        (status, asked["status"].as_str()),
        (200, Some("cancel_requested")),
        "{asked}"
    );
    eventually("the cancel comes back as stock", WAIT, || async {
        cities.karachi_stock().await == 100
    })
    .await;
    assert_eq!(cities.lahore_stock().await, 0);
    eventually("central has it cancelled", WAIT, || async {
        cities.at_central(&id).await["status"] == "cancelled"
    })
    .await;
}

/// The source cancels a shipment the destination has received already, before it hears of the receipt
/// (central is down in between): the destination decides, so the shipment stays received, the source's
/// stock does not come back, and the source's transfer says why its cancel was not granted.
#[tokio::test]
async fn a_cancel_that_comes_after_the_receipt_is_not_granted_and_says_so() {
    let cities = TwoCities::start().await;
    let id = cities.ship(cities.lahore_store, 4).await;
    cities.wait_at_lahore(&id).await;
    cities.chain.central_pg.stop().unwrap();
    let (status, _) = cities.receive_in_full(&id).await;
    assert_eq!(status, 200);
    let (status, asked) = cities.cancel(&id).await;
    assert_eq!(
        (status, asked["status"].as_str()),
        (200, Some("cancel_requested")),
        "{asked}"
    );
    cities.chain.central_pg.start().unwrap();
    eventually("Karachi hears the shipment was received", WAIT, || async {
        cities.karachi_view(&id).await["status"] == "received"
    })
    .await;
    let view = cities.karachi_view(&id).await;
    assert!(
        view["cancel_reason"]
            .as_str()
            .is_some_and(|r| r.contains("too late")),
        "{view}"
    );
    assert_eq!(view["lines"][0]["received"], 4);
    assert_eq!(
        (cities.karachi_stock().await, cities.lahore_stock().await),
        (96, 4)
    );
    eventually("central has it received", WAIT, || async {
        cities.at_central(&id).await["status"] == "received"
    })
    .await;
}
