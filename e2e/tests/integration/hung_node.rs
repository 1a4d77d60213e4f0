//! A node whose PostgreSQL hangs (its processes stopped with SIGSTOP, not closed: connections are
//! accepted and stay open, and nothing answers) must slow nothing else at central.

use std::time::{Duration, Instant};

use uuid::Uuid;

use crate::chain::SalesChain;
use crate::common::eventually;
use crate::dashboard::dashboard_html;

/// Resumes the node's processes however the test ends.
struct Hung<'a>(&'a pos_shared::pgctl::PgInstance);

impl Drop for Hung<'_> {
    fn drop(&mut self) {
        let _ = self.0.resume();
    }
}

/// Latency of `n` sequential GETs of `path`, sorted.
async fn latencies(chain: &SalesChain, path: &str, n: usize) -> Vec<Duration> {
    let mut times = Vec::with_capacity(n);
    for _ in 0..n {
        let started = Instant::now();
        let (status, body) = chain.central.get(path).await;
        assert_eq!(status, 200, "GET {path}: {body}");
        times.push(started.elapsed());
    }
    times.sort();
    times
}

/// The median and the slowest of sorted latencies.
fn median_and_max(sorted: &[Duration]) -> (Duration, Duration) {
    (sorted[sorted.len() / 2], sorted[sorted.len() - 1])
}

#[tokio::test]
async fn a_hung_node_slows_nothing_else_at_central() {
    let chain = SalesChain::start().await;
    let mut orders: Vec<Uuid> = Vec::new();
    for _ in 0..4 {
        orders.push(chain.sell().await);
    }
    eventually("the sales reach central", Duration::from_secs(30), || {
        chain.mappings(4)
    })
    .await;
    // Sessions to the node are open already, as in a service that has been running.
    assert_eq!(
        chain.central.get(&format!("/orders/{}", orders[0])).await.1["details_source"],
        "node"
    );

    let node = &chain.node.instance.pg;
    node.hang().unwrap();
    let _resume = Hung(node);
    let lookups = (0..40).map(|i| {
        let path = format!("/orders/{}", orders[i % orders.len()]);
        let chain = &chain;
        async move {
            let started = Instant::now();
            let (status, body) = chain.central.get(&path).await;
            (status, body["details_source"].clone(), started.elapsed())
        }
    });
    let others = async {
        // Give the lookups a moment to take whatever they take.
        tokio::time::sleep(Duration::from_millis(200)).await;
        let products = latencies(&chain, "/products", 50).await;
        let health = latencies(&chain, "/health", 50).await;
        (products, health)
    };
    let (answers, (products, health)) =
        tokio::join!(futures_util::future::join_all(lookups), others);
    for (status, source, took) in &answers {
        assert_eq!(*status, 200);
        assert_eq!(source, "unavailable", "the hung node cannot give details");
        assert!(
            *took < Duration::from_secs(5),
            "an order lookup waited {took:?}: it has a deadline"
        );
    }
    // A request held up by the hung node would wait out its deadline (3 s); a slow one on this shared
    // machine takes tens of milliseconds.
    for (path, sorted) in [("/products", &products), ("/health", &health)] {
        let (median, slowest) = median_and_max(sorted);
        eprintln!("with a hung node: GET {path} median {median:?}, slowest {slowest:?}");
        assert!(
            median < Duration::from_millis(100) && slowest < Duration::from_secs(1),
            "GET {path}: median {median:?}, slowest {slowest:?}"
        );
    }
    drop(_resume);
    eventually(
        "details from the node again once it resumes",
        Duration::from_secs(30),
        || async {
            chain.central.get(&format!("/orders/{}", orders[0])).await.1["details_source"] == "node"
        },
    )
    .await;
}

/// The dashboard page as the admin token sees it, and how long it took.
async fn dashboard(chain: &SalesChain) -> (String, Duration) {
    let started = Instant::now();
    let page = dashboard_html(chain).await;
    (page, started.elapsed())
}

