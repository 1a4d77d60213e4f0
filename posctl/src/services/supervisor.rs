//! The supervisor of one `up`: spawning the services with their environment, health waits, log
//! streaming (foreground) and stopping (SIGTERM, then SIGKILL), for those it started and, for `down`,
//! those recorded in `DIR/pids.json`. Used by `ops`.

use std::collections::HashMap;
use std::io::IsTerminal;
use std::os::unix::process::CommandExt;
use std::process::Stdio;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncWriteExt, BufReader};
use tokio::process::Child;

use super::{PidEntry, PidFile, ServiceSpec, SupervisorEntry, is_alive};
use crate::cluster::{Paths, port_free};

/// How long a service gets to stop after SIGTERM before SIGKILL.
pub const STOP_GRACE: Duration = Duration::from_secs(10);

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

    /// Starts the service unless it runs already with the same binary and settings (then it is
    /// restarted). Returns whether a process was started.
    pub async fn ensure(&mut self, spec: &ServiceSpec) -> anyhow::Result<bool> {
        let fingerprint = spec.fingerprint();
        if let Some(entry) = self.pids.get(&spec.name).cloned()
            && entry.is_running()
        {
            if entry.fingerprint == fingerprint && entry.http_port == spec.http_port {
                crate::step!("{} is running already (pid {})", spec.name, entry.pid);
                return Ok(false);
            }
            crate::step!("{}: settings changed, restarting it", spec.name);
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
        crate::step!("started {} (pid {pid}, port {})", spec.name, spec.http_port);
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

    /// Records this posctl as the cluster's foreground supervisor, for `down` (see [`stop_supervisor`]).
    pub fn record_self(&mut self) -> anyhow::Result<()> {
        self.pids.supervisor = Some(SupervisorEntry::this_process()?);
        self.pids.save(&self.paths)
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

/// How long `down` waits for a foreground `up` to stop the cluster: its services' grace, then the
/// PostgreSQL instances' fast shutdowns.
const SUPERVISOR_GRACE: Duration = Duration::from_secs(60);

/// For `down`: asks the foreground `up` recorded in `pids.json`, if it still runs, to stop the cluster
/// (SIGTERM: it stops its services and instances and exits 0), and waits for it.
pub async fn stop_supervisor(paths: &Paths) -> anyhow::Result<()> {
    let Some(entry) = PidFile::load(paths)?.supervisor else {
        return Ok(());
    };
    if !entry.is_running() {
        return Ok(());
    }
    crate::step!(
        "asking the foreground posctl up (pid {}) to stop the cluster",
        entry.pid
    );
    signal(entry.pid, Signal::SIGTERM);
    let deadline = Instant::now() + SUPERVISOR_GRACE;
    while entry.is_running() {
        if Instant::now() >= deadline {
            bail!(
                "the foreground posctl up (pid {}) did not stop within {} s",
                entry.pid,
                SUPERVISOR_GRACE.as_secs()
            );
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    Ok(())
}

/// Stops the services of `pids.json` that are still ours (for `down`, where posctl is not their parent).
pub async fn stop_recorded(entries: &[PidEntry]) {
    let mut targets: Vec<(String, i32, Option<Child>)> = entries
        .iter()
        .filter(|e| e.is_running())
        .map(|e| (e.name.clone(), e.pid, None))
        .collect();
    for (name, pid, _) in &targets {
        crate::step!("stopping {name} (pid {pid})");
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
