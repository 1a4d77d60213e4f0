//! The service processes: spawning `central` and `store-node` with their environment, `DIR/pids.json`,
//! health waits, log streaming (foreground) and stopping (SIGTERM, then SIGKILL).

use std::collections::HashMap;
use std::io::IsTerminal;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncWriteExt, BufReader};
use tokio::process::Child;

use crate::cluster::{Paths, port_free};

/// How long a service gets to stop after SIGTERM before SIGKILL.
pub const STOP_GRACE: Duration = Duration::from_secs(10);

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
const MANAGED_SETTINGS: &[&str] = &[
    "POS_HTTP_HOST",
    "POS_HTTP_PORT",
    "POS_DATABASE_URL",
    "POS_ADMIN_TOKEN",
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

#[derive(Debug, Default, Serialize, Deserialize)]
pub struct PidFile {
    pub services: Vec<PidEntry>,
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

/// Whether `pid` runs `binary` (its argv[0], as posctl spawns it): a recycled pid is left alone.
pub fn is_ours(pid: i32, binary: &Path) -> bool {
    let Ok(cmdline) = std::fs::read(format!("/proc/{pid}/cmdline")) else {
        return false;
    };
    let argv0 = cmdline.split(|b| *b == 0).next().unwrap_or_default();
    argv0 == binary.as_os_str().as_encoded_bytes()
}

fn signal(pid: i32, signal: Signal) {
    let _ = kill(Pid::from_raw(pid), signal);
}

/// Starts, watches and stops the services of one `up` (and stops those of earlier ones).
pub struct Supervisor {
    paths: Paths,
    detach: bool,
    pids: PidFile,
    /// The processes this posctl started (their handles reap them).
    children: HashMap<String, Child>,
}

impl Supervisor {
    pub fn new(paths: Paths, detach: bool) -> anyhow::Result<Self> {
        let pids = PidFile::load(&paths)?;
        Ok(Self {
            paths,
            detach,
            pids,
            children: HashMap::new(),
        })
    }

    pub fn pids(&self) -> &PidFile {
        &self.pids
    }

    /// Starts the service unless it runs already with the same binary and settings (then it is
    /// restarted). Returns whether a process was started.
    pub async fn ensure(&mut self, spec: &ServiceSpec) -> anyhow::Result<bool> {
        let fingerprint = spec.fingerprint();
        if let Some(entry) = self.pids.get(&spec.name).cloned()
            && entry.is_running()
        {
            if entry.fingerprint == fingerprint && entry.http_port == spec.http_port {
                println!("{} is running already (pid {})", spec.name, entry.pid);
                return Ok(false);
            }
            println!("{}: settings changed, restarting it", spec.name);
            self.stop(std::slice::from_ref(&entry.name)).await;
        }
        if !port_free(spec.http_port) {
            bail!(
                "port {} ({} HTTP) is in use by another process",
                spec.http_port,
                spec.name
            );
        }
        self.spawn(spec, fingerprint).await?;
        Ok(true)
    }

    async fn spawn(&mut self, spec: &ServiceSpec, fingerprint: String) -> anyhow::Result<()> {
        let log_path = self.paths.log_file(&spec.name);
        let mut command = std::process::Command::new(&spec.binary);
        // The spec holds every POS_ setting the service gets, the operator's among them.
        for (key, _) in std::env::vars_os() {
            let key = key.to_string_lossy();
            if key.starts_with("POS_") {
                command.env_remove(key.as_ref());
            }
        }
        command
            .envs(spec.env.iter().map(|(k, v)| (k, v)))
            .current_dir(&self.paths.dir)
            .stdin(Stdio::null())
            // Its own process group: a Ctrl-C at the terminal reaches posctl only, which stops the
            // services in order.
            .process_group(0);
        // Colours only on a terminal: log files stay plain text.
        if self.detach || !std::io::stdout().is_terminal() {
            command.env("NO_COLOR", "1");
        }
        if self.detach {
            let log = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(&log_path)
                .with_context(|| format!("opening {}", log_path.display()))?;
            let err = log
                .try_clone()
                .with_context(|| format!("opening {}", log_path.display()))?;
            command.stdout(log).stderr(err);
        } else {
            command.stdout(Stdio::piped()).stderr(Stdio::piped());
        }
        let mut child = tokio::process::Command::from(command)
            .spawn()
            .with_context(|| format!("starting {} ({})", spec.name, spec.binary.display()))?;
        let pid = child
            .id()
            .and_then(|p| i32::try_from(p).ok())
            .context("the new process has no pid")?;
        if !self.detach {
            let log = tokio::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(&log_path)
                .await
                .with_context(|| format!("opening {}", log_path.display()))?;
            let log = std::sync::Arc::new(tokio::sync::Mutex::new(log));
            if let Some(out) = child.stdout.take() {
                tokio::spawn(stream_lines(spec.name.clone(), out, log.clone()));
            }
            if let Some(err) = child.stderr.take() {
                tokio::spawn(stream_lines(spec.name.clone(), err, log));
            }
        }
        println!("started {} (pid {pid}, port {})", spec.name, spec.http_port);
        self.children.insert(spec.name.clone(), child);
        self.pids.set(PidEntry {
            name: spec.name.clone(),
            pid,
            binary: spec.binary.clone(),
            http_port: spec.http_port,
            fingerprint,
        });
        self.pids.save(&self.paths)
    }

    /// Waits until `GET /health` answers 200.
    pub async fn wait_healthy(
        &mut self,
        name: &str,
        url: &str,
        timeout: Duration,
    ) -> anyhow::Result<()> {
        let log = self.paths.log_file(name);
        let deadline = Instant::now() + timeout;
        loop {
            if crate::api::health(url).await == Some(200) {
                return Ok(());
            }
            if let Some(child) = self.children.get_mut(name)
                && let Ok(Some(status)) = child.try_wait()
            {
                bail!(
                    "{name} exited ({status}) before becoming healthy; see {}",
                    log.display()
                );
            }
            if Instant::now() >= deadline {
                bail!(
                    "{name} did not become healthy within {} s; see {}",
                    timeout.as_secs(),
                    log.display()
                );
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    }

    /// The names of the services this posctl started.
    pub fn started(&self) -> Vec<String> {
        self.children.keys().cloned().collect()
    }

    /// Every service in `pids.json`.
    pub fn all(&self) -> Vec<String> {
        self.pids.services.iter().map(|e| e.name.clone()).collect()
    }

    /// Stops the named services: SIGTERM, then SIGKILL after [`STOP_GRACE`]. Processes that are gone or
    /// no longer ours are skipped. Their entries leave `pids.json`.
    pub async fn stop(&mut self, names: &[String]) {
        let mut targets: Vec<(String, i32, Option<Child>)> = Vec::new();
        for name in names {
            let child = self.children.remove(name);
            if let Some(entry) = self.pids.get(name)
                && (child.is_some() || entry.is_running())
            {
                targets.push((name.clone(), entry.pid, child));
            }
        }
        terminate(&mut targets).await;
        self.pids.services.retain(|e| !names.contains(&e.name));
        if let Err(e) = self.pids.save(&self.paths) {
            eprintln!("posctl: warning: {e:#}");
        }
    }

    /// Waits until one of the services this posctl started exits: its name and status.
    pub async fn wait_any_exit(&mut self) -> (String, String) {
        loop {
            for (name, child) in &mut self.children {
                if let Ok(Some(status)) = child.try_wait() {
                    return (name.clone(), status.to_string());
                }
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
    }
}

/// SIGTERM to each, wait up to [`STOP_GRACE`], SIGKILL what is left, and wait for it.
async fn terminate(targets: &mut [(String, i32, Option<Child>)]) {
    for (_, pid, _) in targets.iter() {
        signal(*pid, Signal::SIGTERM);
    }
    let gone = |targets: &mut [(String, i32, Option<Child>)]| {
        targets.iter_mut().all(|(_, pid, child)| match child {
            Some(child) => !matches!(child.try_wait(), Ok(None)),
            None => !is_alive(*pid),
        })
    };
    let deadline = Instant::now() + STOP_GRACE;
    while !gone(targets) && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    if gone(targets) {
        return;
    }
    for (name, pid, child) in targets.iter_mut() {
        let alive = match child {
            Some(child) => matches!(child.try_wait(), Ok(None)),
            None => is_alive(*pid),
        };
        if alive {
            eprintln!(
                "posctl: {name} (pid {pid}) did not stop within {} s; killing it",
                STOP_GRACE.as_secs()
            );
            signal(*pid, Signal::SIGKILL);
        }
    }
    let deadline = Instant::now() + Duration::from_secs(5);
    while !gone(targets) && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Stops the services of `pids.json` that are still ours (for `down`, where posctl is not their parent).
pub async fn stop_recorded(entries: &[PidEntry]) {
    let mut targets: Vec<(String, i32, Option<Child>)> = entries
        .iter()
        .filter(|e| e.is_running())
        .map(|e| (e.name.clone(), e.pid, None))
        .collect();
    for (name, pid, _) in &targets {
        println!("stopping {name} (pid {pid})");
    }
    terminate(&mut targets).await;
}

/// Copies a child's output to the terminal, each line prefixed with the service name, and to its log.
async fn stream_lines(
    name: String,
    output: impl AsyncRead + Unpin,
    log: std::sync::Arc<tokio::sync::Mutex<tokio::fs::File>>,
) {
    let mut reader = BufReader::new(output);
    let mut line = Vec::new();
    loop {
        line.clear();
        match reader.read_until(b'\n', &mut line).await {
            Ok(0) | Err(_) => break,
            Ok(_) => {
                {
                    let mut log = log.lock().await;
                    let _ = log.write_all(&line).await;
                }
                let text = String::from_utf8_lossy(&line);
                println!("{name:>16} | {}", text.trim_end());
            }
        }
    }
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
        ]
        .map(|(k, v)| (k.to_owned(), v.to_owned()));
        assert_eq!(
            operator_settings(vars),
            vec![
                ("POS_LOG".to_owned(), "debug".to_owned()),
                ("POS_REPLICATION_PROBE_MS".to_owned(), "250".to_owned()),
            ]
        );
    }
}
