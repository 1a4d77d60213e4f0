//! The commands. `up` is in `up`, with the services' settings in `specs`, what it does at central in
//! `register` (which `bootstrap` shares) and what it leaves to read in `summary`; `status` is in `status`. Here are `down` and
//! `db stop|start`, and what they share with `up`. Called by `cli`; `node` loads the cluster with
//! `load_existing`.

pub(crate) mod register;
mod specs;
mod status;
mod summary;
mod up;

pub use status::status;
pub use up::{HEALTH_TIMEOUT, UpOptions, up};

use std::path::Path;

use anyhow::{Context, bail};

use crate::cluster::{self, InstanceState, Paths, State};
use crate::services::{self, PidFile};

async fn stop_instances(paths: &Paths, instances: &[InstanceState]) {
    for instance in instances.iter().rev() {
        if !cluster::is_running(paths, instance) {
            continue;
        }
        let paths = paths.clone();
        let instance = instance.clone();
        let name = instance.name.clone();
        let result = tokio::task::spawn_blocking(move || cluster::stop_instance(&paths, &instance))
            .await
            .map_err(anyhow::Error::from)
            .and_then(|r| r);
        match result {
            Ok(()) => crate::step!("PostgreSQL {name} stopped"),
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
    // A foreground `up` stops its own cluster and exits 0; what is left after it is stopped here.
    services::stop_supervisor(&paths).await?;
    let pids = PidFile::load(&paths)?;
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

/// Saves the state and rewrites `cluster.json` (after a command changed stores or tokens).
pub(crate) fn save_cluster(state: &State, paths: &Paths) -> anyhow::Result<()> {
    state.save(paths)?;
    summary::write_cluster_file(state, paths)
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
