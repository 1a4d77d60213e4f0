//! Outbox benchmark, on real instances: a store node sells while central's PostgreSQL instance is
//! really stopped, then central comes back and the node's outbox drains.
//!
//! 1. 10,000 sales through HTTP (8 cashiers at once) with central's instance stopped: sales/s, every
//!    one must be 201;
//! 2. central's instance started again: the time to the first sale at central, the time until every
//!    sale is there (central's `order_mapping` holds each one, the outbox has no open entry), and the
//!    drain rate from the first to the last.
//!
//! Settings: `POS_BENCH_OFFLINE_SALES` (default 10000). The figures are also recorded for
//! BENCHMARKS.md. Run: `cargo bench -p pos-e2e --bench outbox`.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a benchmark: a failed step should stop it

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::Context;
use pos_e2e::benchmarks::{Goal, Results, Unit};
use pos_shared::testkit::TestInstance;
use serde_json::json;
use uuid::Uuid;

mod common;
use common::{Db, connect};

const CASHIERS: usize = 8;
const PRODUCTS: i32 = 20;

/// Sales `count` through HTTP from `CASHIERS` at once; sales per second. Fails on any refusal.
async fn sell(node: &common::SellingNode, count: usize) -> anyhow::Result<f64> {
    let http = reqwest::Client::new();
    let next = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let cashiers = (0..CASHIERS).map(|_| {
        let (http, next) = (http.clone(), next.clone());
        let (url, token) = (node.url.clone(), node.token.clone());
        tokio::spawn(async move {
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= count {
                    break;
                }
                let status = http
                    .post(format!("{url}/orders"))
                    .bearer_auth(&token)
                    .json(
                        &json!({"idempotency_key": Uuid::new_v4(), "customer_id": null,
                                  "items": [{"product_id": i as i32 % PRODUCTS + 1, "quantity": 1}],
                                  "payments": [{"method": "cash", "amount": "100.00"}]}),
                    )
                    .send()
                    .await
                    .context("POST /orders")?
                    .status();
                anyhow::ensure!(status == 201, "a sale with central down got {status}");
            }
            anyhow::Ok(())
        })
    });
    for cashier in futures_util::future::join_all(cashiers).await {
        cashier??;
    }
    Ok(count as f64 / started.elapsed().as_secs_f64())
}

/// The node's outbox entries not yet at central.
async fn unsent(node: &Db) -> anyhow::Result<i64> {
    Ok(node
        .query_one(
            "SELECT count(*) FROM outbox WHERE status IN ('Pending', 'Failed')",
            &[],
        )
        .await
        .context("counting unsent outbox entries")?
        .get(0))
}

/// Sales central holds; `None` while its instance does not answer yet.
async fn at_central(instance: &TestInstance, db: &str) -> Option<i64> {
    let central = connect(instance, db).await.ok()?;
    let row = central
        .query_one("SELECT count(*) FROM order_mapping", &[])
        .await
        .ok()?;
    Some(row.get(0))
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let mut results = Results::new("outbox");
    let offline: usize = std::env::var("POS_BENCH_OFFLINE_SALES")
        .ok()
        .map_or(Ok(10_000), |n| n.parse())?;
    let central_pg = TestInstance::start_dedicated().await?;
    let node_pg = TestInstance::start_dedicated().await?;
    let node = common::start_selling_node(&central_pg, &node_pg, PRODUCTS).await?;
    let node_db = pos_shared::db::connect(&pos_shared::db::parse_url(&node.node_url, "bench")?)
        .await
        .context("connecting to the node")?;

    // The link works before the outage: one sale reaches central.
    sell(&node, 1).await?;
    let deadline = Instant::now() + Duration::from_secs(30);
    while unsent(&node_db).await? > 0 {
        anyhow::ensure!(
            Instant::now() < deadline,
            "the first sale did not reach central"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }

    central_pg.stop().context("stopping central's instance")?;
    let offline_rate = sell(&node, offline).await?;
    let queued = unsent(&node_db).await?;
    anyhow::ensure!(
        queued >= offline as i64,
        "{queued} outbox entries for {offline} sales made offline"
    );

    central_pg.start().context("starting central's instance")?;
    let back = Instant::now();
    let expected = offline as i64 + 1;
    let mut first = None;
    let deadline = back + Duration::from_secs(300);
    loop {
        let held = at_central(&central_pg, &node.central_db).await;
        if first.is_none() && held.is_some_and(|n| n > 1) {
            first = Some(back.elapsed());
        }
        if held == Some(expected) && unsent(&node_db).await? == 0 {
            break;
        }
        anyhow::ensure!(
            Instant::now() < deadline,
            "central holds {held:?} of {expected} sales after 300 s"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let all = back.elapsed();
    let first = first.unwrap_or(all);
    let drain = offline as f64 / (all - first).as_secs_f64().max(1e-3);

    println!("# Outbox: {offline} sales made with central's instance stopped, then central back\n");
    let area = format!("Outbox: {offline} sales made with central down, then central back");
    #[rustfmt::skip]
    let figures = [
        ("sales through HTTP with central's instance stopped", offline_rate, Unit::SalesPerSecond, None),
        ("central back → its first sale from the outbox", first.as_secs_f64(), Unit::Seconds, None),
        ("central back → every sale at central", all.as_secs_f64(), Unit::Seconds, None),
        ("outbox drain, first sale to last", drain, Unit::SalesPerSecond, Some(Goal::AtLeast(1000.0))),
    ];
    println!("| figure | value |\n|---|---|");
    for (name, value, unit, goal) in figures {
        println!("| {name} | {} |", unit.show(value));
        results.record(&area, name, value, unit, goal);
    }
    results.save()
}
