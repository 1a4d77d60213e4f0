//! `docker-compose.yml` gives the store nodes only settings they read, and values they accept (see
//! `pos_shared::testkit::compose`).

use std::path::Path;

use pos_shared::testkit::compose;
use store_node::config::Config;

const BINARY: &str = "store-node";

#[test]
fn compose_gives_store_nodes_only_settings_they_read() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../docker-compose.yml");
    let (services, problems) = compose::check_services(&path, BINARY, |source| {
        Config::from_source(source).map(drop)
    });
    assert!(
        !services.is_empty(),
        "{}: no service whose command runs `{BINARY}`",
        path.display()
    );
    assert!(
        problems.is_empty(),
        "{}:\n  {}",
        path.display(),
        problems.join("\n  ")
    );
}
