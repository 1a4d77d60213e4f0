//! `posctl backup` and `posctl restore`: a `pg_dump` of central's and every node's database, and their
//! restore with what makes the chain whole again afterwards, which the next `up` carries out once the
//! services run (`DIR/reconcile.json`):
//! - Central restored: the sales the nodes delivered since its backup are not in it. Each node sends
//!   them again (`resend_outbox_since()`, from the backup's start less a margin for the machines'
//!   clocks); central keeps a mapping that arrives twice once. Central's rows move past any version the
//!   nodes hold (`reassert_after_restore()`: otherwise a node would keep rows central wrote after the
//!   backup and ignore central's older ones), and every node is resynced.
//! - A node restored: it is resynced, which brings its master data back and raises its order counters
//!   past central's last number.
//!
//! A restore needs the services stopped (`posctl down`); it starts the PostgreSQL instances itself.

use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use serde_json::json;

use crate::api::Api;
use crate::cluster::{self, CENTRAL, CityState, InstanceState, Paths, State};
use crate::services::PidFile;

/// How much earlier than central's backup the nodes send again from: the nodes' clocks may be behind
/// central's by this much.
pub const CLOCK_MARGIN: Duration = Duration::from_secs(300);

#[derive(Serialize, Deserialize)]
struct Manifest {
    /// When the backup began.
    taken_at: DateTime<Utc>,
    instances: Vec<DumpEntry>,
}

#[derive(Serialize, Deserialize)]
struct DumpEntry {
    /// `central` or the city's instance name.
    name: String,
    dbname: String,
    file: String,
    /// When its `pg_dump` began: its snapshot is of about then.
    started_at: DateTime<Utc>,
    bytes: usize,
}

/// What the next `up` still has to do after a restore, once the services run (their SQL is then the
/// current release's, whatever the backup's age): each step leaves the file when it is done.
#[derive(Default, Serialize, Deserialize)]
pub struct Reconcile {
    /// Central was restored: re-assert its rows to the nodes.
    #[serde(default)]
    pub reassert_central: bool,
    /// Central was restored from a backup of then: each node sends again what it delivered since.
    #[serde(default)]
    pub resend_since: Option<DateTime<Utc>>,
    /// The nodes to resync.
    #[serde(default)]
    pub resync: Vec<i32>,
}

impl Reconcile {
    fn path(paths: &Paths) -> PathBuf {
        paths.dir.join("reconcile.json")
    }

    pub fn load(paths: &Paths) -> anyhow::Result<Self> {
        match std::fs::read_to_string(Self::path(paths)) {
            Ok(text) => serde_json::from_str(&text).context("parsing reconcile.json"),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Self::default()),
            Err(e) => Err(e).context("reading reconcile.json"),
        }
    }

    fn is_empty(&self) -> bool {
        !self.reassert_central && self.resend_since.is_none() && self.resync.is_empty()
    }

    pub fn save(&self, paths: &Paths) -> anyhow::Result<()> {
        if self.is_empty() {
            return match std::fs::remove_file(Self::path(paths)) {
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                    Err(e).context("removing reconcile.json")
                }
                _ => Ok(()),
            };
        }
        let text = serde_json::to_vec_pretty(self).context("serialising reconcile.json")?;
        cluster::write_private(&Self::path(paths), &text)
    }
}

/// Writes `bytes` to a new file only its owner can read (backups hold customers and password hashes).
fn write_private_file(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .with_context(|| format!("creating {}", path.display()))?;
    file.write_all(bytes)
        .and_then(|()| file.sync_all())
        .with_context(|| format!("writing {}", path.display()))
}

