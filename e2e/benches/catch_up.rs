//! Catch-up benchmark, on real instances: prints figures measured in one run.
//!
//! 1. A node whose PostgreSQL instance is really stopped for each outage length while central keeps
//!    taking writes at a steady rate (customer creations for the node's city and price updates, SQL
//!    single-row transactions): once the instance is started again, the time to the first delivery,
//!    the time until the node equals central (its replicas' row versions equal central's fragment),
//!    the backlog and its drain rate, and how many entries are `Dead` (must be 0).
//! 2. `POST /nodes/{city_id}/resync` of a fragment of many customers: wall time until the node's
//!    replicas equal central's fragment, and rows/s.
//!
//! Central runs with the production replication settings (the defaults of `central::config`).
//! Settings: `POS_BENCH_OUTAGES` (seconds, comma-separated, default "60,600"),
//! `POS_BENCH_RESYNC_CUSTOMERS` (default 1000000).
//!
//! The figures are also recorded for BENCHMARKS.md (`make bench` runs it with one outage of 60 s and a
//! resync of 300,000 customers, to stay within its time). Run: `cargo bench -p pos-e2e --bench catch_up`
//! (over 11 minutes with the defaults).

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a failed step should panic

use std::time::{Duration, Instant};

use anyhow::Context;
use pos_e2e::benchmarks::{Goal, Results, Unit};
use pos_shared::config::ConfigSource;
use pos_shared::testkit::TestInstance;

mod common;
#[path = "catch_up/fragment.rs"]
mod fragment;
use common::{Db, connect, connect_owner, wait_until_delivered};
use fragment::{OPEN, SESSIONS_PER_KIND, Writers, connect_when_up, dead_entries, digest, signal};

/// Customer creations per second for the stopped node's city, during each outage.
const CUSTOMERS_PER_SECOND: u32 = 200;
/// Price updates per second (products go to every node), during each outage.
const PRICES_PER_SECOND: u32 = 100;
/// Products whose prices the writers update, round robin.
const PRODUCTS: i32 = 200;

fn env_or(name: &str, default: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| default.to_owned())
}

/// What an outage is made of: the node that goes away, and central's writers.
struct Bench<'a> {
    central: &'a Db,
    node_pg: &'a TestInstance,
    node_db: &'a str,
    city: i32,
    first_product: i32,
    customers: Writers,
    prices: Writers,
}

