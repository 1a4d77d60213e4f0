//! An operator's day with the real binary: `up` in the foreground prints its table and no INFO line,
//! `status` shows delivery in both directions, a store is added and its cashier token rotated with no
//! restart, and `down` from another terminal ends the foreground `up` with exit 0.
//!
//! Needs the service binaries: `cargo build -p central -p store-node` first.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a failed step should panic

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::Value;

mod common;

use common::{Cluster, POSCTL, port_base, posctl};

fn cluster_file(cluster: &Cluster) -> Value {
    serde_json::from_str(&std::fs::read_to_string(cluster.dir.join("cluster.json")).unwrap())
        .unwrap()
}

/// The cashier token of the store `code` in cluster.json.
fn token_of(cluster: &Cluster, code: &str) -> String {
    let doc = cluster_file(cluster);
    doc["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|n| n["stores"].as_array().unwrap())
        .find(|s| s["code"] == code)
        .unwrap_or_else(|| panic!("no store {code} in cluster.json: {doc}"))["cashier_token"]
        .as_str()
        .unwrap()
        .to_owned()
}

/// `GET url` with `token` as the bearer: the status.
async fn status_with(http: &reqwest::Client, url: &str, token: &str) -> u16 {
    http.get(url)
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

async fn products_status(http: &reqwest::Client, node_url: &str, token: &str) -> u16 {
    status_with(http, &format!("{node_url}/products?limit=1"), token).await
}

#[tokio::test]
async fn foreground_up_status_store_and_token_and_down_from_elsewhere() {
    let mut cluster = Cluster::in_temp_dir("posctl-ops-");
    let dir = cluster.dir().to_owned();
    let base = port_base(1).to_string();

    // `up` in the foreground, as `make run` starts it; its output is collected line by line.
    let mut up = Command::new(POSCTL)
        .args([
            "up",
            "--dir",
            &dir,
            "--cities",
            "Lahore",
            "--port-base",
            &base,
        ])
        .arg("--demo-data")
        .env_remove("POS_LOG")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let lines = Arc::new(Mutex::new(Vec::<String>::new()));
    let reader = {
        let lines = lines.clone();
        let stdout = up.stdout.take().unwrap();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                lines.lock().unwrap().push(line.unwrap());
            }
        })
    };
    let deadline = Instant::now() + Duration::from_secs(180);
    while !lines.lock().unwrap().iter().any(|l| l.starts_with("Stop:")) {
        assert!(
            up.try_wait().unwrap().is_none(),
            "up exited early: {:?}",
            lines.lock().unwrap()
        );
        assert!(Instant::now() < deadline, "up printed no summary in 180 s");
        std::thread::sleep(Duration::from_millis(200));
    }

    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap();
    let doc = cluster_file(&cluster);
    let node_url = doc["nodes"][0]["url"].as_str().unwrap().to_owned();

    // status: both directions per node.
    let status = posctl(&["status", "--dir", &dir]);
    assert!(status.status.success());
    let text = String::from_utf8_lossy(&status.stdout);
    assert!(text.contains("OUTBOX TO CENTRAL"), "{text}");
    let row = text
        .lines()
        .find(|l| l.starts_with("Lahore "))
        .unwrap_or_else(|| panic!("no Lahore row: {text}"));
    let cells: Vec<&str> = row.split_whitespace().collect();
    assert_eq!(cells.len(), 9, "{row}"); // name, counts, lag (2 words), reached, counts, age (2), reaches
    assert!(
        cells[1].split('/').count() == 3 && cells[5].split('/').count() == 3,
        "{row}"
    );
    assert_eq!((cells[4], cells[8]), ("yes", "yes"), "{row}");

    // A new store, with no restart: its token works at the node when the command returns.
    let added = posctl(&["store", "add", "Lahore", "LHR009", "--dir", &dir]);
    assert!(added.status.success());
    assert!(String::from_utf8_lossy(&added.stdout).contains("accepts it"));
    let first = token_of(&cluster, "LHR009");
    assert_eq!(products_status(&http, &node_url, &first).await, 200);

    // Rotation: the new token works at once, the old one stops within seconds.
    let rotated = posctl(&["token", "rotate", "LHR009", "--dir", &dir]);
    assert!(rotated.status.success());
    let second = token_of(&cluster, "LHR009");
    assert_ne!(first, second);
    assert_eq!(products_status(&http, &node_url, &second).await, 200);
    let deadline = Instant::now() + Duration::from_secs(15);
    while products_status(&http, &node_url, &first).await != 401 {
        assert!(
            Instant::now() < deadline,
            "the rotated-out token still works"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    // The store `up` made still sells with its own token: rotation touched only LHR009.
    let demo_store = token_of(&cluster, "LHR001");
    assert_eq!(products_status(&http, &node_url, &demo_store).await, 200);

    // Head office's token, rotated with no restart: the new one works everywhere when the command
    // returns, the old one is refused by then.
    let central_url = doc["central"]["url"].as_str().unwrap().to_owned();
    let old_admin = doc["central"]["admin_token"].as_str().unwrap().to_owned();
    let central_nodes = format!("{central_url}/nodes");
    assert_eq!(status_with(&http, &central_nodes, &old_admin).await, 200);
    let rotated = posctl(&["token", "rotate-admin", "--dir", &dir]);
    assert!(
        rotated.status.success(),
        "{}",
        String::from_utf8_lossy(&rotated.stderr)
    );
    let new_admin = cluster_file(&cluster)["central"]["admin_token"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_ne!(new_admin, old_admin);
    assert_eq!(status_with(&http, &central_nodes, &new_admin).await, 200);
    assert_eq!(products_status(&http, &node_url, &new_admin).await, 200);
    assert_eq!(status_with(&http, &central_nodes, &old_admin).await, 401);

    // `down` from another terminal: the foreground `up` stops the cluster and exits 0.
    assert!(posctl(&["down", "--dir", &dir]).status.success());
    let exit = up.wait().unwrap();
    reader.join().unwrap();
    let output = lines.lock().unwrap().join("\n");
    println!("foreground up printed:\n{output}");
    assert!(exit.success(), "the foreground up ended with {exit}");
    assert!(
        output.contains("SERVICE") && output.contains("dashboard"),
        "{output}"
    );
    assert!(
        !output.contains(" INFO "),
        "the console shows warnings only by default: {output}"
    );
    assert!(posctl(&["down", "--dir", &dir, "--purge"]).status.success());
    cluster.down = true;
}
