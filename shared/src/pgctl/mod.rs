//! Local PostgreSQL instances made with `initdb` and run with `pg_ctl`: the local cluster of `posctl` and
//! the throwaway instances of the test kit. PostgreSQL refuses to run as root, so as root every command
//! runs as the `postgres` user through `runuser`.
//!
//! This module holds an instance's life (initdb, start, stop, status, connecting as the superuser);
//! `databases` makes roles and databases in it, `tools` runs the client programs against it (dump and
//! restore) and the hung-database drill.

mod databases;
mod tools;

pub use databases::{create_database, drop_database, ensure_node_login, ensure_role, node_login};

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use anyhow::{Context, anyhow, bail};
use tokio_postgres::NoTls;

/// The role that owns the databases and their schema: the services migrate as it at start-up, and
/// nothing else connects as it.
pub const OWNER_ROLE: &str = "pos_owner";
/// The role the services run as: reads and writes rows, owns nothing (it cannot DROP, ALTER or
/// TRUNCATE), not a superuser.
pub const APP_ROLE: &str = "pos_app";
/// The role a peer's dblink connects as: may only call the apply functions.
pub const REPLICATOR_ROLE: &str = "pos_replicator";
pub const SUPERUSER: &str = "postgres";
const OS_USER: &str = "postgres";

/// Where the PostgreSQL server binaries are: `POS_PG_BIN_DIR`, else the newest
/// `/usr/lib/postgresql/*/bin` (Debian does not put them on PATH), else PATH.
pub fn bin_dir() -> anyhow::Result<PathBuf> {
    if let Some(dir) = std::env::var_os("POS_PG_BIN_DIR") {
        return Ok(PathBuf::from(dir));
    }
    let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|entry| {
            let version = entry.file_name().to_str()?.parse().ok()?;
            let bin = entry.path().join("bin");
            bin.join("initdb").exists().then_some((version, bin))
        })
        .collect();
    versions.sort();
    if let Some((_, bin)) = versions.pop() {
        return Ok(bin);
    }
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .find(|dir| dir.join("initdb").exists() && dir.join("pg_ctl").exists())
        .ok_or_else(|| {
            anyhow!(
                "PostgreSQL server binaries (initdb, pg_ctl) not found: install the server and contrib \
                 packages (Debian: apt-get install postgresql postgresql-contrib) or set POS_PG_BIN_DIR"
            )
        })
}

fn running_as_root() -> bool {
    nix::unistd::geteuid().is_root()
}

/// A PostgreSQL instance in `data_dir`, listening on 127.0.0.1:`port` (password auth over TCP) and on a
/// socket inside its data directory.
#[derive(Debug, Clone)]
pub struct PgInstance {
    pub data_dir: PathBuf,
    pub port: u16,
    pub superuser_password: String,
    bin_dir: PathBuf,
}

/// Settings for a new instance.
#[derive(Debug, Clone, Default)]
pub struct InstanceOptions {
    /// Trade durability for speed (tests): fsync, synchronous_commit and full_page_writes off.
    pub ephemeral: bool,
}

impl PgInstance {
    /// An instance that exists already (posctl's later commands).
    pub fn existing(
        data_dir: PathBuf,
        port: u16,
        superuser_password: String,
    ) -> anyhow::Result<Self> {
        Ok(Self {
            data_dir,
            port,
            superuser_password,
            bin_dir: bin_dir()?,
        })
    }

