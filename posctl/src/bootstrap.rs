//! `posctl bootstrap`: makes a chain whose services run elsewhere (docker-compose.yml's) ready to sell.
//! It waits for central and the nodes to be healthy, creates the cities (checking that each gets the id
//! its node was started with), registers each node's database at central for replication, and with
//! `--demo-data` seeds what `up --demo-data` seeds. Every step looks first, so a second run changes
//! nothing. Secrets come from the environment only, never the command line.

use std::str::FromStr;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use pos_shared::config::ConfigSource;
use secrecy::ExposeSecret;

use crate::api::model::{City, Node, Product, StockLine, Store};
use crate::api::{self, Api};
use crate::cluster::slug;
use crate::demo;
use crate::ops::register::{self, NodeDatabase};
use crate::stores;

/// Head office's bearer token (`NEW,OLD` during a rotation: the first is used). Each secret may come
/// from a file instead, named by the variable with `_FILE` added, as the services read theirs.
pub const ADMIN_TOKEN_VAR: &str = "POS_ADMIN_TOKEN";
/// When set, the head-office account `headoffice` is made with this password (for the dashboard).
pub const HEAD_OFFICE_PASSWORD_VAR: &str = "POS_HEAD_OFFICE_PASSWORD";
/// `POS_NODE_DATABASE_URL_<CITY>`: a node's database as central's replicator reaches it.
const NODE_DATABASE_VAR_PREFIX: &str = "POS_NODE_DATABASE_URL_";

/// A city's node, given as `NAME=CITY_ID=URL`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeTarget {
    pub city: String,
    /// The id the node was started with (its `POS_CITY_ID`).
    pub city_id: i32,
    pub url: String,
}

impl FromStr for NodeTarget {
    type Err = String;

    fn from_str(spec: &str) -> Result<Self, Self::Err> {
        let mut parts = spec.splitn(3, '=');
        let (Some(city), Some(id), Some(url)) = (parts.next(), parts.next(), parts.next()) else {
            return Err(
                "expected NAME=CITY_ID=URL, e.g. Karachi=1=http://store-karachi:8080".into(),
            );
        };
        let city = city.trim();
        if city.is_empty() {
            return Err("the city's name is empty".into());
        }
        let city_id = id
            .trim()
            .parse::<i32>()
            .ok()
            .filter(|id| *id > 0)
            .ok_or_else(|| format!("{id:?} is not a city id (a positive number)"))?;
        let url = url.trim().trim_end_matches('/');
        check_http(url)?;
        Ok(Self {
            city: city.to_owned(),
            city_id,
            url: url.to_owned(),
        })
    }
}

pub struct BootstrapOptions {
    pub central: String,
    pub nodes: Vec<NodeTarget>,
    pub demo_data: bool,
    /// How long to wait for the services to be healthy.
    pub wait: Duration,
}

/// posctl speaks plain HTTP (the compose network's): an https:// URL is refused here, not after a wait.
fn check_http(url: &str) -> Result<(), String> {
    if url.starts_with("https://") {
        return Err(format!(
            "{url:?}: posctl bootstrap speaks plain http:// only (the services' own network)"
        ));
    }
    if !url.starts_with("http://") {
        return Err(format!("{url:?} is not an http:// URL"));
    }
    Ok(())
}

/// The label of the credential bootstrap issues to receive a demo store's opening stock, and revokes.
const STOCKING_LABEL: &str = "posctl bootstrap (opening stock)";

/// The environment variable that holds the database URL of `city`'s node.
pub fn node_database_var(city: &str) -> String {
    format!(
        "{NODE_DATABASE_VAR_PREFIX}{}",
        slug(city).to_ascii_uppercase()
    )
}

