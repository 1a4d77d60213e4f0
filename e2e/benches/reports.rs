//! Report latency against the number of nodes: `GET /reports/sales` with 1, 2, 4, 8 and 16 nodes holding the
//! same data each (the service asks each node's database directly, all at once), beside the same
//! question asked through central's database over dblink, all at once (one central session per node) and
//! one node after another (what a single dblink query over all nodes does), and beside a fan-out whose
//! question costs the nodes next to nothing (what asking more nodes costs central itself). Prints t(n)/t(1)
//! measured side by side in one run: with the nodes' sales folded into their per-day totals, and with
//! nothing folded. Then one node's answer against the length of the range, from its running totals
//! beside the same function as it was when it summed the range's per-day rows.
//!
//! The figures are also recorded for BENCHMARKS.md. Run: `cargo bench -p pos-e2e --bench reports`.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a benchmark: a failed step should stop it

use std::time::{Duration, Instant};

use central::config::{Config, ReplicationConfig};
use central::startup::Application;
use pos_e2e::benchmarks::{Goal, Results, Unit};
use pos_shared::testkit::TestInstance;
use secrecy::SecretString;
use serde_json::json;

mod common;
#[path = "reports/range_length.rs"]
mod range_length;
use range_length::{SAMPLES, insert_sales, median};

