//! Builds the central service: pool, schema, HTTP listener (port 0 in tests) and background workers.

use std::time::Duration;

use anyhow::Context;
use pos_shared::auth::TokenRegistry;
use pos_shared::service::Running;

use crate::config::Config;
use crate::fanout::NodeSessions;
use crate::replicator::Replicator;
use crate::state::{AppState, LoginLinks};
use pos_shared::delivery::start_retry_job;

/// Builds the service; what it builds runs as a [`Running`].
pub struct Application;

impl Application {
    pub async fn build(config: Config) -> anyhow::Result<Running> {
        let (pool, db_config, listener, port) =
            pos_shared::service::open(&config.common, "central", crate::schema::migrate).await?;

        let client = pool.get().await.context("getting a connection")?;
        crate::db::replication::configure(&client, &config.replication).await?;
        drop(client);
        let node_sessions = NodeSessions::new(
            pool.clone(),
            Duration::from_millis(config.replication.report_timeout_ms),
        );
        let metrics = pos_shared::metrics::Metrics::new("central")?
            .scraped_with(config.common.metrics_token.as_ref());
        let replicator = Replicator::new(
            db_config,
            pool.clone(),
            config.replication.clone(),
            metrics.delivery.clone(),
        );
        replicator.sync_nodes().await?;
        let background = vec![replicator.spawn_listener()];
        let scheduler = if config.common.scheduler_enabled {
            let signals = replicator.clone();
            let scheduler = start_retry_job(
                &config.replication.retry_cron,
                "POS_REPLICATION_RETRY_CRON",
                move || signals.signals(),
            )
            .await?;
            crate::retention::add_purge_job(
                &scheduler,
                &config.replication.purge_cron,
                pool.clone(),
                config.replication.retention_hours,
                config.idempotency_retention_hours,
            )
            .await?;
            crate::scheduled_prices::add_fold_job(
                &scheduler,
                &config.replication.retry_cron,
                pool.clone(),
            )
            .await?;
            Some(scheduler)
        } else {
            None
        };

        let tokens = TokenRegistry::new(Some(&config.admin_token), &[]);
        let mut background = background;
        if let Some(file) = &config.admin_token_file {
            background.push(pos_shared::auth::watch_admin_token_file(
                file.clone(),
                tokens.clone(),
            ));
        }
        let state = AppState {
            pool: pool.clone(),
            config: config.clone(),
            replicator: replicator.clone(),
            node_sessions,
            login_links: LoginLinks::default(),
        };
        let scheme = listener.scheme();
        let server = pos_shared::http::serve(state, metrics, tokens, listener)?;
        tracing::info!(port, scheme, "central listening");
        Ok(
            Running::new(port, server, background, scheduler)
                .on_stop(move || replicator.shutdown()),
        )
    }
}

pos_shared::http_service!(
    AppState,
    openapi = crate::openapi::api,
    routes = crate::routes::configure,
    scrape = crate::routes::replication::metrics_scrape,
);
