//! `docker compose up` without Docker (no engine runs where this is tested): every service of
//! docker-compose.yml started the way compose starts it, with `.env.example` as the operator's `.env`.
//! Each database service is a new PostgreSQL instance set up as the postgres image does (its
//! POSTGRES_DB, then the init scripts of ./docker/initdb with the service's environment); central and
//! the nodes are their real binaries with the service's environment; then the bootstrap service's
//! command. Only addresses change: a service name becomes 127.0.0.1 and the port that instance or
//! process got. The chain must then sell, replicate both ways and sign head office in, and no service
//! may print a secret of `.env.example`.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use pos_shared::pgctl::PgInstance;
use pos_shared::testkit::compose::{self, Value, Variables};
use serde_json::{Value as Json, json};
use uuid::Uuid;

use crate::common::{eventually, get_json, service_binary, wait_process_healthy};

const WAIT: Duration = Duration::from_secs(60);

fn repository() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// A service's process, killed when the test ends however it ends; its output in `log`.
struct Service {
    child: Child,
    log: PathBuf,
}

impl Drop for Service {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// What compose would run: each service's environment (interpolated with `.env.example`) and command,
/// with service names turned into local addresses.
struct Rehearsal {
    file: Value,
    vars: Variables,
    /// `service:port` (as compose's network knows it) → `127.0.0.1:port` (here).
    addresses: Vec<(String, String)>,
}

impl Rehearsal {
    fn localize(&self, text: &str) -> String {
        self.addresses
            .iter()
            .fold(text.to_owned(), |text, (from, to)| text.replace(from, to))
    }

    fn service(&self, name: &str) -> &Value {
        self.file
            .get("services")
            .and_then(|s| s.get(name))
            .unwrap_or_else(|| panic!("docker-compose.yml has no service {name}"))
    }

    fn environment(&self, name: &str) -> Vec<(String, String)> {
        compose::environment(name, self.service(name), Some(&self.vars))
            .into_iter()
            .map(|(key, value)| (key, self.localize(&value)))
            .collect()
    }

    fn command(&self, name: &str) -> Vec<String> {
        compose::command(name, self.service(name), Some(&self.vars))
            .iter()
            .map(|word| self.localize(word))
            .collect()
    }

    /// Starts the service's binary (its command's program) with its environment, listening on `port`.
    fn spawn(&self, name: &str, port: u16, logs: &Path) -> Service {
        let command = self.command(name);
        let log = logs.join(format!("{name}.log"));
        let file = std::fs::File::create(&log).unwrap();
        let child = Command::new(service_binary(&command[0]))
            .args(&command[1..])
            .env_clear()
            .envs(self.environment(name))
            .env("POS_HTTP_HOST", "127.0.0.1")
            .env("POS_HTTP_PORT", port.to_string())
            .stdin(Stdio::null())
            .stdout(file.try_clone().unwrap())
            .stderr(file)
            .spawn()
            .unwrap();
        Service { child, log }
    }
}

/// The database of a `postgres` service, as the image's entrypoint makes it on an empty volume.
async fn start_database(rehearsal: &Rehearsal, name: &str, pg: &PgInstance) {
    let env: HashMap<String, String> = rehearsal.environment(name).into_iter().collect();
    let dbname = &env["POSTGRES_DB"];
    let admin = pg.superuser_client("postgres").await.unwrap();
    admin
        .batch_execute(&format!("CREATE DATABASE \"{dbname}\""))
        .await
        .unwrap();
    let bin_dir = pos_shared::pgctl::bin_dir().unwrap();
    let mut scripts: Vec<PathBuf> = std::fs::read_dir(repository().join("docker/initdb"))
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.extension().is_some_and(|e| e == "sh"))
        .collect();
    scripts.sort();
    for script in scripts {
        let output = Command::new("bash")
            .arg(&script)
            .env_clear()
            .env("PATH", format!("{}:/usr/bin:/bin", bin_dir.display()))
            .envs(&env)
            .env("POSTGRES_USER", "postgres")
            // The entrypoint's temporary server: the superuser over the local socket.
            .env("PGHOST", &pg.data_dir)
            .env("PGPORT", pg.port.to_string())
            .output()
            .unwrap();
        assert!(
            output.status.success(),
            "{name}: {} failed: {}",
            script.display(),
            String::from_utf8_lossy(&output.stderr)
        );
    }
}

