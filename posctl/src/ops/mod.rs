//! The commands. `up` is in `up`, with the services' settings in `specs`, what it does at central in
//! `register` and what it leaves to read in `summary`; here are `down`, `db stop|start` and `status`, and
//! what they share with `up`. Called by `cli`; `node` loads the cluster with `load_existing`.

mod register;
mod specs;
mod summary;
mod up;

pub use up::{HEALTH_TIMEOUT, UpOptions, up};

use std::path::Path;
use std::process::ExitCode;

use anyhow::{Context, bail};

use crate::api;
use crate::cluster::{self, InstanceState, Paths, State};
use crate::services::{self, PidFile};

async fn stop_instances(paths: &Paths, instances: &[InstanceState]) {
    for instance in instances.iter().rev() {
        let paths = paths.clone();
        let instance = instance.clone();
        let name = instance.name.clone();
        let result = tokio::task::spawn_blocking(move || cluster::stop_instance(&paths, &instance))
            .await
            .map_err(anyhow::Error::from)
            .and_then(|r| r);
        match result {
            Ok(()) => println!("PostgreSQL {name} stopped"),
            Err(e) => eprintln!("posctl: warning: stopping PostgreSQL {name}: {e:#}"),
        }
    }
}

pub async fn down(dir: &Path, purge: bool) -> anyhow::Result<()> {
    let Some(paths) = Paths::existing(dir)? else {
        println!("{}: nothing there", dir.display());
        return Ok(());
    };
    let state = State::load(&paths)?;
    let pids = PidFile::load(&paths)?;
    if purge && state.is_none() && pids.services.is_empty() && !is_empty_dir(&paths.dir)? {
        bail!(
            "{} has no state.json: not a posctl cluster directory, refusing to delete it",
            paths.dir.display()
        );
    }
    services::stop_recorded(&pids.services).await;
    if let Some(state) = &state {
        let instances: Vec<InstanceState> = state.instances().cloned().collect();
        stop_instances(&paths, &instances).await;
    }
    match std::fs::remove_file(paths.pids_file()) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(e).context("removing pids.json"),
    }
    if purge {
        std::fs::remove_dir_all(&paths.dir)
            .with_context(|| format!("deleting {}", paths.dir.display()))?;
        println!("deleted {}", paths.dir.display());
    }
    Ok(())
}

fn is_empty_dir(dir: &Path) -> anyhow::Result<bool> {
    Ok(std::fs::read_dir(dir)
        .with_context(|| format!("reading {}", dir.display()))?
        .next()
        .is_none())
}

pub(crate) fn load_existing(dir: &Path) -> anyhow::Result<(Paths, State)> {
    let paths = Paths::existing(dir)?
        .with_context(|| format!("{} does not exist: run posctl up first", dir.display()))?;
    let state = State::load(&paths)?.with_context(|| {
        format!(
            "{} has no state.json: run posctl up first",
            paths.dir.display()
        )
    })?;
    Ok((paths, state))
}

pub async fn db(dir: &Path, target: &str, start: bool) -> anyhow::Result<()> {
    let (paths, state) = load_existing(dir)?;
    let instance = state.find_instance(target)?.clone();
    let name = instance.name.clone();
    let port = instance.pg_port;
    tokio::task::spawn_blocking(move || {
        if start {
            cluster::ensure_instance(&paths, &instance).map(|_| ())
        } else {
            cluster::stop_instance(&paths, &instance)
        }
    })
    .await
    .context("PostgreSQL task")??;
    let verb = if start { "started" } else { "stopped" };
    println!("PostgreSQL {name} (port {port}) {verb}");
    Ok(())
}

pub async fn status(dir: &Path) -> anyhow::Result<ExitCode> {
    let (paths, state) = load_existing(dir)?;
    let pids = PidFile::load(&paths)?;
    let mut rows: Vec<[String; 5]> = Vec::new();
    let mut healthy = true;
    for instance in state.instances() {
        let running = cluster::is_running(&paths, instance);
        healthy &= running;
        rows.push([
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
        rows.push([
            name.clone(),
            "http".into(),
            instance.http_port.to_string(),
            text,
            services::describe(pids.get(&name)),
        ]);
    }
    let header = [
        "NAME".to_owned(),
        "KIND".into(),
        "PORT".into(),
        "STATE".into(),
        "DETAIL".into(),
    ];
    let widths: Vec<usize> = (0..4)
        .map(|i| {
            std::iter::once(&header)
                .chain(&rows)
                .map(|r| r[i].chars().count())
                .max()
                .unwrap_or(0)
        })
        .collect();
    for row in std::iter::once(&header).chain(&rows) {
        let mut line = String::new();
        for (i, width) in widths.iter().enumerate() {
            line.push_str(&format!("{:<width$}  ", row[i], width = *width));
        }
        line.push_str(&row[4]);
        println!("{}", line.trim_end());
    }
    Ok(if healthy {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}
