//! The store nodes: registration, their connections, enabling and resyncing.

use anyhow::Context;
use chrono::{DateTime, Utc};
use deadpool_postgres::GenericClient;
use pos_shared::page::PageRequest;
use secrecy::SecretString;
use serde::Serialize;
use tokio_postgres::Row;

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Node {
    pub city_id: i32,
    pub city: String,
    pub server_name: String,
    /// The login the node's outbox reports under at central.
    pub central_login: String,
    pub enabled: bool,
    pub created_at: DateTime<Utc>,
}

impl From<&Row> for Node {
    fn from(row: &Row) -> Self {
        Self {
            city_id: row.get("city_id"),
            city: row.get("city"),
            server_name: row.get("server_name"),
            central_login: row.get("central_login"),
            enabled: row.get("enabled"),
            created_at: row.get("created_at"),
        }
    }
}

pub async fn list_nodes(
    client: &impl GenericClient,
    page: PageRequest,
) -> anyhow::Result<Vec<Node>> {
    let stmt = client
        .prepare_cached(
            "SELECT n.city_id, c.name AS city, n.server_name, n.central_login, n.enabled, n.created_at
             FROM nodes n JOIN cities c ON c.id = n.city_id
             WHERE n.city_id > $1::bigint ORDER BY n.city_id LIMIT $2",
        )
        .await?;
    let rows = client
        .query(&stmt, &[&page.after_ascending(), &page.fetch()])
        .await
        .context("listing nodes")?;
    Ok(rows.iter().map(Node::from).collect())
}

/// Where and as whom central reaches a node's database: the node's dblink foreign server and this
/// role's user mapping for it (which only the server's owner, this role, can read).
pub struct StoredNodeConnection {
    pub host: String,
    pub port: u16,
    pub dbname: String,
    pub user: String,
    pub password: SecretString,
    /// The server's `sslmode` and `sslrootcert` options (set with `set_dblink_tls()`), which central's
    /// own connections to the node honour as dblink's do.
    pub tls: pos_shared::tls::PgTlsSettings,
}

pub async fn node_connection(
    client: &impl GenericClient,
    city_id: i32,
) -> anyhow::Result<StoredNodeConnection> {
    let stmt = client
        .prepare_cached(
            "SELECT s.host, s.port, s.dbname, s.sslmode, s.sslrootcert, m.user_name, m.password
             FROM nodes n
             JOIN pg_foreign_server f ON f.srvname = n.server_name
             JOIN pg_user_mappings u ON u.srvid = f.oid AND u.usename = current_user
             CROSS JOIN LATERAL (
                 SELECT max(option_value) FILTER (WHERE option_name = 'host') AS host,
                        max(option_value) FILTER (WHERE option_name = 'port') AS port,
                        max(option_value) FILTER (WHERE option_name = 'dbname') AS dbname,
                        max(option_value) FILTER (WHERE option_name = 'sslmode') AS sslmode,
                        max(option_value) FILTER (WHERE option_name = 'sslrootcert') AS sslrootcert
                 FROM pg_options_to_table(f.srvoptions)) s
             CROSS JOIN LATERAL (
                 SELECT max(option_value) FILTER (WHERE option_name = 'user') AS user_name,
                        max(option_value) FILTER (WHERE option_name = 'password') AS password
                 FROM pg_options_to_table(u.umoptions)) m
             WHERE n.city_id = $1",
        )
        .await?;
    let row = client
        .query_opt(&stmt, &[&city_id])
        .await
        .context("reading the node's connection")?
        .with_context(|| format!("node {city_id} has no foreign server or user mapping"))?;
    let option = |name: &str| -> anyhow::Result<String> {
        row.get::<_, Option<String>>(name)
            .with_context(|| format!("node {city_id}'s connection has no {name}"))
    };
    Ok(StoredNodeConnection {
        host: option("host")?,
        port: option("port")?
            .parse()
            .with_context(|| format!("node {city_id}'s port is not a port number"))?,
        dbname: option("dbname")?,
        user: option("user_name")?,
        password: SecretString::from(option("password")?),
        tls: pos_shared::tls::PgTlsSettings {
            mode: row
                .get::<_, Option<String>>("sslmode")
                .map(|mode| mode.parse())
                .transpose()
                .with_context(|| format!("node {city_id}'s sslmode"))?
                .unwrap_or_default(),
            root_cert: row.get::<_, Option<String>>("sslrootcert").map(Into::into),
        },
    })
}

