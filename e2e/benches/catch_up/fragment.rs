//! The city's fragment as the catch-up benchmark writes it at central and reads it on both sides:
//! central's writer sessions, and the signal, digest and queue state compared between the two.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::Context;
use pos_shared::testkit::TestInstance;
use tokio_postgres::Statement;

use crate::common::{Db, connect};

/// Writer sessions per kind of write: durable commits of one session would not keep the rate.
pub(crate) const SESSIONS_PER_KIND: usize = 4;

/// A cheap signal of what a database holds of the city's fragment: the newest customer of the city
/// and the sum of the products' versions (both change with every batch of the outage's writes).
const SIGNAL: &str = "SELECT (SELECT coalesce(max(id), 0) FROM customers WHERE city_id = $1),
                             (SELECT coalesce(sum(version), 0)::bigint FROM products)";
/// The fragment's (id, version) pairs, summarised: count and sum of hashes of the city's customers
/// and of the products. Run on central and on the node alike.
const DIGEST: &str = "SELECT (SELECT count(*) || '/' || coalesce(sum(hashtext(id || ':' || version)), 0)
                              FROM customers WHERE city_id = $1)
                          || ' ' ||
                             (SELECT count(*) || '/' || coalesce(sum(hashtext(id || ':' || version)), 0)
                              FROM products)";
/// Whether the node has open entries, through the queue's index (the range keeps the planner on it,
/// as in deliver_replication()).
pub(crate) const OPEN: &str = "SELECT EXISTS (SELECT 1 FROM replication_log
                    WHERE target_city_id BETWEEN $1 AND $1 AND status IN ('Pending', 'Failed'))";

pub(crate) async fn signal(db: &Db, city: i32) -> anyhow::Result<(i32, i64)> {
    let row = db
        .query_one(SIGNAL, &[&city])
        .await
        .context("reading the signal")?;
    Ok((row.get(0), row.get(1)))
}

pub(crate) async fn digest(db: &Db, city: i32) -> anyhow::Result<String> {
    Ok(db
        .query_one(DIGEST, &[&city])
        .await
        .context("reading the digest")?
        .get(0))
}

pub(crate) async fn dead_entries(central: &Db) -> anyhow::Result<i64> {
    let row = central
        .query_one(
            "SELECT count(*) FROM replication_log WHERE status = 'Dead'",
            &[],
        )
        .await
        .context("counting Dead entries")?;
    Ok(row.get(0))
}

/// A connection to a node's database that was just started: retried until it answers.
pub(crate) async fn connect_when_up(instance: &TestInstance, db: &str) -> anyhow::Result<Db> {
    let started = Instant::now();
    loop {
        match connect(instance, db).await {
            Ok(client) => return Ok(client),
            Err(e) if started.elapsed() > Duration::from_secs(30) => {
                return Err(e.context("the restarted node's database does not answer"));
            }
            Err(_) => tokio::time::sleep(Duration::from_millis(10)).await,
        }
    }
}

/// Writer sessions of one kind, each with its prepared single-row statement taking one integer.
pub(crate) struct Writers(Vec<(Db, Statement)>);

impl Writers {
    pub(crate) async fn open(instance: &TestInstance, db: &str, sql: &str) -> anyhow::Result<Self> {
        let mut sessions = Vec::new();
        for _ in 0..SESSIONS_PER_KIND {
            let client = connect(instance, db)
                .await
                .context("opening a writer session")?;
            let statement = client.prepare(sql).await.context("preparing a write")?;
            sessions.push((client, statement));
        }
        Ok(Self(sessions))
    }

    /// Writes at `per_second` in all (sessions on staggered tickers; a late tick is made up) until
    /// `until`; `arg` gives the n-th write's parameter. Returns how many writes were made.
    pub(crate) async fn run(
        &self,
        per_second: u32,
        until: Instant,
        arg: impl Fn(u64) -> i32 + Copy,
    ) -> anyhow::Result<u64> {
        let made = AtomicU64::new(0);
        let sessions = u32::try_from(self.0.len())?;
        let period = Duration::from_secs(1) * sessions / per_second;
        let now = tokio::time::Instant::now();
        let tasks = (0..sessions).zip(&self.0).map(|(i, (db, statement))| {
            let made = &made;
            async move {
                let mut ticker = tokio::time::interval_at(now + period * i / sessions, period);
                loop {
                    ticker.tick().await;
                    if Instant::now() >= until {
                        return anyhow::Ok(());
                    }
                    let n = made.fetch_add(1, Ordering::Relaxed);
                    db.execute(statement, &[&arg(n)])
                        .await
                        .context("a write at central")?;
                }
            }
        });
        futures_util::future::try_join_all(tasks).await?;
        Ok(made.load(Ordering::Relaxed))
    }
}