pub async fn bootstrap(options: BootstrapOptions) -> anyhow::Result<()> {
    check_http(&options.central).map_err(anyhow::Error::msg)?;
    check_distinct(&options.nodes)?;
    // Secrets as the services read theirs: the variable, or a file named by VARIABLE_FILE.
    let settings = ConfigSource::from_env()?;
    let token = settings
        .secret(ADMIN_TOKEN_VAR)?
        .and_then(|v| v.expose_secret().split(',').next().map(|t| t.trim().to_owned()))
        .filter(|t| !t.is_empty())
        .with_context(|| {
            format!("{ADMIN_TOKEN_VAR} (or {ADMIN_TOKEN_VAR}_FILE) is not set: head office's bearer token")
        })?;
    // Every node's database is read before anything is written, so a missing one stops nothing halfway.
    let databases = options
        .nodes
        .iter()
        .map(|node| node_database(&settings, &node.city))
        .collect::<anyhow::Result<Vec<_>>>()?;

    wait_healthy("central", &options.central, options.wait).await?;
    for node in &options.nodes {
        wait_healthy(&format!("the {} node", node.city), &node.url, options.wait).await?;
    }
    let central = Api::new(&options.central, &token)?;
    // A wrong token is said plainly, before any write.
    let mut known: Vec<City> = central
        .get_all("/cities")
        .await
        .with_context(|| format!("reading central's cities with {ADMIN_TOKEN_VAR}"))?;
    // Every city id that can be checked before a write is: a city central has, and an id another
    // city holds.
    for node in &options.nodes {
        check_city_id(node, &known)?;
    }
    if let Some(password) = settings.secret(HEAD_OFFICE_PASSWORD_VAR)? {
        register::ensure_head_office_account(&central, password.expose_secret()).await?;
    }
    for node in &options.nodes {
        register::ensure_city(&central, &mut known, &node.city).await?;
        // A new city's id is central's to give: known only now.
        check_city_id(node, &known)?;
    }
    crate::step!(
        "cities: {}",
        options
            .nodes
            .iter()
            .map(|n| format!("{} (id {})", n.city, n.city_id))
            .collect::<Vec<_>>()
            .join(", ")
    );

    if options.demo_data {
        demo::seed_catalogue(&central).await?;
        let cities: Vec<(&str, i32)> = options
            .nodes
            .iter()
            .map(|n| (n.city.as_str(), n.city_id))
            .collect();
        demo::seed_stores_and_customers(&central, &cities).await?;
    }

    let registered: Vec<Node> = central.get_all("/nodes").await.context("listing nodes")?;
    check_reachable(&central, &options.nodes, &registered).await?;
    for (node, database) in options.nodes.iter().zip(&databases) {
        if registered.iter().any(|n| n.city_id == node.city_id) {
            crate::step!("node {}: registered already", node.city);
            continue;
        }
        let reachable = register::register_node(&central, node.city_id, database)
            .await
            .with_context(|| format!("registering the {} node at central", node.city))?;
        if !reachable {
            bail!(
                "central registered the {} node but cannot reach its database at {}:{}/{} as {}: \
                 check {} (central's GET /replication/status says why)",
                node.city,
                database.host,
                database.port,
                database.dbname,
                database.user,
                node_database_var(&node.city)
            );
        }
        crate::step!(
            "node {}: registered ({}:{}/{})",
            node.city,
            database.host,
            database.port,
            database.dbname
        );
    }

    if options.demo_data {
        let products: Vec<Product> = central.get_all("/products").await?;
        let ids: Vec<i32> = products.iter().map(|p| p.id).collect();
        let stores: Vec<Store> = central.get_all("/stores").await?;
        for node in &options.nodes {
            let till = Api::new(&node.url, &token)?;
            let name = demo::demo_store_name(&node.city);
            for store in stores
                .iter()
                .filter(|s| s.city_id == node.city_id && s.name == name)
            {
                if stock_store(&central, &till, node, store.id, &ids).await? {
                    crate::step!("demo data: opening stock for {}", store.code);
                }
            }
        }
    }
    println!("bootstrap done: central {}", options.central);
    Ok(())
}