/// `STORE_ID=TOKEN,…` → the first token.
fn first_cashier_token(setting: &str) -> String {
    setting
        .split(',')
        .next()
        .and_then(|pair| pair.split_once('='))
        .map(|(_, token)| token.to_owned())
        .unwrap()
}

#[tokio::test]
async fn compose_up_with_env_example_brings_up_a_chain_that_sells() {
    let file = compose::load(&repository().join("docker-compose.yml"));
    let vars = compose::env_file(&repository().join(".env.example"));
    let Some(Value::Mapping(services)) = file.get("services") else {
        panic!("no services");
    };
    let names: Vec<String> = services
        .keys()
        .map(|k| k.as_str().unwrap().to_owned())
        .collect();
    let is_database = |name: &str| {
        services
            .get(name)
            .and_then(|service| service.get("image"))
            .and_then(Value::as_str)
            .is_some_and(|image| image.starts_with("postgres:"))
    };
    let databases: Vec<String> = names.iter().filter(|n| is_database(n)).cloned().collect();
    // Central first: the nodes' health does not need it, but bootstrap does.
    let apps: Vec<String> = ["central", "store-node"]
        .iter()
        .flat_map(|binary| compose::services_running(&file, binary))
        .map(|(name, _)| name)
        .collect();
    assert_eq!(databases.len(), 3, "{names:?}");
    assert_eq!(apps, ["central", "store-karachi", "store-lahore"]);

    let mut instances = HashMap::new();
    let mut addresses = Vec::new();
    for name in &databases {
        let pg = pos_shared::testkit::start_bare(true).await.unwrap();
        addresses.push((format!("{name}:5432"), format!("127.0.0.1:{}", pg.port)));
        instances.insert(name.clone(), pg);
    }
    let mut rehearsal = Rehearsal {
        file: file.clone(),
        vars: vars.clone(),
        addresses,
    };
    for name in &databases {
        start_database(&rehearsal, name, &instances[name]).await;
    }
    // The services' ports, picked just before they start (another test may take a free port meanwhile).
    let mut ports = HashMap::new();
    for name in &apps {
        let port = std::iter::repeat_with(|| pos_shared::testkit::free_port().unwrap())
            .find(|port| !ports.values().any(|taken| taken == port))
            .unwrap();
        rehearsal.addresses.push((
            format!("http://{name}:8080"),
            format!("http://127.0.0.1:{port}"),
        ));
        ports.insert(name.clone(), port);
    }

    let logs = tempfile::tempdir().unwrap();
    let mut running = Vec::new();
    for name in &apps {
        let mut service = rehearsal.spawn(name, ports[name], logs.path());
        let log = service.log.clone();
        let url = format!("http://127.0.0.1:{}", ports[name]);
        wait_process_healthy(&mut service.child, &url, WAIT, name, || {
            std::fs::read_to_string(&log).unwrap_or_default()
        })
        .await;
        running.push(service);
    }
    let bootstrap = rehearsal.command("bootstrap");
    let binary = service_binary(&bootstrap[0]);
    let environment = rehearsal.environment("bootstrap");
    let output = tokio::task::spawn_blocking(move || {
        Command::new(binary)
            .args(&bootstrap[1..])
            .env_clear()
            .envs(environment)
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    let bootstrap_output = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    println!("bootstrap:\n{bootstrap_output}");
    assert!(output.status.success(), "{bootstrap_output}");

    let http = reqwest::Client::new();
    let central = format!("http://127.0.0.1:{}", ports["central"]);
    let karachi = format!("http://127.0.0.1:{}", ports["store-karachi"]);
    let lahore = format!("http://127.0.0.1:{}", ports["store-lahore"]);
    let karachi_token = first_cashier_token(&vars["KARACHI_CASHIER_TOKENS"]);
    let lahore_token = first_cashier_token(&vars["LAHORE_CASHIER_TOKENS"]);

    // A sale at Karachi with the till token of .env, from bootstrap's opening stock.
    let stock = get_json(&format!("{karachi}/inventory"), &karachi_token).await;
    let product = stock["items"][0]["product_id"].clone();
    assert!(product.is_i64(), "{stock}");
    let sale = http
        .post(format!("{karachi}/orders"))
        .bearer_auth(&karachi_token)
        .json(
            &json!({"idempotency_key": Uuid::new_v4(), "customer_id": null,
                      "items": [{"product_id": product, "quantity": 2}],
                      "payments": [{"method": "cash", "amount": "5000.00"}]}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(sale.status(), 201);
    let sale: Json = sale.json().await.unwrap();
    let order = sale["global_order_id"].as_str().unwrap().to_owned();

    // It reaches central through Karachi's outbox (the node's own login at central-db).
    eventually("the sale reaches central", WAIT, || async {
        let response = http
            .get(format!("{central}/orders/{order}"))
            .bearer_auth(&vars["ADMIN_TOKEN"])
            .send()
            .await
            .unwrap();
        response.status() == 200
    })
    .await;
    // Central's replication reaches Lahore (dblink as pos_replicator into lahore-db): head office
    // renames a Lahore customer and Lahore's till sees the new name.
    let customers = get_json(&format!("{lahore}/customers"), &lahore_token).await;
    let customer = customers["items"][0]["id"].as_i64().unwrap();
    let renamed = http
        .patch(format!("{central}/customers/{customer}"))
        .bearer_auth(&vars["ADMIN_TOKEN"])
        .json(&json!({"name": "Renamed At Head Office"}))
        .send()
        .await
        .unwrap();
    assert_eq!(renamed.status(), 200);
    eventually("the new name reaches Lahore", WAIT, || async {
        let seen = get_json(&format!("{lahore}/customers/{customer}"), &lahore_token).await;
        seen["name"] == "Renamed At Head Office"
    })
    .await;
    // Head office signs in with the password of .env.
    let login = http
        .post(format!("{central}/sessions"))
        .json(&json!({"username": "headoffice", "password": vars["HEAD_OFFICE_PASSWORD"]}))
        .send()
        .await
        .unwrap();
    assert_eq!(login.status(), 201);

    // No secret of .env in any service's output, nor in bootstrap's.
    drop(running);
    let secrets: Vec<String> = vars
        .iter()
        .filter(|(key, _)| key.contains("PASSWORD") || key.contains("TOKEN"))
        .flat_map(|(key, value)| {
            if key.ends_with("CASHIER_TOKENS") {
                value.split(',').map(first_cashier_token).collect()
            } else {
                vec![value.clone()]
            }
        })
        .collect();
    assert!(secrets.len() >= 14, "{secrets:?}");
    let mut outputs = vec![("bootstrap".to_owned(), bootstrap_output)];
    for name in &apps {
        let log = std::fs::read_to_string(logs.path().join(format!("{name}.log"))).unwrap();
        assert!(
            log.contains("\"level\""),
            "{name} logged JSON at info: {log}"
        );
        outputs.push((name.clone(), log));
    }
    for (name, text) in &outputs {
        for secret in &secrets {
            assert!(!text.contains(secret.as_str()), "{name} printed a secret");
        }
    }
}

/// The rehearsal interpolates as compose does, so it cannot pass where compose would refuse to start.
#[test]
fn interpolation_follows_compose_with_the_operators_variables() {
    let file = compose::parse(
        r#"
services:
  app:
    command: ["central", "${SET:+alt}", "${UNSET:+alt}", "x${UNSET}y", "$$SET"]
    environment:
      A: ${SET:-d}
      B: ${EMPTY:-d}
      C: ${EMPTY-d}
      D: ${UNSET-d}
      E: $SET-${SET:?needed}
      F: ${EMPTY+alt}
  refused:
    command: ["central"]
    environment:
      G: ${EMPTY:?set EMPTY}
"#,
    )
    .unwrap();
    let vars: Variables = [("SET", "v"), ("EMPTY", "")]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
    let app = file.get("services").and_then(|s| s.get("app")).unwrap();
    assert_eq!(
        compose::command("app", app, Some(&vars)),
        ["central", "alt", "", "xy", "$SET"]
    );
    let env: HashMap<String, String> = compose::environment("app", app, Some(&vars))
        .into_iter()
        .collect();
    let expected = [
        ("A", "v"),
        ("B", "d"),
        ("C", ""),
        ("D", "d"),
        ("E", "v-v"),
        ("F", "alt"),
    ];
    for (key, value) in expected {
        assert_eq!(env[key], value, "{key}");
    }
    let refused = file.get("services").and_then(|s| s.get("refused")).unwrap();
    let outcome =
        std::panic::catch_unwind(|| compose::environment("refused", refused, Some(&vars)));
    assert!(
        outcome.is_err(),
        "compose refuses ${{EMPTY:?…}} when EMPTY is empty"
    );
}
