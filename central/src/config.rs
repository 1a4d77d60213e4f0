//! Central's settings (`POS_` environment variables; see README's configuration table).

use pos_shared::config::{CommonConfig, ConfigSource};
use secrecy::SecretString;

#[derive(Debug, Clone)]
pub struct Config {
    pub common: CommonConfig,
    pub admin_token: SecretString,
    /// `POS_ADMIN_TOKEN_FILE`, when the token is read from it: read again every 2 s, so that head office's
    /// token is rotated by rewriting it, with no restart.
    pub admin_token_file: Option<std::path::PathBuf>,
    pub replication: ReplicationConfig,
    /// How long an Idempotency-Key of a master-data create is kept (its first answer replayed).
    pub idempotency_retention_hours: i32,
    pub accounts: AccountsConfig,
}

/// Head office's named accounts: how long a session lasts, and how many failed logins a name or an
/// address may have within the window before it must wait.
#[derive(Debug, Clone)]
pub struct AccountsConfig {
    pub session_hours: i32,
    pub login_max_failures: i64,
    pub login_window_seconds: i32,
}

impl Default for AccountsConfig {
    fn default() -> Self {
        Self {
            session_hours: 8,
            login_max_failures: 5,
            login_window_seconds: 900,
        }
    }
}

#[derive(Debug, Clone)]
pub struct ReplicationConfig {
    /// Cron expression (with seconds) of the retry job.
    pub retry_cron: String,
    pub base_backoff_ms: i32,
    pub max_backoff_ms: i32,
    pub batch_size: i32,
    pub statement_timeout_ms: i32,
    /// Per-node timeout of report queries.
    pub report_timeout_ms: u64,
    /// The dashboard's one deadline for everything it asks the nodes: a hung node costs the page this
    /// long, and is named.
    pub dashboard_deadline_ms: u64,
    /// How often each node's worker looks for new entries (the capture triggers do not notify).
    pub poll_ms: u64,
    /// How often a node that could not be reached is probed for its return.
    pub probe_ms: u64,
    /// Cron expression (with seconds) of the job that deletes old delivered entries.
    pub purge_cron: String,
    /// How long delivered entries stay in `replication_log`.
    pub retention_hours: i32,
}

impl pos_shared::service::ServiceConfig for Config {
    const SERVICE: &'static str = "central";

    fn common(&self) -> &CommonConfig {
        &self.common
    }

    fn from_source(source: &ConfigSource) -> anyhow::Result<Self> {
        let retention_hours = source.get_or("POS_REPLICATION_RETENTION_HOURS", 168)?;
        anyhow::ensure!(
            retention_hours >= 1,
            "POS_REPLICATION_RETENTION_HOURS: delivered entries must be kept at least 1 hour"
        );
        let idempotency_retention_hours = source.get_or("POS_IDEMPOTENCY_RETENTION_HOURS", 720)?;
        anyhow::ensure!(
            idempotency_retention_hours >= 1,
            "POS_IDEMPOTENCY_RETENTION_HOURS: keys must be kept at least 1 hour"
        );
        Ok(Self {
            common: CommonConfig::load(source, 8080, "pos_central")?,
            admin_token: source.required_secret("POS_ADMIN_TOKEN")?,
            admin_token_file: source.secret_file("POS_ADMIN_TOKEN"),
            replication: ReplicationConfig {
                retry_cron: source
                    .get_or("POS_REPLICATION_RETRY_CRON", "*/5 * * * * *".to_owned())?,
                base_backoff_ms: source.get_or("POS_REPLICATION_BASE_BACKOFF_MS", 1000)?,
                max_backoff_ms: source.get_or("POS_REPLICATION_MAX_BACKOFF_MS", 300_000)?,
                batch_size: source.get_or("POS_REPLICATION_BATCH_SIZE", 1000)?,
                statement_timeout_ms: source
                    .get_or("POS_REPLICATION_STATEMENT_TIMEOUT_MS", 5000)?,
                report_timeout_ms: source.get_or("POS_REPORT_NODE_TIMEOUT_MS", 3000)?,
                dashboard_deadline_ms: source.get_or("POS_DASHBOARD_NODE_DEADLINE_MS", 1500)?,
                poll_ms: source.get_or("POS_REPLICATION_POLL_MS", 50)?,
                probe_ms: source.get_or("POS_REPLICATION_PROBE_MS", 1000)?,
                purge_cron: source
                    .get_or("POS_REPLICATION_PURGE_CRON", "0 */10 * * * *".to_owned())?,
                retention_hours,
            },
            idempotency_retention_hours,
            accounts: AccountsConfig {
                session_hours: source.get_or("POS_SESSION_HOURS", 8)?,
                login_max_failures: source.get_or("POS_LOGIN_MAX_FAILURES", 5)?,
                login_window_seconds: source.get_or("POS_LOGIN_WINDOW_SECONDS", 900)?,
            },
        })
    }
}
