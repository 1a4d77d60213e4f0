//! Builds the store-node service: pool, schema, HTTP listener (port 0 in tests) and background workers.

use actix_web::{App, HttpServer, web};
use deadpool_postgres::Pool;
use pos_shared::auth::TokenRegistry;
use tracing_actix_web::TracingLogger;

use crate::config::Config;

pub struct Application {
    port: u16,
    server: actix_web::dev::Server,
    background: Vec<tokio::task::JoinHandle<()>>,
}

/// What handlers share.
#[derive(Clone)]
pub struct AppState {
    pub pool: Pool,
    pub config: Config,
}

impl Application {
    pub async fn build(config: Config) -> anyhow::Result<Self> {
        let (pool, _db_config) = pos_shared::db::open_and_migrate(
            &config.common.database_url,
            "store-node",
            config.common.database_pool_size,
            |db| async move { crate::schema::migrate(&db).await },
        )
        .await?;
        let (listener, port) =
            pos_shared::http::bind(&config.common.http_host, config.common.http_port)?;

        let tokens = TokenRegistry::new(config.admin_token.as_ref(), &config.cashier_tokens);
        let state = AppState {
            pool: pool.clone(),
            config: config.clone(),
        };
        let background = Vec::new();
        let server = HttpServer::new(move || {
            App::new()
                .wrap(TracingLogger::default())
                .app_data(web::Data::new(tokens.clone()))
                .app_data(web::Data::new(pool.clone()))
                .app_data(web::Data::new(state.clone()))
                .configure(pos_shared::http::configure_common)
                .configure(crate::routes::configure)
                .default_service(web::to(pos_shared::http::not_found))
        })
        .listen(listener)?
        .shutdown_timeout(10)
        .run();
        tracing::info!(port, city_id = config.city_id, "store node listening");
        Ok(Self {
            port,
            server,
            background,
        })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    pub async fn run_until_stopped(self) -> anyhow::Result<()> {
        pos_shared::http::run_until_stopped(self.server, self.background).await
    }
}
