//! Replication benchmark: prints figures measured side by side in one run, on real instances, and
//! records them for BENCHMARKS.md (`make bench`).
//!
//! 1. propagation lag from central commit to visible at each of the two nodes, under a steady write rate;
//! 2. central write throughput with capture on / off / a naive per-row `dblink_exec` trigger, for
//!    single-row transactions (with where the CPU goes: central's instance, the node's, the service and
//!    writers) and for one 10,000-row statement, with delivery running and with capture alone; and what
//!    capture's parts cost (a trigger that does nothing, the log without its queue index, WAL per row);
//! 3. backlog drain to a node returning from an outage.
//!
//! Run: `cargo bench -p pos-e2e --bench replication` (or `make bench`).

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a failed step should panic

use std::time::{Duration, Instant};

use central::config::ReplicationConfig;
use pos_e2e::benchmarks::{Goal, Results, Unit};
use pos_shared::testkit::TestInstance;

mod common;
#[path = "replication/measure.rs"]
mod measure;
use common::{connect, connect_owner, percentile, propagation_lag, wait_until_delivered};
use measure::{
    BULK_ROUNDS, BULK_STATEMENTS, CAPTURE, CAPTURE_OFF, CAPTURE_ON, PART_ROUNDS, Paired, ROUNDS,
    Throughput, Watched, Writers, bulk_insert, measure, on_off,
};

/// Central's write throughput with and without capture, single-row and bulk, delivered or not.
struct Capture {
    delivering: Paired,
    bulk_delivering: Paired,
    alone: Paired,
    bulk_alone: Paired,
    /// A statement trigger that does nothing, against no trigger.
    empty_trigger: Paired,
    /// Capture into a log without its queue index, against no trigger.
    unindexed: Paired,
}

/// The capture-alone figures: another central database of `instance` whose nodes are registered but
/// not served (entries accumulate; nothing is delivered), so delivery does not compete for the cores.
async fn capture_alone(
    instance: &TestInstance,
    rows: usize,
    writers: usize,
) -> anyhow::Result<(Paired, Paired, Paired, Paired)> {
    let db = common::migrated_central(instance).await?;
    let client = connect_owner(instance, &db).await?;
    client
        .batch_execute(
            "INSERT INTO cities (id, name, time_zone) VALUES (1, 'Karachi', 'Asia/Karachi'), (2, 'Lahore', 'Asia/Karachi');
             INSERT INTO nodes (city_id, server_name, central_login)
             VALUES (1, 'node_karachi', 'pos_node_1'), (2, 'node_lahore', 'pos_node_2');
             CREATE FUNCTION bench_empty_capture() RETURNS trigger LANGUAGE plpgsql AS $f$ BEGIN RETURN NULL; END $f$;
             CREATE TRIGGER trg_bench_empty AFTER INSERT ON customers REFERENCING NEW TABLE AS new_rows
                 FOR EACH STATEMENT EXECUTE FUNCTION bench_empty_capture();
             ALTER TABLE customers DISABLE TRIGGER trg_bench_empty;",
        )
        .await?;
    let writers = Writers::open(instance, &db, 2, writers).await?;
    let watched = Watched {
        central: instance,
        nodes: Vec::new(),
    };
    let single = async |_| {
        measure(
            &watched,
            &client,
            rows,
            async || writers.write(rows).await,
            async || Ok(()),
        )
        .await
    };
    let alone = on_off(&client, CAPTURE, ROUNDS, single).await?;
    let bulk = on_off(&client, CAPTURE, BULK_ROUNDS, async |_| {
        measure(
            &watched,
            &client,
            BULK_ROWS * BULK_STATEMENTS,
            async || bulk_insert(&client, 2, BULK_ROWS).await,
            async || Ok(()),
        )
        .await
    })
    .await?;
    let empty_trigger = on_off(
        &client,
        (
            "ALTER TABLE customers DISABLE TRIGGER trg_customers_insert; ALTER TABLE customers ENABLE TRIGGER trg_bench_empty",
            "ALTER TABLE customers DISABLE TRIGGER trg_bench_empty",
            "ALTER TABLE customers DISABLE TRIGGER trg_bench_empty; ALTER TABLE customers ENABLE TRIGGER trg_customers_insert",
        ),
        PART_ROUNDS,
        single,
    )
    .await?;
    client
        .batch_execute("DROP INDEX replication_log_open_idx")
        .await?;
    let unindexed = on_off(&client, CAPTURE, PART_ROUNDS, single).await?;
    Ok((alone, bulk, empty_trigger, unindexed))
}

