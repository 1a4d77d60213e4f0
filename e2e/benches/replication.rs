//! Replication benchmark: prints figures measured side by side in one run, on real instances.
//!
//! 1. propagation lag from central commit to visible at the node, at a steady write rate;
//! 2. central write throughput with capture triggers on / off / a naive per-row `dblink_exec` trigger,
//!    from writer sessions kept open (as a pool keeps them) and from new sessions per measurement;
//! 3. backlog drain to a node returning from an outage.
//!
//! Run: `cargo bench -p pos-e2e --bench replication` (or `make bench`).

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a failed step should panic

use std::time::{Duration, Instant};

use central::config::ReplicationConfig;
use pos_shared::testkit::TestInstance;

mod common;
use common::{Db, connect, connect_owner, wait_until_delivered};

/// Interleaved rounds per throughput variant (the median is printed): the machine is shared and noisy.
const ROUNDS: usize = 9;

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let index = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[index.min(sorted.len() - 1)]
}

/// Writes customers at `rate`/s for `seconds` and measures when each becomes visible at the node.
async fn propagation_lag(
    central: &Db,
    node: &Db,
    city_id: i32,
    rate: u32,
    seconds: u32,
) -> anyhow::Result<Vec<Duration>> {
    let start_id: i32 = node
        .query_one("SELECT coalesce(max(id), 0) FROM customers", &[])
        .await?
        .get(0);
    let total = (rate * seconds) as usize;
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<(i32, Instant)>();
    let insert = central
        .prepare("INSERT INTO customers (name, city_id) VALUES ('Lag probe', $1) RETURNING id")
        .await?;
    let writer = async {
        let mut ticker = tokio::time::interval(Duration::from_secs(1) / rate);
        for _ in 0..total {
            ticker.tick().await;
            let id: i32 = central.query_one(&insert, &[&city_id]).await?.get(0);
            let _ = tx.send((id, Instant::now()));
        }
        anyhow::Ok(())
    };
    let watcher = async {
        let mut seen = std::collections::HashMap::new();
        let mut last = start_id;
        let poll = node
            .prepare("SELECT id FROM customers WHERE id > $1 ORDER BY id")
            .await?;
        let deadline = Instant::now() + Duration::from_secs(u64::from(seconds) + 30);
        while seen.len() < total && Instant::now() < deadline {
            for row in node.query(&poll, &[&last]).await? {
                let id: i32 = row.get(0);
                seen.insert(id, Instant::now());
                last = last.max(id);
            }
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        anyhow::Ok(seen)
    };
    let (written, seen) = tokio::join!(writer, watcher);
    written?;
    let seen = seen?;
    let mut lags = Vec::new();
    while let Ok((id, committed)) = rx.try_recv() {
        if let Some(visible) = seen.get(&id) {
            lags.push(visible.saturating_duration_since(committed));
        }
    }
    lags.sort();
    Ok(lags)
}

/// Writer sessions kept open across measurements, as a service's pool keeps them: a new session would
/// pay for loading the capture trigger and its catalogue entries within the measurement.
struct Writers {
    sessions: Vec<(Db, tokio_postgres::Statement)>,
    city_id: i32,
}

impl Writers {
    async fn open(
        instance: &TestInstance,
        db: &str,
        city_id: i32,
        count: usize,
    ) -> anyhow::Result<Self> {
        let mut sessions = Vec::new();
        for _ in 0..count {
            let client = connect(instance, db).await?;
            let insert = client
                .prepare("INSERT INTO customers (name, phone, city_id) VALUES ('Throughput', '+92 300 0000000', $1)")
                .await?;
            sessions.push((client, insert));
        }
        Ok(Self { sessions, city_id })
    }

    /// `rows` single-row insert transactions spread over the sessions; rows per second.
    async fn write(&self, rows: usize) -> anyhow::Result<f64> {
        let per_session = rows / self.sessions.len();
        let started = Instant::now();
        let tasks = self.sessions.iter().map(|(client, insert)| async move {
            for _ in 0..per_session {
                client.execute(insert, &[&self.city_id]).await?;
            }
            anyhow::Ok(())
        });
        for result in futures_util::future::join_all(tasks).await {
            result?;
        }
        Ok((per_session * self.sessions.len()) as f64 / started.elapsed().as_secs_f64())
    }
}

/// One variant's throughput: rows/s and machine CPU per row.
#[derive(Clone, Copy)]
struct Throughput {
    rows_per_second: f64,
    cpu_per_row: Duration,
}

async fn measure(writers: &Writers, rows: usize) -> anyhow::Result<Throughput> {
    let busy = pos_shared::testkit::machine_busy()?;
    let rows_per_second = writers.write(rows).await?;
    Ok(Throughput {
        rows_per_second,
        cpu_per_row: (pos_shared::testkit::machine_busy()? - busy) / u32::try_from(rows)?,
    })
}

/// Capture on against capture off, measured in pairs.
struct Paired {
    on: Throughput,
    off: Throughput,
    /// The median of the pairs' on/off ratios.
    ratio: f64,
    /// The pairs' lowest and highest ratios, how much the machine's background load moved them.
    ratio_range: (f64, f64),
}

impl Paired {
    fn ratio_text(&self) -> String {
        format!(
            "{:.2} ({:.2}-{:.2})",
            self.ratio, self.ratio_range.0, self.ratio_range.1
        )
    }
}

/// `ROUNDS` pairs of measurements with the capture trigger on and off, back to back and in alternating
/// order, so that the machine's background load (it is shared) weighs on both sides of a pair alike.
/// With `delivered` (a central that delivers), each measurement with capture on is followed by waiting
/// until the node has everything, so that no delivery runs during a measurement with capture off.
async fn capture_on_off(
    central: &Db,
    delivered: bool,
    mut measure: impl AsyncFnMut() -> anyhow::Result<Throughput>,
) -> anyhow::Result<Paired> {
    let (mut on, mut off, mut ratios) = (Vec::new(), Vec::new(), Vec::new());
    for round in 0..ROUNDS {
        let mut pair = [None, None];
        for capture in [round % 2 == 0, round % 2 == 1] {
            let toggle = if capture { "ENABLE" } else { "DISABLE" };
            central
                .batch_execute(&format!(
                    "ALTER TABLE customers {toggle} TRIGGER trg_customers"
                ))
                .await?;
            let measured = measure().await?;
            if capture && delivered {
                wait_until_delivered(central, Duration::from_secs(60)).await?;
            }
            pair[usize::from(capture)] = Some(measured);
        }
        let [Some(without), Some(with)] = pair else {
            unreachable!("both sides of a pair are measured")
        };
        ratios.push(with.rows_per_second / without.rows_per_second);
        on.push(with);
        off.push(without);
    }
    central
        .batch_execute("ALTER TABLE customers ENABLE TRIGGER trg_customers")
        .await?;
    for variant in [&mut on, &mut off] {
        variant.sort_by(|a, b| a.rows_per_second.total_cmp(&b.rows_per_second));
    }
    ratios.sort_by(f64::total_cmp);
    Ok(Paired {
        on: on[ROUNDS / 2],
        off: off[ROUNDS / 2],
        ratio: ratios[ROUNDS / 2],
        ratio_range: (ratios[0], ratios[ROUNDS - 1]),
    })
}

/// Capture on and off in a fresh central database of `instance` whose nodes are registered but not
/// served (entries accumulate; nothing is delivered).
async fn capture_alone(
    instance: &TestInstance,
    rows: usize,
    writers: usize,
) -> anyhow::Result<Paired> {
    let db = instance
        .migrated_database("central", |url| async move {
            central::schema::migrate(
                &pos_shared::db::parse_url(&url, "bench")?,
                Some(pos_shared::pgctl::APP_ROLE),
            )
            .await
        })
        .await?;
    let client = connect_owner(instance, &db).await?;
    client
        .batch_execute(
            "INSERT INTO cities (id, name, time_zone) VALUES (1, 'Karachi', 'Asia/Karachi'), (2, 'Lahore', 'Asia/Karachi');
             INSERT INTO nodes (city_id, server_name, central_login)
             VALUES (1, 'node_karachi', 'pos_node_1'), (2, 'node_lahore', 'pos_node_2');",
        )
        .await?;
    let writers = Writers::open(instance, &db, 2, writers).await?;
    capture_on_off(&client, false, async || measure(&writers, rows).await).await
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
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
    let _karachi = connect(&karachi_pg, &cluster.karachi_db).await?;
    let city = cluster.lahore_city;

    println!("# Replication benchmark (central + 2 nodes, each its own PostgreSQL instance)\n");

    // 1. Lag at a steady rate.
    let rate = 200;
    let lags = propagation_lag(&central, &lahore, city, rate, 10).await?;
    println!(
        "## Propagation lag, central commit → visible at the node ({rate} writes/s for 10 s, {} samples)",
        lags.len()
    );
    println!("| p50 | p90 | p99 | max |\n|---|---|---|---|");
    println!(
        "| {:.1} ms | {:.1} ms | {:.1} ms | {:.1} ms |\n",
        percentile(&lags, 0.5).as_secs_f64() * 1e3,
        percentile(&lags, 0.9).as_secs_f64() * 1e3,
        percentile(&lags, 0.99).as_secs_f64() * 1e3,
        lags.last().copied().unwrap_or_default().as_secs_f64() * 1e3
    );
    wait_until_delivered(&central, Duration::from_secs(30)).await?;

    // 2. Write throughput: capture on vs off, in pairs; then a naive per-row dblink trigger.
    let rows = 3000;
    let writers = 4;
    let warm = Writers::open(&central_pg, &cluster.central_db, city, writers).await?;
    let delivering = capture_on_off(&central, true, async || measure(&warm, rows).await).await?;
    // The same with new writer sessions for every measurement (as this benchmark measured before):
    // each session's first rows also pay for loading the capture trigger and its catalogue entries.
    let delivering_cold = capture_on_off(&central, true, async || {
        let cold = Writers::open(&central_pg, &cluster.central_db, city, writers).await?;
        measure(&cold, rows).await
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
             ALTER TABLE customers DISABLE TRIGGER trg_customers;"
        ))
        .await?;
    let naive = warm.write(400).await?;
    central
        .batch_execute(
            "DROP TRIGGER trg_naive ON customers; DROP FUNCTION naive_replicate();
             ALTER TABLE customers ENABLE TRIGGER trg_customers;",
        )
        .await?;
    // Capture alone: another central database with the same two nodes registered but no replicator
    // running, so that delivery does not compete with the writers for this machine's two cores; on this
    // durable instance and on a test instance with fsync off (where commits cost next to nothing).
    let alone = capture_alone(&central_pg, rows, writers).await?;
    let fast_pg = TestInstance::start_dedicated().await?;
    let fast = capture_alone(&fast_pg, rows, writers).await?;
    println!(
        "## Central customer-write throughput, durable central ({writers} writers, single-row transactions; \
         rows/s: medians of {ROUNDS} rounds; ratios: medians of {ROUNDS} pairs measured back to back, lowest-highest pair in brackets)"
    );
    println!(
        "| variant | rows/s | ratio to triggers off | CPU per row, whole machine |\n|---|---|---|---|"
    );
    let micros = |t: Throughput| t.cpu_per_row.as_secs_f64() * 1e6;
    println!(
        "| triggers off | {:.0} | 1.00 | {:.0} µs |",
        off.rows_per_second,
        micros(off)
    );
    println!(
        "| capture triggers + outbox, delivery running (this design) | {:.0} | {} | {:.0} µs |",
        delivering.on.rows_per_second,
        delivering.ratio_text(),
        micros(delivering.on)
    );
    println!(
        "| the same, new writer sessions for every measurement ({:.0} rows/s with triggers off) | {:.0} | {} | {:.0} µs |",
        delivering_cold.off.rows_per_second,
        delivering_cold.on.rows_per_second,
        delivering_cold.ratio_text(),
        micros(delivering_cold.on)
    );
    println!(
        "| naive trigger, dblink call per row | {naive:.0} | {:.3} | |",
        naive / off.rows_per_second
    );
    println!(
        "| capture alone, no delivery running (another database; {:.0} rows/s there with triggers off) | {:.0} | {} | {:.0} µs |",
        alone.off.rows_per_second,
        alone.on.rows_per_second,
        alone.ratio_text(),
        micros(alone.on)
    );
    println!(
        "| capture alone on an instance with fsync and synchronous commit off ({:.0} rows/s there with triggers off) | {:.0} | {} | {:.0} µs |\n",
        fast.off.rows_per_second,
        fast.on.rows_per_second,
        fast.ratio_text(),
        micros(fast.on)
    );

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
    println!("## Backlog drain to a returning node");
    println!("| rows | seconds | rows/s |\n|---|---|---|");
    println!(
        "| {backlog} | {:.2} | {:.0} |",
        drain.as_secs_f64(),
        f64::from(backlog) / drain.as_secs_f64()
    );
    Ok(())
}