/// Stops the node's instance for `outage` while `customers` and `prices` write, starts it again and
/// measures its catch-up. The writers stop when the instance is started again, so that "the node
/// equals central" is a fixed target, taken from central before the start. Returns the table's row.
async fn catch_up(
    bench: &Bench<'_>,
    outage: Duration,
    results: &mut Results,
) -> anyhow::Result<String> {
    let (central, node_pg, city) = (bench.central, bench.node_pg, bench.city);
    wait_until_delivered(central, Duration::from_secs(120)).await?;
    let before = signal(central, city).await?;
    tokio::task::block_in_place(|| node_pg.stop()).context("stopping the node's instance")?;
    let started = Instant::now();
    let until = started + outage;
    let (made_customers, made_prices) = tokio::join!(
        bench.customers.run(CUSTOMERS_PER_SECOND, until, |_| city),
        bench.prices.run(PRICES_PER_SECOND, until, |n| {
            bench.first_product + i32::try_from(n % PRODUCTS as u64).unwrap()
        }),
    );
    let writes = made_customers? + made_prices?;
    let write_rate = writes as f64 / started.elapsed().as_secs_f64();
    let row = central
        .query_one(
            "SELECT count(*), count(DISTINCT (table_name, record_id)), coalesce(max(attempts), 0)
             FROM replication_log WHERE target_city_id = $1 AND status IN ('Pending', 'Failed')",
            &[&city],
        )
        .await
        .context("reading the backlog")?;
    let (backlog, distinct_rows, max_attempts): (i64, i64, i32) =
        (row.get(0), row.get(1), row.get(2));
    let (target_signal, target) = (signal(central, city).await?, digest(central, city).await?);

    tokio::task::block_in_place(|| node_pg.start())
        .context("starting the node's instance again")?;
    let back = Instant::now();
    let node = connect_when_up(node_pg, bench.node_db).await?;
    let mut first_delivery = None;
    let deadline = outage.max(Duration::from_secs(600));
    let equal = loop {
        let at = back.elapsed();
        let now = signal(&node, city).await?;
        if first_delivery.is_none() && now != before {
            first_delivery = Some(at);
        }
        if now == target_signal && digest(&node, city).await? == target {
            break at;
        }
        anyhow::ensure!(
            at < deadline,
            "the node is not caught up {at:?} after its return (signal {now:?}, central {target_signal:?}, \
             first delivery {first_delivery:?}, backlog {backlog} entries)"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    };
    let first_delivery = first_delivery.unwrap_or(equal);
    let drain = backlog as f64 / (equal - first_delivery).as_secs_f64().max(1e-3);
    let dead = dead_entries(central).await?;
    let area = "Replication: catching up";
    let what = format!(
        "node back after its instance was stopped for {} s, central writing {write_rate:.0}/s meanwhile ({backlog} entries)",
        outage.as_secs()
    );
    results.record(
        area,
        &format!("{what}: back → node equals central"),
        equal.as_secs_f64(),
        Unit::Seconds,
        Some(Goal::AtMost(5.0)),
    );
    results.record(
        area,
        &format!("{what}: drain"),
        drain,
        Unit::RowsPerSecond,
        Some(Goal::AtLeast(1000.0)),
    );
    results.record(
        area,
        &format!("{what}: entries Dead"),
        dead as f64,
        Unit::Count,
        Some(Goal::AtMost(0.0)),
    );
    Ok(format!(
        "| {} s | {writes} ({write_rate:.0}/s) | {backlog} ({distinct_rows}) | {max_attempts} | {:.2} s | {:.2} s | \
         {drain:.0} | {dead} |",
        outage.as_secs(),
        first_delivery.as_secs_f64(),
        equal.as_secs_f64(),
    ))
}

/// Loads `count` customers of `city` at central, then resyncs the city's node and measures until its
/// replicas equal central's fragment. The setup writes with the capture trigger off: the node then has
/// none of these customers and the log no entry for them, so that the measured part is the resync
/// alone (its LOAD entries, a thousand rows of the fragment each, and their delivery), and "the node equals
/// central" is reached only by it. Returns the table's row.
async fn resync(
    cluster: &common::Cluster,
    central: &Db,
    node: &Db,
    count: i32,
    results: &mut Results,
) -> anyhow::Result<String> {
    let city = cluster.karachi_city;
    wait_until_delivered(central, Duration::from_secs(120)).await?;
    central
        .batch_execute("ALTER TABLE customers DISABLE TRIGGER trg_customers_insert")
        .await
        .context("turning capture off for the setup")?;
    let loaded = central
        .execute(
            "INSERT INTO customers (name, phone, city_id)
             SELECT 'Resync customer ' || g, '+92 3' || lpad($1::integer::text, 2, '0') || ' ' || lpad(g::text, 7, '0'), $1
             FROM generate_series(1, $2::int) g",
            &[&city, &count],
        )
        .await
        .context("loading the customers");
    central
        .batch_execute("ALTER TABLE customers ENABLE TRIGGER trg_customers_insert")
        .await
        .context("turning capture back on")?;
    loaded?;
    central
        .batch_execute("VACUUM (ANALYZE) customers")
        .await
        .context("vacuuming customers")?;
    let target = digest(central, city).await?;
    anyhow::ensure!(
        digest(node, city).await? != target,
        "the node has the fragment before its resync"
    );

    let started = Instant::now();
    let answer: serde_json::Value = cluster
        .http
        .post(format!("{}/nodes/{city}/resync", cluster.url))
        .bearer_auth(&cluster.token)
        .send()
        .await
        .context("POST /nodes/{city_id}/resync")?
        .error_for_status()
        .context("POST /nodes/{city_id}/resync")?
        .json()
        .await?;
    let answered = started.elapsed();
    let queued = answer["queued"]
        .as_i64()
        .context("the resync's answer has no `queued`")?;
    let node_checked = answer["node_checked"].as_bool().unwrap_or(false);
    let equal = loop {
        let at = started.elapsed();
        let open: bool = central.query_one(OPEN, &[&city]).await?.get(0);
        if !open && digest(node, city).await? == target {
            break at;
        }
        anyhow::ensure!(
            at < Duration::from_secs(1800),
            "the node is not resynced after {at:?}"
        );
        tokio::time::sleep(Duration::from_millis(if open { 20 } else { 500 })).await;
    };
    let rate = f64::from(count) / equal.as_secs_f64();
    results.record(
        "Replication: catching up",
        &format!("resync of a node missing its city's {count} customers, until it equals central"),
        rate,
        Unit::RowsPerSecond,
        None,
    );
    Ok(format!(
        "| {count} | {queued} | {node_checked} | {:.2} s | {:.2} s | {rate:.0} | {} |",
        answered.as_secs_f64(),
        equal.as_secs_f64(),
        dead_entries(central).await?
    ))
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let mut results = Results::new("catch_up");
    let outages = env_or("POS_BENCH_OUTAGES", "60,600")
        .split(',')
        .map(|s| s.trim().parse().map(Duration::from_secs))
        .collect::<Result<Vec<_>, _>>()
        .context("POS_BENCH_OUTAGES: seconds, comma-separated")?;
    let resync_customers: i32 = env_or("POS_BENCH_RESYNC_CUSTOMERS", "1000000")
        .parse()
        .context("POS_BENCH_RESYNC_CUSTOMERS: a number of customers")?;
    // The production replication settings: the defaults, as central reads them from an environment
    // that sets only the (required) admin token.
    let defaults = ConfigSource::from_pairs([("POS_ADMIN_TOKEN".to_owned(), "unused".to_owned())])?;
    let replication =
        <central::config::Config as pos_shared::service::ServiceConfig>::from_source(&defaults)?
            .replication;
    let r = &replication;
    let settings = format!(
        "poll {} ms, probe {} ms, batch {}, back-off {}-{} ms",
        r.poll_ms, r.probe_ms, r.batch_size, r.base_backoff_ms, r.max_backoff_ms
    );

    // Central commits durably, as in production; the nodes are test instances (fsync off).
    let central_pg = TestInstance::start_durable()
        .await
        .context("starting central's instance")?;
    let karachi_pg = TestInstance::start_dedicated()
        .await
        .context("starting Karachi's instance")?;
    let lahore_pg = TestInstance::start_dedicated()
        .await
        .context("starting Lahore's instance")?;
    let cluster = common::start(&central_pg, &karachi_pg, &lahore_pg, replication)
        .await
        .context("starting central and registering the nodes")?;
    let central = connect_owner(&central_pg, &cluster.central_db).await?;
    let karachi = connect(&karachi_pg, &cluster.karachi_db).await?;
    let category: i32 = central
        .query_one(
            "INSERT INTO categories (name) VALUES ('Bench') RETURNING id",
            &[],
        )
        .await?
        .get(0);
    let first_product: i32 = central
        .query_one(
            "WITH p AS (INSERT INTO products (sku, name, category_id, price)
                        SELECT 'BENCH-' || g, 'Bench product ' || g, $1, 100 FROM generate_series(1, $2) g
                        RETURNING id)
             SELECT min(id) FROM p",
            &[&category, &PRODUCTS],
        )
        .await
        .context("creating the products")?
        .get(0);
    let open = |sql| Writers::open(&central_pg, &cluster.central_db, sql);
    let bench = Bench {
        central: &central,
        node_pg: &lahore_pg,
        node_db: &cluster.lahore_db,
        city: cluster.lahore_city,
        first_product,
        customers: open(
            "INSERT INTO customers (name, phone, city_id) VALUES ('Outage customer', NULL, $1)",
        )
        .await?,
        prices: open("UPDATE products SET price = price + 0.01 WHERE id = $1").await?,
    };

    println!("# Catch-up benchmark (central + 2 nodes, each its own PostgreSQL instance)\n");
    let mut rows = Vec::new();
    for &outage in &outages {
        eprintln!("catch_up: outage of {outage:?}");
        rows.push(
            catch_up(&bench, outage, &mut results)
                .await
                .with_context(|| format!("the outage of {outage:?}"))?,
        );
    }
    println!(
        "## Catch-up after an outage: the node's instance stopped, central writing throughout \
         ({CUSTOMERS_PER_SECOND} customer creations/s for the node's city + {PRICES_PER_SECOND} price updates/s, \
         single-row SQL transactions from {SESSIONS_PER_KIND} sessions each, durable central; replication: {settings})"
    );
    println!(
        "| outage | writes (achieved rate) | backlog entries (distinct rows) | max attempts | back → first delivery | \
         back → node equals central | drain entries/s | Dead |\n|---|---|---|---|---|---|---|---|\n{}\n",
        rows.join("\n")
    );

    eprintln!("catch_up: resync of {resync_customers} customers");
    let row = resync(&cluster, &central, &karachi, resync_customers, &mut results)
        .await
        .context("the resync")?;
    println!(
        "## Resync of a node that has none of its city's customers (`POST /nodes/{{city_id}}/resync`, idle central)"
    );
    println!(
        "| customers | entries queued | node asked | POST answered | until node equals central | rows/s | Dead |\n\
         |---|---|---|---|---|---|---|\n{row}"
    );
    results.save()
}
