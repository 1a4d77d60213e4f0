//! What every service's HTTP side shares: extractor configuration (malformed paths and forms answer
//! in the API's error shape; JSON bodies and query strings are read by [`crate::extract`]), the route macros, the
//! common routes and the server.

use actix_web::{ResponseError, web};

use crate::error::ApiError;

/// The largest form body (the dashboard's) a service reads.
const FORM_LIMIT: usize = 16 * 1024;

/// Form bodies (the dashboard's): too large is 413, any other failure 400, in the API's shape.
pub fn form_config() -> web::FormConfig {
    web::FormConfig::default()
        .limit(FORM_LIMIT)
        .error_handler(|err, _req| match err {
            actix_web::error::UrlencodedError::Overflow { .. } => {
                ApiError::PayloadTooLarge { limit: FORM_LIMIT }.into()
            }
            err => ApiError::BadRequest(format!("malformed form: {err}")).into(),
        })
}

pub fn path_config() -> web::PathConfig {
    web::PathConfig::default().error_handler(|err, _req| {
        // The parser's own words (a crate's error text) stay in the log.
        tracing::debug!(error = %err, "a path parameter of the wrong kind");
        ApiError::NotFound(
            "no such resource: a part of the path is not an id of its kind (a number, or a UUID)"
                .into(),
        )
        .into()
    })
}

/// A known path asked with a method it does not serve: 405 in the API's shape, with `Allow`.
pub fn method_not_allowed(allowed: &[&str]) -> actix_web::HttpResponse {
    let allow = allowed.join(", ");
    let mut response = ApiError::MethodNotAllowed(allow.clone()).error_response();
    if let Ok(value) = actix_web::http::header::HeaderValue::from_str(&allow) {
        response
            .headers_mut()
            .insert(actix_web::http::header::ALLOW, value);
    }
    response
}

/// Unknown routes answer 404 in the API's shape.
pub async fn not_found() -> Result<actix_web::HttpResponse, ApiError> {
    Err(ApiError::NotFound("no such endpoint".into()))
}

/// Declares a route module's routes once, as `(path => { METHOD => handler, … })` entries (handlers
/// are the module's own functions, each annotated with `#[utoipa::path]`), optionally after
/// `schemas(…)`, the module's OpenAPI schemas. Generates:
/// - `pub const ROUTES: &[(&str, &str)]`, (method, path) in the order given;
/// - `pub fn configure`, which registers them in that order;
/// - `pub struct Api`, the module's part of the OpenAPI document (its paths and schemas).
///
/// The OpenAPI tests compare the routes with the documented paths. Each path is one resource: another
/// method answers 405 with `Allow` (so no path may be listed twice, in this module or another).
#[macro_export]
macro_rules! routes {
    (@register $cfg:ident, $path:literal, $($method:ident => $handler:ident),+) => {
        $cfg.service(
            ::actix_web::web::resource($path)
                $(.route(::actix_web::web::method(::actix_web::http::Method::$method).to($handler)))+
                .default_service(::actix_web::web::to(|| async {
                    $crate::http::method_not_allowed(&[$(stringify!($method)),+])
                })),
        );
    };
    (@table $($path:literal => { $($method:ident => $handler:ident),+ }),*) => {
        /// `(method, path)` of every route [`configure`] registers, in registration order.
        pub const ROUTES: &[(&str, &str)] = &[$($((stringify!($method), $path)),+),*];

        /// Registers the routes of [`ROUTES`].
        pub fn configure(cfg: &mut ::actix_web::web::ServiceConfig) {
            $($crate::routes!(@register cfg, $path, $($method => $handler),+);)*
        }
    };
    (schemas($($schema:tt)*), $($path:literal => { $($method:ident => $handler:ident),+ $(,)? }),* $(,)?) => {
        $crate::routes!(@table $($path => { $($method => $handler),+ }),*);

        /// This module's paths and schemas of the service's OpenAPI document.
        #[derive(::utoipa::OpenApi)]
        #[openapi(paths($($($handler),+),*), components(schemas($($schema)*)))]
        pub struct Api;
    };
    ($($path:literal => { $($method:ident => $handler:ident),+ $(,)? }),* $(,)?) => {
        $crate::routes!(@table $($path => { $($method => $handler),+ }),*);

        /// This module's paths of the service's OpenAPI document.
        #[derive(::utoipa::OpenApi)]
        #[openapi(paths($($($handler),+),*))]
        pub struct Api;
    };
}

