//! Database access: the pool, dedicated connections, and the schema runner (versioned migrations plus
//! replaceable function files, applied under an advisory lock).

use std::time::Duration;

use anyhow::{Context, anyhow};
use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod, Runtime};
use secrecy::{ExposeSecret, SecretString};
use sha2::{Digest, Sha256};
use tokio_postgres::error::SqlState;

use crate::tls::{PgTls, PgTlsSettings, SslMode};

/// Advisory lock key taken while a schema is applied ("pos-schema").
const SCHEMA_LOCK_KEY: i64 = 0x706f_732d_7363_6865;

/// A database's connection settings: tokio-postgres's (reached through `Deref`), and the TLS its
/// `sslmode` asks for, which every connection made from them uses.
#[derive(Debug, Clone)]
pub struct DbConfig {
    pg: tokio_postgres::Config,
    tls: PgTls,
    ssl_mode: SslMode,
}

impl DbConfig {
    /// `pg` with the TLS of `tls` (its negotiation is set from `tls.mode`).
    pub fn new(mut pg: tokio_postgres::Config, tls: &PgTlsSettings) -> anyhow::Result<Self> {
        let connector = tls.connector(&mut pg)?;
        Ok(Self {
            pg,
            tls: connector,
            ssl_mode: tls.mode,
        })
    }

    pub fn ssl_mode(&self) -> SslMode {
        self.ssl_mode
    }

    /// The connector to pass to tokio-postgres's own `connect` (a LISTEN session drives its
    /// connection itself).
    pub fn tls(&self) -> tokio_postgres_rustls::MakeRustlsConnect {
        self.tls.make()
    }
}

impl std::ops::Deref for DbConfig {
    type Target = tokio_postgres::Config;

    fn deref(&self) -> &tokio_postgres::Config {
        &self.pg
    }
}

impl std::ops::DerefMut for DbConfig {
    fn deref_mut(&mut self) -> &mut tokio_postgres::Config {
        &mut self.pg
    }
}

/// Parses a database URL and fills in what a service always wants: a connect timeout (libpq's default
/// waits forever) and an application name that shows in `pg_stat_activity`. Its `sslmode` (`disable`,
/// `prefer` by default, `require`, `verify-ca`, `verify-full`) and `sslrootcert` mean what they mean
/// to libpq; see [`crate::tls`].
pub fn parse_url(url: &SecretString, application_name: &str) -> anyhow::Result<DbConfig> {
    let (mut config, tls) = split_url(url)?;
    if config.get_connect_timeout().is_none() {
        config.connect_timeout(Duration::from_secs(5));
    }
    if config.get_application_name().is_none() {
        config.application_name(application_name);
    }
    DbConfig::new(config, &tls)
}

/// A database URL as tokio-postgres's settings and its TLS options (`sslmode`, `sslrootcert`), which
/// tokio-postgres only partly knows.
pub fn split_url(url: &SecretString) -> anyhow::Result<(tokio_postgres::Config, PgTlsSettings)> {
    let (text, tls) = PgTlsSettings::take_from_url(url.expose_secret())
        .context("the database URL's TLS options")?;
    let config: tokio_postgres::Config = text.parse().map_err(|_| {
        anyhow!(
            "the database URL is malformed (expected postgres://user:password@host:port/dbname)"
        )
    })?;
    // A key=value string keeps its sslmode in tokio-postgres's terms.
    let tls = tls.unwrap_or_else(|| PgTlsSettings {
        mode: match config.get_ssl_mode() {
            tokio_postgres::config::SslMode::Disable => SslMode::Disable,
            tokio_postgres::config::SslMode::Require => SslMode::Require,
            _ => SslMode::Prefer,
        },
        root_cert: None,
    });
    Ok((config, tls))
}

/// `host:port/dbname` of a configuration, for messages: never the password.
pub fn describe(config: &tokio_postgres::Config) -> String {
    let host = config
        .get_hosts()
        .first()
        .map(|h| match h {
            tokio_postgres::config::Host::Tcp(name) => name.clone(),
            tokio_postgres::config::Host::Unix(path) => path.display().to_string(),
        })
        .unwrap_or_else(|| "localhost".into());
    let port = config.get_ports().first().copied().unwrap_or(5432);
    let db = config.get_dbname().unwrap_or("(default)");
    format!("{host}:{port}/{db}")
}

