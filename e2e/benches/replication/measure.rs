//! Measuring central's write throughput for the replication benchmark: writer sessions, CPU and WAL
//! per written row, and pairs of measurements with capture on and off taken back to back.

use std::time::{Duration, Instant};

use pos_shared::testkit::{TestInstance, instance_cpu, machine_busy, own_cpu};

use crate::common::{Db, connect};

/// Interleaved rounds per throughput variant (the median is printed): the machine is shared and noisy.
pub(crate) const ROUNDS: usize = 15;
/// Rounds for the variants that only show where capture's cost goes (no goal rides on them).
pub(crate) const PART_ROUNDS: usize = 9;
/// Pairs for the bulk statement.
pub(crate) const BULK_ROUNDS: usize = 15;
/// Bulk statements per measurement: one is short (about half a second), so one checkpoint, autovacuum
/// run or neighbour's burst moved a measurement of one statement far (pairs from 0.6 to 1.5).
pub(crate) const BULK_STATEMENTS: usize = 3;

/// Writer sessions kept open across measurements, as a service's pool keeps them: a new session would
/// pay for loading the capture trigger and its catalogue entries within the measurement.
pub(crate) struct Writers {
    pub(crate) sessions: Vec<(Db, tokio_postgres::Statement)>,
    pub(crate) city_id: i32,
}

impl Writers {
    pub(crate) async fn open(
        instance: &TestInstance,
        db: &str,
        city_id: i32,
        count: usize,
    ) -> anyhow::Result<Self> {
        let mut sessions = Vec::new();
        for _ in 0..count {
            let client = connect(instance, db).await?;
            let insert = client
                .prepare(
                    "INSERT INTO customers (name, phone, city_id) VALUES ('Throughput', NULL, $1)",
                )
                .await?;
            sessions.push((client, insert));
        }
        Ok(Self { sessions, city_id })
    }

