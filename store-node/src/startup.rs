//! Builds the store-node service: pool, schema, HTTP listener (port 0 in tests) and background workers.

use anyhow::Context;
use pos_shared::auth::TokenRegistry;
use pos_shared::service::Running;

use std::sync::Arc;

use pos_shared::delivery::{DeliverySignal, start_retry_job};

use crate::config::Config;
use crate::state::AppState;

/// Builds the service; what it builds runs as a [`Running`].
pub struct Application;

impl Application {
    pub async fn build(config: Config) -> anyhow::Result<Running> {
        let (pool, db_config, listener, port) =
            pos_shared::service::open(&config.common, "store-node", crate::schema::migrate).await?;

        crate::db::settings::configure_city(
            &pool.get().await.context("getting a connection")?,
            config.city_id,
        )
        .await?;
        let metrics = pos_shared::metrics::Metrics::new("store-node")?
            .scraped_with(config.common.metrics_token.as_ref());
        let tokens = TokenRegistry::new(config.admin_token.as_ref(), &config.cashier_tokens);
        let outbox = Arc::new(DeliverySignal::default());
        let mut background = vec![
            crate::daily_sales::spawn_folder(pool.clone()),
            crate::cashiers::start(pool.clone(), tokens.clone()).await?,
        ];
        if let Some(file) = &config.admin_token_file {
            background.push(pos_shared::auth::watch_admin_token_file(
                file.clone(),
                tokens.clone(),
            ));
        }
        if config.common.scheduler_enabled {
            background.push(crate::retention::spawn_purger(
                pool.clone(),
                config.outbox_retention_hours,
                config.idempotency_retention_hours,
            ));
        }
        let mut scheduler = None;
        if let Some(url) = &config.central_database_url {
            crate::outbox::configure_central_link(&pool, url).await?;
            background.push(crate::outbox::spawn_worker(
                &db_config,
                outbox.clone(),
                metrics.delivery.clone(),
            )?);
            if config.common.scheduler_enabled {
                let signal = outbox.clone();
                scheduler = Some(
                    start_retry_job(
                        &config.outbox_retry_cron,
                        "POS_OUTBOX_RETRY_CRON",
                        move || vec![signal.clone()],
                    )
                    .await?,
                );
            }
        } else {
            tracing::warn!(
                "POS_CENTRAL_DATABASE_URL is not set: sales stay in the outbox until it is"
            );
        }
        let state = AppState {
            pool: pool.clone(),
            config: config.clone(),
            outbox,
        };
        let scheme = listener.scheme();
        let server = pos_shared::http::serve(state, metrics, tokens, listener)?;
        tracing::info!(
            port,
            scheme,
            city_id = config.city_id,
            "store node listening"
        );
        Ok(Running::new(port, server, background, scheduler))
    }
}

pos_shared::http_service!(
    AppState,
    openapi = crate::openapi::api,
    routes = crate::routes::configure,
    scrape = crate::routes::reports::metrics_scrape,
);