#[tokio::test]
async fn the_dashboard_with_a_hung_node_answers_at_its_one_deadline_and_names_the_node() {
    let chain = SalesChain::start().await;
    chain.sell().await;
    eventually("the sale reaches central", Duration::from_secs(30), || {
        chain.mappings(1)
    })
    .await;
    // Sessions to the node are open already, as in a service that has been running.
    let (page, _) = dashboard(&chain).await;
    assert!(!page.contains(r#"data-testid="partial""#), "{page}");

    let node = &chain.node.instance.pg;
    node.hang().unwrap();
    let _resume = Hung(node);
    // replication_config(): POS_DASHBOARD_NODE_DEADLINE_MS 1500, while each report waits 3000 for a node.
    let deadline = Duration::from_millis(1500);
    for _ in 0..2 {
        let (page, took) = dashboard(&chain).await;
        eprintln!("dashboard with a hung node: {took:?}");
        assert!(
            // Asked one after the other, the hung node alone would take a report's 3 s.
            took < deadline + Duration::from_millis(1300),
            "the dashboard took {took:?}: the nodes are asked at once under one deadline of {deadline:?}"
        );
        assert!(
            page.contains("Partial figures: no answer from Karachi"),
            "the hung node is named: {page}"
        );
        assert!(
            page.contains(r#"data-testid="outbox-unanswered">no answer</td>"#),
            "its outbox row says it did not answer: {page}"
        );
    }
}

/// The sum of the delivery lags of `queue` (seconds), as `/metrics` at `url` shows it.
async fn lag_metric(http: &reqwest::Client, url: &str, queue: &str) -> f64 {
    let text = http
        .get(format!("{url}/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    text.lines()
        .find(|l| {
            l.starts_with("pos_delivery_lag_seconds_sum{")
                && l.contains(&format!(r#"queue="{queue}""#))
        })
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse::<f64>().ok())
        .unwrap_or_else(|| panic!("no lag of {queue} in:\n{text}"))
}

/// A delivery status (a node's at central, or the outbox's at a node) that shows a failed batch which
/// ran out of time, with the peer marked unreachable in `reachable_field`.
fn failed_at_deadline(status: &serde_json::Value, reachable_field: &str) -> bool {
    status["failed"].as_i64() >= Some(1)
        && status[reachable_field] == false
        && status["last_error"]
            .as_str()
            .is_some_and(|e| e.contains("no answer within"))
}

/// The price of the chain's product as the node has it.
async fn price_at_node(chain: &SalesChain) -> String {
    chain
        .node
        .db()
        .await
        .query_one(
            "SELECT price::text FROM products WHERE id = $1",
            &[&(chain.product as i32)],
        )
        .await
        .unwrap()
        .get(0)
}

#[tokio::test]
async fn a_delivery_to_a_hung_node_gives_up_at_its_deadline_and_ships_on_resume() {
    let chain = SalesChain::start().await;
    let node = &chain.node.instance.pg;
    node.hang().unwrap();
    let resume = Hung(node);
    // The replicator's session to the node is open, so the batch is sent and then waits for an answer
    // that does not come: in PostgreSQL 15 a blocking dblink call would wait for as long as the node hangs.
    // Timed from before the change is made: its delivery may start before the PATCH's answer arrives.
    let started = Instant::now();
    chain
        .central
        .patch(
            &format!("/products/{}", chain.product),
            serde_json::json!({"price": "175.00"}),
        )
        .await;
    let deadline_ms = 5000 + 1000; // replication_config()'s statement timeout, and a second
    eventually(
        "the batch fails at its deadline and the node is seen unreachable",
        Duration::from_secs(20),
        || async {
            let (status, body) = chain.central.get("/replication/status").await;
            assert_eq!(status, 200, "{body}");
            failed_at_deadline(&body["nodes"][0], "reachable")
        },
    )
    .await;
    let waited = started.elapsed();
    eprintln!("hung node seen after {waited:?} (deadline {deadline_ms} ms)");
    assert!(
        waited >= Duration::from_millis(deadline_ms - 500),
        "failed after {waited:?}, before the deadline: not the deadline that ended the call"
    );

    drop(resume);
    let resumed = Instant::now();
    eventually(
        "the change reaches the node once it resumes",
        Duration::from_secs(30),
        || async { price_at_node(&chain).await == "175.00" },
    )
    .await;
    eprintln!("node equal {:?} after it resumed", resumed.elapsed());
    assert!(
        resumed.elapsed() < Duration::from_secs(5),
        "the first delivery after the node's return comes within 5 s, took {:?}",
        resumed.elapsed()
    );
    // Recorded once central has settled the batch, a moment after the node applied it.
    eventually(
        "the change's lag, which includes the hang, is recorded",
        Duration::from_secs(10),
        || async {
            lag_metric(&chain.http, &chain.central.url, "replication").await
                >= (deadline_ms / 1000) as f64
        },
    )
    .await;
}

#[tokio::test]
async fn an_outbox_push_to_a_hung_central_gives_up_at_its_deadline_and_ships_on_resume() {
    let chain = SalesChain::start().await;
    chain.sell().await;
    eventually(
        "the first sale reaches central",
        Duration::from_secs(30),
        || chain.mappings(1),
    )
    .await;
    let central = &chain.central_pg.pg;
    central.hang().unwrap();
    let resume = Hung(central);
    // Timed from before the sale: its push may start before the sale's answer arrives.
    let started = Instant::now();
    let order = chain.sell().await;
    eventually(
        "the push fails at its deadline, and the node keeps selling meanwhile",
        Duration::from_secs(30),
        || async { failed_at_deadline(&chain.node_get("/sync/status").await, "central_reachable") },
    )
    .await;
    let waited = started.elapsed();
    eprintln!("hung central seen after {waited:?}");
    assert!(
        waited >= Duration::from_millis(9_500),
        "failed after {waited:?}, before central_deadline_ms(): not the deadline that ended the call"
    );
    chain.sell().await;

    drop(resume);
    eventually(
        "both sales made while central hung reach it once it resumes",
        Duration::from_secs(30),
        || chain.mappings(3),
    )
    .await;
    let client = chain.central.db().await;
    let found: i64 = client
        .query_one(
            "SELECT count(*) FROM order_mapping WHERE global_order_id = $1",
            &[&order],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(found, 1);
    let status = chain.node_get("/sync/status").await;
    assert_eq!(status["central_reachable"], true, "{status}");
    eventually(
        "the sales' lag, which includes the hang, is recorded",
        Duration::from_secs(10),
        || async { lag_metric(&chain.http, &chain.node_url, "outbox").await >= 10.0 },
    )
    .await;
}
