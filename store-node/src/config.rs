//! The store node's settings (`POS_` environment variables; see README's configuration table).

use pos_shared::auth::parse_cashier_tokens;
use pos_shared::config::{CommonConfig, ConfigSource};
use secrecy::SecretString;

#[derive(Debug, Clone)]
pub struct Config {
    pub common: CommonConfig,
    /// The city this node serves: it lists only this city's customers.
    pub city_id: i32,
    /// `(store_id, token)`: a cashier token is bound to one store.
    pub cashier_tokens: Vec<(i32, SecretString)>,
    /// Head office's token, for the read endpoints it may call here (optional).
    pub admin_token: Option<SecretString>,
    /// `POS_ADMIN_TOKEN_FILE`, when the token is read from it: read again every 2 s (a rotation).
    pub admin_token_file: Option<std::path::PathBuf>,
    /// Central's database as the node's outbox sees it (the `pos_replicator` role there).
    pub central_database_url: Option<SecretString>,
    /// Cron expression (with seconds) of the outbox retry job.
    pub outbox_retry_cron: String,
    /// How long delivered outbox entries stay (central has the sales; this is the delivery history).
    pub outbox_retention_hours: i32,
    /// How long idempotency keys stay: far beyond any till's retry of a lost answer.
    pub idempotency_retention_hours: i32,
}

impl pos_shared::service::ServiceConfig for Config {
    const SERVICE: &'static str = "store-node";

    fn common(&self) -> &CommonConfig {
        &self.common
    }

    fn from_source(source: &ConfigSource) -> anyhow::Result<Self> {
        let cashier_tokens = match source.secret("POS_CASHIER_TOKENS")? {
            Some(text) => parse_cashier_tokens(&text)?,
            None => Vec::new(),
        };
        Ok(Self {
            common: CommonConfig::load(source, 8081, "pos_store")?,
            city_id: source.get("POS_CITY_ID")?.ok_or_else(|| {
                anyhow::anyhow!("POS_CITY_ID must be set (the id of this node's city at central)")
            })?,
            cashier_tokens,
            admin_token: source.secret("POS_ADMIN_TOKEN")?,
            admin_token_file: source.secret_file("POS_ADMIN_TOKEN"),
            central_database_url: source.secret("POS_CENTRAL_DATABASE_URL")?,
            outbox_retry_cron: source
                .get_or("POS_OUTBOX_RETRY_CRON", "*/5 * * * * *".to_owned())?,
            outbox_retention_hours: at_least_an_hour(source, "POS_OUTBOX_RETENTION_HOURS", 168)?,
            idempotency_retention_hours: at_least_an_hour(
                source,
                "POS_IDEMPOTENCY_RETENTION_HOURS",
                720,
            )?,
        })
    }
}

fn at_least_an_hour(source: &ConfigSource, key: &str, default: i32) -> anyhow::Result<i32> {
    let hours = source.get_or(key, default)?;
    anyhow::ensure!(hours >= 1, "{key}: must be at least 1 hour");
    Ok(hours)
}
