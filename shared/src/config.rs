//! Configuration from `POS_` environment variables over an optional TOML file (`POS_CONFIG_FILE`).
//!
//! Every service reads its settings through a [`ConfigSource`], which remembers which keys were read, so
//! that a misspelt variable is reported at start-up instead of being silently ignored.

use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Display;
use std::path::PathBuf;
use std::str::FromStr;

use anyhow::{Context, anyhow, bail};
use secrecy::SecretString;

pub const PREFIX: &str = "POS_";
const FILE_KEY: &str = "POS_CONFIG_FILE";

/// Key/value settings: file values first, environment on top. Keys are upper-case with the `POS_` prefix.
#[derive(Debug, Default)]
pub struct ConfigSource {
    values: BTreeMap<String, String>,
    read: RefCell<BTreeSet<String>>,
}

impl ConfigSource {
    /// The process environment, over the file named by `POS_CONFIG_FILE` when set.
    pub fn from_env() -> anyhow::Result<Self> {
        Self::from_pairs(std::env::vars())
    }

    /// Like [`ConfigSource::from_env`] but from the given pairs (tests, compose files).
    pub fn from_pairs(pairs: impl IntoIterator<Item = (String, String)>) -> anyhow::Result<Self> {
        let env: BTreeMap<String, String> = pairs
            .into_iter()
            .filter(|(k, _)| k.starts_with(PREFIX))
            .collect();
        let mut values = BTreeMap::new();
        if let Some(path) = env.get(FILE_KEY) {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("reading configuration file {path}"))?;
            let table: toml::Table = toml::from_str(&text)
                .with_context(|| format!("parsing configuration file {path}"))?;
            for (key, value) in table {
                let text = match value {
                    toml::Value::String(s) => s,
                    other => other.to_string(),
                };
                values.insert(format!("{PREFIX}{}", key.to_uppercase()), text);
            }
        }
        values.extend(env);
        let source = Self {
            values,
            read: RefCell::default(),
        };
        source.mark_read(FILE_KEY);
        Ok(source)
    }

    fn mark_read(&self, key: &str) {
        self.read.borrow_mut().insert(key.to_owned());
    }

    fn raw(&self, key: &str) -> Option<&str> {
        self.mark_read(key);
        self.values
            .get(key)
            .map(String::as_str)
            .filter(|v| !v.is_empty())
    }

    /// A setting with a default.
    pub fn get_or<T>(&self, key: &str, default: T) -> anyhow::Result<T>
    where
        T: FromStr,
        T::Err: Display,
    {
        match self.raw(key) {
            None => Ok(default),
            Some(text) => text
                .parse()
                .map_err(|e| anyhow!("{key}: cannot parse {text:?}: {e}")),
        }
    }

    /// An optional setting.
    pub fn get<T>(&self, key: &str) -> anyhow::Result<Option<T>>
    where
        T: FromStr,
        T::Err: Display,
    {
        self.raw(key)
            .map(|text| {
                text.parse()
                    .map_err(|e| anyhow!("{key}: cannot parse: {e}"))
            })
            .transpose()
    }

    /// A secret: `KEY` itself, or the contents of the file named by `KEY_FILE` (for container secrets).
    /// The value never appears in an error message.
    pub fn secret(&self, key: &str) -> anyhow::Result<Option<SecretString>> {
        let file_key = format!("{key}_FILE");
        if let Some(path) = self.raw(&file_key) {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("{file_key}: reading secret file {path}"))?;
            return Ok(Some(SecretString::from(text.trim().to_owned())));
        }
        Ok(self.raw(key).map(|v| SecretString::from(v.to_owned())))
    }

    /// The file `{key}_FILE` names, when the secret is read from one (a service may read it again).
    pub fn secret_file(&self, key: &str) -> Option<std::path::PathBuf> {
        self.raw(&format!("{key}_FILE"))
            .map(std::path::PathBuf::from)
    }

    /// A secret that must be set.
    pub fn required_secret(&self, key: &str) -> anyhow::Result<SecretString> {
        self.secret(key)?
            .ok_or_else(|| anyhow!("{key} (or {key}_FILE) must be set"))
    }

    /// `POS_` keys that were set but never read: almost always a typo.
    pub fn unread_keys(&self) -> Vec<String> {
        let read = self.read.borrow();
        self.values
            .keys()
            .filter(|k| !read.contains(k.as_str()))
            .cloned()
            .collect()
    }
}

/// Settings every service has.
#[derive(Debug, Clone)]
pub struct CommonConfig {
    pub http_host: String,
    pub http_port: u16,
    /// The runtime role's URL: it reads and writes rows, and owns nothing.
    pub database_url: SecretString,
    /// The schema owner's URL, used only to bring the schema up to date at start-up; when absent, the
    /// runtime role's URL is used for that too (and that role must own the schema).
    pub migration_database_url: Option<SecretString>,
    pub database_pool_size: usize,
    pub log_format: crate::telemetry::LogFormat,
    pub log_filter: String,
    /// Off on all but one replica of a service, so scheduled jobs run once.
    pub scheduler_enabled: bool,
    /// HTTPS with this certificate and key (`POS_TLS_CERT`, `POS_TLS_KEY`); plain HTTP without.
    pub tls: Option<crate::tls::TlsFiles>,
    /// When set, `GET /metrics` answers only to `Authorization: Bearer <this token>`.
    pub metrics_token: Option<SecretString>,
}

