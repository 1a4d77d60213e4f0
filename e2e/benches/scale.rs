//! The chain at many nodes on this machine, with the real binaries: `posctl up` with 16 cities (each
//! city its own PostgreSQL instance and store-node process, central its own), then, idle and busy:
//! - central's database sessions, and its CPU per node (the central process and its instance);
//! - the resident memory of each service (central, every store-node);
//! - propagation lag with every node receiving (customer writes for all cities in turn);
//! - `GET /reports/sales` latency over all nodes;
//! - how close central is to its first limit, its instance's `max_connections`.
//!
//! Needs the release binaries (`cargo build --release --bins`; `make bench` builds them). Settings:
//! `POS_BENCH_NODES` (default 16), `POS_BENCH_POSCTL` (default `release/posctl` in the target directory).
//!
//! Run: `cargo bench -p pos-e2e --bench scale` (or `make bench`).

#![allow(clippy::unwrap_used, clippy::expect_used)] // a benchmark: a failed step should stop it

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::Context;
use pos_e2e::benchmarks::{Goal, Results, Unit};
use pos_shared::testkit::resident_mib;
use serde_json::{Value, json};
use uuid::Uuid;

#[path = "scale/chain.rs"]
mod chain;
mod common;
use chain::{Chain, Window, read_chain, sessions};
use common::{Db, percentile, propagation_lag};

const CITIES: [&str; 16] = [
    "Karachi",
    "Lahore",
    "Islamabad",
    "Rawalpindi",
    "Faisalabad",
    "Multan",
    "Peshawar",
    "Quetta",
    "Hyderabad",
    "Gujranwala",
    "Sialkot",
    "Sukkur",
    "Bahawalpur",
    "Sargodha",
    "Abbottabad",
    "Mardan",
];

/// `posctl` with `args`; fails with its output when it fails.
fn posctl(posctl: &Path, args: &[&str]) -> anyhow::Result<()> {
    let output = Command::new(posctl)
        .args(args)
        .output()
        .with_context(|| format!("running {}", posctl.display()))?;
    anyhow::ensure!(
        output.status.success(),
        "posctl {}: {}\n{}",
        args.join(" "),
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    Ok(())
}

/// Takes the cluster down however the benchmark ends.
struct Down<'a>(&'a Path, &'a str);

impl Drop for Down<'_> {
    fn drop(&mut self) {
        let _ = Command::new(self.0)
            .args(["down", "--purge", "--dir", self.1])
            .output();
    }
}

/// The product the tills sell, and the stock each till's store receives first: the demo data's
/// opening stock (50 to 200 a product) would run out within a second.
const SOLD_PRODUCT: i32 = 1;
const SALES_STOCK: i64 = 1_000_000;

/// Sales at the first two tills for `seconds`, 4 cashiers each, through HTTP: (sold, refused).
async fn sell(chain: &Chain, seconds: u64) -> anyhow::Result<(usize, usize)> {
    let http = reqwest::Client::new();
    let tills = &chain.tills[..2.min(chain.tills.len())];
    for (url, token) in tills {
        http.post(format!("{url}/inventory/receipts"))
            .bearer_auth(token)
            .json(
                &json!({"idempotency_key": Uuid::new_v4(), "reference": "scale benchmark",
                          "items": [{"product_id": SOLD_PRODUCT, "quantity": SALES_STOCK}]}),
            )
            .send()
            .await?
            .error_for_status()
            .context("receiving the benchmark's stock")?;
    }
    let deadline = Instant::now() + Duration::from_secs(seconds);
    let cashiers = tills
        .iter()
        .flat_map(|(url, token)| (0..4).map(move |_| (url.clone(), token.clone())));
    let tasks = cashiers.map(|(url, token)| {
        let http = http.clone();
        async move {
            let (mut sold, mut refused) = (0, 0);
            while Instant::now() < deadline {
                let response = http
                    .post(format!("{url}/orders"))
                    .bearer_auth(&token)
                    .json(
                        &json!({"idempotency_key": Uuid::new_v4(), "customer_id": null,
                                  "items": [{"product_id": SOLD_PRODUCT, "quantity": 1}],
                                  "payments": [{"method": "cash", "amount": "100000.00"}]}),
                    )
                    .send()
                    .await;
                if response.is_ok_and(|r| r.status() == 201) {
                    sold += 1;
                } else {
                    refused += 1;
                }
            }
            (sold, refused)
        }
    });
    Ok(futures_util::future::join_all(tasks)
        .await
        .into_iter()
        .fold((0, 0), |(s, r), (sold, refused)| (s + sold, r + refused)))
}