    /// Runs `initdb` into `data_dir` (which must not exist yet) and writes the instance's settings.
    pub fn init(
        data_dir: PathBuf,
        port: u16,
        superuser_password: String,
        options: &InstanceOptions,
    ) -> anyhow::Result<Self> {
        let instance = Self::existing(data_dir, port, superuser_password)?;
        let dir = &instance.data_dir;
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        let pwfile = dir.with_extension("pwfile");
        std::fs::write(&pwfile, &instance.superuser_password)
            .context("writing the password file")?;
        if running_as_root() {
            let user = nix::unistd::User::from_name(OS_USER)?
                .ok_or_else(|| anyhow!("running as root needs a `postgres` OS user to run PostgreSQL (install the postgresql package)"))?;
            for path in [dir.as_path(), pwfile.as_path()] {
                std::os::unix::fs::chown(path, Some(user.uid.as_raw()), Some(user.gid.as_raw()))
                    .with_context(|| format!("giving {} to the postgres user", path.display()))?;
            }
            make_traversable(dir)?;
        }
        let result = instance.run(
            "initdb",
            &[
                "-D".as_ref(),
                dir.as_os_str(),
                "-U".as_ref(),
                SUPERUSER.as_ref(),
                "--pwfile".as_ref(),
                pwfile.as_os_str(),
                "--auth-local=trust".as_ref(),
                "--auth-host=scram-sha-256".as_ref(),
                "--encoding=UTF8".as_ref(),
                "--locale=C".as_ref(),
                "--no-sync".as_ref(),
            ],
        );
        let _ = std::fs::remove_file(&pwfile);
        result.context("initdb")?;
        let mut conf = format!(
            "\n# written by pos\nport = {port}\nlisten_addresses = '127.0.0.1'\n\
             unix_socket_directories = '{}'\nmax_connections = 200\npassword_encryption = 'scram-sha-256'\n\
             log_min_messages = warning\nlog_min_error_statement = panic\n",
            dir.display()
        );
        if options.ephemeral {
            conf.push_str("fsync = off\nsynchronous_commit = off\nfull_page_writes = off\nshared_buffers = 32MB\n");
        }
        let conf_path = dir.join("postgresql.conf");
        let mut text = std::fs::read_to_string(&conf_path).context("reading postgresql.conf")?;
        text.push_str(&conf);
        std::fs::write(&conf_path, text).context("writing postgresql.conf")?;
        Ok(instance)
    }

    fn command(&self, program: &str) -> Command {
        let path = self.bin_dir.join(program);
        if running_as_root() {
            let mut cmd = Command::new("runuser");
            cmd.args(["-u", OS_USER, "--"]).arg(path);
            cmd
        } else {
            Command::new(path)
        }
    }

    fn run(&self, program: &str, args: &[&std::ffi::OsStr]) -> anyhow::Result<Output> {
        let output = self
            .command(program)
            .args(args)
            .current_dir("/")
            .output()
            .with_context(|| format!("running {program}"))?;
        if !output.status.success() {
            bail!(
                "{program} failed: {}{}",
                String::from_utf8_lossy(&output.stderr).trim(),
                String::from_utf8_lossy(&output.stdout).trim()
            );
        }
        Ok(output)
    }

    pub fn log_file(&self) -> PathBuf {
        self.data_dir.join("server.log")
    }

    /// Starts the server and waits until it accepts connections.
    pub fn start(&self) -> anyhow::Result<()> {
        self.run(
            "pg_ctl",
            &[
                "-D".as_ref(),
                self.data_dir.as_os_str(),
                "-l".as_ref(),
                self.log_file().as_os_str(),
                "-w".as_ref(),
                "-t".as_ref(),
                "60".as_ref(),
                "start".as_ref(),
            ],
        )
        .with_context(|| {
            format!(
                "starting PostgreSQL on port {} (log: {})",
                self.port,
                self.log_file().display()
            )
        })?;
        Ok(())
    }

    /// Stops the server: `fast` disconnects clients cleanly, `immediate` is a crash.
    pub fn stop(&self, mode: StopMode) -> anyhow::Result<()> {
        if !self.is_running() {
            return Ok(());
        }
        self.run(
            "pg_ctl",
            &[
                "-D".as_ref(),
                self.data_dir.as_os_str(),
                "-m".as_ref(),
                mode.as_str().as_ref(),
                "-w".as_ref(),
                "stop".as_ref(),
            ],
        )?;
        Ok(())
    }

