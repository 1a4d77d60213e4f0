//! Test kit: throwaway PostgreSQL instances (initdb into a temp dir, fsync off, free port), one set per
//! test binary, and a fresh database per test cloned from a migrated template.
//!
//! Every instance is watched by a small shell process that stops it and removes its directory when the
//! test process exits, however it exits: statics are never dropped, and a panicking or killed test binary
//! must not leave servers behind.

pub mod compose;
pub mod openapi;
mod usage;

pub use usage::{data_dir_cpu, instance_cpu, machine_busy, own_cpu, process_cpu, resident_mib};

use std::collections::HashMap;
use std::future::Future;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, OnceLock};

use anyhow::Context;
use secrecy::SecretString;
use tokio::sync::OnceCell;

use crate::auth::generate_token;
use crate::pgctl::{
    self, APP_ROLE, InstanceOptions, OWNER_ROLE, PgInstance, REPLICATOR_ROLE, StopMode,
};

/// A PostgreSQL instance of the test kit, with the owner, service and replication roles created.
#[derive(Debug)]
pub struct TestInstance {
    pub pg: PgInstance,
    pub owner_password: String,
    pub app_password: String,
    pub replicator_password: String,
    /// The node logins made on this instance so far (by city id).
    node_logins: tokio::sync::Mutex<std::collections::HashSet<i32>>,
    /// Stop the server when this value is dropped (dedicated instances of fault tests).
    stop_on_drop: bool,
}

/// Template database names by instance and kind, each created once. An instance is named by its data
/// directory: its port may be taken by a later instance once it stops.
type TemplateCells = HashMap<(std::path::PathBuf, String), Arc<OnceCell<String>>>;

/// Fails unless the database `client` is on has each versioned migration of `dir` (the service's
/// `sql/*/migrations`) applied exactly once.
pub async fn check_each_migration_applied_once(
    client: &tokio_postgres::Client,
    dir: &std::path::Path,
) -> anyhow::Result<()> {
    let applied: i64 = client
        .query_one("SELECT count(*) FROM refinery_schema_history", &[])
        .await
        .context("reading the migration history")?
        .get(0);
    let files = std::fs::read_dir(dir)
        .with_context(|| format!("reading {}", dir.display()))?
        .count();
    anyhow::ensure!(
        applied == i64::try_from(files)?,
        "{applied} migrations applied for {files} files in {}: each must be applied exactly once",
        dir.display()
    );
    Ok(())
}

/// A free TCP port on the loopback interface, below the kernel's ephemeral range (32768 and up): a port
/// picked there can be taken by any outgoing connection before the server that is to listen on it
/// starts. 10000-19999, away from the local cluster's (posctl's tests use 20000 and up).
pub fn free_port() -> anyhow::Result<u16> {
    use rand::Rng;
    let mut rng = rand::rng();
    for _ in 0..100 {
        let port = rng.random_range(10_000..20_000);
        if std::net::TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return Ok(port);
        }
    }
    anyhow::bail!("no free port in 10000-19999")
}

fn shell_quote(path: &std::path::Path) -> String {
    format!("'{}'", path.display().to_string().replace('\'', r"'\''"))
}

impl TestInstance {
    /// A new instance of its own (fault tests stop and start it); stopped when dropped.
    pub async fn start_dedicated() -> anyhow::Result<Self> {
        let mut instance = Self::start_new(true).await?;
        instance.stop_on_drop = true;
        Ok(instance)
    }

    /// Like [`TestInstance::start_dedicated`], but durable as production runs (fsync and synchronous
    /// commit on): for benchmarks whose figures depend on what a commit costs.
    pub async fn start_durable() -> anyhow::Result<Self> {
        let mut instance = Self::start_new(false).await?;
        instance.stop_on_drop = true;
        Ok(instance)
    }