    /// `rows` single-row insert transactions spread over the sessions; rows per second.
    pub(crate) async fn write(&self, rows: usize) -> anyhow::Result<f64> {
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

/// Where a measurement's CPU went: central's instance, the nodes' instances, and this process (central's
/// service, in-process, and the writers).
#[derive(Clone, Copy, Default)]
pub(crate) struct Cpu {
    pub(crate) central: Duration,
    pub(crate) nodes: Duration,
    pub(crate) bench: Duration,
    pub(crate) machine: Duration,
}

impl Cpu {
    pub(crate) fn now(central: &TestInstance, nodes: &[&TestInstance]) -> anyhow::Result<Self> {
        let mut on_nodes = Duration::ZERO;
        for node in nodes {
            on_nodes += instance_cpu(node)?;
        }
        Ok(Self {
            central: instance_cpu(central)?,
            nodes: on_nodes,
            bench: own_cpu()?,
            machine: machine_busy()?,
        })
    }

    pub(crate) fn since(self, earlier: Self) -> Self {
        Self {
            central: self.central.saturating_sub(earlier.central),
            nodes: self.nodes.saturating_sub(earlier.nodes),
            bench: self.bench.saturating_sub(earlier.bench),
            machine: self.machine.saturating_sub(earlier.machine),
        }
    }
}

/// One variant's throughput: rows/s, the CPU spent per row and the WAL central wrote per row.
#[derive(Clone, Copy)]
pub(crate) struct Throughput {
    pub(crate) rows_per_second: f64,
    pub(crate) cpu: Cpu,
    pub(crate) rows: u32,
    pub(crate) wal_bytes_per_row: f64,
}

impl Throughput {
    pub(crate) fn micros_per_row(&self, part: Duration) -> f64 {
        part.as_secs_f64() * 1e6 / f64::from(self.rows)
    }
}

/// The instances whose CPU a measurement reads: central's and the nodes'.
pub(crate) struct Watched<'a> {
    pub(crate) central: &'a TestInstance,
    pub(crate) nodes: Vec<&'a TestInstance>,
}

pub(crate) async fn wal_lsn(central: &Db) -> anyhow::Result<f64> {
    Ok(central
        .query_one("SELECT pg_current_wal_lsn() - '0/0'::pg_lsn", &[])
        .await?
        .get::<_, rust_decimal::Decimal>(0)
        .try_into()?)
}

/// Measures `write` (which returns rows/s) for `rows` rows, with whatever `wait` adds afterwards (delivery)
/// counted in the CPU but not in the rate.
pub(crate) async fn measure(
    watched: &Watched<'_>,
    central: &Db,
    rows: usize,
    write: impl AsyncFnOnce() -> anyhow::Result<f64>,
    wait: impl AsyncFnOnce() -> anyhow::Result<()>,
) -> anyhow::Result<Throughput> {
    let cpu = Cpu::now(watched.central, &watched.nodes)?;
    let wal = wal_lsn(central).await?;
    let rows_per_second = write().await?;
    let wal_bytes = wal_lsn(central).await? - wal;
    wait().await?;
    let rows = u32::try_from(rows)?;
    Ok(Throughput {
        rows_per_second,
        cpu: Cpu::now(watched.central, &watched.nodes)?.since(cpu),
        rows,
        wal_bytes_per_row: wal_bytes / f64::from(rows),
    })
}

/// Capture on against capture off, measured in pairs.
pub(crate) struct Paired {
    pub(crate) on: Throughput,
    pub(crate) off: Throughput,
    /// The median of the pairs' on/off ratios.
    pub(crate) ratio: f64,
    /// The pairs' lowest and highest ratios, how much the machine's background load moved them.
    pub(crate) ratio_range: (f64, f64),
}

impl Paired {
    pub(crate) fn ratio_text(&self) -> String {
        format!(
            "{:.2} ({:.2}-{:.2})",
            self.ratio, self.ratio_range.0, self.ratio_range.1
        )
    }
}

/// `rounds` pairs of measurements with `on` and `off` in force (SQL that switches triggers), back to
/// back and in alternating order, so that the machine's background load (it is shared) weighs on both
/// sides of a pair alike. Ends with `off`'s counterpart undone: `restore` runs last.
pub(crate) async fn on_off(
    central: &Db,
    (on_sql, off_sql, restore): (&str, &str, &str),
    rounds: usize,
    mut measure: impl AsyncFnMut(bool) -> anyhow::Result<Throughput>,
) -> anyhow::Result<Paired> {
    let (mut on, mut off, mut ratios) = (Vec::new(), Vec::new(), Vec::new());
    for round in 0..rounds {
        let mut pair = [None, None];
        for capture in [round % 2 == 0, round % 2 == 1] {
            central
                .batch_execute(if capture { on_sql } else { off_sql })
                .await?;
            pair[usize::from(capture)] = Some(measure(capture).await?);
        }
        let [Some(without), Some(with)] = pair else {
            unreachable!("both sides of a pair are measured")
        };
        ratios.push(with.rows_per_second / without.rows_per_second);
        on.push(with);
        off.push(without);
    }
    central.batch_execute(restore).await?;
    for variant in [&mut on, &mut off] {
        variant.sort_by(|a, b| a.rows_per_second.total_cmp(&b.rows_per_second));
    }
    ratios.sort_by(f64::total_cmp);
    Ok(Paired {
        on: on[rounds / 2],
        off: off[rounds / 2],
        ratio: ratios[rounds / 2],
        ratio_range: (ratios[0], ratios[rounds - 1]),
    })
}

pub(crate) const CAPTURE_ON: &str = "ALTER TABLE customers ENABLE TRIGGER trg_customers_insert";
pub(crate) const CAPTURE_OFF: &str = "ALTER TABLE customers DISABLE TRIGGER trg_customers_insert";
/// Capture on against off.
pub(crate) const CAPTURE: (&str, &str, &str) = (CAPTURE_ON, CAPTURE_OFF, CAPTURE_ON);

/// [`BULK_STATEMENTS`] statements one after the other, each inserting `rows` customers (as an import
/// does); rows/s over them all.
pub(crate) async fn bulk_insert(central: &Db, city_id: i32, rows: usize) -> anyhow::Result<f64> {
    let names: Vec<String> = (0..rows).map(|i| format!("Bulk {i}")).collect();
    let started = Instant::now();
    for _ in 0..BULK_STATEMENTS {
        central
            .execute(
                "INSERT INTO customers (name, phone, city_id)
                 SELECT n, NULL, $2 FROM unnest($1::text[]) n",
                &[&names, &city_id],
            )
            .await?;
    }
    Ok((rows * BULK_STATEMENTS) as f64 / started.elapsed().as_secs_f64())
}
