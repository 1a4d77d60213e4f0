//! What both services' binaries and `Application`s share: a service built and listening ([`Running`])
//! and `main` ([`main`]).

use std::future::Future;
use std::process::ExitCode;

use crate::config::{CommonConfig, ConfigSource};

/// A service's configuration.
pub trait ServiceConfig: Sized {
    /// The service's name in messages (`central`, `store-node`).
    const SERVICE: &'static str;

    /// From settings read by name (environment variables, or a file's keys).
    fn from_source(source: &ConfigSource) -> anyhow::Result<Self>;

    fn common(&self) -> &CommonConfig;

    /// From the environment (and `POS_CONFIG_FILE`); a `POS_` setting the service does not read is
    /// reported on stderr, since it is most likely a typo.
    fn from_env() -> anyhow::Result<Self> {
        let source = ConfigSource::from_env()?;
        let config = Self::from_source(&source)?;
        for key in source.unread_keys() {
            eprintln!(
                "{}: warning: {key} is set but is not a setting of this service",
                Self::SERVICE
            );
        }
        Ok(config)
    }
}

/// What a service's start-up opens first: its database pool (the schema brought up to date), the
/// database's connection settings (for the sessions a service keeps apart from its pool), its HTTP
/// listener (with its TLS configuration when it serves HTTPS) and the port bound (the one picked when
/// the configuration said 0).
pub type Opened = (
    deadpool_postgres::Pool,
    crate::db::DbConfig,
    crate::http::Listener,
    u16,
);

/// Reads the HTTPS certificate and key when configured (before anything else: a bad file is a
/// configuration error), opens the database (one clear line when it is unreachable), brings its schema
/// up to date with `migrate` (the service's `schema::migrate`), then binds the HTTP listener.
pub async fn open<F>(common: &CommonConfig, service: &str, migrate: F) -> anyhow::Result<Opened>
where
    F: AsyncFnOnce(&crate::db::DbConfig, Option<&str>) -> anyhow::Result<()>,
{
    use anyhow::Context;
    let tls = common
        .tls
        .as_ref()
        .map(crate::tls::server_config)
        .transpose()?;
    let db_config = crate::db::parse_url(&common.database_url, service)?;
    let pool = crate::db::pool(db_config.clone(), common.database_pool_size)?;
    crate::db::check_reachable(&pool, &db_config).await?;
    // The owner migrates; the runtime role is then granted what it may do.
    let (owner_config, runtime_role) = match &common.migration_database_url {
        Some(url) => (crate::db::parse_url(url, service)?, db_config.get_user()),
        None => (db_config.clone(), None),
    };
    migrate(&owner_config, runtime_role)
        .await
        .with_context(|| {
            let hint = match common.migration_database_url {
                Some(_) => "",
                None => {
                    " as the runtime role (POS_MIGRATION_DATABASE_URL gives the schema owner's URL)"
                }
            };
            format!(
                "bringing the schema of {} up to date{hint}",
                crate::db::describe(&owner_config)
            )
        })?;
    let (tcp, port) = crate::http::bind(&common.http_host, common.http_port)?;
    Ok((pool, db_config, crate::http::Listener { tcp, tls }, port))
}

/// A service built and listening: its HTTP server and what runs beside it.
pub struct Running {
    port: u16,
    server: actix_web::dev::Server,
    background: Vec<tokio::task::JoinHandle<()>>,
    scheduler: Option<tokio_cron_scheduler::JobScheduler>,
    on_stop: Option<Box<dyn FnOnce() + Send>>,
}

impl Running {
    pub fn new(
        port: u16,
        server: actix_web::dev::Server,
        background: Vec<tokio::task::JoinHandle<()>>,
        scheduler: Option<tokio_cron_scheduler::JobScheduler>,
    ) -> Self {
        Self {
            port,
            server,
            background,
            scheduler,
            on_stop: None,
        }
    }

    /// What else to stop once the server has stopped (central's per-node workers).
    #[must_use]
    pub fn on_stop(mut self, stop: impl FnOnce() + Send + 'static) -> Self {
        self.on_stop = Some(Box::new(stop));
        self
    }

    /// The port it listens on (the one picked when the configuration said 0).
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Runs until the server stops (SIGINT/SIGTERM start a graceful shutdown), then stops the rest.
    pub async fn run_until_stopped(self) -> anyhow::Result<()> {
        let result = self.server.await;
        for task in self.background {
            task.abort();
        }
        if let Some(stop) = self.on_stop {
            stop();
        }
        if let Some(mut scheduler) = self.scheduler {
            let _ = scheduler.shutdown().await;
        }
        result.map_err(Into::into)
    }
}

/// A service's `main`: reads its configuration, starts telemetry, builds it with `build` and runs it
/// until it stops. Any failure is one line on stderr, `SERVICE: cause`, and exit code 1.
pub async fn main<C, F, Fut>(build: F) -> ExitCode
where
    C: ServiceConfig,
    F: FnOnce(C) -> Fut,
    Fut: Future<Output = anyhow::Result<Running>>,
{
    let run = async {
        let config = C::from_env()?;
        crate::telemetry::init(config.common().log_format, &config.common().log_filter);
        build(config).await?.run_until_stopped().await
    };
    match run.await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("{}: {e:#}", C::SERVICE);
            ExitCode::FAILURE
        }
    }
}
