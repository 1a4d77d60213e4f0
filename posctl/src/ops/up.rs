//! `up`: the PostgreSQL instances, then central, the cities, the stores, the store nodes, their
//! registration at central and the demo data, in that order; on failure it stops what it started, in
//! the foreground it supervises the cluster until a signal or a service's exit. Called by `cli`.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context, anyhow, bail};
use tokio::signal::unix::{SignalKind, signal};

use super::register::{ensure_cities, ensure_head_office_account, register_nodes, sync_stores};
use super::specs::{central_spec, node_spec};
use super::stop_instances;
use super::summary::{print_summary, write_cluster_file};
use crate::api::Api;
use crate::api::model::Product;
use crate::cluster::{self, DEFAULT_CITIES, DEFAULT_PORT_BASE, InstanceState, Paths, State};
use crate::demo;
use crate::services::{Binaries, Foreground, Supervisor};

pub const HEALTH_TIMEOUT: Duration = Duration::from_secs(60);

pub struct UpOptions {
    pub dir: PathBuf,
    pub cities: Option<Vec<String>>,
    pub port_base: Option<u16>,
    pub demo_data: bool,
    pub detach: bool,
}

/// SIGINT or SIGTERM, whichever comes first.
struct Signals {
    interrupt: tokio::signal::unix::Signal,
    terminate: tokio::signal::unix::Signal,
}

impl Signals {
    fn new() -> anyhow::Result<Self> {
        Ok(Self {
            interrupt: signal(SignalKind::interrupt()).context("handling SIGINT")?,
            terminate: signal(SignalKind::terminate()).context("handling SIGTERM")?,
        })
    }

    async fn recv(&mut self) -> &'static str {
        tokio::select! {
            _ = self.interrupt.recv() => "SIGINT",
            _ = self.terminate.recv() => "SIGTERM",
        }
    }
}

/// What a successful start leaves to report.
#[derive(Default)]
pub(super) struct Report {
    /// Steps that failed without stopping the cluster (node registration, demo data).
    pub(super) warnings: Vec<String>,
}

pub async fn up(options: UpOptions) -> anyhow::Result<ExitCode> {
    let paths = Paths::create(&options.dir)?;
    let mut state = match State::load(&paths)? {
        Some(mut state) => {
            if let Some(base) = options.port_base
                && base != state.port_base
            {
                println!(
                    "note: {} was made with --port-base {}; keeping it (down --purge to start afresh)",
                    paths.dir.display(),
                    state.port_base
                );
            }
            if let Some(cities) = &options.cities {
                let added = state.add_cities(cities)?;
                if added > 0 {
                    println!("adding {added} new city/cities to the cluster");
                }
            }
            state
        }
        None => {
            let cities: Vec<String> = options
                .cities
                .clone()
                .unwrap_or_else(|| DEFAULT_CITIES.iter().map(|c| (*c).to_owned()).collect());
            if cities.is_empty() {
                bail!("--cities: name at least one city");
            }
            let state = State::create(options.port_base.unwrap_or(DEFAULT_PORT_BASE), &cities)?;
            let busy: Vec<String> = state
                .ports()
                .into_iter()
                .filter(|p| !cluster::port_free(*p))
                .map(|p| p.to_string())
                .collect();
            if !busy.is_empty() {
                bail!(
                    "port(s) {} are in use: choose another --port-base",
                    busy.join(", ")
                );
            }
            state
        }
    };
    state.save(&paths)?;
    let binaries = Binaries::locate()?;
    let mut supervisor = Supervisor::new(paths.clone(), options.detach)?;
    let mut signals = Signals::new()?;
    // In the foreground: the terminal's Ctrl-C for posctl alone, and `down` elsewhere asks it to stop.
    let _foreground = if options.detach {
        None
    } else {
        supervisor.record_self()?;
        Foreground::take()
    };
    println!(
        "Starting the cluster in {} (central and {} node(s)); --verbose shows each step",
        paths.dir.display(),
        state.cities.len()
    );
    // Not cancelled by a signal: a half-started instance would be missed by the clean-up. A signal that
    // arrives meanwhile is seen by the select below.
    let mut started_pg: Vec<InstanceState> = Vec::new();
    let result = match start_instances(&state, &paths, &mut started_pg).await {
        Ok(()) => tokio::select! {
            result = start_services(&mut state, &paths, &binaries, &mut supervisor, options.demo_data) => result,
            name = signals.recv() => Err(anyhow!("interrupted by {name}")),
        },
        Err(e) => Err(e),
    };
    let report = match result {
        Ok(report) => report,
        Err(e) => {
            eprintln!("posctl: start failed; stopping what this run started");
            let started = supervisor.started();
            supervisor.stop(&started).await;
            stop_instances(&paths, &started_pg).await;
            return Err(e);
        }
    };
    print_summary(&state, &paths, options.detach);
    for warning in &report.warnings {
        eprintln!("posctl: warning: {warning}");
    }
    if options.detach {
        return Ok(if report.warnings.is_empty() {
            ExitCode::SUCCESS
        } else {
            ExitCode::from(2)
        });
    }

    let outcome = tokio::select! {
        name = signals.recv() => {
            println!("posctl: {name}: stopping the cluster");
            Ok(())
        }
        (name, status) = supervisor.wait_any_exit() => {
            eprintln!("posctl: {name} exited ({status}); stopping the cluster");
            Err(anyhow!("{name} exited ({status}); see {}", paths.log_file(&name).display()))
        }
    };
    let all = supervisor.all();
    supervisor.stop(&all).await;
    let instances: Vec<InstanceState> = state.instances().cloned().collect();
    stop_instances(&paths, &instances).await;
    let _ = std::fs::remove_file(paths.pids_file());
    println!("posctl: stopped");
    outcome.map(|()| ExitCode::SUCCESS)
}

