//! `docker-compose.yml` gives the store nodes only settings they read, and values they accept (see
//! `pos_shared::testkit::compose`).

use std::path::Path;

use pos_shared::testkit::compose;
use store_node::config::Config;

const BINARY: &str = "store-node";

#[test]
fn compose_gives_store_nodes_only_settings_they_read() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../docker-compose.yml");
    compose::assert_services_fit::<Config>(&path, BINARY);
}