    /// A new instance; started again on another port when the one picked was taken meanwhile.
    async fn start_new(ephemeral: bool) -> anyhow::Result<Self> {
        let mut attempt = 0;
        loop {
            attempt += 1;
            match Self::start_on_free_port(ephemeral).await {
                Err(e) if attempt < 3 && format!("{e:#}").contains("could not start server") => {
                    tracing::warn!(error = %format!("{e:#}"), "PostgreSQL did not start; trying another port");
                }
                result => return result,
            }
        }
    }

    async fn start_on_free_port(ephemeral: bool) -> anyhow::Result<Self> {
        let pg = start_bare(ephemeral).await?;
        let admin = pg.superuser_client("postgres").await?;
        let owner_password = generate_token();
        let app_password = generate_token();
        let replicator_password = generate_token();
        pgctl::ensure_role(&admin, OWNER_ROLE, &owner_password).await?;
        pgctl::ensure_role(&admin, APP_ROLE, &app_password).await?;
        pgctl::ensure_role(&admin, REPLICATOR_ROLE, &replicator_password).await?;
        Ok(Self {
            pg,
            owner_password,
            app_password,
            replicator_password,
            node_logins: Default::default(),
            stop_on_drop: false,
        })
    }

    /// The service role's URL for `dbname`.
    pub fn app_url(&self, dbname: &str) -> SecretString {
        SecretString::from(self.pg.url(APP_ROLE, &self.app_password, dbname))
    }

    /// The schema owner's URL for `dbname` (migrations, and tests that change the schema).
    pub fn owner_url(&self, dbname: &str) -> SecretString {
        SecretString::from(self.pg.url(OWNER_ROLE, &self.owner_password, dbname))
    }

    /// The URL the node of `city_id` reports to this (central's) instance with: its own login, made
    /// on first use (the replication role's password).
    pub async fn node_login_url(&self, city_id: i32, dbname: &str) -> anyhow::Result<SecretString> {
        let mut made = self.node_logins.lock().await;
        let login = pgctl::node_login(city_id);
        if !made.contains(&city_id) {
            let admin = self.pg.superuser_client("postgres").await?;
            pgctl::ensure_node_login(&admin, city_id, &self.replicator_password).await?;
            made.insert(city_id);
        }
        Ok(SecretString::from(self.pg.url(
            &login,
            &self.replicator_password,
            dbname,
        )))
    }

    /// A fresh database with a random name, cloned from `template` (or empty, with dblink, when `None`).
    pub async fn create_database(&self, template: Option<&str>) -> anyhow::Result<String> {
        let name = format!("t_{}", uuid::Uuid::new_v4().simple());
        let admin = self.pg.superuser_client("postgres").await?;
        pgctl::create_database(&self.pg, &admin, &name, template).await?;
        Ok(name)
    }

    /// A database migrated by `migrate` (given the owner's URL), cloned from a template that is
    /// migrated once per instance and `kind`.
    pub async fn migrated_database<F, Fut>(&self, kind: &str, migrate: F) -> anyhow::Result<String>
    where
        F: FnOnce(SecretString) -> Fut,
        Fut: Future<Output = anyhow::Result<()>>,
    {
        let cell = {
            static TEMPLATES: OnceLock<Mutex<TemplateCells>> = OnceLock::new();
            let mut map = TEMPLATES
                .get_or_init(Default::default)
                .lock()
                .unwrap_or_else(|e| e.into_inner());
            map.entry((self.pg.data_dir.clone(), kind.to_owned()))
                .or_default()
                .clone()
        };
        let template = cell
            .get_or_try_init(|| async {
                let name = format!("template_{kind}");
                let admin = self.pg.superuser_client("postgres").await?;
                pgctl::create_database(&self.pg, &admin, &name, None).await?;
                migrate(self.owner_url(&name)).await?;
                anyhow::Ok(name)
            })
            .await?;
        self.create_database(Some(template)).await
    }

    pub fn stop(&self) -> anyhow::Result<()> {
        self.pg.stop(StopMode::Fast)
    }

    pub fn start(&self) -> anyhow::Result<()> {
        self.pg.start()
    }
}