async fn report_latency(chain: &Chain) -> anyhow::Result<Duration> {
    let http = reqwest::Client::new();
    let mut times = Vec::new();
    for _ in 0..12 {
        let started = Instant::now();
        let report: Value = http
            .get(format!(
                "{}/reports/sales?group_by=store",
                chain.central_url
            ))
            .bearer_auth(&chain.token)
            .send()
            .await?
            .error_for_status()?
            .json()
            .await?;
        anyhow::ensure!(
            report["partial"] == false,
            "a node did not answer: {report}"
        );
        times.push(started.elapsed());
    }
    times.sort();
    Ok(times[times.len() / 2])
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let mut results = Results::new("scale");
    let count: usize = std::env::var("POS_BENCH_NODES")
        .ok()
        .map_or(Ok(16), |n| n.parse())?;
    anyhow::ensure!(
        (2..=CITIES.len()).contains(&count),
        "POS_BENCH_NODES: 2 to 16"
    );
    let posctl_path = std::env::var_os("POS_BENCH_POSCTL").map_or_else(
        || {
            std::env::var_os("CARGO_TARGET_DIR")
                .map_or_else(
                    || Path::new(env!("CARGO_MANIFEST_DIR")).join("../target"),
                    PathBuf::from,
                )
                .join("release/posctl")
        },
        PathBuf::from,
    );
    anyhow::ensure!(
        posctl_path.exists(),
        "{} is missing: build the release binaries first (cargo build --release --bins)",
        posctl_path.display()
    );
    let dir = tempfile::Builder::new().prefix("pos-scale-").tempdir()?;
    // As root, posctl runs PostgreSQL as `postgres`, which must reach the directory.
    Command::new("chmod").arg("755").arg(dir.path()).status()?;
    let dir_text = dir.path().to_str().context("a UTF-8 temp path")?.to_owned();
    let cities = CITIES[..count].join(",");
    let port_base = (30000 + std::process::id() % 100 * 50).to_string();
    let started = Instant::now();
    let _down = Down(&posctl_path, &dir_text);
    posctl(
        &posctl_path,
        &[
            "up",
            "--dir",
            &dir_text,
            "--cities",
            &cities,
            "--port-base",
            &port_base,
            "--demo-data",
            "--detach",
        ],
    )?;
    let up_seconds = started.elapsed().as_secs_f64();
    let chain = read_chain(dir.path()).await?;
    anyhow::ensure!(
        chain.nodes.len() == count,
        "cluster.json lists {} nodes",
        chain.nodes.len()
    );
    println!(
        "# The chain at {count} nodes (posctl up: central and {count} store nodes, each its own PostgreSQL instance and process)\n"
    );
    let area = format!("Scale: {count} nodes on this machine (`posctl up`, real processes)");
    results.record(
        &area,
        &format!("`posctl up --cities` ({count} cities, demo data, first start)"),
        up_seconds,
        Unit::Seconds,
        None,
    );

    // Idle.
    tokio::time::sleep(Duration::from_secs(5)).await;
    let idle = Window::open(&chain)?;
    tokio::time::sleep(Duration::from_secs(10)).await;
    let (idle_central, idle_instance) = idle.per_node(&chain)?;
    let (idle_sessions, max_connections) = sessions(&chain).await?;
    let idle_rss = resident_mib(chain.central_pid)?;
    let node_rss = |pids: &[u32]| -> anyhow::Result<f64> {
        pids.iter()
            .map(|&p| resident_mib(p))
            .try_fold(0.0, |most, rss| Ok(f64::max(most, rss?)))
    };
    let idle_node_rss = node_rss(&chain.node_pids)?;

    // Busy: customer writes for every city in turn (each node receives), and sales at two tills.
    let rate = 20 * count as u32;
    let busy = Window::open(&chain)?;
    let nodes: Vec<(i32, &Db)> = chain.nodes.iter().map(|(c, db)| (*c, db)).collect();
    let (lags, sold) = tokio::join!(
        propagation_lag(&chain.central_db, &nodes, rate, 10),
        sell(&chain, 10)
    );
    let lags = lags?;
    let (sold, refused) = sold?;
    anyhow::ensure!(
        refused == 0,
        "{refused} of {} sales were refused",
        sold + refused
    );
    let (busy_central, busy_instance) = busy.per_node(&chain)?;
    let (busy_sessions, _) = sessions(&chain).await?;
    let busy_rss = resident_mib(chain.central_pid)?;
    let busy_node_rss = node_rss(&chain.node_pids)?;
    let report = report_latency(&chain).await?;
    let ms = |d: Duration| d.as_secs_f64() * 1e3;
    let (p50, p99) = (ms(percentile(&lags, 0.5)), ms(percentile(&lags, 0.99)));
    let per_node_sessions = busy_sessions as f64 / count as f64;
    let sessions_run_out = (max_connections as f64 / per_node_sessions).floor();

    println!(
        "Busy: {rate} customer writes/s over all nodes, {sold} sales at 2 tills in 10 s; lag from {} samples.\n",
        lags.len()
    );
    let memory = "Memory: resident, real processes";
    // One row per figure, so the table reads as the table it prints.
    #[rustfmt::skip]
    let figures = [
        (&*area, format!("central's client sessions, idle (max_connections {max_connections})"), idle_sessions as f64, Unit::Count, None),
        (&area, "central's client sessions, busy".into(), busy_sessions as f64, Unit::Count, None),
        (&area, "central's client sessions per node, busy".into(), per_node_sessions, Unit::Number, None),
        (&area, "central's sessions run out at about this many nodes".into(), sessions_run_out, Unit::Count, None),
        (&area, "central process CPU per node, idle".into(), idle_central, Unit::Cores, None),
        (&area, "central's PostgreSQL CPU per node, idle".into(), idle_instance, Unit::Cores, None),
        (&area, "central process CPU per node, busy".into(), busy_central, Unit::Cores, None),
        (&area, "central's PostgreSQL CPU per node, busy".into(), busy_instance, Unit::Cores, None),
        (&area, "sales at 2 tills, 4 cashiers each, while replicating".into(), sold as f64 / 10.0, Unit::SalesPerSecond, None),
        (&area, format!("propagation lag p50, every node receiving ({rate} writes/s)"), p50, Unit::Milliseconds, None),
        (&area, format!("propagation lag p99, every node receiving ({rate} writes/s)"), p99, Unit::Milliseconds, Some(Goal::AtMost(500.0))),
        (&area, "`GET /reports/sales` over every node, median of 12".into(), ms(report), Unit::Milliseconds, None),
        (memory, format!("central, idle ({count} nodes)"), idle_rss, Unit::MiB, None),
        (memory, format!("central, busy ({count} nodes)"), busy_rss, Unit::MiB, None),
        (memory, "store-node, idle (largest)".into(), idle_node_rss, Unit::MiB, None),
        (memory, "store-node, busy (largest, selling)".into(), busy_node_rss, Unit::MiB, None),
    ];
    println!("| figure | value |\n|---|---|");
    for (table, name, value, unit, goal) in figures {
        println!("| {name} | {} |", unit.show(value));
        results.record(table, &name, value, unit, goal);
    }
    println!(
        "\nFirst limit: central holds {per_node_sessions:.1} sessions per node, so its max_connections ({max_connections}) \
         runs out at about {sessions_run_out:.0} nodes.\n"
    );
    posctl(&posctl_path, &["down", "--purge", "--dir", &dir_text])?;
    results.save()
}