/// A node registered by an earlier run must still be reachable from central: a chain that does not
/// replicate is not ready to sell.
async fn check_reachable(
    central: &Api,
    nodes: &[NodeTarget],
    registered: &[Node],
) -> anyhow::Result<()> {
    if !nodes
        .iter()
        .any(|node| registered.iter().any(|r| r.city_id == node.city_id))
    {
        return Ok(());
    }
    let status: ReplicationStatus = central
        .get("/replication/status")
        .await
        .context("reading central's replication status")?;
    for node in nodes {
        if status
            .nodes
            .iter()
            .any(|n| n.city_id == node.city_id && !n.reachable)
        {
            bail!(
                "the {} node is registered at central, but central cannot reach its database now: see \
                 central's GET /replication/status (its registration keeps the address and password \
                 it was given)",
                node.city
            );
        }
    }
    Ok(())
}

#[derive(serde::Deserialize)]
struct ReplicationStatus {
    nodes: Vec<NodeReachability>,
}

#[derive(serde::Deserialize)]
struct NodeReachability {
    city_id: i32,
    reachable: bool,
}

/// Two `--node`s of one city, one id, or one database variable would set up one node twice.
fn check_distinct(nodes: &[NodeTarget]) -> anyhow::Result<()> {
    for (i, node) in nodes.iter().enumerate() {
        for other in &nodes[..i] {
            if node.city.eq_ignore_ascii_case(&other.city) || node.city_id == other.city_id {
                bail!(
                    "--node {} and --node {} name one city or one id",
                    other.city,
                    node.city
                );
            }
            if node_database_var(&node.city) == node_database_var(&other.city) {
                bail!(
                    "cities {} and {} would both read {}: rename one",
                    other.city,
                    node.city,
                    node_database_var(&node.city)
                );
            }
        }
    }
    Ok(())
}

/// The city's id at central, when central has the city, must be its node's; and no other city may
/// hold the node's id.
fn check_city_id(node: &NodeTarget, known: &[City]) -> anyhow::Result<()> {
    if let Some(city) = known
        .iter()
        .find(|c| c.name.eq_ignore_ascii_case(&node.city))
        && city.id != node.city_id
    {
        bail!(
            "city {} is id {} at central, but its node ({}) was given id {}: start that node with \
             POS_CITY_ID={} and name it {}={}=URL here",
            node.city,
            city.id,
            node.url,
            node.city_id,
            city.id,
            node.city,
            city.id
        );
    }
    if let Some(other) = known
        .iter()
        .find(|c| c.id == node.city_id && !c.name.eq_ignore_ascii_case(&node.city))
    {
        bail!(
            "id {} is city {} at central, not {}: give the {} node the id central gives its city",
            node.city_id,
            other.name,
            node.city,
            node.city
        );
    }
    Ok(())
}

/// Opening stock for a demo store whose shelves are empty (read with head office's token, so a store
/// with stock costs no credential). It is received at the node under a credential issued for it and
/// revoked afterwards, however the receipt went; one a run cut short left behind is revoked first.
async fn stock_store(
    central: &Api,
    node_as_head_office: &Api,
    node: &NodeTarget,
    store_id: i32,
    product_ids: &[i32],
) -> anyhow::Result<bool> {
    stores::revoke_credentials(central, store_id, |_, label| label == Some(STOCKING_LABEL)).await?;
    let stock: Vec<StockLine> = node_as_head_office
        .get_all(&format!("/inventory?store_id={store_id}"))
        .await
        .with_context(|| format!("reading store {store_id}'s stock at the {} node", node.city))?;
    if !stock.is_empty() {
        return Ok(false);
    }
    let (credential_id, token) =
        stores::issue_credential(central, store_id, STOCKING_LABEL).await?;
    let stocked = async {
        let till = Api::new(&node.url, &token)?;
        stores::wait_until_accepted(&till, Instant::now(), demo::REPLICATION_TIMEOUT)
            .await
            .with_context(|| {
                format!(
                    "the {} node has not taken up store {store_id}'s credential (see central's GET \
                     /replication/status)",
                    node.city
                )
            })?;
        demo::opening_stock(&till, store_id, product_ids).await
    }
    .await
    .with_context(|| format!("opening stock for store {store_id}"));
    let revoked = central
        .delete(&format!("/cashier-tokens/{credential_id}"))
        .await
        .with_context(|| format!("revoking bootstrap's credential {credential_id}"));
    // The stocking error says what went wrong first; a credential left behind is revoked next run.
    let stocked = stocked?;
    revoked?;
    Ok(stocked)
}

