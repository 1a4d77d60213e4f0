//! Prometheus metrics: one registry per application (tests run many in one process), HTTP request
//! counts and latencies by route, and gauges a service fills when it is scraped.

use std::future::{Ready, ready};
use std::rc::Rc;
use std::time::Instant;

use actix_web::body::MessageBody;
use actix_web::dev::{Service, ServiceRequest, ServiceResponse, Transform, forward_ready};
use actix_web::{HttpResponse, web};
use futures_util::future::LocalBoxFuture;
use prometheus::{
    Encoder, GaugeVec, HistogramOpts, HistogramVec, IntCounterVec, Opts, Registry, TextEncoder,
};

#[derive(Clone)]
pub struct Metrics {
    pub registry: Registry,
    http_requests: IntCounterVec,
    http_duration: HistogramVec,
    /// Backlogs, set at scrape time: `pos_backlog{queue, target, status}`.
    backlog: GaugeVec,
    /// What the delivery workers shipped, and whether their targets answer.
    pub delivery: crate::delivery::DeliveryMetrics,
    /// Who may scrape: anyone, or the bearer of `POS_METRICS_TOKEN`.
    scrape_token: crate::auth::EndpointToken,
}

impl Metrics {
    pub fn new(service: &str) -> anyhow::Result<Self> {
        let registry = Registry::new_custom(
            Some("pos".into()),
            Some([("service".to_owned(), service.to_owned())].into()),
        )?;
        let http_requests = IntCounterVec::new(
            Opts::new("http_requests_total", "HTTP requests by route and status"),
            &["method", "route", "status"],
        )?;
        let http_duration = HistogramVec::new(
            HistogramOpts::new(
                "http_request_duration_seconds",
                "HTTP request latency by route",
            )
            .buckets(vec![
                0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
            ]),
            &["method", "route"],
        )?;
        let backlog = GaugeVec::new(
            Opts::new("backlog", "Entries waiting, by queue, target and status"),
            &["queue", "target", "status"],
        )?;
        registry.register(Box::new(http_requests.clone()))?;
        registry.register(Box::new(http_duration.clone()))?;
        registry.register(Box::new(backlog.clone()))?;
        let delivery = crate::delivery::DeliveryMetrics::new(&registry)?;
        Ok(Self {
            registry,
            http_requests,
            http_duration,
            backlog,
            delivery,
            scrape_token: crate::auth::EndpointToken::default(),
        })
    }

    /// Makes `GET /metrics` answer only to `token` as a bearer token, when given.
    #[must_use]
    pub fn scraped_with(mut self, token: Option<&secrecy::SecretString>) -> Self {
        self.scrape_token = crate::auth::EndpointToken::new(token);
        self
    }

    /// A queue's backlog towards `target` as read now: its pending, failed and dead entries.
    pub fn set_backlog(&self, queue: &str, target: &str, pending: i64, failed: i64, dead: i64) {
        for (status, value) in [("Pending", pending), ("Failed", failed), ("Dead", dead)] {
            self.backlog
                .with_label_values(&[queue, target, status])
                .set(value as f64);
        }
    }

    /// The text exposition of everything registered.
    pub fn render(&self) -> HttpResponse {
        let mut buffer = Vec::new();
        let encoder = TextEncoder::new();
        match encoder.encode(&self.registry.gather(), &mut buffer) {
            Ok(()) => HttpResponse::Ok()
                .content_type(encoder.format_type())
                .body(buffer),
            Err(e) => {
                tracing::error!(error = %e, "encoding metrics");
                HttpResponse::InternalServerError().finish()
            }
        }
    }
}

/// What a service reads into its metrics when they are scraped: its queues' backlogs, read now.
#[derive(Clone)]
pub struct ScrapeHook(
    pub  std::sync::Arc<
        dyn Fn(Metrics) -> futures_util::future::BoxFuture<'static, ()> + Send + Sync,
    >,
);