/// PostgreSQL instances (created on first use), roles and databases. Instances started here are added
/// to `started_pg` even when another one fails.
async fn start_instances(
    state: &State,
    paths: &Paths,
    started_pg: &mut Vec<InstanceState>,
) -> anyhow::Result<()> {
    let tasks: Vec<_> = state
        .instances()
        .cloned()
        .map(|instance| {
            let paths = paths.clone();
            tokio::task::spawn_blocking(move || {
                let started = cluster::ensure_instance(&paths, &instance)?;
                anyhow::Ok((instance, started))
            })
        })
        .collect();
    let mut failure = None;
    for task in tasks {
        match task.await.context("PostgreSQL start-up task")? {
            Ok((instance, true)) => {
                crate::step!(
                    "PostgreSQL {} started on port {}",
                    instance.name,
                    instance.pg_port
                );
                started_pg.push(instance);
            }
            Ok((_, false)) => {}
            Err(e) => failure = failure.or(Some(e)),
        }
    }
    if let Some(e) = failure {
        return Err(e);
    }
    for instance in state.instances() {
        cluster::prepare_database(paths, instance)
            .await
            .with_context(|| format!("preparing the {} database", instance.name))?;
    }
    Ok(())
}

/// Central, cities, stores, nodes, registration, demo data, cluster.json.
async fn start_services(
    state: &mut State,
    paths: &Paths,
    binaries: &Binaries,
    supervisor: &mut Supervisor,
    demo_data: bool,
) -> anyhow::Result<Report> {
    let mut report = Report::default();

    // 2. Central.
    let central = central_spec(state, paths, binaries)?;
    supervisor.ensure(&central).await?;
    supervisor
        .wait_healthy(&central.name, &central.url(), HEALTH_TIMEOUT)
        .await?;
    let api = Api::new(&central.url(), &state.admin_token)?;

    // 3. A head-office account to sign in with, and the cities.
    ensure_head_office_account(&api, &state.head_office_password).await?;
    ensure_cities(&api, state).await?;
    state.save(paths)?;

    // 4. Demo master data, and a cashier credential for each store (replicated to its node).
    if demo_data {
        if let Err(e) = demo::seed_catalogue(&api).await {
            report.warnings.push(format!("demo catalogue: {e:#}"));
        }
        let cities: Vec<(&str, i32)> = state
            .cities
            .iter()
            .filter_map(|c| Some((c.name.as_str(), c.city_id?)))
            .collect();
        if let Err(e) = demo::seed_stores_and_customers(&api, &cities).await {
            report
                .warnings
                .push(format!("demo stores and customers: {e:#}"));
        }
    }
    match sync_stores(&api, state).await {
        Ok(()) => state.save(paths)?,
        Err(e) => report.warnings.push(format!(
            "listing stores at central (their cashier credentials are not recorded): {e:#}"
        )),
    }

    // 5. Store nodes, each with its own login at central.
    for city in &state.cities {
        if let Some(city_id) = city.city_id {
            cluster::ensure_node_login(
                paths,
                &state.central,
                city_id,
                &city.central_login_password,
            )
            .await?;
        }
    }
    let specs = state
        .cities
        .iter()
        .map(|city| node_spec(state, city, paths, binaries))
        .collect::<anyhow::Result<Vec<_>>>()?;
    for spec in &specs {
        supervisor.ensure(spec).await?;
    }
    for spec in &specs {
        supervisor
            .wait_healthy(&spec.name, &spec.url(), HEALTH_TIMEOUT)
            .await?;
    }

    // 6. Register the nodes at central (after their schemas exist, so the initial load lands at once).
    let registered = register_nodes(&api, state, &mut report).await;
    // 6b. What a restore left to reconcile (see `backup`).
    crate::backup::reconcile(&api, paths, state, &mut report.warnings).await;

    // 7. Opening stock.
    if demo_data {
        match api.get_all::<Product>("/products").await {
            Ok(products) => {
                let ids: Vec<i32> = products.iter().map(|p| p.id).collect();
                for city in &state.cities {
                    if !city.city_id.is_some_and(|id| registered.contains(&id)) {
                        continue;
                    }
                    for store in &city.stores {
                        if let Err(e) = crate::stores::wait_for_credential(
                            paths,
                            city,
                            store,
                            demo::REPLICATION_TIMEOUT,
                        )
                        .await
                        {
                            report
                                .warnings
                                .push(format!("opening stock for {}: {e:#}", store.code));
                            continue;
                        }
                        let node = Api::new(&city.instance.http_url(), &store.cashier_token)?;
                        match demo::opening_stock(&node, store.id, &ids).await {
                            Ok(true) => crate::step!("demo data: opening stock for {}", store.code),
                            Ok(false) => {}
                            Err(e) => report
                                .warnings
                                .push(format!("opening stock for {}: {e:#}", store.code)),
                        }
                    }
                }
            }
            Err(e) => report
                .warnings
                .push(format!("listing products for the opening stock: {e:#}")),
        }
    }

    // 8. cluster.json.
    write_cluster_file(state, paths)?;
    Ok(report)
}