    pub fn is_running(&self) -> bool {
        self.command("pg_ctl")
            .arg("-D")
            .arg(&self.data_dir)
            .arg("status")
            .current_dir("/")
            .output()
            .map(|o| o.status.success())
            .unwrap_or(false)
    }

    /// `postgres://…` for `user` on this instance (password included: a secret).
    pub fn url(&self, user: &str, password: &str, dbname: &str) -> String {
        format!(
            "postgres://{}:{}@127.0.0.1:{}/{}",
            user,
            percent_encode(password),
            self.port,
            dbname
        )
    }

    /// Turns TLS on (the instance has none when made): `cert_pem` (the server's certificate chain) and
    /// `key_pem` become the data directory's `server.crt` and `server.key`, `ssl = on` is set and the
    /// configuration reloaded; returns once a new connection sees it. Connections without TLS are still
    /// accepted (`pg_hba.conf`'s `host` lines take both).
    pub async fn enable_tls(&self, cert_pem: &str, key_pem: &str) -> anyhow::Result<()> {
        use std::os::unix::fs::PermissionsExt;
        for (name, text) in [("server.crt", cert_pem), ("server.key", key_pem)] {
            let path = self.data_dir.join(name);
            std::fs::write(&path, text).with_context(|| format!("writing {}", path.display()))?;
            // The server refuses a key others may read.
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600))?;
            if running_as_root() {
                let user = nix::unistd::User::from_name(OS_USER)?
                    .ok_or_else(|| anyhow!("no `postgres` OS user"))?;
                std::os::unix::fs::chown(&path, Some(user.uid.as_raw()), Some(user.gid.as_raw()))
                    .with_context(|| format!("giving {} to the postgres user", path.display()))?;
            }
        }
        let admin = self.superuser_client("postgres").await?;
        // Two statements: ALTER SYSTEM refuses to run in the implicit transaction of a batch.
        admin
            .batch_execute("ALTER SYSTEM SET ssl = on")
            .await
            .context("turning TLS on")?;
        admin
            .batch_execute("SELECT pg_reload_conf()")
            .await
            .context("reloading the configuration")?;
        for _ in 0..100 {
            let fresh = self.superuser_client("postgres").await?;
            let ssl: String = fresh.query_one("SHOW ssl", &[]).await?.get(0);
            if ssl == "on" {
                return Ok(());
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        bail!(
            "PostgreSQL on port {} did not turn TLS on (log: {})",
            self.port,
            self.log_file().display()
        )
    }

    pub fn superuser_url(&self, dbname: &str) -> String {
        self.url(SUPERUSER, &self.superuser_password, dbname)
    }

    pub async fn superuser_client(&self, dbname: &str) -> anyhow::Result<tokio_postgres::Client> {
        let config: tokio_postgres::Config = self
            .superuser_url(dbname)
            .parse()
            .context("superuser URL")?;
        let (client, connection) = config.connect(NoTls).await.with_context(|| {
            format!(
                "connecting to PostgreSQL on port {} as superuser",
                self.port
            )
        })?;
        tokio::spawn(async move {
            let _ = connection.await;
        });
        Ok(client)
    }
}

#[derive(Debug, Clone, Copy)]
pub enum StopMode {
    Fast,
    Immediate,
}

impl StopMode {
    fn as_str(self) -> &'static str {
        match self {
            Self::Fast => "fast",
            Self::Immediate => "immediate",
        }
    }
}

/// Lets the postgres user reach `path` (each ancestor gets o+x).
fn make_traversable(path: &Path) -> anyhow::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    for ancestor in path.ancestors().skip(1) {
        if ancestor.as_os_str().is_empty() {
            continue;
        }
        let meta = std::fs::metadata(ancestor)?;
        let mode = meta.permissions().mode();
        if mode & 0o001 == 0 {
            std::fs::set_permissions(ancestor, std::fs::Permissions::from_mode(mode | 0o011))
                .with_context(|| format!("making {} traversable", ancestor.display()))?;
        }
    }
    Ok(())
}

fn percent_encode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            other => format!("%{other:02X}"),
        })
        .collect()
}