/// Puts a service's route modules (each declared with [`routes!`]) together: generates `configure`
/// (registers every module's routes, in the order listed), `routes()` (their `(method, path)`, the common
/// ones aside) and `documented()` (their parts of the OpenAPI document).
#[macro_export]
macro_rules! route_modules {
    ($($module:ident),+ $(,)?) => {
        /// Registers every module's routes, in the order listed.
        pub fn configure(cfg: &mut ::actix_web::web::ServiceConfig) {
            $($module::configure(cfg);)+
        }

        /// `(method, path)` of every route the modules register (the common ones aside).
        pub fn routes() -> ::std::vec::Vec<(&'static str, &'static str)> {
            [$($module::ROUTES),+].concat()
        }

        /// The modules' parts of the OpenAPI document.
        pub fn documented() -> ::std::vec::Vec<::utoipa::openapi::OpenApi> {
            use ::utoipa::OpenApi as _;
            ::std::vec![$($module::Api::openapi()),+]
        }
    };
}

/// The routes [`configure_common`] adds to every service: health, metrics and the OpenAPI document.
pub mod common {
    use super::{__path_health, health};
    use crate::metrics::{__path_scrape, scrape};
    use crate::openapi::{__path_serve, serve};

    crate::routes! {
        schemas(super::Health, crate::error::ErrorBody, crate::money::Money),
        "/health" => { GET => health },
        "/metrics" => { GET => scrape },
        "/openapi.json" => { GET => serve },
    }
}

/// What every service's app has: error-shaped extractor configs and the [`common`] routes.
pub fn configure_common(cfg: &mut web::ServiceConfig) {
    cfg.app_data(web::PayloadConfig::new(crate::extract::BODY_LIMIT))
        .app_data(form_config())
        .app_data(path_config());
    common::configure(cfg);
}

#[derive(serde::Serialize, utoipa::ToSchema)]
pub struct Health {
    pub status: &'static str,
    pub database: &'static str,
}

/// Liveness and database reachability; no authentication. 503 when the database does not answer.
#[utoipa::path(get, path = "/health", tag = "operations", responses((status = 200, body = Health), (status = 503, body = Health)))]
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

/// A service's bound listener: plain HTTP, or HTTPS with a rustls configuration.
pub struct Listener {
    pub tcp: std::net::TcpListener,
    pub tls: Option<rustls::ServerConfig>,
}

impl Listener {
    /// `https` or `http`, for the log.
    pub fn scheme(&self) -> &'static str {
        if self.tls.is_some() { "https" } else { "http" }
    }
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

/// What a service's HTTP server serves besides what every service has; implemented by the service
/// for its handlers' shared state.
pub trait HttpService: Clone + Send + 'static {
    /// The service's OpenAPI document (served at `/openapi.json`, rendered once).
    fn openapi() -> utoipa::openapi::OpenApi;
    /// The service's database pool (`/health` asks it).
    fn pool(&self) -> &deadpool_postgres::Pool;
    /// What `GET /metrics` reads before it answers (the service's queue backlogs).
    fn scrape(&self) -> crate::metrics::ScrapeHook;
    /// The service's app data (its state among them) and routes.
    fn configure(&self, cfg: &mut web::ServiceConfig);
}

/// Implements [`HttpService`] for a service's state (a struct with a `pool` field): its OpenAPI document
/// from `openapi`, its routes from `routes`, what `/metrics` reads from `scrape` (given the pool); the
/// state itself is the handlers' `web::Data`.
#[macro_export]
macro_rules! http_service {
    ($state:ty, openapi = $openapi:path, routes = $routes:path, scrape = $scrape:path $(,)?) => {
        impl $crate::http::HttpService for $state {
            fn openapi() -> ::utoipa::openapi::OpenApi {
                $openapi()
            }

            fn pool(&self) -> &::deadpool_postgres::Pool {
                &self.pool
            }

            fn scrape(&self) -> $crate::metrics::ScrapeHook {
                $scrape(self.pool.clone())
            }

            fn configure(&self, cfg: &mut ::actix_web::web::ServiceConfig) {
                cfg.app_data(::actix_web::web::Data::new(self.clone()));
                $routes(cfg);
            }
        }
    };
}

