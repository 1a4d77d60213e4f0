//! OpenAPI pieces both services use: the bearer security scheme and `GET /openapi.json`.
//!
//! Each service derives its own `utoipa::OpenApi` document from its handlers' `#[utoipa::path]`
//! annotations; this module serves it, rendered to JSON once at start-up.

use actix_web::http::header::ContentType;
use actix_web::{HttpResponse, web};
use anyhow::Context;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};

/// The name of the security scheme protected operations refer to (`security(("bearer" = []))`).
pub const BEARER: &str = "bearer";

/// The scheme of `GET /metrics` when the service has a metrics token (`POS_METRICS_TOKEN`).
pub const METRICS_TOKEN: &str = "metrics_token";

/// Adds the `bearer` security scheme: `Authorization: Bearer <token>` (an admin or a cashier token).
pub struct BearerAuth;

impl utoipa::Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            BEARER,
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some(
                        "A token from the service's configuration: head office's admin token, or a \
                         store's cashier token (store node)",
                    ))
                    .build(),
            ),
        );
    }
}

/// A service's document: `base` (its description, tags and security schemes), the [`common`] routes'
/// part (with the `metrics_token` scheme `GET /metrics` names), then each of `parts` (its route
/// modules').
///
/// [`common`]: crate::http::common
pub fn assemble(
    mut base: utoipa::openapi::OpenApi,
    parts: impl IntoIterator<Item = utoipa::openapi::OpenApi>,
) -> utoipa::openapi::OpenApi {
    use utoipa::OpenApi as _;
    base.merge(crate::http::common::Api::openapi());
    base.components
        .get_or_insert_with(Default::default)
        .add_security_scheme(
        METRICS_TOKEN,
        SecurityScheme::Http(
            HttpBuilder::new()
                .scheme(HttpAuthScheme::Bearer)
                .description(Some(
                    "`GET /metrics` only: the service's POS_METRICS_TOKEN, when it is configured \
                         with one (else the endpoint is open)",
                ))
                .build(),
        ),
    );
    for part in parts {
        base.merge(part);
    }
    base
}

/// A service's OpenAPI document as JSON, rendered once; shared by every worker as `web::Data`.
#[derive(Clone)]
pub struct OpenApiJson(web::Bytes);

impl OpenApiJson {
    pub fn new(document: &utoipa::openapi::OpenApi) -> anyhow::Result<Self> {
        let json = document
            .to_json()
            .context("rendering the OpenAPI document")?;
        Ok(Self(web::Bytes::from(json)))
    }
}

/// This service's OpenAPI 3.1 document; no authentication.
#[utoipa::path(
    get,
    path = "/openapi.json",
    operation_id = "openapi",
    tag = "operations",
    responses(
        (status = 200, description = "The OpenAPI document of this service", content_type = "application/json", body = Object),
    ),
)]
pub async fn serve(document: web::Data<OpenApiJson>) -> HttpResponse {
    HttpResponse::Ok()
        .content_type(ContentType::json())
        .body(document.0.clone())
}

// Answers many endpoints share, for their `responses(…)`: the errors of any endpoint that reads the
// database, a missing or unknown bearer token, a token that is not the admin's, a malformed JSON body.
// Never built: they only describe answers for the OpenAPI documents.
#[derive(utoipa::IntoResponses)]
pub enum ServerErrors {
    #[response(
        status = 500,
        description = "Unexpected failure; the cause is in the log (`internal`)"
    )]
    Internal(crate::error::ErrorBody),
    #[response(
        status = 503,
        description = "The database is unavailable (`unavailable`)"
    )]
    Unavailable(crate::error::ErrorBody),
}

#[derive(utoipa::IntoResponses)]
#[response(
    status = 401,
    description = "Missing or unknown bearer token (`unauthorized`)"
)]
pub struct Unauthorized(pub crate::error::ErrorBody);

#[derive(utoipa::IntoResponses)]
#[response(
    status = 403,
    description = "The bearer's role does not allow this (`forbidden`)"
)]
pub struct NotAdmin(pub crate::error::ErrorBody);

#[derive(utoipa::IntoResponses)]
pub enum BadJson {
    #[response(
        status = 400,
        description = "Malformed JSON, or not `application/json` (`bad_request`)"
    )]
    Malformed(crate::error::ErrorBody),
    #[response(
        status = 413,
        description = "The body is larger than 256 KiB (`payload_too_large`)"
    )]
    TooLarge(crate::error::ErrorBody),
}

#[derive(utoipa::IntoResponses)]
#[response(
    status = 422,
    description = "`limit` or `after` out of range, or another malformed query parameter (`validation_failed`)"
)]
pub struct BadPage(pub crate::error::ErrorBody);