const NODES: usize = 16;
const ORDERS_PER_NODE: i32 = 3000;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let mut results = Results::new("reports");
    let central_pg = TestInstance::start_dedicated().await?;
    let central_db = common::migrated_central(&central_pg).await?;
    let token = pos_shared::auth::generate_token();
    let app = Application::build(Config {
        common: common::service_config(
            central_pg.app_url(&central_db),
            central_pg.owner_url(&central_db),
            16,
        ),
        admin_token: SecretString::from(token.clone()),
        admin_token_file: None,
        idempotency_retention_hours: 720,
        accounts: Default::default(),
        replication: ReplicationConfig {
            retry_cron: "*/5 * * * * *".into(),
            base_backoff_ms: 500,
            max_backoff_ms: 5000,
            batch_size: 1000,
            statement_timeout_ms: 30_000,
            report_timeout_ms: 30_000,
            dashboard_deadline_ms: 1500,
            poll_ms: 20,
            probe_ms: 200,
            purge_cron: "0 0 * * * *".into(),
            retention_hours: 168,
        },
    })
    .await?;
    let url = format!("http://127.0.0.1:{}", app.port());
    tokio::spawn(app.run_until_stopped());
    let http = reqwest::Client::new();
    let post = |path: &'static str, body: serde_json::Value| {
        let (http, url, token) = (http.clone(), url.clone(), token.clone());
        async move {
            let response = http
                .post(format!("{url}{path}"))
                .bearer_auth(&token)
                .json(&body)
                .send()
                .await
                .unwrap();
            assert!(
                response.status().is_success(),
                "{path}: {}",
                response.status()
            );
            response.json::<serde_json::Value>().await.unwrap()
        }
    };
    let category = post("/categories", json!({"name": "Everything"})).await["id"].clone();
    for p in 1..=20 {
        post("/products", json!({"sku": format!("P{p}"), "name": format!("Product {p}"), "category_id": category, "price": "10.00"})).await;
    }

    // Sixteen nodes, each its own PostgreSQL instance, with the same sales.
    let mut instances = Vec::new();
    for n in 0..NODES {
        let instance = TestInstance::start_dedicated().await?;
        let db = common::migrated_store(&instance).await?;
        let city = post(
            "/cities",
            json!({"name": format!("City {n}"), "time_zone": "Asia/Karachi"}),
        )
        .await["id"]
            .as_i64()
            .unwrap();
        post(
            "/stores",
            json!({"code": format!("S{n}"), "name": format!("Store {n}"), "city_id": city}),
        )
        .await;
        post("/nodes", json!({"city_id": city, "host": "127.0.0.1", "port": instance.pg.port, "dbname": db,
                              "user": pos_shared::pgctl::REPLICATOR_ROLE, "password": instance.replicator_password}))
            .await;
        instances.push((instance, db, city as i32));
    }
    for (instance, db, _) in &instances {
        let node = pos_shared::db::connect(&pos_shared::db::parse_url(
            &instance.owner_url(db),
            "bench",
        )?)
        .await?;
        let started = Instant::now();
        while node
            .query_one("SELECT count(*) FROM products", &[])
            .await?
            .get::<_, i64>(0)
            < 20
        {
            anyhow::ensure!(
                started.elapsed() < Duration::from_secs(60),
                "replication did not arrive"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        insert_sales(&node, ORDERS_PER_NODE, 28).await?;
        node.batch_execute("ANALYZE").await?;
    }

    let central = pos_shared::db::connect(&pos_shared::db::parse_url(
        &central_pg.app_url(&central_db),
        "bench",
    )?)
    .await?;
    let enable = |n: usize| {
        let central = &central;
        let ids: Vec<i32> = instances.iter().map(|(_, _, city)| *city).collect();
        async move {
            central
                .execute(
                    "UPDATE nodes SET enabled = (city_id = ANY($1))",
                    &[&ids[..n].to_vec()],
                )
                .await
                .unwrap();
        }
    };
    let today = chrono::Utc::now().date_naive();
    // A GET of central's, timed; the answer must have every node in it.
    let timed_get = |path: String| {
        let (http, url, token) = (http.clone(), url.clone(), token.clone());
        async move {
            let started = Instant::now();
            let report: serde_json::Value = http
                .get(format!("{url}{path}"))
                .bearer_auth(&token)
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            assert_eq!(report["partial"], false);
            started.elapsed()
        }
    };
    let sales_report = format!(
        "/reports/sales?from={}&to={today}&group_by=product",
        today - chrono::Days::new(30)
    );
    let fan_out = || timed_get(sales_report.clone());
    // The same fan-out with a question that costs each node next to nothing (the benchmark's nodes hold no
    // stock): what asking more nodes costs central itself, apart from the nodes' own work.
    let fan_out_cheap = || timed_get("/reports/inventory?below=1".to_owned());
    let sequential = |n: usize| {
        let central = &central;
        let cities: Vec<i32> = instances.iter().take(n).map(|(_, _, city)| *city).collect();
        async move {
            let started = Instant::now();
            central
                .query(
                    "SELECT s.* FROM unnest($1::int[]) AS c(city_id),
                     LATERAL node_sales_summary(c.city_id, current_date - 30, current_date, 'product') s",
                    &[&cities],
                )
                .await
                .unwrap();
            started.elapsed()
        }
    };

    // The same question through central's database over dblink: one central session per node, all at once.
    let mut sessions = Vec::new();
    for _ in 0..NODES {
        sessions.push(
            pos_shared::db::connect(&pos_shared::db::parse_url(
                &central_pg.app_url(&central_db),
                "bench",
            )?)
            .await?,
        );
    }
    let parallel_sql = |n: usize| {
        let sessions = &sessions;
        let cities: Vec<i32> = instances.iter().take(n).map(|(_, _, city)| *city).collect();
        async move {
            let started = Instant::now();
            let asks = cities.iter().zip(sessions).map(|(city, session)| async move {
                session
                    .query(
                        "SELECT * FROM node_sales_summary($1, current_date - 30, current_date, 'product')",
                        &[city],
                    )
                    .await
                    .unwrap()
            });
            futures_util::future::join_all(asks).await;
            started.elapsed()
        }
    };

    let counts = [1, 2, 4, 8, 16];
    let measure = || async {
        // Per node count: HTTP fan-out, SQL fan-out, one node after another, HTTP fan-out of a cheap question.
        let mut samples = vec![[const { Vec::new() }; 4]; counts.len()];
        for round in 0..SAMPLES + 2 {
            for (i, &n) in counts.iter().enumerate() {
                enable(n).await;
                let times = [
                    fan_out().await,
                    parallel_sql(n).await,
                    sequential(n).await,
                    fan_out_cheap().await,
                ];
                if round >= 2 {
                    for (variant, time) in times.into_iter().enumerate() {
                        samples[i][variant].push(time);
                    }
                }
            }
        }
        samples
            .into_iter()
            .map(|variants| variants.map(median))
            .collect::<Vec<_>>()
    };
    let print = |medians: &[[Duration; 4]]| {
        println!(
            "| nodes | GET /reports/sales (nodes asked directly, at once) | t(n)/t(1) | over dblink from central's database, at once | t(n)/t(1) | over dblink, one node after another | t(n)/t(1) | GET /reports/inventory, a question that costs the nodes next to nothing | t(n)/t(1) |"
        );
        println!("|---|---|---|---|---|---|---|---|---|");
        for (n, times) in counts.iter().zip(medians) {
            print!("| {n} |");
            for (variant, time) in times.iter().enumerate() {
                let first = medians[0][variant].as_secs_f64();
                print!(
                    " {:.1} ms | {:.2} |",
                    time.as_secs_f64() * 1e3,
                    time.as_secs_f64() / first
                );
            }
            println!();
        }
        println!();
    };

    println!(
        "# Report latency against node count ({ORDERS_PER_NODE} orders per node over 28 days, group_by=product, median of {SAMPLES})\n"
    );
    // As a node's service keeps them: every sale folded into the per-day totals (it folds each second).
    for (instance, db, _) in &instances {
        pos_shared::db::connect(&pos_shared::db::parse_url(
            &instance.owner_url(db),
            "bench",
        )?)
        .await?
        .execute("SELECT fold_sales()", &[])
        .await?;
    }
    println!("## Sales folded into the nodes' per-day totals (steady state)\n");
    let folded = measure().await;
    print(&folded);
    let area = "Reports: `GET /reports/sales` at central, every node asked at once (30 days by product, sales folded)";
    let ms = |d: Duration| d.as_secs_f64() * 1e3;
    for (i, n) in counts
        .iter()
        .enumerate()
        .filter(|(_, n)| [1, 8, 16].contains(*n))
    {
        results.record(
            area,
            &format!("latency with {n} node(s), each its own PostgreSQL instance"),
            ms(folded[i][0]),
            Unit::Milliseconds,
            None,
        );
    }
    let ratio = |i: usize| folded[i][0].as_secs_f64() / folded[0][0].as_secs_f64();
    results.record(area, "t(8 nodes) / t(1 node) (2 cores: bound by the nodes' CPU, see the program's cores-busy table)", ratio(3), Unit::Ratio, Some(Goal::AtMost(2.0)));
    results.record(area, "t(16 nodes) / t(1 node)", ratio(4), Unit::Ratio, None);
    // How busy the machine is meanwhile: when the nodes' work fills both cores, asking them at once
    // cannot go faster than their total CPU time over two.
    println!(
        "| nodes | wall time per report | machine CPU per report | cores busy |\n|---|---|---|---|"
    );
    for n in counts {
        enable(n).await;
        let requests = 60;
        let (busy, started) = (pos_shared::testkit::machine_busy()?, Instant::now());
        for _ in 0..requests {
            fan_out().await;
        }
        let (cpu, wall) = (
            (pos_shared::testkit::machine_busy()? - busy) / requests,
            started.elapsed() / requests,
        );
        println!(
            "| {n} | {:.1} ms | {:.1} ms | {:.2} |",
            wall.as_secs_f64() * 1e3,
            cpu.as_secs_f64() * 1e3,
            cpu.as_secs_f64() / wall.as_secs_f64()
        );
    }
    println!();
    // The worst case: nothing folded (a node whose service has not run since the sales were made), so
    // each node reads every sale line.
    for (instance, db, _) in &instances {
        pos_shared::db::connect(&pos_shared::db::parse_url(&instance.owner_url(db), "bench")?)
            .await?
            .batch_execute(
                "TRUNCATE daily_sales, sales_running_totals; INSERT INTO sales_to_fold SELECT id FROM orders; ANALYZE sales_to_fold",
            )
            .await?;
    }
    println!("## Nothing folded yet (every node reads every sale line)\n");
    print(&measure().await);

    let (instance, db, _) = &instances[0];
    let node = pos_shared::db::connect(&pos_shared::db::parse_url(
        &instance.owner_url(db),
        "bench",
    )?)
    .await?;
    range_length::print(&node, today, ORDERS_PER_NODE).await?;
    results.save()
}
