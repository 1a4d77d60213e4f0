//! `docker-compose.yml`'s bootstrap service agrees with the services it sets up: posctl accepts its
//! command, each `--node` names a store-node service by its address and with that node's POS_CITY_ID,
//! each node's database URL names the database that node runs on, bootstrap starts after all of them
//! are healthy, and it is given only settings it reads. (The e2e test `bootstrap` runs the same command against real services.)

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code

use std::collections::HashMap;
use std::path::Path;
use std::str::FromStr;

use clap::Parser;
use pos_shared::testkit::compose;
use pos_shared::testkit::compose::Value;
use posctl::bootstrap::node_database_var;
use posctl::cli::{Cli, Command};

/// `(host, port, dbname)` of a postgres:// URL.
fn database_of(url: &str) -> (String, u16, String) {
    let config = tokio_postgres::Config::from_str(url).unwrap();
    let [tokio_postgres::config::Host::Tcp(host)] = config.get_hosts() else {
        panic!("{url}: not one TCP host");
    };
    let port = config.get_ports().first().copied().unwrap_or(5432);
    (host.clone(), port, config.get_dbname().unwrap().to_owned())
}

fn environment(name: &str, service: &Value) -> HashMap<String, String> {
    compose::pos_environment(name, service)
        .into_iter()
        .collect()
}

#[test]
fn compose_bootstrap_sets_up_exactly_the_services_compose_runs() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../docker-compose.yml");
    let file = compose::load(&path);
    let bootstraps = compose::services_running(&file, "posctl");
    assert_eq!(bootstraps.len(), 1, "one service runs posctl");
    let (name, service) = &bootstraps[0];
    let env = environment(name, service);
    let mut args = compose::command(name, service, None);
    // POS_CENTRAL_URL is read from the environment, which this process does not have.
    args.extend(["--central".to_owned(), env["POS_CENTRAL_URL"].clone()]);
    let Command::Bootstrap(bootstrap) = Cli::try_parse_from(&args).unwrap().command else {
        panic!("{name} does not run posctl bootstrap: {args:?}");
    };
    assert!(env.contains_key("POS_ADMIN_TOKEN"));
    let depends_on: Vec<String> = match service.get("depends_on") {
        Some(Value::Mapping(map)) => map
            .iter()
            .map(|(k, v)| {
                assert_eq!(
                    v.get("condition").and_then(Value::as_str),
                    Some("service_healthy"),
                    "bootstrap waits for {k:?} to be healthy"
                );
                k.as_str().unwrap().to_owned()
            })
            .collect(),
        other => panic!("bootstrap's depends_on is not a map: {other:?}"),
    };

    let centrals = compose::services_running(&file, "central");
    let central = reqwest::Url::parse(&bootstrap.central).unwrap();
    let (central_name, central_service) = centrals
        .iter()
        .find(|(n, _)| Some(n.as_str()) == central.host_str())
        .expect("POS_CENTRAL_URL names the central service");
    assert_eq!(
        central.port().map(|p| p.to_string()),
        Some(environment(central_name, central_service)["POS_HTTP_PORT"].clone())
    );
    assert!(depends_on.contains(central_name));

    let nodes = compose::services_running(&file, "store-node");
    assert_eq!(
        bootstrap.nodes.len(),
        nodes.len(),
        "one --node per store-node service"
    );
    for target in &bootstrap.nodes {
        let url = reqwest::Url::parse(&target.url).unwrap();
        let (node_name, node_service) = nodes
            .iter()
            .find(|(n, _)| Some(n.as_str()) == url.host_str())
            .unwrap_or_else(|| panic!("--node {} names no store-node service", target.city));
        let node_env = environment(node_name, node_service);
        assert_eq!(
            node_env["POS_CITY_ID"],
            target.city_id.to_string(),
            "{node_name}"
        );
        assert_eq!(
            url.port().map(|p| p.to_string()).as_ref(),
            Some(&node_env["POS_HTTP_PORT"])
        );
        assert!(depends_on.contains(node_name));
        let replicator = &env[&node_database_var(&target.city)];
        assert_eq!(
            database_of(replicator),
            database_of(&node_env["POS_DATABASE_URL"]),
            "central reaches {node_name}'s own database"
        );
        assert!(replicator.starts_with("postgres://pos_replicator:"));
    }

    // Only settings bootstrap reads: a misspelt one would be ignored.
    let mut read = vec![
        "POS_CENTRAL_URL".to_owned(),
        posctl::bootstrap::ADMIN_TOKEN_VAR.to_owned(),
        posctl::bootstrap::HEAD_OFFICE_PASSWORD_VAR.to_owned(),
    ];
    read.extend(bootstrap.nodes.iter().map(|n| node_database_var(&n.city)));
    let mut unread: Vec<&String> = env
        .keys()
        .filter(|key| !read.contains(key) && !read.iter().any(|r| **key == format!("{r}_FILE")))
        .collect();
    unread.sort();
    assert!(
        unread.is_empty(),
        "{name} sets {unread:?}, which bootstrap does not read"
    );
}
