//! What the posctl end-to-end tests share: running the real binary, a guard that takes a cluster down
//! however a test ends, and HTTP checks. Each test makes its own cluster on its own ports.

#![allow(dead_code)] // each test binary uses its part

use std::path::PathBuf;
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use serde_json::Value;

pub const POSCTL: &str = env!("CARGO_BIN_EXE_posctl");

pub fn posctl(args: &[&str]) -> Output {
    posctl_with(args, &[])
}

/// `posctl` with `env` added to its environment.
pub fn posctl_with(args: &[&str], env: &[(&str, &str)]) -> Output {
    let output = Command::new(POSCTL)
        .args(args)
        .envs(env.iter().copied())
        .output()
        .unwrap();
    println!(
        "$ posctl {}\n{}{}(exit {:?})",
        args.join(" "),
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr),
        output.status.code()
    );
    output
}

/// Runs `posctl down --purge` however the test ends, so no server outlives it.
pub struct Cluster {
    pub dir: PathBuf,
    pub down: bool,
    /// Dropped after `drop` has run `down` (fields drop after the struct's own `Drop`).
    _root: tempfile::TempDir,
}

impl Cluster {
    /// A cluster directory in a new temporary directory named after `prefix`, removed after `down`.
    pub fn in_temp_dir(prefix: &str) -> Self {
        let root = tempfile::Builder::new().prefix(prefix).tempdir().unwrap();
        Self {
            dir: root.path().join("cluster"),
            down: false,
            _root: root,
        }
    }

    pub fn dir(&self) -> &str {
        self.dir.to_str().unwrap()
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        if !self.down {
            let _ = Command::new(POSCTL)
                .args(["down", "--purge", "--dir"])
                .arg(&self.dir)
                .output();
        }
    }
}

pub fn gone(pid: i64) -> bool {
    // A zombie holds no port or file; it only waits for init to reap it.
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Err(_) => true,
        Ok(stat) => stat
            .rsplit_once(')')
            .and_then(|(_, rest)| rest.split_whitespace().next())
            .is_some_and(|state| state == "Z" || state == "X"),
    }
}

pub async fn health(http: &reqwest::Client, url: &str) -> Option<u16> {
    let response = http.get(format!("{url}/health")).send().await.ok()?;
    Some(response.status().as_u16())
}

/// Polls `/health` until it answers `want` (30 s at most).
pub async fn wait_health(http: &reqwest::Client, url: &str, want: u16) {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let got = health(http, url).await;
        if got == Some(want) {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{url}/health answered {got:?}, wanted {want}"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

pub async fn get_json(http: &reqwest::Client, url: &str, token: &str) -> Value {
    let response = http.get(url).bearer_auth(token).send().await.unwrap();
    assert_eq!(response.status(), 200, "GET {url}");
    response.json().await.unwrap()
}

/// A port base for this test process and `slot` (a test's own ports): below the ephemeral range, and
/// different per process so that parallel runs do not collide.
pub fn port_base(slot: u32) -> u32 {
    20000 + (std::process::id() % 50) * 200 + slot * 10
}