/// Enabled nodes' city ids.
pub async fn enabled_node_ids(client: &impl GenericClient) -> anyhow::Result<Vec<i32>> {
    let stmt = client
        .prepare_cached("SELECT city_id FROM nodes WHERE enabled ORDER BY city_id")
        .await?;
    let rows = client
        .query(&stmt, &[])
        .await
        .context("listing enabled nodes")?;
    Ok(rows.iter().map(|r| r.get(0)).collect())
}

/// Where a node's database is and how central's replicator logs in there.
pub struct NodeConnection<'a> {
    pub host: &'a str,
    pub port: i32,
    pub dbname: &'a str,
    pub user: &'a str,
    pub password: &'a str,
    /// The login the node reports under at central (`None`: `pos_node_<city_id>`).
    pub central_login: Option<&'a str>,
}

/// Creates the foreign server and user mapping, the node row, and queues the initial load; the
/// server's name and the node's login at central.
pub async fn register_node(
    client: &impl GenericClient,
    city_id: i32,
    connection: &NodeConnection<'_>,
) -> anyhow::Result<(String, String)> {
    let stmt = client
        .prepare_cached("SELECT register_node($1, $2, $3, $4, $5, $6, $7)")
        .await?;
    let row = client
        .query_one(
            &stmt,
            &[
                &city_id,
                &connection.host,
                &connection.port,
                &connection.dbname,
                &connection.user,
                &connection.password,
                &connection.central_login,
            ],
        )
        .await
        .context("registering a node")?;
    let login = client
        .prepare_cached("SELECT central_login FROM nodes WHERE city_id = $1")
        .await?;
    let login = client
        .query_one(&login, &[&city_id])
        .await
        .context("reading the node's login")?;
    Ok((row.get(0), login.get(0)))
}

pub async fn probe_node(client: &impl GenericClient, city_id: i32) -> anyhow::Result<bool> {
    let stmt = client.prepare_cached("SELECT probe_node($1)").await?;
    Ok(client
        .query_one(&stmt, &[&city_id])
        .await
        .context("probing a node")?
        .get(0))
}

/// What a resync queued: how many rows, and whether the node could be asked what it holds (when not,
/// only central's fragment was queued).
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Resync {
    pub city_id: i32,
    pub queued: i64,
    pub node_checked: bool,
}

/// Reloads the node's fragment (see `resync_node()` in sql/central/nodes.sql).
pub async fn resync(client: &impl GenericClient, city_id: i32) -> anyhow::Result<Resync> {
    let stmt = client
        .prepare_cached("SELECT queued, node_checked FROM resync_node($1)")
        .await?;
    let row = client
        .query_one(&stmt, &[&city_id])
        .await
        .context("resyncing a node")?;
    Ok(Resync {
        city_id,
        queued: row.get(0),
        node_checked: row.get(1),
    })
}

/// Enables (and resyncs) or disables a node; the resync's figures when enabling.
pub async fn set_enabled(
    client: &impl GenericClient,
    city_id: i32,
    enabled: bool,
) -> anyhow::Result<Option<Resync>> {
    let stmt = client
        .prepare_cached("SELECT queued, node_checked FROM set_node_enabled($1, $2)")
        .await?;
    let row = client
        .query_one(&stmt, &[&city_id, &enabled])
        .await
        .context("enabling or disabling a node")?;
    Ok(row.get::<_, Option<i64>>(0).map(|queued| Resync {
        city_id,
        queued,
        node_checked: row.get(1),
    }))
}

/// What a node put back in its outbox for central (`resend_outbox_since()` at the node).
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Resend {
    pub city_id: i32,
    /// Delivered entries queued again.
    pub requeued: i32,
    /// Sales and refunds made since then that have no entry left to send (purged by the node's
    /// retention): central cannot get them back from this node.
    pub unsendable: i64,
}

/// Asks the node, on a session on its own database, to send central again what it delivered since
/// `since` (after central was restored from a backup taken then).
pub async fn resend_from_node(
    node: &impl GenericClient,
    city_id: i32,
    since: DateTime<Utc>,
) -> anyhow::Result<Resend> {
    let stmt = node
        .prepare_cached("SELECT requeued, unsendable FROM resend_outbox_since($1)")
        .await?;
    let row = node
        .query_one(&stmt, &[&since])
        .await
        .context("asking a node to send again")?;
    Ok(Resend {
        city_id,
        requeued: row.get(0),
        unsendable: row.get(1),
    })
}

/// Whether a node is registered for the city.
pub async fn is_registered(client: &impl GenericClient, city_id: i32) -> anyhow::Result<bool> {
    let stmt = client
        .prepare_cached("SELECT EXISTS (SELECT 1 FROM nodes WHERE city_id = $1)")
        .await?;
    Ok(client
        .query_one(&stmt, &[&city_id])
        .await
        .context("looking a node up")?
        .get(0))
}
