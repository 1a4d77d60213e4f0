//! `status`: each PostgreSQL instance and each service's `/health`, then per node how far delivery is
//! behind in both directions: central's replication queue to it (from `/replication/status`) and its
//! outbox of sales to central (from its `/sync/status`). Called by `cli`.

use std::path::Path;
use std::process::ExitCode;
use std::time::Duration;

use serde::Deserialize;

use super::load_existing;
use crate::api::{self, Api};
use crate::cluster::{self, CityState, Paths, State};
use crate::services::{self, PidFile};
use crate::table;

/// How long `status` waits for each answer: an operator is looking at a terminal.
const ANSWER_TIMEOUT: Duration = Duration::from_secs(3);

/// One node in central's `GET /replication/status`.
#[derive(Deserialize)]
struct ReplicationNode {
    city_id: i32,
    pending: i64,
    failed: i64,
    dead: i64,
    oldest_pending_age_seconds: Option<f64>,
    reachable: bool,
}

#[derive(Deserialize)]
struct ReplicationStatus {
    nodes: Vec<ReplicationNode>,
}

/// A node's `GET /sync/status`: its outbox of sales to central.
#[derive(Deserialize)]
struct OutboxStatus {
    pending: i64,
    failed: i64,
    dead: i64,
    oldest_pending_age_seconds: Option<f64>,
    central_reachable: bool,
}

pub async fn status(dir: &Path) -> anyhow::Result<ExitCode> {
    let (paths, state) = load_existing(dir)?;
    let (services, healthy) = services_table(&paths, &state).await?;
    print!("{services}");
    println!();
    print!("{}", delivery_table(&state).await?);
    Ok(if healthy {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

/// The instances and services, and whether all are up.
async fn services_table(paths: &Paths, state: &State) -> anyhow::Result<(String, bool)> {
    let pids = PidFile::load(paths)?;
    let mut rows: Vec<Vec<String>> = Vec::new();
    let mut healthy = true;
    for instance in state.instances() {
        let running = cluster::is_running(paths, instance);
        healthy &= running;
        rows.push(vec![
            instance.name.clone(),
            "postgres".into(),
            instance.pg_port.to_string(),
            if running { "running" } else { "stopped" }.into(),
            paths.pg_dir(&instance.name).display().to_string(),
        ]);
    }
    let services = std::iter::once((cluster::CENTRAL.to_owned(), &state.central))
        .chain(state.cities.iter().map(|c| (c.service_name(), &c.instance)));
    for (name, instance) in services {
        let code = api::health(&instance.http_url()).await;
        let text = match code {
            Some(200) => "healthy".to_owned(),
            Some(503) => "degraded (503: database unreachable)".to_owned(),
            Some(other) => format!("unhealthy ({other})"),
            None => "down (no answer)".to_owned(),
        };
        healthy &= code == Some(200);
        rows.push(vec![
            name.clone(),
            "http".into(),
            instance.http_port.to_string(),
            text,
            services::describe(pids.get(&name)),
        ]);
    }
    let text = table::render(&["NAME", "KIND", "PORT", "STATE", "DETAIL"], &rows);
    Ok((text, healthy))
}

/// Per node: central's queue to it and its outbox to central, each as pending/failed/dead and the age
/// of its oldest undelivered entry (the lag). A side that does not answer says so.
async fn delivery_table(state: &State) -> anyhow::Result<String> {
    let central = Api::with_timeout(
        &state.central.http_url(),
        &state.admin_token,
        ANSWER_TIMEOUT,
    )?;
    let replication = central
        .get::<ReplicationStatus>("/replication/status")
        .await
        .map(|s| s.nodes);
    let outboxes = futures_util::future::join_all(
        state
            .cities
            .iter()
            .map(|city| outbox_status(city, &state.admin_token)),
    )
    .await;
    let mut rows = Vec::new();
    for (city, outbox) in state.cities.iter().zip(outboxes) {
        let (to_node, to_node_lag, node_reachable) = match &replication {
            Ok(nodes) => match nodes.iter().find(|n| Some(n.city_id) == city.city_id) {
                Some(n) => (
                    counts(n.pending, n.failed, n.dead),
                    lag(n.oldest_pending_age_seconds),
                    yes_no(n.reachable),
                ),
                None => ("not registered".into(), String::new(), String::new()),
            },
            Err(_) => ("central: no answer".into(), String::new(), String::new()),
        };
        let (to_central, to_central_lag, central_reachable) = match outbox {
            Ok(o) => (
                counts(o.pending, o.failed, o.dead),
                lag(o.oldest_pending_age_seconds),
                yes_no(o.central_reachable),
            ),
            Err(_) => ("node: no answer".into(), String::new(), String::new()),
        };
        rows.push(vec![
            city.name.clone(),
            to_node,
            to_node_lag,
            node_reachable,
            to_central,
            to_central_lag,
            central_reachable,
        ]);
    }
    Ok(table::render(
        &[
            "NODE",
            "TO NODE (pending/failed/dead)",
            "LAG",
            "REACHED",
            "OUTBOX TO CENTRAL (pending/failed/dead)",
            "OLDEST UNSENT",
            "REACHES CENTRAL",
        ],
        &rows,
    ))
}

async fn outbox_status(city: &CityState, token: &str) -> anyhow::Result<OutboxStatus> {
    Api::with_timeout(&city.instance.http_url(), token, ANSWER_TIMEOUT)?
        .get("/sync/status")
        .await
}

fn counts(pending: i64, failed: i64, dead: i64) -> String {
    format!("{pending}/{failed}/{dead}")
}

fn yes_no(value: bool) -> String {
    if value { "yes" } else { "no" }.into()
}

/// The age of the oldest undelivered entry: `0 s` when nothing waits.
fn lag(oldest_seconds: Option<f64>) -> String {
    match oldest_seconds {
        None => "0 s".into(),
        Some(s) if s < 120.0 => format!("{s:.1} s"),
        Some(s) if s < 7200.0 => format!("{:.0} min", s / 60.0),
        Some(s) => format!("{:.1} h", s / 3600.0),
    }
}

#[cfg(test)]
mod tests {
    use super::lag;

    #[test]
    fn lag_reads_in_the_unit_that_fits() {
        assert_eq!(lag(None), "0 s");
        assert_eq!(lag(Some(0.4)), "0.4 s");
        assert_eq!(lag(Some(300.0)), "5 min");
        assert_eq!(lag(Some(36_000.0)), "10.0 h");
    }
}