/// `posctl backup --to PATH`: one `pg_dump` per database, nodes first, then central, and a manifest.
pub async fn backup(dir: &Path, to: &Path) -> anyhow::Result<()> {
    let (paths, state) = crate::ops::load_existing(dir)?;
    if to.exists() {
        bail!("{} exists: back up into a new directory", to.display());
    }
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(to)
        .with_context(|| format!("creating {}", to.display()))?;
    let started = Instant::now();
    let taken_at = Utc::now();
    let mut instances = Vec::new();
    // Central last: whatever the nodes delivered while they were dumped is in central's dump.
    let order = state
        .cities
        .iter()
        .map(|c| &c.instance)
        .chain(std::iter::once(&state.central));
    for instance in order {
        if !cluster::is_running(&paths, instance) {
            bail!(
                "PostgreSQL {} is not running: posctl db start {} --dir {}",
                instance.name,
                instance.name,
                dir.display()
            );
        }
        let started_at = Utc::now();
        let pg = instance.pg(&paths)?;
        let dbname = instance.dbname.clone();
        let dump = tokio::task::spawn_blocking(move || pg.dump(&dbname))
            .await
            .context("pg_dump task")?
            .with_context(|| format!("dumping {}", instance.name))?;
        let file = format!("{}.dump", instance.name);
        write_private_file(&to.join(&file), &dump)?;
        instances.push(DumpEntry {
            name: instance.name.clone(),
            dbname: instance.dbname.clone(),
            file,
            started_at,
            bytes: dump.len(),
        });
    }
    let manifest = Manifest {
        taken_at,
        instances,
    };
    let text = serde_json::to_vec_pretty(&manifest).context("serialising the manifest")?;
    write_private_file(&to.join("manifest.json"), &text)?;
    let bytes: usize = manifest.instances.iter().map(|i| i.bytes).sum();
    println!(
        "backed up {} database(s), {} kB, in {} ms to {}",
        manifest.instances.len(),
        bytes / 1024,
        started.elapsed().as_millis(),
        to.display()
    );
    Ok(())
}

/// `posctl restore --from PATH [--only central|CITY]`.
pub async fn restore(dir: &Path, from: &Path, only: Option<&str>) -> anyhow::Result<()> {
    let (paths, state) = crate::ops::load_existing(dir)?;
    let running: Vec<String> = PidFile::load(&paths)?
        .services
        .into_iter()
        .filter(|e| e.is_running())
        .map(|e| e.name)
        .collect();
    if !running.is_empty() {
        bail!(
            "{} still run: stop the services first (posctl down --dir {}), then restore, then posctl up",
            running.join(", "),
            dir.display()
        );
    }
    let text = std::fs::read_to_string(from.join("manifest.json"))
        .with_context(|| format!("reading {}/manifest.json", from.display()))?;
    let manifest: Manifest = serde_json::from_str(&text).context("parsing the manifest")?;
    let targets: Vec<&InstanceState> = match only {
        None => state.instances().collect(),
        Some(name) => vec![state.find_instance(name)?],
    };
    let started = Instant::now();
    for instance in state.instances() {
        let paths = paths.clone();
        let instance = instance.clone();
        tokio::task::spawn_blocking(move || cluster::ensure_instance(&paths, &instance))
            .await
            .context("PostgreSQL start-up task")??;
    }
    let mut reconcile = Reconcile::load(&paths)?;
    let mut central_restored_at = None;
    for instance in &targets {
        let entry = manifest
            .instances
            .iter()
            .find(|e| e.name == instance.name)
            .with_context(|| format!("the backup holds no {}", instance.name))?;
        let dump = std::fs::read(from.join(&entry.file))
            .with_context(|| format!("reading {}", entry.file))?;
        instance
            .pg(&paths)?
            .restore(&instance.dbname, &dump)
            .await
            .with_context(|| format!("restoring {}", instance.name))?;
        println!(
            "restored {} from its backup of {}",
            instance.name,
            entry.started_at.format("%Y-%m-%d %H:%M:%S UTC")
        );
        if instance.name == CENTRAL {
            central_restored_at = Some(entry.started_at);
        } else if let Some(city) = state
            .cities
            .iter()
            .find(|c| c.instance.name == instance.name)
            && let Some(city_id) = city.city_id
        {
            reconcile.resync.push(city_id);
        }
    }
    if let Some(backup_at) = central_restored_at {
        reconcile.reassert_central = true;
        let since =
            backup_at - chrono::Duration::from_std(CLOCK_MARGIN).context("the clock margin")?;
        reconcile.resend_since = Some(reconcile.resend_since.map_or(since, |s| s.min(since)));
        reconcile
            .resync
            .extend(state.cities.iter().filter_map(|c| c.city_id));
    }
    reconcile.resync.sort_unstable();
    reconcile.resync.dedup();
    reconcile.save(&paths)?;
    println!(
        "restore done in {} ms; posctl up --dir {} starts the services and reconciles{}",
        started.elapsed().as_millis(),
        dir.display(),
        if central_restored_at.is_some() {
            ": the nodes send central what it lost, and are resynced"
        } else {
            ": the restored node(s) are resynced"
        }
    );
    Ok(())
}