pub fn pool(config: DbConfig, size: usize) -> anyhow::Result<Pool> {
    let tls = config.tls();
    let manager = Manager::from_config(
        config.pg,
        tls,
        ManagerConfig {
            recycling_method: RecyclingMethod::Fast,
        },
    );
    Pool::builder(manager)
        .max_size(size)
        .runtime(Runtime::Tokio1)
        .wait_timeout(Some(Duration::from_secs(10)))
        .create_timeout(Some(Duration::from_secs(10)))
        .build()
        .context("building the database pool")
}

/// A connection of its own (LISTEN, migrations, a replication session), driven on a spawned task.
pub async fn connect(config: &DbConfig) -> anyhow::Result<tokio_postgres::Client> {
    let (client, connection) = config
        .pg
        .connect(config.tls())
        .await
        .with_context(|| format!("connecting to the database at {}", describe(config)))?;
    tokio::spawn(async move {
        if let Err(e) = connection.await {
            tracing::debug!(error = %e, "database connection closed");
        }
    });
    Ok(client)
}

/// A replaceable SQL file: functions and triggers, written to be re-run (CREATE OR REPLACE).
#[derive(Debug, Clone, Copy)]
pub struct ReplaceableSql {
    pub name: &'static str,
    pub text: &'static str,
}

/// Applies pending versioned migrations, then each replaceable file whose text changed since it was last
/// applied. Two processes starting at once serialise on an advisory lock; applying twice is a no-op.
pub async fn apply_schema(
    config: &DbConfig,
    migrations: refinery::Runner,
    replaceable: &[ReplaceableSql],
    runtime_role: Option<&str>,
) -> anyhow::Result<()> {
    let mut client = connect(config).await?;
    client
        .execute("SELECT pg_advisory_lock($1)", &[&SCHEMA_LOCK_KEY])
        .await
        .context("taking the schema lock")?;
    let result = async {
        migrations
            .set_abort_divergent(true)
            .run_async(&mut client)
            .await
            .context("applying versioned migrations")?;
        for file in replaceable {
            apply_replaceable(&mut client, file).await?;
        }
        if let Some(role) = runtime_role.filter(|role| Some(*role) != config.get_user()) {
            grant_runtime_role(&client, role).await?;
        }
        anyhow::Ok(())
    }
    .await;
    // The lock is released with the session in any case; unlock explicitly for a tidy log.
    let _ = client
        .execute("SELECT pg_advisory_unlock($1)", &[&SCHEMA_LOCK_KEY])
        .await;
    result
}

/// Lets `role`, the services' runtime role, read and write the rows of every table and call every
/// function, and nothing more: it owns nothing, so it cannot DROP, ALTER or TRUNCATE, and the schema's
/// own bookkeeping is read-only to it. Run at every start, so what a migration adds is covered.
async fn grant_runtime_role(client: &tokio_postgres::Client, role: &str) -> anyhow::Result<()> {
    // The functions are the schema's own (extensions' functions keep their own grants).
    let statement: String = client
        .query_one(
            "SELECT format('GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO %1$I; \
             GRANT USAGE, SELECT, UPDATE ON ALL SEQUENCES IN SCHEMA public TO %1$I; \
             REVOKE INSERT, UPDATE, DELETE ON refinery_schema_history, schema_functions FROM %1$I; ', \
             $1::text) \
             || coalesce(string_agg(format('GRANT EXECUTE ON ROUTINE %s TO %I', p.oid::regprocedure, $1::text), \
                                    '; '), '') \
             FROM pg_proc p \
             WHERE p.pronamespace = 'public'::regnamespace \
               AND p.proowner = (SELECT oid FROM pg_roles WHERE rolname = current_user)",
            &[&role],
        )
        .await?
        .get(0);
    client
        .batch_execute(&statement)
        .await
        .with_context(|| format!("granting the runtime role {role} its rights"))
}

async fn apply_replaceable(
    client: &mut tokio_postgres::Client,
    file: &ReplaceableSql,
) -> anyhow::Result<()> {
    let hash = hex::encode(Sha256::digest(file.text.as_bytes()));
    let current: Option<String> = client
        .query_opt(
            "SELECT sha256 FROM schema_functions WHERE name = $1",
            &[&file.name],
        )
        .await
        .context("reading schema_functions")?
        .map(|row| row.get(0));
    if current.as_deref() == Some(hash.as_str()) {
        return Ok(());
    }
    let tx = client.transaction().await?;
    tx.batch_execute(file.text)
        .await
        .with_context(|| format!("applying {}", file.name))?;
    tx.execute(
        "INSERT INTO schema_functions (name, sha256) VALUES ($1, $2)
         ON CONFLICT (name) DO UPDATE SET sha256 = EXCLUDED.sha256, applied_at = now()",
        &[&file.name, &hash],
    )
    .await?;
    tx.commit().await?;
    tracing::info!(file = file.name, "applied replaceable SQL");
    Ok(())
}

