//! `posctl bootstrap` as docker-compose.yml runs it: the real binary, its settings in the environment,
//! against a central and two nodes that run with nothing set up (no city, no registration, no data), as
//! the compose services do on their first start. Afterwards the chain sells and reports; a second run
//! changes nothing; a run with a wrong setting stops with a clear message and writes nothing.

use std::process::{Command, Output};
use std::time::Duration;

use secrecy::SecretString;
use serde_json::json;
use uuid::Uuid;

use crate::chain::start_node_service_for_head_office;
use crate::common::{
    TestCentral, TestNode, eventually, get_json, replication_config, service_binary, spawn_central,
};

const WAIT: Duration = Duration::from_secs(60);

/// The environment docker-compose.yml gives the bootstrap service, for these test databases.
fn compose_environment(
    central: &TestCentral,
    nodes: &[(&str, &TestNode)],
) -> Vec<(String, String)> {
    let mut env = vec![
        ("POS_CENTRAL_URL".to_owned(), central.url.clone()),
        ("POS_ADMIN_TOKEN".to_owned(), central.admin_token.clone()),
        (
            "POS_HEAD_OFFICE_PASSWORD".to_owned(),
            "bootstrap-password-0001".to_owned(),
        ),
    ];
    for (city, node) in nodes {
        env.push((
            format!("POS_NODE_DATABASE_URL_{}", city.to_ascii_uppercase()),
            format!(
                "postgres://{}:{}@127.0.0.1:{}/{}",
                pos_shared::pgctl::REPLICATOR_ROLE,
                node.instance.replicator_password,
                node.instance.pg.port,
                node.db_name
            ),
        ));
    }
    env
}

/// Runs `posctl ARGS` with `env` only (besides PATH), off the runtime that serves the in-process
/// services.
async fn posctl(args: Vec<String>, env: Vec<(String, String)>) -> Output {
    let binary = service_binary("posctl");
    let output = tokio::task::spawn_blocking(move || {
        Command::new(binary)
            .args(&args)
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .envs(env)
            .output()
    })
    .await
    .unwrap()
    .unwrap();
    println!(
        "posctl bootstrap: exit {:?}\n{}{}",
        output.status.code(),
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    output
}

/// Runs posctl expecting it to refuse, saying `why` on standard error; returns its output.
async fn refused(args: Vec<String>, env: Vec<(String, String)>, why: &str) -> Output {
    let output = posctl(args, env).await;
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains(why), "{stderr}");
    output
}

/// `env` with one more variable.
fn with_var(env: &[(String, String)], name: &str, value: &str) -> Vec<(String, String)> {
    let mut env = env.to_vec();
    env.push((name.to_owned(), value.to_owned()));
    env
}

fn bootstrap_args(nodes: &[(&str, i32, &str)]) -> Vec<String> {
    let mut args = vec!["bootstrap".to_owned(), "--demo-data".to_owned()];
    for (city, id, url) in nodes {
        args.push("--node".to_owned());
        args.push(format!("{city}={id}={url}"));
    }
    args.push("--wait-seconds".to_owned());
    args.push("20".to_owned());
    args
}

/// What bootstrap may have written at central: (cities, nodes, products, stores, customers, cashier
/// credentials issued, of them live).
async fn central_counts(central: &TestCentral) -> [i64; 7] {
    let db = central.db().await;
    let row = db
        .query_one(
            "SELECT (SELECT count(*) FROM cities), (SELECT count(*) FROM nodes),
                    (SELECT count(*) FROM products), (SELECT count(*) FROM stores),
                    (SELECT count(*) FROM customers WHERE deleted_at IS NULL),
                    (SELECT count(*) FROM cashier_tokens),
                    (SELECT count(*) FROM cashier_tokens WHERE revoked_at IS NULL)",
            &[],
        )
        .await
        .unwrap();
    std::array::from_fn(|i| row.get(i))
}