/// `GET /metrics`: request figures, what the delivery workers shipped, and the service's backlogs,
/// read now. Open to anyone, unless the service is configured with `POS_METRICS_TOKEN`: then only to
/// that token as a bearer token (not the admin's, nor a cashier's).
#[utoipa::path(
    get,
    path = "/metrics",
    operation_id = "metrics",
    tag = "operations",
    // `{}` first: no token needed unless configured. The name is `crate::openapi::METRICS_TOKEN`.
    security((), ("metrics_token" = [])),
    responses(
        (status = 200, description = "Prometheus text exposition format", content_type = "text/plain; version=0.0.4", body = String),
        (status = 401, description = "The service requires its metrics token (`POS_METRICS_TOKEN`) and the request does not carry it (`unauthorized`)", body = crate::error::ErrorBody),
        (status = 500, description = "The metrics could not be encoded (empty body)"),
    ),
)]
pub async fn scrape(
    req: actix_web::HttpRequest,
    metrics: web::Data<Metrics>,
    hook: web::Data<ScrapeHook>,
) -> Result<HttpResponse, crate::error::ApiError> {
    if !metrics.scrape_token.admits(&req) {
        return Err(crate::error::ApiError::Unauthorized);
    }
    (hook.0)(metrics.get_ref().clone()).await;
    Ok(metrics.render())
}

/// Middleware recording every request by its route pattern (not its path, which would carry ids).
pub struct RecordRequests(pub Metrics);

impl<S, B> Transform<S, ServiceRequest> for RecordRequests
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = actix_web::Error> + 'static,
    B: MessageBody + 'static,
{
    type Response = ServiceResponse<B>;
    type Error = actix_web::Error;
    type Transform = RecordRequestsService<S>;
    type InitError = ();
    type Future = Ready<Result<Self::Transform, Self::InitError>>;

    fn new_transform(&self, service: S) -> Self::Future {
        ready(Ok(RecordRequestsService {
            service: Rc::new(service),
            metrics: self.0.clone(),
        }))
    }
}

pub struct RecordRequestsService<S> {
    service: Rc<S>,
    metrics: Metrics,
}

impl<S, B> Service<ServiceRequest> for RecordRequestsService<S>
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = actix_web::Error> + 'static,
    B: MessageBody + 'static,
{
    type Response = ServiceResponse<B>;
    type Error = actix_web::Error;
    type Future = LocalBoxFuture<'static, Result<Self::Response, Self::Error>>;

    forward_ready!(service);

    fn call(&self, req: ServiceRequest) -> Self::Future {
        let started = Instant::now();
        let method = req.method().to_string();
        let route = req.match_pattern().unwrap_or_else(|| "unmatched".into());
        let service = self.service.clone();
        let metrics = self.metrics.clone();
        Box::pin(async move {
            let response = service.call(req).await?;
            let code = response.status().as_u16();
            log_request(&method, &route, code, started, response.response().error());
            let status = code.to_string();
            metrics
                .http_requests
                .with_label_values(&[method.as_str(), route.as_str(), status.as_str()])
                .inc();
            metrics
                .http_duration
                .with_label_values(&[method.as_str(), route.as_str()])
                .observe(started.elapsed().as_secs_f64());
            Ok(response)
        })
    }
}

/// The one line each request gets (inside its request span, so with its request id): INFO when it
/// succeeded, WARN for a 4xx (with what was refused), ERROR for a 5xx (its cause is logged where the
/// error answer is made).
fn log_request(
    method: &str,
    route: &str,
    status: u16,
    started: Instant,
    error: Option<&actix_web::Error>,
) {
    // Hundredths of a millisecond are plenty, and read better than f64's last digits.
    let duration_ms = (started.elapsed().as_secs_f64() * 100_000.0).round() / 100.0;
    let refusal = error.map(ToString::to_string).unwrap_or_default();
    match status {
        500.. => tracing::error!(method, route, status, duration_ms, "request"),
        400..=499 => tracing::warn!(method, route, status, duration_ms, refusal, "request"),
        _ => tracing::info!(method, route, status, duration_ms, "request"),
    }
}