/// Connects once and fails with one clear line when the database is unreachable or misconfigured.
pub async fn check_reachable(pool: &Pool, config: &DbConfig) -> anyhow::Result<()> {
    let client = pool.get().await.map_err(|e| {
        // Any sslmode but the default is named: it is often why.
        let mode = match config.ssl_mode() {
            SslMode::Prefer => String::new(),
            other => format!(" with sslmode={}", other.as_str()),
        };
        anyhow!(
            "cannot connect to the database at {}{mode}: {}",
            describe(config),
            root_message(&e)
        )
    })?;
    client
        .simple_query("SELECT 1")
        .await
        .with_context(|| format!("querying the database at {}", describe(config)))?;
    Ok(())
}

fn root_message(err: &(dyn std::error::Error + 'static)) -> String {
    let mut current = err;
    let mut text = current.to_string();
    while let Some(next) = current.source() {
        current = next;
        text = current.to_string();
    }
    if let Some(db) = err_as_db(err) {
        return db.message().to_owned();
    }
    text
}

fn err_as_db<'a>(
    err: &'a (dyn std::error::Error + 'static),
) -> Option<&'a tokio_postgres::error::DbError> {
    let mut current: Option<&(dyn std::error::Error + 'static)> = Some(err);
    while let Some(e) = current {
        if let Some(db) = e.downcast_ref::<tokio_postgres::error::DbError>() {
            return Some(db);
        }
        current = e.source();
    }
    None
}

/// The database error (SQLSTATE, message, detail) somewhere in an error chain.
pub fn db_error(err: &anyhow::Error) -> Option<&tokio_postgres::error::DbError> {
    err.chain().find_map(|e| {
        e.downcast_ref::<tokio_postgres::Error>()
            .and_then(|pg| pg.as_db_error())
            .or_else(|| e.downcast_ref::<tokio_postgres::error::DbError>())
    })
}

pub fn sqlstate(err: &anyhow::Error) -> Option<&SqlState> {
    db_error(err).map(|db| db.code())
}

/// True when the failure is the database being out of reach (pool timeout, refused or closed
/// connection, shutdown), as opposed to a bad statement.
pub fn is_unavailable(err: &anyhow::Error) -> bool {
    err.chain().any(|e| {
        if let Some(pool) = e.downcast_ref::<deadpool_postgres::PoolError>() {
            return matches!(
                pool,
                deadpool_postgres::PoolError::Timeout(_) | deadpool_postgres::PoolError::Backend(_)
            );
        }
        if let Some(pg) = e.downcast_ref::<tokio_postgres::Error>() {
            if pg.is_closed() {
                return true;
            }
            if let Some(code) = pg.code() {
                return code == &SqlState::ADMIN_SHUTDOWN
                    || code == &SqlState::CANNOT_CONNECT_NOW
                    || code == &SqlState::CONNECTION_FAILURE
                    || code == &SqlState::TOO_MANY_CONNECTIONS;
            }
            return pg.as_db_error().is_none();
        }
        e.downcast_ref::<std::io::Error>().is_some()
    })
}

/// `sql/common/functions.sql`: what central and the nodes both have.
pub const COMMON_FUNCTIONS: ReplaceableSql = ReplaceableSql {
    name: "common/functions.sql",
    text: include_str!("../../sql/common/functions.sql"),
};

/// A service's replaceable files: `common/functions.sql`, then `sql/DIR/FILE.sql` for each FILE, in
/// order. Used from a crate's `src/schema.rs` (the paths are relative to it).
#[macro_export]
macro_rules! replaceable_sql {
    ($dir:literal: $($file:literal),+ $(,)?) => {
        &[
            $crate::db::COMMON_FUNCTIONS,
            $($crate::db::ReplaceableSql {
                name: concat!($dir, "/", $file, ".sql"),
                text: include_str!(concat!("../../sql/", $dir, "/", $file, ".sql")),
            }),+
        ]
    };
}