#[tokio::test]
async fn bootstrap_makes_a_bare_chain_sell_and_a_second_run_changes_nothing() {
    let central = spawn_central(replication_config()).await;
    let karachi = TestNode::new(1).await;
    let lahore = TestNode::new(2).await;
    // As .env.example: the nodes accept a cashier token for store 1 (Karachi) and 2 (Lahore) from the
    // start, and the cities' ids are 1 and 2.
    let karachi_cashier = pos_shared::auth::generate_token();
    let lahore_cashier = pos_shared::auth::generate_token();
    let karachi_url = start_node_service_for_head_office(
        &central,
        central.instance,
        &karachi,
        1,
        vec![(1, SecretString::from(karachi_cashier.clone()))],
    )
    .await;
    let lahore_url = start_node_service_for_head_office(
        &central,
        central.instance,
        &lahore,
        2,
        vec![(2, SecretString::from(lahore_cashier.clone()))],
    )
    .await;
    let env = compose_environment(&central, &[("Karachi", &karachi), ("Lahore", &lahore)]);
    let nodes = [
        ("Karachi", 1, karachi_url.as_str()),
        ("Lahore", 2, lahore_url.as_str()),
    ];

    let first = posctl(bootstrap_args(&nodes), env.clone()).await;
    assert!(first.status.success());
    let stdout = String::from_utf8_lossy(&first.stdout);
    assert!(stdout.contains("node Karachi: registered ("), "{stdout}");
    assert!(stdout.contains("opening stock for LHR001"), "{stdout}");

    let cities = get_json(&format!("{}/cities", central.url), &central.admin_token).await;
    let cities: Vec<(i64, &str)> = cities["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| (c["id"].as_i64().unwrap(), c["name"].as_str().unwrap()))
        .collect();
    assert_eq!(cities, [(1, "Karachi"), (2, "Lahore")]);
    let after_first = central_counts(&central).await;
    // 2 cities, 2 nodes, 30 products, 2 stores, 12 customers, and one credential per store to receive
    // its opening stock, revoked.
    assert_eq!(after_first, [2, 2, 30, 2, 12, 2, 0]);

    // Karachi sells with the token it was started with, from the opening stock, and the sale reaches
    // central; Lahore has its stock too.
    let stock = get_json(&format!("{karachi_url}/inventory"), &karachi_cashier).await;
    let line = &stock["items"][0];
    let (product, quantity) = (
        line["product_id"].clone(),
        line["quantity"].as_i64().unwrap(),
    );
    assert!(quantity >= 50, "{stock}");
    let sale = reqwest::Client::new()
        .post(format!("{karachi_url}/orders"))
        .bearer_auth(&karachi_cashier)
        .json(
            &json!({"idempotency_key": Uuid::new_v4(), "customer_id": null,
                      "items": [{"product_id": product, "quantity": 1}],
                      "payments": [{"method": "cash", "amount": "5000.00"}]}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(sale.status(), 201);
    eventually("the sale reaches central", WAIT, || async {
        central
            .db()
            .await
            .query_one("SELECT count(*) FROM order_mapping WHERE store_id = 1", &[])
            .await
            .unwrap()
            .get::<_, i64>(0)
            == 1
    })
    .await;
    let lahore_stock = get_json(&format!("{lahore_url}/inventory"), &lahore_cashier).await;
    assert_eq!(lahore_stock["items"].as_array().unwrap().len(), 30);
    // Head office can sign in with the password bootstrap was given.
    let login = reqwest::Client::new()
        .post(format!("{}/sessions", central.url))
        .json(&json!({"username": "headoffice", "password": "bootstrap-password-0001"}))
        .send()
        .await
        .unwrap();
    assert_eq!(login.status(), 201);

    // A second run (compose restarts it, or the operator runs it again) changes nothing. Its token
    // comes from a file this time, as a service's may.
    let secrets = tempfile::tempdir().unwrap();
    let token_file = secrets.path().join("admin_token");
    std::fs::write(&token_file, format!("{}\n", central.admin_token)).unwrap();
    let mut from_file: Vec<(String, String)> = env
        .iter()
        .filter(|(key, _)| key != "POS_ADMIN_TOKEN")
        .cloned()
        .collect();
    from_file.push((
        "POS_ADMIN_TOKEN_FILE".into(),
        token_file.display().to_string(),
    ));
    let second = posctl(bootstrap_args(&nodes), from_file).await;
    assert!(second.status.success());
    assert!(String::from_utf8_lossy(&second.stdout).contains("node Lahore: registered already"));
    assert_eq!(central_counts(&central).await, after_first);
    let again = get_json(&format!("{karachi_url}/inventory"), &karachi_cashier).await;
    assert_eq!(again["items"][0]["product_id"], product);
    assert_eq!(again["items"][0]["quantity"].as_i64(), Some(quantity - 1));

    // A node started with another city id than central gives its city, or with the id of another
    // city: said, and nothing written.
    let wrong = refused(
        bootstrap_args(&[("Karachi", 1, &karachi_url), ("Lahore", 5, &lahore_url)]),
        env.clone(),
        "city Lahore is id 2 at central, but its node",
    )
    .await;
    let karachi_database = env
        .iter()
        .find(|(key, _)| key == "POS_NODE_DATABASE_URL_KARACHI")
        .map(|(_, url)| url.clone())
        .unwrap();
    let taken = refused(
        bootstrap_args(&[("Quetta", 2, &lahore_url)]),
        with_var(&env, "POS_NODE_DATABASE_URL_QUETTA", &karachi_database),
        "id 2 is city Lahore at central, not Quetta",
    )
    .await;
    // A city whose node's database is not given: said before anything is written (no city Multan).
    let missing = refused(
        bootstrap_args(&[("Multan", 3, &lahore_url)]),
        env.clone(),
        "POS_NODE_DATABASE_URL_MULTAN (or POS_NODE_DATABASE_URL_MULTAN_FILE) is not set",
    )
    .await;
    assert_eq!(central_counts(&central).await, after_first);

    // A node whose database central cannot reach (a wrong replicator password): registered, but
    // bootstrap says so and fails, rather than leave a chain that does not replicate.
    let multan_only = || {
        vec![
            "bootstrap".to_owned(),
            "--node".to_owned(),
            format!("Multan=3={lahore_url}"),
        ]
    };
    let password = &karachi.instance.replicator_password;
    let unreachable = refused(
        multan_only(),
        with_var(
            &env,
            "POS_NODE_DATABASE_URL_MULTAN",
            &karachi_database.replace(password.as_str(), "not-the-password"),
        ),
        "central registered the Multan node but cannot reach its database",
    )
    .await;

    // Run again with the right password: the registration it made keeps the wrong one, so bootstrap
    // still says the node is unreachable rather than "registered already".
    let still = refused(
        multan_only(),
        with_var(&env, "POS_NODE_DATABASE_URL_MULTAN", &karachi_database),
        "the Multan node is registered at central, but central cannot reach",
    )
    .await;

    // No run printed a password.
    for output in [
        &first,
        &second,
        &wrong,
        &taken,
        &missing,
        &unreachable,
        &still,
    ] {
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
        for (_, value) in &env {
            if value.starts_with("postgres://") {
                assert!(!text.contains(value.as_str()));
            }
        }
        for secret in [
            &karachi.instance.replicator_password,
            &lahore.instance.replicator_password,
            &central.admin_token,
            &"bootstrap-password-0001".to_owned(),
        ] {
            assert!(!text.contains(secret.as_str()));
        }
    }
}
