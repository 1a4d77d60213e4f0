//! The commands: `up`, `down`, `db stop|start`, `status`.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context, anyhow, bail};
use pos_shared::auth::generate_token;
use serde_json::json;
use tokio::signal::unix::{SignalKind, signal};

use crate::api::model::{City, Node, Product, Store};
use crate::api::{self, Api, status_of};
use crate::cluster::{
    self, CityState, DEFAULT_CITIES, DEFAULT_PORT_BASE, InstanceState, Paths, State, StoreState,
};
use crate::demo;
use crate::services::{self, Binaries, PidFile, ServiceSpec, Supervisor};

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
struct Report {
    /// Steps that failed without stopping the cluster (node registration, demo data).
    warnings: Vec<String>,
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
                println!(
                    "PostgreSQL {} started on port {}",
                    instance.name, instance.pg_port
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

    // 3. Cities.
    ensure_cities(&api, state).await?;
    state.save(paths)?;

    // 4. Demo master data (stores first: the nodes need their cashier tokens at start).
    if demo_data {
        if let Err(e) = demo::seed_catalogue(&api).await {
            report.warnings.push(format!("demo catalogue: {e:#}"));
        }
        if let Err(e) = demo::seed_stores_and_customers(&api, &state.cities).await {
            report
                .warnings
                .push(format!("demo stores and customers: {e:#}"));
        }
    }
    match sync_stores(&api, state).await {
        Ok(()) => state.save(paths)?,
        Err(e) => report.warnings.push(format!(
            "listing stores at central (the nodes start without cashier tokens): {e:#}"
        )),
    }

    // 5. Store nodes.
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

    // 7. Opening stock.
    if demo_data {
        match api.get::<Vec<Product>>("/products").await {
            Ok(products) => {
                let ids: Vec<i32> = products.iter().map(|p| p.id).collect();
                for city in &state.cities {
                    if !city.city_id.is_some_and(|id| registered.contains(&id)) {
                        continue;
                    }
                    for store in &city.stores {
                        let node = Api::new(&city.instance.http_url(), &store.cashier_token)?;
                        match demo::opening_stock(&node, store.id, &ids, paths, &city.instance)
                            .await
                        {
                            Ok(true) => println!("demo data: opening stock for {}", store.code),
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

/// The operator's `POS_*` settings, then those that say which service this is.
fn common_env(instance: &InstanceState, paths: &Paths) -> anyhow::Result<Vec<(String, String)>> {
    let mut env = services::operator_settings(std::env::vars());
    if !env.iter().any(|(key, _)| key == "POS_LOG_FORMAT") {
        env.push(("POS_LOG_FORMAT".into(), "human".into()));
    }
    env.extend([
        ("POS_HTTP_HOST".into(), "127.0.0.1".into()),
        ("POS_HTTP_PORT".into(), instance.http_port.to_string()),
        ("POS_DATABASE_URL".into(), instance.app_url(paths)?),
    ]);
    Ok(env)
}

fn central_spec(state: &State, paths: &Paths, binaries: &Binaries) -> anyhow::Result<ServiceSpec> {
    let mut env = common_env(&state.central, paths)?;
    env.push(("POS_ADMIN_TOKEN".into(), state.admin_token.clone()));
    Ok(ServiceSpec {
        name: cluster::CENTRAL.to_owned(),
        binary: binaries.central.clone(),
        http_port: state.central.http_port,
        env,
    })
}

fn node_spec(
    state: &State,
    city: &CityState,
    paths: &Paths,
    binaries: &Binaries,
) -> anyhow::Result<ServiceSpec> {
    let city_id = city
        .city_id
        .with_context(|| format!("{} has no id at central", city.name))?;
    let mut env = common_env(&city.instance, paths)?;
    env.push(("POS_CITY_ID".into(), city_id.to_string()));
    env.push(("POS_ADMIN_TOKEN".into(), state.admin_token.clone()));
    env.push((
        "POS_CENTRAL_DATABASE_URL".into(),
        state.central.replicator_url(paths)?,
    ));
    if !city.stores.is_empty() {
        let tokens: Vec<String> = city
            .stores
            .iter()
            .map(|s| format!("{}={}", s.id, s.cashier_token))
            .collect();
        env.push(("POS_CASHIER_TOKENS".into(), tokens.join(",")));
    }
    Ok(ServiceSpec {
        name: city.service_name(),
        binary: binaries.store_node.clone(),
        http_port: city.instance.http_port,
        env,
    })
}

/// Creates the cities central does not know yet and records every city's id.
/// The zone of the cities `up` creates: the local cluster's cities are the chain's, in Pakistan
/// (`PATCH /cities/{id}` changes it).
const CITY_TIME_ZONE: &str = "Asia/Karachi";

async fn ensure_cities(api: &Api, state: &mut State) -> anyhow::Result<()> {
    let mut known: Vec<City> = api.get("/cities").await.context("listing cities")?;
    for city in &mut state.cities {
        let found = known
            .iter()
            .find(|c| c.name.eq_ignore_ascii_case(&city.name))
            .map(|c| c.id);
        let id = match found {
            Some(id) => id,
            None => {
                let created: anyhow::Result<City> = api
                    .post(
                        "/cities",
                        &json!({ "name": city.name, "time_zone": CITY_TIME_ZONE }),
                    )
                    .await;
                match created {
                    Ok(c) => {
                        println!("created city {} (id {})", c.name, c.id);
                        let id = c.id;
                        known.push(c);
                        id
                    }
                    // Created meanwhile by someone else: look again.
                    Err(e) if status_of(&e) == Some(409) => {
                        known = api.get("/cities").await.context("listing cities")?;
                        known
                            .iter()
                            .find(|c| c.name.eq_ignore_ascii_case(&city.name))
                            .map(|c| c.id)
                            .ok_or(e)
                            .with_context(|| format!("creating city {}", city.name))?
                    }
                    Err(e) => return Err(e.context(format!("creating city {}", city.name))),
                }
            }
        };
        city.city_id = Some(id);
    }
    Ok(())
}

/// Every store of each city at central, with a cashier token (kept from earlier runs, else new).
async fn sync_stores(api: &Api, state: &mut State) -> anyhow::Result<()> {
    let stores: Vec<Store> = api.get("/stores").await.context("listing stores")?;
    for city in &mut state.cities {
        let Some(city_id) = city.city_id else {
            continue;
        };
        let previous = std::mem::take(&mut city.stores);
        city.stores = stores
            .iter()
            .filter(|s| s.city_id == city_id)
            .map(|s| StoreState {
                id: s.id,
                code: s.code.clone(),
                cashier_token: previous
                    .iter()
                    .find(|p| p.id == s.id)
                    .map(|p| p.cashier_token.clone())
                    .unwrap_or_else(generate_token),
            })
            .collect();
    }
    Ok(())
}

/// Registers each city's node at central unless it is there already; returns the registered city ids.
/// Failures become warnings: the rest of the cluster works without replication.
async fn register_nodes(api: &Api, state: &State, report: &mut Report) -> Vec<i32> {
    let existing: Vec<Node> = match api.get("/nodes").await {
        Ok(nodes) => nodes,
        Err(e) => {
            report.warnings.push(format!(
                "listing nodes at central (no node registered): {e:#}"
            ));
            return Vec::new();
        }
    };
    let mut registered: Vec<i32> = existing.iter().map(|n| n.city_id).collect();
    for city in &state.cities {
        let Some(city_id) = city.city_id else {
            continue;
        };
        if registered.contains(&city_id) {
            continue;
        }
        let body = json!({
            "city_id": city_id,
            "host": "127.0.0.1",
            "port": city.instance.pg_port,
            "dbname": city.instance.dbname,
            "user": pos_shared::pgctl::REPLICATOR_ROLE,
            "password": city.instance.replicator_password,
        });
        match api.post::<_, serde_json::Value>("/nodes", &body).await {
            Ok(_) => {
                println!("registered the {} node at central", city.name);
                registered.push(city_id);
            }
            Err(e) => report.warnings.push(format!(
                "registering the {} node at central: {e:#}",
                city.name
            )),
        }
    }
    registered
}

fn write_cluster_file(state: &State, paths: &Paths) -> anyhow::Result<()> {
    let nodes = state
        .cities
        .iter()
        .map(|city| {
            Ok(json!({
                "city": city.name,
                "city_id": city.city_id,
                "url": city.instance.http_url(),
                "database_url": city.instance.app_url(paths)?,
                "stores": city.stores.iter().map(|s| json!({
                    "id": s.id, "code": s.code, "cashier_token": s.cashier_token,
                })).collect::<Vec<_>>(),
            }))
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    let document = json!({
        "central": {
            "url": state.central.http_url(),
            "database_url": state.central.app_url(paths)?,
            "admin_token": state.admin_token,
        },
        "nodes": nodes,
    });
    let text = serde_json::to_vec_pretty(&document).context("serialising cluster.json")?;
    cluster::write_private(&paths.cluster_file(), &text)
}

fn print_summary(state: &State, paths: &Paths, detach: bool) {
    println!();
    println!("Cluster is up in {}", paths.dir.display());
    println!(
        "  {:<16} {:<24} PostgreSQL 127.0.0.1:{} ({})",
        "central",
        state.central.http_url(),
        state.central.pg_port,
        state.central.dbname
    );
    for city in &state.cities {
        let stores: Vec<&str> = city.stores.iter().map(|s| s.code.as_str()).collect();
        println!(
            "  {:<16} {:<24} PostgreSQL 127.0.0.1:{} ({}), city_id {}, stores: {}",
            city.name,
            city.instance.http_url(),
            city.instance.pg_port,
            city.instance.dbname,
            city.city_id.map_or("?".to_owned(), |id| id.to_string()),
            if stores.is_empty() {
                "none".to_owned()
            } else {
                stores.join(", ")
            }
        );
    }
    println!(
        "URLs, database URLs and tokens: {}",
        paths.cluster_file().display()
    );
    println!("Logs: {}", paths.logs_dir().display());
    let dir = shell_word(&paths.dir);
    if detach {
        println!("Stop: posctl down --dir {dir}   (add --purge to delete everything)");
    } else {
        println!("Ctrl-C stops the cluster (or: posctl down --dir {dir})");
    }
}

fn shell_word(path: &Path) -> String {
    let text = path.display().to_string();
    if text
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || "/._-+".contains(c))
    {
        text
    } else {
        format!("'{}'", text.replace('\'', r"'\''"))
    }
}

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