impl Drop for TestInstance {
    fn drop(&mut self) {
        if self.stop_on_drop {
            let _ = self.pg.stop(StopMode::Immediate);
        }
    }
}

/// A new instance on a free port with nothing in it but its superuser, as the postgres image leaves one
/// before it runs its init scripts; stopped and deleted when this process exits.
pub async fn start_bare(ephemeral: bool) -> anyhow::Result<PgInstance> {
    let root = tempfile::Builder::new()
        .prefix("pos-test-pg-")
        .tempdir()
        .context("creating a temp dir")?
        .keep();
    let data_dir = root.join("data");
    let port = free_port()?;
    let password = generate_token();
    let pg = tokio::task::spawn_blocking(move || {
        let pg = PgInstance::init(data_dir, port, password, &InstanceOptions { ephemeral })?;
        pg.start()?;
        anyhow::Ok(pg)
    })
    .await??;
    watch_until_exit(&pg, &root)?;
    Ok(pg)
}

/// Starts a shell that waits for this process to exit, then stops the instance and deletes its files.
fn watch_until_exit(pg: &PgInstance, root: &std::path::Path) -> anyhow::Result<()> {
    let pg_ctl = pgctl::bin_dir()?.join("pg_ctl");
    let as_postgres = if nix::unistd::geteuid().is_root() {
        "runuser -u postgres -- "
    } else {
        ""
    };
    let script = format!(
        "while kill -0 {pid} 2>/dev/null; do sleep 1; done; \
         {as_postgres}{pg_ctl} -D {data} -m immediate stop >/dev/null 2>&1; rm -rf {root}",
        pid = std::process::id(),
        pg_ctl = shell_quote(&pg_ctl),
        data = shell_quote(&pg.data_dir),
        root = shell_quote(root),
    );
    std::process::Command::new("sh")
        .arg("-c")
        .arg(script)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .context("starting the instance watchdog")?;
    Ok(())
}

/// The instances shared by every test of this binary, started on first use.
pub async fn shared_instance(slot: usize) -> anyhow::Result<&'static TestInstance> {
    static SLOTS: [OnceCell<TestInstance>; 3] = [
        OnceCell::const_new(),
        OnceCell::const_new(),
        OnceCell::const_new(),
    ];
    let cell = SLOTS
        .get(slot)
        .context("the test kit shares three instances (slots 0, 1, 2)")?;
    cell.get_or_try_init(|| TestInstance::start_new(true)).await
}

/// How a table has been read so far, as the database counts it, this session's reads included.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TableReads {
    /// Sequential scans begun.
    pub seq_scans: i64,
    /// Rows its index scans fetched from the table.
    pub rows_fetched_by_index: i64,
}

impl std::ops::Sub for TableReads {
    type Output = Self;
    fn sub(self, earlier: Self) -> Self {
        Self {
            seq_scans: self.seq_scans - earlier.seq_scans,
            rows_fetched_by_index: self.rows_fetched_by_index - earlier.rows_fetched_by_index,
        }
    }
}

pub async fn table_reads(db: &tokio_postgres::Client, table: &str) -> anyhow::Result<TableReads> {
    // A session's counts reach the shared statistics when it goes idle after this call.
    db.batch_execute("SELECT pg_stat_force_next_flush()")
        .await
        .context("flushing this session's statistics")?;
    let row = db
        .query_one(
            "SELECT seq_scan, coalesce(idx_tup_fetch, 0) FROM pg_stat_user_tables WHERE relname = $1",
            &[&table],
        )
        .await
        .context("reading the table's statistics")?;
    Ok(TableReads {
        seq_scans: row.get(0),
        rows_fetched_by_index: row.get(1),
    })
}

/// Where test artifacts (screenshots, benchmark output) go: `target/test-artifacts`.
pub fn artifacts_dir() -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .join("target")
        .join("test-artifacts");
    let _ = std::fs::create_dir_all(&dir);
    dir
}