/// Builds and starts a service's HTTP server on `listener` (HTTPS when it has a TLS configuration; a
/// client speaking plain HTTP to it fails its handshake and is disconnected): metrics and request tracing around every
/// request, the shared extractor configuration, the [`common`] routes, the JSON 404, and what `service`
/// configures. `metrics` is built by the service before its background workers, which record into it
/// too. SIGINT/SIGTERM start a graceful shutdown.
pub fn serve<S: HttpService>(
    service: S,
    metrics: crate::metrics::Metrics,
    tokens: crate::auth::TokenRegistry,
    listener: Listener,
) -> anyhow::Result<actix_web::dev::Server> {
    let openapi = web::Data::new(crate::openapi::OpenApiJson::new(&S::openapi())?);
    let scrape = web::Data::new(service.scrape());
    let pool = web::Data::new(service.pool().clone());
    let server = actix_web::HttpServer::new(move || {
        actix_web::App::new()
            .wrap(crate::metrics::RecordRequests(metrics.clone()))
            .wrap(tracing_actix_web::TracingLogger::default())
            .app_data(web::Data::new(metrics.clone()))
            .app_data(web::Data::new(tokens.clone()))
            .app_data(pool.clone())
            .app_data(openapi.clone())
            .app_data(scrape.clone())
            .configure(configure_common)
            .configure(|cfg| service.configure(cfg))
            .default_service(web::to(not_found))
    });
    let server = match listener.tls {
        Some(tls) => server.listen_rustls_0_23(listener.tcp, tls)?,
        None => server.listen(listener.tcp)?,
    };
    Ok(server.shutdown_timeout(10).run())
}

#[cfg(test)]
mod tests {
    use actix_web::http::{Method, StatusCode};
    use actix_web::{App, HttpResponse, test, web};

    mod example {
        use actix_web::HttpResponse;

        #[utoipa::path(get, path = "/things", responses((status = 200)))]
        pub async fn list() -> HttpResponse {
            HttpResponse::Ok().finish()
        }

        #[utoipa::path(post, path = "/things", responses((status = 201)))]
        pub async fn create() -> HttpResponse {
            HttpResponse::Created().finish()
        }

        #[utoipa::path(delete, path = "/things/{id}", responses((status = 200)))]
        pub async fn remove() -> HttpResponse {
            HttpResponse::Ok().finish()
        }

        crate::routes! {
            "/things" => { GET => list, POST => create },
            "/things/{id}" => { DELETE => remove },
        }
    }

    #[actix_web::test]
    async fn routes_registers_exactly_what_it_lists() {
        assert_eq!(
            example::ROUTES,
            &[
                ("GET", "/things"),
                ("POST", "/things"),
                ("DELETE", "/things/{id}")
            ]
        );
        let app = test::init_service(
            App::new()
                .configure(example::configure)
                .default_service(web::to(|| async { HttpResponse::ImATeapot().finish() })),
        )
        .await;
        let call = |method: Method, path: &str| {
            test::TestRequest::default()
                .method(method)
                .uri(path)
                .to_request()
        };
        for (method, path) in example::ROUTES {
            let method = Method::from_bytes(method.as_bytes()).unwrap();
            let status = test::call_service(&app, call(method, &path.replace("{id}", "1")))
                .await
                .status();
            assert!(status.is_success(), "{path}: {status}");
        }
        // Another method on a known path: 405 naming the methods it has; an unknown path: the default.
        let put = test::call_service(&app, call(Method::PUT, "/things")).await;
        assert_eq!(put.status(), StatusCode::METHOD_NOT_ALLOWED);
        assert_eq!(put.headers().get("allow").unwrap(), "GET, POST");
        let get = test::call_service(&app, call(Method::GET, "/things/1")).await;
        assert_eq!(get.status(), StatusCode::METHOD_NOT_ALLOWED);
        assert_eq!(get.headers().get("allow").unwrap(), "DELETE");
        let body: crate::error::ErrorBody = test::read_body_json(get).await;
        assert_eq!(body.error, "method_not_allowed");
        let unknown = test::call_service(&app, call(Method::GET, "/nothing")).await;
        assert_eq!(unknown.status(), StatusCode::IM_A_TEAPOT);
        // The module's part of the OpenAPI document has the same paths and methods.
        let doc = <example::Api as utoipa::OpenApi>::openapi();
        let documented: Vec<(String, &str)> = doc
            .paths
            .paths
            .iter()
            .flat_map(|(path, item)| {
                [
                    ("GET", item.get.is_some()),
                    ("POST", item.post.is_some()),
                    ("DELETE", item.delete.is_some()),
                ]
                .into_iter()
                .filter(|(_, present)| *present)
                .map(move |(method, _)| (path.clone(), method))
            })
            .collect();
        assert_eq!(documented.len(), example::ROUTES.len(), "{documented:?}");
        for (method, path) in example::ROUTES {
            assert!(
                documented.contains(&((*path).to_owned(), *method)),
                "{method} {path}"
            );
        }
    }
}