/// Rows of the bulk statement.
const BULK_ROWS: usize = 10_000;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let mut results = Results::new("replication");
    // Central commits durably, as in production (what a commit costs decides the write-throughput ratio);
    // the nodes are throwaway test instances.
    let central_pg = TestInstance::start_durable().await?;
    let karachi_pg = TestInstance::start_dedicated().await?;
    let lahore_pg = TestInstance::start_dedicated().await?;
    let replication = ReplicationConfig {
        retry_cron: "*/1 * * * * *".into(),
        base_backoff_ms: 200,
        max_backoff_ms: 1000,
        batch_size: 1000,
        statement_timeout_ms: 30_000,
        report_timeout_ms: 3000,
        dashboard_deadline_ms: 1500,
        poll_ms: 50,
        probe_ms: 200,
        purge_cron: "0 0 * * * *".into(),
        retention_hours: 168,
    };
    let cluster = common::start(&central_pg, &karachi_pg, &lahore_pg, replication).await?;
    let central = connect_owner(&central_pg, &cluster.central_db).await?;
    let lahore = connect(&lahore_pg, &cluster.lahore_db).await?;
    let karachi = connect(&karachi_pg, &cluster.karachi_db).await?;
    let city = cluster.lahore_city;

    println!("# Replication benchmark (central + 2 nodes, each its own PostgreSQL instance)\n");

    // 1. Lag under a steady write rate, to both nodes.
    let rate = 200;
    let nodes = [(cluster.karachi_city, &karachi), (city, &lahore)];
    let lags = propagation_lag(&central, &nodes, rate, 10).await?;
    let ms = |d: Duration| d.as_secs_f64() * 1e3;
    let (p50, p99) = (percentile(&lags, 0.5), percentile(&lags, 0.99));
    println!(
        "## Propagation lag, central commit → visible at the node ({rate} writes/s for 10 s over 2 nodes, {} samples)",
        lags.len()
    );
    println!("| p50 | p90 | p99 | max |\n|---|---|---|---|");
    println!(
        "| {:.1} ms | {:.1} ms | {:.1} ms | {:.1} ms |\n",
        ms(p50),
        ms(percentile(&lags, 0.9)),
        ms(p99),
        ms(lags.last().copied().unwrap_or_default())
    );
    let area = "Replication: propagation";
    let load = format!("{rate} writes/s for 10 s spread over 2 nodes");
    results.record(
        area,
        &format!("lag p50, commit at central to visible at the node, {load}"),
        ms(p50),
        Unit::Milliseconds,
        Some(Goal::AtMost(50.0)),
    );
    results.record(
        area,
        &format!("lag p99, {load}"),
        ms(p99),
        Unit::Milliseconds,
        Some(Goal::AtMost(100.0)),
    );
    wait_until_delivered(&central, Duration::from_secs(30)).await?;

    // 2. Write throughput: capture on vs off, in pairs; then a naive per-row dblink trigger.
    let rows = 3000;
    let writers = 4;
    let warm = Writers::open(&central_pg, &cluster.central_db, city, writers).await?;
    let watched = Watched {
        central: &central_pg,
        nodes: vec![&karachi_pg, &lahore_pg],
    };
    let delivered = async |capture: bool| {
        if capture {
            wait_until_delivered(&central, Duration::from_secs(60)).await
        } else {
            Ok(())
        }
    };
    let delivering = on_off(&central, CAPTURE, ROUNDS, async |capture| {
        measure(
            &watched,
            &central,
            rows,
            async || warm.write(rows).await,
            async || delivered(capture).await,
        )
        .await
    })
    .await?;
    let bulk_delivering = on_off(&central, CAPTURE, BULK_ROUNDS, async |capture| {
        measure(
            &watched,
            &central,
            BULK_ROWS * BULK_STATEMENTS,
            async || bulk_insert(&central, city, BULK_ROWS).await,
            async || delivered(capture).await,
        )
        .await
    })
    .await?;
    let off = delivering.off;
    // The naive design: the trigger itself writes to the node over dblink, a new connection per row.
    let server: String = central
        .query_one("SELECT server_name FROM nodes WHERE city_id = $1", &[&city])
        .await?
        .get(0);
    central
        .batch_execute(&format!(
            "CREATE FUNCTION naive_replicate() RETURNS trigger LANGUAGE plpgsql AS $f$
             BEGIN
               PERFORM * FROM dblink('{server}', format('SELECT apply_replication(%L::jsonb)',
                   jsonb_build_object('customers', jsonb_build_array(to_jsonb(NEW))))) AS t(applied integer);
               RETURN NULL;
             END $f$;
             CREATE TRIGGER trg_naive AFTER INSERT ON customers FOR EACH ROW EXECUTE FUNCTION naive_replicate();
             {CAPTURE_OFF};"
        ))
        .await?;
    let naive = warm.write(400).await?;
    central
        .batch_execute(&format!(
            "DROP TRIGGER trg_naive ON customers; DROP FUNCTION naive_replicate(); {CAPTURE_ON};"
        ))
        .await?;
    // Capture alone, and its parts: another central database on the same durable instance, with the same
    // two nodes registered but no replicator running.
    let (alone, bulk_alone, empty_trigger, unindexed) =
        capture_alone(&central_pg, rows, writers).await?;
    let capture = Capture {
        delivering,
        bulk_delivering,
        alone,
        bulk_alone,
        empty_trigger,
        unindexed,
    };
    report_capture(&mut results, &capture, off, naive, writers);

    // 3. Backlog drain after an outage.
    let backlog = 20_000;
    lahore_pg.stop()?;
    central
        .execute(
            "INSERT INTO customers (name, city_id) SELECT 'Backlog ' || g, $1 FROM generate_series(1, $2::int) g",
            &[&city, &backlog],
        )
        .await?;
    tokio::time::sleep(Duration::from_secs(1)).await;
    lahore_pg.start()?;
    let started = Instant::now();
    cluster
        .http
        .post(format!("{}/replication/retry", cluster.url))
        .bearer_auth(&cluster.token)
        .send()
        .await?
        .error_for_status()?;
    wait_until_delivered(&central, Duration::from_secs(120)).await?;
    let drain = started.elapsed();
    let rate = f64::from(backlog) / drain.as_secs_f64();
    println!("## Backlog drain to a returning node");
    println!("| rows | seconds | rows/s |\n|---|---|---|");
    println!("| {backlog} | {:.2} | {rate:.0} |", drain.as_secs_f64());
    results.record(
        "Replication: catching up",
        &format!(
            "backlog drain to a node back from an outage ({backlog} rows written by one statement)"
        ),
        rate,
        Unit::RowsPerSecond,
        Some(Goal::AtLeast(1000.0)),
    );
    results.save()
}