/// `POS_NODE_DATABASE_URL_<CITY>` (or its `_FILE`), as `postgres://USER:PASSWORD@HOST:PORT/DBNAME`.
/// Its text never appears in an error: it holds a password.
fn node_database(settings: &ConfigSource, city: &str) -> anyhow::Result<NodeDatabase> {
    let var = node_database_var(city);
    let url = settings.secret(&var)?.with_context(|| {
        format!(
            "{var} (or {var}_FILE) is not set: the {city} node's database as central reaches it \
             (postgres://pos_replicator:PASSWORD@HOST:5432/DBNAME)"
        )
    })?;
    let config = tokio_postgres::Config::from_str(url.expose_secret())
        .map_err(|_| anyhow::anyhow!("{var} is not a postgres:// URL"))?;
    let host = match config.get_hosts() {
        [tokio_postgres::config::Host::Tcp(host)] => host.clone(),
        _ => bail!("{var} must name one TCP host"),
    };
    let port = match config.get_ports() {
        [] => 5432,
        [port] => *port,
        _ => bail!("{var} must name one port"),
    };
    let dbname = config
        .get_dbname()
        .with_context(|| format!("{var} names no database"))?;
    let user = config
        .get_user()
        .with_context(|| format!("{var} names no user"))?;
    let password = config
        .get_password()
        .with_context(|| format!("{var} has no password"))?;
    Ok(NodeDatabase {
        host,
        port,
        dbname: dbname.to_owned(),
        user: user.to_owned(),
        password: String::from_utf8(password.to_vec())
            .with_context(|| format!("{var}'s password is not UTF-8"))?,
    })
}

/// Waits until `url` answers `GET /health` with 200.
async fn wait_healthy(what: &str, url: &str, timeout: Duration) -> anyhow::Result<()> {
    let started = Instant::now();
    loop {
        let status = api::health(url).await;
        if status == Some(200) {
            return Ok(());
        }
        if started.elapsed() >= timeout {
            bail!(
                "{what} at {url} is not healthy after {} s (GET /health: {})",
                timeout.as_secs(),
                status.map_or("no answer".to_owned(), |s| s.to_string())
            );
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn node_targets() {
        let node: NodeTarget = "Karachi=1=http://store-karachi:8080/".parse().unwrap();
        assert_eq!(
            node,
            NodeTarget {
                city: "Karachi".into(),
                city_id: 1,
                url: "http://store-karachi:8080".into()
            }
        );
        // A URL may hold '=' in its query; only the first two split.
        let node: NodeTarget = "Dera Ghazi Khan=12=http://n:1/?a=b".parse().unwrap();
        assert_eq!((node.city_id, node.url.as_str()), (12, "http://n:1/?a=b"));
        for bad in [
            "Karachi",
            "Karachi=1",
            "=1=http://x",
            "Karachi=0=http://x",
            "Karachi=one=http://x",
            "Karachi=1=store-karachi:8080",
            // posctl has no TLS: refused at once, not after a health wait.
            "Karachi=1=https://store-karachi:8443",
        ] {
            assert!(bad.parse::<NodeTarget>().is_err(), "{bad}");
        }
        assert_eq!(
            node_database_var("Dera Ghazi Khan"),
            "POS_NODE_DATABASE_URL_DERA_GHAZI_KHAN"
        );
    }
}
