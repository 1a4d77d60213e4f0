//! The real binary end to end: `up --detach` with demo data, the cluster's shape and health, a fault
//! drill on one city's PostgreSQL, and `down --purge` leaving no process and no bound port behind.
//!
//! Needs the service binaries: `cargo build -p central -p store-node` first.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a failed step should panic

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde_json::Value;

mod common;

use common::{Cluster, get_json, gone, health, port_base, posctl, posctl_with, wait_health};

/// Every string under a key naming a password or token.
fn collect_secrets(value: &Value, out: &mut Vec<String>) {
    match value {
        Value::Object(map) => {
            for (key, value) in map {
                match value {
                    Value::String(text) if key.contains("password") || key.contains("token") => {
                        out.push(text.clone());
                    }
                    other => collect_secrets(other, out),
                }
            }
        }
        Value::Array(items) => items.iter().for_each(|item| collect_secrets(item, out)),
        _ => {}
    }
}

/// `*.log` files under `dir`.
fn collect_logs(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let path = entry.path();
        if path.is_dir() {
            collect_logs(&path, out);
        } else if path.extension().is_some_and(|e| e == "log") {
            out.push(path);
        }
    }
}

fn mode(path: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

#[tokio::test]
async fn up_drill_and_down() {
    let mut cluster = Cluster::in_temp_dir("posctl-test-");
    let port_base = port_base(0);
    let base = port_base.to_string();
    let dir = cluster.dir().to_owned();

    // An operator's setting reaches the services; one posctl manages cannot be overridden.
    let settings = [
        ("POS_REPLICATION_STATEMENT_TIMEOUT_MS", "4321"),
        (
            "POS_DATABASE_URL",
            "postgres://nobody@127.0.0.1:1/elsewhere",
        ),
    ];
    let up = posctl_with(
        &[
            "up",
            "--dir",
            &dir,
            "--cities",
            "Karachi,Lahore",
            "--port-base",
            &base,
            "--demo-data",
            "--detach",
        ],
        &settings,
    );
    assert!(up.status.success(), "posctl up failed");

    // cluster.json: shape and mode; no secret on the terminal.
    let cluster_file = cluster.dir.join("cluster.json");
    assert_eq!(mode(&cluster_file), 0o600);
    assert_eq!(mode(&cluster.dir.join("state.json")), 0o600);
    let doc: Value =
        serde_json::from_str(&std::fs::read_to_string(&cluster_file).unwrap()).unwrap();
    let central = &doc["central"];
    let central_url = central["url"].as_str().unwrap().to_owned();
    let admin = central["admin_token"].as_str().unwrap().to_owned();
    assert_eq!(central_url, format!("http://127.0.0.1:{}", port_base + 100));
    assert!(
        central["database_url"]
            .as_str()
            .unwrap()
            .starts_with("postgres://pos_app:")
    );
    assert!(
        central["database_url"]
            .as_str()
            .unwrap()
            .ends_with(&format!(":{port_base}/pos_central"))
    );
    let (db, connection) = tokio_postgres::connect(
        central["database_url"].as_str().unwrap(),
        tokio_postgres::NoTls,
    )
    .await
    .unwrap();
    tokio::spawn(connection);
    let timeout: i32 = db
        .query_one("SELECT statement_timeout_ms FROM replication_settings", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(timeout, 4321, "central was given the operator's setting");
    drop(db);
    let terminal = format!(
        "{}{}",
        String::from_utf8_lossy(&up.stdout),
        String::from_utf8_lossy(&up.stderr)
    );
    assert!(!terminal.contains(&admin), "the admin token was printed");

    let nodes = doc["nodes"].as_array().unwrap();
    assert_eq!(nodes.len(), 2);
    assert_eq!(nodes[0]["city"], "Karachi");
    assert_eq!(nodes[1]["city"], "Lahore");
    for (i, node) in nodes.iter().enumerate() {
        assert!(node["city_id"].as_i64().unwrap() > 0);
        assert_eq!(
            node["url"],
            format!(
                "http://127.0.0.1:{}",
                port_base + 101 + u32::try_from(i).unwrap()
            )
        );
        assert!(node["database_url"].as_str().unwrap().contains("_db"));
        let stores = node["stores"].as_array().unwrap();
        assert_eq!(stores.len(), 1);
        assert!(!terminal.contains(stores[0]["cashier_token"].as_str().unwrap()));
    }
    assert_eq!(nodes[0]["stores"][0]["code"], "KHI001");
    assert_eq!(nodes[1]["stores"][0]["code"], "LHR001");
    let lahore_url = nodes[1]["url"].as_str().unwrap().to_owned();

    let pids: Value =
        serde_json::from_str(&std::fs::read_to_string(cluster.dir.join("pids.json")).unwrap())
            .unwrap();
    let pids: Vec<i64> = pids["services"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["pid"].as_i64().unwrap())
        .collect();
    assert_eq!(pids.len(), 3);

    // Health, auth, and the demo data at each node (replicated from central).
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap();
    assert_eq!(health(&http, &central_url).await, Some(200));
    for node in nodes {
        assert_eq!(
            health(&http, node["url"].as_str().unwrap()).await,
            Some(200)
        );
    }
    let cities = get_json(&http, &format!("{central_url}/cities"), &admin).await;
    let names: Vec<&str> = cities["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert!(
        names.contains(&"Karachi") && names.contains(&"Lahore"),
        "{names:?}"
    );
    let anonymous = http
        .get(format!("{central_url}/cities"))
        .send()
        .await
        .unwrap();
    assert_eq!(anonymous.status(), 401);
    let products = get_json(&http, &format!("{central_url}/products?limit=1000"), &admin).await;
    let product_count = products["items"].as_array().unwrap().len();
    assert!(product_count >= 25, "{product_count} products");
    for node in nodes {
        let url = node["url"].as_str().unwrap();
        let token = node["stores"][0]["cashier_token"].as_str().unwrap();
        let listed = get_json(&http, &format!("{url}/products?limit=1000"), token).await;
        assert_eq!(
            listed["items"].as_array().unwrap().len(),
            product_count,
            "{url}"
        );
        let stock = get_json(&http, &format!("{url}/inventory?limit=1000"), token).await;
        let stock = stock["items"].as_array().unwrap();
        assert_eq!(stock.len(), product_count, "{url}");
        assert!(stock.iter().all(|line| {
            let q = line["quantity"].as_i64().unwrap();
            (50..=200).contains(&q)
        }));
        let customers = get_json(&http, &format!("{url}/customers"), token).await;
        let names: Vec<&str> = customers["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["name"].as_str().unwrap())
            .collect();
        assert!(
            names.contains(&"Zoë Ahmed") && names.contains(&"Rohan D'Souza"),
            "{names:?}"
        );
    }

    // A second `up` with the same settings starts nothing new and duplicates nothing.
    let again = posctl_with(
        &["up", "--dir", &dir, "--demo-data", "--detach", "--verbose"],
        &settings,
    );
    assert!(again.status.success());
    assert!(String::from_utf8_lossy(&again.stdout).contains("running already"));
    let products = get_json(&http, &format!("{central_url}/products?limit=1000"), &admin).await;
    assert_eq!(products["items"].as_array().unwrap().len(), product_count);

    // Fault drill: Lahore's database goes away; the service stays up and says so.
    assert!(posctl(&["status", "--dir", &dir]).status.success());
    assert!(
        posctl(&["db", "stop", "Lahore", "--dir", &dir])
            .status
            .success()
    );
    wait_health(&http, &lahore_url, 503).await;
    assert_eq!(health(&http, &central_url).await, Some(200));
    assert!(!posctl(&["status", "--dir", &dir]).status.success());
    // A change for Lahore while it is away: delivery fails, is logged and recorded.
    let lahore_id = nodes[1]["city_id"].clone();
    let created = http
        .post(format!("{central_url}/customers"))
        .bearer_auth(&admin)
        .json(&serde_json::json!({"name": "While Away", "city_id": lahore_id}))
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), 201);
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let failed = get_json(
            &http,
            &format!("{central_url}/replication/log?status=Failed"),
            &admin,
        )
        .await;
        if !failed["items"].as_array().unwrap().is_empty() {
            break;
        }
        assert!(Instant::now() < deadline, "no failed delivery was recorded");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(
        posctl(&["db", "start", "lahore", "--dir", &dir])
            .status
            .success()
    );
    wait_health(&http, &lahore_url, 200).await;
    assert!(posctl(&["status", "--dir", &dir]).status.success());

    // No password or token in any log of the services or of PostgreSQL, nor in the replication log.
    let state: Value =
        serde_json::from_str(&std::fs::read_to_string(cluster.dir.join("state.json")).unwrap())
            .unwrap();
    let mut secrets = Vec::new();
    collect_secrets(&state, &mut secrets);
    assert!(
        secrets.len() >= 8,
        "state.json holds the cluster's passwords and tokens"
    );
    let mut logs = Vec::new();
    for dir in [cluster.dir.join("logs"), cluster.dir.join("pg")] {
        collect_logs(&dir, &mut logs);
    }
    assert!(logs.len() >= 6, "service and PostgreSQL logs: {logs:?}");
    let failed_log = get_json(
        &http,
        &format!("{central_url}/replication/log?limit=1000"),
        &admin,
    )
    .await;
    let mut texts: Vec<(String, String)> = logs
        .iter()
        .map(|path| {
            (
                path.display().to_string(),
                String::from_utf8_lossy(&std::fs::read(path).unwrap()).into_owned(),
            )
        })
        .collect();
    texts.push(("GET /replication/log".into(), failed_log.to_string()));
    for (place, text) in &texts {
        for secret in &secrets {
            assert!(
                !text.contains(secret.as_str()),
                "a secret appears in {place}"
            );
        }
    }

    // Down: nothing left running, nothing bound, nothing on disk.
    let down = posctl(&["down", "--dir", &dir, "--purge"]);
    cluster.down = true;
    assert!(down.status.success());
    assert!(!cluster.dir.exists());
    let deadline = Instant::now() + Duration::from_secs(5);
    while pids.iter().any(|pid| !gone(*pid)) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(100));
    }
    for pid in &pids {
        assert!(gone(*pid), "process {pid} is still running");
    }
    for offset in [0, 1, 2, 100, 101, 102] {
        let port = u16::try_from(port_base + offset).unwrap();
        std::net::TcpListener::bind(("127.0.0.1", port))
            .unwrap_or_else(|e| panic!("port {port} is still bound: {e}"));
    }
    // `down` where nothing runs is fine.
    assert!(posctl(&["down", "--dir", &dir]).status.success());
}