/// Carries out what a restore left in `DIR/reconcile.json`, once the services run and the nodes are
/// registered (called by `up`). A step that fails stays for the next `up`, with a warning.
pub async fn reconcile(api: &Api, paths: &Paths, state: &State, warnings: &mut Vec<String>) {
    let mut reconcile = match Reconcile::load(paths) {
        Ok(reconcile) => reconcile,
        Err(e) => return warnings.push(format!("{e:#}")),
    };
    if reconcile.is_empty() {
        return;
    }
    if reconcile.reassert_central {
        match reassert_central(paths, state).await {
            Ok(rows) => {
                println!("restored: central re-asserted {rows} master-data rows to every node");
                reconcile.reassert_central = false;
            }
            Err(e) => warnings.push(format!(
                "re-asserting central's rows after the restore: {e:#}"
            )),
        }
    }
    if let Some(since) = reconcile.resend_since {
        let mut all_sent = true;
        for city in &state.cities {
            match resend(paths, city, since).await {
                Ok(0) => {}
                // Permanent: said once, not retried at every `up`.
                Ok(unsendable) => warnings.push(format!(
                    "the {} node has no outbox entry left for {unsendable} sale(s) or refund(s) since the \
                     backup (purged after POS_OUTBOX_RETENTION_HOURS): central cannot get them back from it",
                    city.name
                )),
                Err(e) => {
                warnings.push(format!(
                    "asking the {} node to send central again what it lost: {e:#}",
                    city.name
                ));
                all_sent = false;
                }
            }
        }
        if all_sent {
            reconcile.resend_since = None;
        }
    }
    let mut left = Vec::new();
    for city_id in std::mem::take(&mut reconcile.resync) {
        let name = state
            .cities
            .iter()
            .find(|c| c.city_id == Some(city_id))
            .map_or_else(|| city_id.to_string(), |c| c.name.clone());
        match api
            .post::<_, serde_json::Value>(&format!("/nodes/{city_id}/resync"), &json!({}))
            .await
        {
            Ok(resync) if resync["node_checked"] == json!(true) => println!(
                "restored: the {name} node is resynced ({} rows queued)",
                resync["queued"]
            ),
            Ok(_) => {
                warnings.push(format!(
                    "resyncing the {name} node after the restore: it could not be asked what it holds"
                ));
                left.push(city_id);
            }
            Err(e) => {
                warnings.push(format!(
                    "resyncing the {name} node after the restore: {e:#}"
                ));
                left.push(city_id);
            }
        }
    }
    reconcile.resync = left;
    if let Err(e) = reconcile.save(paths) {
        warnings.push(format!("{e:#}"));
    }
}

async fn reassert_central(paths: &Paths, state: &State) -> anyhow::Result<i64> {
    let central = state
        .central
        .pg(paths)?
        .superuser_client(&state.central.dbname)
        .await?;
    Ok(central
        .query_one("SELECT reassert_after_restore()", &[])
        .await
        .context("re-asserting central's rows")?
        .get(0))
}

/// The node sends again what it delivered since `since`; how many sales and refunds since then it has
/// no outbox entry left for.
async fn resend(paths: &Paths, city: &CityState, since: DateTime<Utc>) -> anyhow::Result<i64> {
    let node = city
        .instance
        .pg(paths)?
        .superuser_client(&city.instance.dbname)
        .await?;
    let row = node
        .query_one(
            "SELECT requeued, unsendable FROM resend_outbox_since($1)",
            &[&since],
        )
        .await
        .context("re-queueing its outbox")?;
    let (requeued, unsendable): (i32, i64) = (row.get(0), row.get(1));
    println!(
        "restored: the {} node sends central again {requeued} sale(s) and refund(s) delivered since {}",
        city.name,
        since.format("%Y-%m-%d %H:%M:%S UTC")
    );
    Ok(unsendable)
}