/// Prints the write-throughput table and records its figures.
fn report_capture(results: &mut Results, c: &Capture, off: Throughput, naive: f64, writers: usize) {
    println!(
        "## Central customer-write throughput, durable central ({writers} writers; rows/s: medians of {ROUNDS} rounds; \
         ratios: medians of {ROUNDS} pairs ({PART_ROUNDS} for capture's parts, {BULK_ROUNDS} for the bulk statement, {BULK_STATEMENTS} statements a measurement) measured back to back, lowest-highest pair in brackets; CPU per row: \
         central's instance / the nodes' / the service and writers / the whole machine)"
    );
    println!(
        "| variant | rows/s | ratio to capture off | CPU µs per row | WAL bytes per row |\n|---|---|---|---|---|"
    );
    let line = |name: &str, t: Throughput, ratio: &str| {
        println!(
            "| {name} | {:.0} | {ratio} | {:.0} / {:.0} / {:.0} / {:.0} | {:.0} |",
            t.rows_per_second,
            t.micros_per_row(t.cpu.central),
            t.micros_per_row(t.cpu.nodes),
            t.micros_per_row(t.cpu.bench),
            t.micros_per_row(t.cpu.machine),
            t.wal_bytes_per_row
        );
    };
    line("single-row, capture off", off, "1.00");
    line(
        "single-row, capture on, delivery running (this design)",
        c.delivering.on,
        &c.delivering.ratio_text(),
    );
    println!(
        "| naive trigger, dblink call per row | {naive:.0} | {:.3} | | |",
        naive / off.rows_per_second
    );
    line(
        "single-row, capture alone (no delivery; another database), off",
        c.alone.off,
        "1.00",
    );
    line(
        "single-row, capture alone, on",
        c.alone.on,
        &c.alone.ratio_text(),
    );
    line(
        "— of which: a statement trigger that does nothing",
        c.empty_trigger.on,
        &c.empty_trigger.ratio_text(),
    );
    line(
        "— of which: capture into a log without its queue index",
        c.unindexed.on,
        &c.unindexed.ratio_text(),
    );
    line(
        &format!("one {BULK_ROWS}-row INSERT, capture off"),
        c.bulk_delivering.off,
        "1.00",
    );
    line(
        &format!("one {BULK_ROWS}-row INSERT, capture on, delivery running"),
        c.bulk_delivering.on,
        &c.bulk_delivering.ratio_text(),
    );
    line(
        &format!("one {BULK_ROWS}-row INSERT, capture alone, on"),
        c.bulk_alone.on,
        &c.bulk_alone.ratio_text(),
    );
    println!();
    let area = "Replication: capture cost (central's write rate with capture on, against off)";
    let single = format!("single-row inserts, {writers} writers, durable commits");
    results.record(
        area,
        &format!("{single}, delivery to the node running on the same 2 cores"),
        c.delivering.ratio,
        Unit::Ratio,
        Some(Goal::AtLeast(0.85)),
    );
    results.record(
        area,
        &format!("{single}, capture alone (no delivery competing)"),
        c.alone.ratio,
        Unit::Ratio,
        Some(Goal::AtLeast(0.85)),
    );
    results.record(
        area,
        &format!("one {BULK_ROWS}-row INSERT, delivery running"),
        c.bulk_delivering.ratio,
        Unit::Ratio,
        Some(Goal::AtLeast(0.95)),
    );
    results.record(
        area,
        &format!("one {BULK_ROWS}-row INSERT, capture alone"),
        c.bulk_alone.ratio,
        Unit::Ratio,
        Some(Goal::AtLeast(0.95)),
    );
    results.record(
        area,
        "single-row: a statement trigger that does nothing (the trigger call alone)",
        c.empty_trigger.ratio,
        Unit::Ratio,
        None,
    );
    results.record(
        area,
        "single-row: capture into a log without its queue index (the primary key only)",
        c.unindexed.ratio,
        Unit::Ratio,
        None,
    );
    results.record(
        area,
        "naive design: a dblink call to the node in the trigger, per row",
        naive / off.rows_per_second,
        Unit::Ratio,
        None,
    );
}
