//! `docker-compose.yml` gives the central service only settings it reads, and values it accepts (see
//! `pos_shared::testkit::compose`).

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a failed step should panic

use std::path::Path;

use central::config::Config;
use pos_shared::testkit::compose::{self, TOKEN};

const BINARY: &str = "central";

#[test]
fn compose_gives_central_only_settings_it_reads() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../docker-compose.yml");
    let services = compose::assert_services_fit::<Config>(&path, BINARY);
    assert!(
        services.iter().any(|name| name == "central"),
        "{}: no `central` service whose command runs `{BINARY}` (found: {services:?})",
        path.display()
    );
}

#[test]
fn environment_list_form_and_interpolation_are_understood() {
    let compose = compose::parse(
        r#"
x-common: &common
  command: ["/usr/local/bin/central", "--flag"]
services:
  listed:
    <<: *common
    environment:
      - POS_HTTP_PORT=${PORT:-9090}
      - POS_ADMIN_TOKEN=${ADMIN_TOKEN:?set ADMIN_TOKEN}
      - POS_DATABASE_URL=postgres://pos_app:${PASSWORD}@db:5432/pos_central
      - POS_LOG=$${not_interpolated}
      - POS_DATABASE_POOL_SIZE
      - OTHER=ignored
  other:
    command: store-node
    environment:
      POS_CITY_ID: 1
"#,
    )
    .unwrap();
    let services = compose::services_running(&compose, BINARY);
    assert_eq!(services.len(), 1);
    assert_eq!(services[0].0, "listed");
    let pairs = compose::pos_environment("listed", services[0].1);
    let expected = [
        ("POS_HTTP_PORT", "9090".to_owned()),
        ("POS_ADMIN_TOKEN", TOKEN.to_owned()),
        (
            "POS_DATABASE_URL",
            format!("postgres://pos_app:{TOKEN}@db:5432/pos_central"),
        ),
        ("POS_LOG", "${not_interpolated}".to_owned()),
        ("POS_DATABASE_POOL_SIZE", "1".to_owned()),
    ];
    let expected: Vec<(String, String)> = expected
        .into_iter()
        .map(|(key, value)| (key.to_owned(), value))
        .collect();
    assert_eq!(pairs, expected);
}