impl CommonConfig {
    pub fn load(
        source: &ConfigSource,
        default_port: u16,
        default_db: &str,
    ) -> anyhow::Result<Self> {
        Ok(Self {
            http_host: source.get_or("POS_HTTP_HOST", "127.0.0.1".to_owned())?,
            http_port: source.get_or("POS_HTTP_PORT", default_port)?,
            database_url: source.secret("POS_DATABASE_URL")?.unwrap_or_else(|| {
                SecretString::from(format!("postgres://pos_app@127.0.0.1:5432/{default_db}"))
            }),
            migration_database_url: source.secret("POS_MIGRATION_DATABASE_URL")?,
            database_pool_size: source.get_or("POS_DATABASE_POOL_SIZE", 16)?,
            log_format: source.get_or("POS_LOG_FORMAT", crate::telemetry::LogFormat::Human)?,
            log_filter: source
                .get_or("POS_LOG", crate::telemetry::DEFAULT_LOG_FILTER.to_owned())?,
            scheduler_enabled: source.get_or("POS_SCHEDULER_ENABLED", true)?,
            tls: tls_files(source)?,
            metrics_token: metrics_token(source)?,
        })
    }
}

/// `POS_TLS_CERT` and `POS_TLS_KEY`: both (HTTPS) or neither (plain HTTP).
fn tls_files(source: &ConfigSource) -> anyhow::Result<Option<crate::tls::TlsFiles>> {
    let cert: Option<PathBuf> = source.get("POS_TLS_CERT")?;
    let key: Option<PathBuf> = source.get("POS_TLS_KEY")?;
    match (cert, key) {
        (Some(cert), Some(key)) => Ok(Some(crate::tls::TlsFiles { cert, key })),
        (None, None) => Ok(None),
        (Some(_), None) => bail!(
            "POS_TLS_CERT is set but POS_TLS_KEY is not: HTTPS needs both (PEM files), plain HTTP neither"
        ),
        (None, Some(_)) => bail!(
            "POS_TLS_KEY is set but POS_TLS_CERT is not: HTTPS needs both (PEM files), plain HTTP neither"
        ),
    }
}

fn metrics_token(source: &ConfigSource) -> anyhow::Result<Option<SecretString>> {
    let token = source.secret("POS_METRICS_TOKEN")?;
    if let Some(token) = &token {
        use secrecy::ExposeSecret;
        if token.expose_secret().len() < 16 {
            bail!("POS_METRICS_TOKEN is shorter than 16 characters");
        }
    }
    Ok(token)
}

#[cfg(test)]
mod tests {
    use super::*;
    use secrecy::ExposeSecret;

    fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
        list.iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn environment_overrides_file_and_unread_keys_are_reported() {
        let dir = std::env::temp_dir().join(format!("pos-config-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("pos.toml");
        std::fs::write(&file, "http_port = 9000\nlog = \"debug\"\n").unwrap();
        let source = ConfigSource::from_pairs(pairs(&[
            ("POS_CONFIG_FILE", file.to_str().unwrap()),
            ("POS_LOG", "info"),
            ("POS_HTTP_PROT", "1"),
            ("HOME", "/root"),
        ]))
        .unwrap();
        let common = CommonConfig::load(&source, 8080, "pos_central").unwrap();
        assert_eq!(common.http_port, 9000);
        assert_eq!(common.log_filter, "info");
        assert_eq!(source.unread_keys(), vec!["POS_HTTP_PROT".to_owned()]);
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn bad_values_name_the_key_and_secrets_stay_hidden() {
        let source = ConfigSource::from_pairs(pairs(&[
            ("POS_HTTP_PORT", "eighty"),
            ("POS_ADMIN_TOKEN", "s3cret-value"),
        ]))
        .unwrap();
        let err = CommonConfig::load(&source, 8080, "db")
            .unwrap_err()
            .to_string();
        assert!(err.contains("POS_HTTP_PORT"), "{err}");
        let token = source.required_secret("POS_ADMIN_TOKEN").unwrap();
        assert_eq!(token.expose_secret(), "s3cret-value");
        assert!(!format!("{token:?}").contains("s3cret"));
        let missing = source.required_secret("POS_OTHER").unwrap_err().to_string();
        assert!(missing.contains("POS_OTHER"));
    }

    #[test]
    fn tls_needs_both_files_and_the_metrics_token_is_a_secret() {
        let load = |list: &[(&str, &str)]| {
            CommonConfig::load(&ConfigSource::from_pairs(pairs(list)).unwrap(), 8080, "db")
        };
        let plain = load(&[]).unwrap();
        assert_eq!((plain.tls, plain.metrics_token.is_none()), (None, true));
        let https = load(&[("POS_TLS_CERT", "/c.pem"), ("POS_TLS_KEY", "/k.pem")]).unwrap();
        assert_eq!(
            https.tls,
            Some(crate::tls::TlsFiles {
                cert: "/c.pem".into(),
                key: "/k.pem".into()
            })
        );
        let half = load(&[("POS_TLS_CERT", "/c.pem")]).unwrap_err().to_string();
        assert!(half.contains("POS_TLS_KEY is not"), "{half}");
        let half = load(&[("POS_TLS_KEY", "/k.pem")]).unwrap_err().to_string();
        assert!(half.contains("POS_TLS_CERT is not"), "{half}");

        let token = load(&[("POS_METRICS_TOKEN", "scrape-scrape-scrape")]).unwrap();
        assert_eq!(
            token.metrics_token.unwrap().expose_secret(),
            "scrape-scrape-scrape"
        );
        let short = load(&[("POS_METRICS_TOKEN", "tiny-secret")])
            .unwrap_err()
            .to_string();
        assert!(
            short.contains("POS_METRICS_TOKEN") && !short.contains("tiny-secret"),
            "{short}"
        );
    }
}
