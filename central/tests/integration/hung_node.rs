//! A node whose PostgreSQL hangs (its processes stopped with SIGSTOP, not closed: connections are
//! accepted and stay open, and nothing answers) must slow nothing else at central.

use std::time::{Duration, Instant};

use uuid::Uuid;

use crate::chain::SalesChain;
use crate::common::eventually;

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

fn p99(sorted: &[Duration]) -> Duration {
    sorted[(sorted.len() * 99).div_ceil(100) - 1]
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
    eprintln!(
        "with a hung node: GET /products p99 {:?}, GET /health p99 {:?}",
        p99(&products),
        p99(&health)
    );
    assert!(
        p99(&products) < Duration::from_millis(100),
        "GET /products p99 {:?}",
        p99(&products)
    );
    assert!(
        p99(&health) < Duration::from_millis(100),
        "GET /health p99 {:?}",
        p99(&health)
    );
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
