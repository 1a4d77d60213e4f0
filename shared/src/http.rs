//! Extractor configuration: malformed bodies, queries and paths answer in the API's error shape.

use actix_web::web;

use crate::error::ApiError;

/// JSON bodies: syntax errors are 400 `bad_request`; well-formed JSON of the wrong shape is 422.
pub fn json_config() -> web::JsonConfig {
    web::JsonConfig::default()
        .limit(256 * 1024)
        .error_handler(|err, _req| {
            use actix_web::error::JsonPayloadError;
            let api = match &err {
                JsonPayloadError::Deserialize(e) if e.is_data() => {
                    ApiError::validation("body", e.to_string())
                }
                JsonPayloadError::ContentType => {
                    ApiError::BadRequest("expected Content-Type: application/json".into())
                }
                JsonPayloadError::Overflow { .. }
                | JsonPayloadError::OverflowKnownLength { .. } => {
                    ApiError::BadRequest("request body is too large".into())
                }
                other => ApiError::BadRequest(format!("malformed JSON body: {other}")),
            };
            api.into()
        })
}

pub fn query_config() -> web::QueryConfig {
    web::QueryConfig::default()
        .error_handler(|err, _req| ApiError::validation("query", err.to_string()).into())
}

pub fn path_config() -> web::PathConfig {
    web::PathConfig::default()
        .error_handler(|err, _req| ApiError::NotFound(format!("no such resource ({err})")).into())
}

/// Unknown routes answer 404 in the API's shape.
pub async fn not_found() -> Result<actix_web::HttpResponse, ApiError> {
    Err(ApiError::NotFound("no such endpoint".into()))
}

/// What every service's app has: error-shaped extractor configs, `/health`, and a JSON 404.
pub fn configure_common(cfg: &mut web::ServiceConfig) {
    cfg.app_data(json_config())
        .app_data(query_config())
        .app_data(path_config())
        .route("/health", web::get().to(health));
}

#[derive(serde::Serialize, utoipa::ToSchema)]
pub struct Health {
    pub status: &'static str,
    pub database: &'static str,
}

/// Liveness and database reachability; no authentication. 503 when the database does not answer.
#[utoipa::path(get, path = "/health", responses((status = 200, body = Health), (status = 503, body = Health)))]
pub async fn health(pool: web::Data<deadpool_postgres::Pool>) -> actix_web::HttpResponse {
    let reachable = async {
        let client = pool.get().await.ok()?;
        client.simple_query("SELECT 1").await.ok()
    };
    match tokio::time::timeout(std::time::Duration::from_secs(2), reachable).await {
        Ok(Some(_)) => actix_web::HttpResponse::Ok().json(Health {
            status: "ok",
            database: "ok",
        }),
        _ => actix_web::HttpResponse::ServiceUnavailable().json(Health {
            status: "degraded",
            database: "unreachable",
        }),
    }
}

/// Runs `server` until it stops (SIGINT/SIGTERM start a graceful shutdown), then stops `background`.
pub async fn run_until_stopped(
    server: actix_web::dev::Server,
    background: Vec<tokio::task::JoinHandle<()>>,
) -> anyhow::Result<()> {
    let result = server.await;
    for task in background {
        task.abort();
    }
    result.map_err(Into::into)
}

/// Binds the service's listener (port 0 picks a free port, as tests do).
pub fn bind(host: &str, port: u16) -> anyhow::Result<(std::net::TcpListener, u16)> {
    use anyhow::Context;
    let address = format!("{host}:{port}");
    let listener = std::net::TcpListener::bind(&address)
        .with_context(|| format!("binding the HTTP listener on {address}"))?;
    let port = listener.local_addr()?.port();
    Ok((listener, port))
}
