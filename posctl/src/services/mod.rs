//! The service processes' description: where the `central` and `store-node` binaries are, what each
//! service runs with (`ServiceSpec`: binary and environment), and `DIR/pids.json` with the checks of
//! whether a recorded process is still ours. `ops` builds the specs and reads the pid file for `down` and
//! `status`; `supervisor` spawns, watches and stops the processes; `terminal` keeps the terminal's
//! Ctrl-C for the foreground `up`.

mod supervisor;
mod terminal;

pub use supervisor::{STOP_GRACE, Supervisor, stop_recorded, stop_supervisor};
pub use terminal::Foreground;

use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::cluster::Paths;

/// Where the service binaries are: `POS_BIN_DIR`, else beside the posctl executable.
#[derive(Debug, Clone)]
pub struct Binaries {
    pub central: PathBuf,
    pub store_node: PathBuf,
}

impl Binaries {
    pub fn locate() -> anyhow::Result<Self> {
        let dir = match std::env::var_os("POS_BIN_DIR") {
            Some(dir) => PathBuf::from(dir),
            None => std::env::current_exe()
                .context("finding the posctl executable")?
                .parent()
                .map(Path::to_path_buf)
                .context("the posctl executable has no directory")?,
        };
        let find = |name: &str| -> anyhow::Result<PathBuf> {
            let path = dir.join(name);
            if !path.is_file() {
                bail!(
                    "the {name} binary is not in {} (build it with `cargo build -p central -p store-node`, \
                     or point POS_BIN_DIR at its directory)",
                    dir.display()
                );
            }
            std::fs::canonicalize(&path).with_context(|| format!("resolving {}", path.display()))
        };
        Ok(Self {
            central: find("central")?,
            store_node: find("store-node")?,
        })
    }
}

/// Settings posctl gives each service itself (who it is, where its database is, its credentials), and
/// posctl's own. An operator's environment does not override them: the cluster's services would collide.
/// The local cluster speaks plain HTTP (its health checks and `cluster.json` URLs), so HTTPS settings
/// are not passed on either.
const MANAGED_SETTINGS: &[&str] = &[
    "POS_HTTP_HOST",
    "POS_HTTP_PORT",
    "POS_TLS_CERT",
    "POS_TLS_KEY",
    "POS_DATABASE_URL",
    "POS_MIGRATION_DATABASE_URL",
    "POS_ADMIN_TOKEN",
    "POS_ADMIN_TOKEN_FILE",
    "POS_CITY_ID",
    "POS_CENTRAL_DATABASE_URL",
    "POS_CASHIER_TOKENS",
    "POS_BIN_DIR",
];

/// The operator's own `POS_*` settings among `vars` (a drill's shorter timings, a log filter), which
/// every service is given: all but those posctl manages. Sorted, so that the services' fingerprints
/// do not depend on the environment's order.
pub fn operator_settings(
    vars: impl IntoIterator<Item = (String, String)>,
) -> Vec<(String, String)> {
    let mut settings: Vec<(String, String)> = vars
        .into_iter()
        .filter(|(key, _)| key.starts_with("POS_") && !MANAGED_SETTINGS.contains(&key.as_str()))
        .collect();
    settings.sort();
    settings
}

/// What to run for one service.
pub struct ServiceSpec {
    pub name: String,
    pub binary: PathBuf,
    pub http_port: u16,
    /// Its whole `POS_` environment: the operator's settings, then posctl's (secrets among them:
    /// never printed).
    pub env: Vec<(String, String)>,
}

impl ServiceSpec {
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.http_port)
    }

    /// A digest of the binary and settings: a running service with another one is restarted.
    fn fingerprint(&self) -> String {
        let mut hasher = Sha256::new();
        hasher.update(self.binary.as_os_str().as_encoded_bytes());
        let mut env = self.env.clone();
        env.sort();
        for (key, value) in env {
            hasher.update([0]);
            hasher.update(key.as_bytes());
            hasher.update([0]);
            hasher.update(value.as_bytes());
        }
        hex::encode(hasher.finalize())
    }
}

/// One entry of `DIR/pids.json`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PidEntry {
    pub name: String,
    pub pid: i32,
    pub binary: PathBuf,
    pub http_port: u16,
    pub fingerprint: String,
}

impl PidEntry {
    /// Whether the process is alive and still the one posctl started.
    pub fn is_running(&self) -> bool {
        is_alive(self.pid) && is_ours(self.pid, &self.binary)
    }
}

/// The foreground `up` that supervises the services, so that `down` from another terminal asks it to
/// stop the cluster (it then exits 0) instead of pulling its services away under it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SupervisorEntry {
    pub pid: i32,
    /// Its executable, to tell a recycled pid.
    pub exe: PathBuf,
}

impl SupervisorEntry {
    /// This process.
    pub fn this_process() -> anyhow::Result<Self> {
        Ok(Self {
            pid: i32::try_from(std::process::id()).context("posctl's pid")?,
            exe: std::env::current_exe().context("finding the posctl executable")?,
        })
    }

    pub fn is_running(&self) -> bool {
        is_alive(self.pid)
            && std::fs::read_link(format!("/proc/{}/exe", self.pid))
                .is_ok_and(|exe| exe == self.exe)
    }
}

#[derive(Debug, Default, Serialize, Deserialize)]
pub struct PidFile {
    pub services: Vec<PidEntry>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub supervisor: Option<SupervisorEntry>,
}

impl PidFile {
    pub fn load(paths: &Paths) -> anyhow::Result<Self> {
        let path = paths.pids_file();
        match std::fs::read_to_string(&path) {
            Ok(text) => {
                serde_json::from_str(&text).with_context(|| format!("parsing {}", path.display()))
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Self::default()),
            Err(e) => Err(e).with_context(|| format!("reading {}", path.display())),
        }
    }

    pub fn save(&self, paths: &Paths) -> anyhow::Result<()> {
        let text = serde_json::to_vec_pretty(self).context("serialising the pids")?;
        crate::cluster::write_private(&paths.pids_file(), &text)
    }

    pub fn get(&self, name: &str) -> Option<&PidEntry> {
        self.services.iter().find(|e| e.name == name)
    }

    fn set(&mut self, entry: PidEntry) {
        self.services.retain(|e| e.name != entry.name);
        self.services.push(entry);
    }
}

/// Whether `pid` exists and is not a zombie.
pub fn is_alive(pid: i32) -> bool {
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
        return false;
    };
    // pid (comm) STATE ...: comm may contain spaces and parentheses, so split after the last ')'.
    let state = stat
        .rsplit_once(')')
        .and_then(|(_, rest)| rest.split_whitespace().next());
    !matches!(state, Some("Z" | "X") | None)
}

/// Whether `pid` runs `binary` (its `argv[0]`, as posctl spawns it): a recycled pid is left alone.
pub fn is_ours(pid: i32, binary: &Path) -> bool {
    let Ok(cmdline) = std::fs::read(format!("/proc/{pid}/cmdline")) else {
        return false;
    };
    let argv0 = cmdline.split(|b| *b == 0).next().unwrap_or_default();
    argv0 == binary.as_os_str().as_encoded_bytes()
}

/// `pid N`, `pid N gone` or `not started`, for `status`.
pub fn describe(entry: Option<&PidEntry>) -> String {
    match entry {
        Some(e) if e.is_running() => format!("pid {}", e.pid),
        Some(e) => format!("pid {} gone", e.pid),
        None => "not started".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::operator_settings;

    #[test]
    fn operator_settings_pass_through_except_what_posctl_manages() {
        let vars = [
            ("POS_REPLICATION_PROBE_MS", "250"),
            ("POS_DATABASE_URL", "postgres://elsewhere/db"),
            ("HOME", "/root"),
            ("POS_LOG", "debug"),
            ("POS_CASHIER_TOKENS", "1=x"),
            ("POS_TLS_CERT", "/etc/pos/cert.pem"),
            ("POS_METRICS_TOKEN", "scrape-scrape-scrape"),
        ]
        .map(|(k, v)| (k.to_owned(), v.to_owned()));
        assert_eq!(
            operator_settings(vars),
            vec![
                ("POS_LOG".to_owned(), "debug".to_owned()),
                (
                    "POS_METRICS_TOKEN".to_owned(),
                    "scrape-scrape-scrape".to_owned()
                ),
                ("POS_REPLICATION_PROBE_MS".to_owned(), "250".to_owned()),
            ]
        );
    }
}
