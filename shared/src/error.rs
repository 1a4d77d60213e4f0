//! The API error: one JSON shape and status table for every endpoint (DESIGN §7).
//!
//! Handlers build their own error enums and convert them into [`ApiError`]; this is the one place where
//! kinds become status codes. Causes of 5xx answers go to the log with their whole chain; the response body
//! never carries driver or SQL text.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, ResponseError};
use serde::Serialize;
use serde_json::Value;

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("{0}")]
    BadRequest(String),
    #[error("a valid bearer token is required")]
    Unauthorized,
    #[error("{0}")]
    Forbidden(String),
    #[error("{0}")]
    NotFound(String),
    /// 409 with a specific code: `insufficient_stock`, `idempotency_mismatch`, `conflict`.
    #[error("{message}")]
    Conflict {
        code: &'static str,
        message: String,
        details: Option<Value>,
    },
    /// The path exists; the method does not (the methods it has, for `Allow`).
    #[error("this path answers {0} only")]
    MethodNotAllowed(String),
    #[error("the request body is larger than {limit} bytes")]
    PayloadTooLarge { limit: usize },
    /// Too many failed attempts (logins): try again after `retry_after` seconds.
    #[error("too many failed attempts: try again in {retry_after} seconds")]
    TooManyRequests { retry_after: u64 },
    #[error("{field}: {message}")]
    Validation { field: String, message: String },
    #[error("the service is temporarily unavailable")]
    Unavailable(#[source] anyhow::Error),
    #[error("an internal error occurred")]
    Internal(#[source] anyhow::Error),
}

/// The JSON error body.
#[derive(Debug, Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct ErrorBody {
    pub error: String,
    pub message: String,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub details: Option<Value>,
}

impl ApiError {
    pub fn validation(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self::Validation {
            field: field.into(),
            message: message.into(),
        }
    }

    pub fn conflict(message: impl Into<String>) -> Self {
        Self::Conflict {
            code: "conflict",
            message: message.into(),
            details: None,
        }
    }

    pub fn not_found(what: impl Into<String>) -> Self {
        Self::NotFound(what.into())
    }

    pub fn code(&self) -> &'static str {
        match self {
            Self::BadRequest(_) => "bad_request",
            Self::Unauthorized => "unauthorized",
            Self::Forbidden(_) => "forbidden",
            Self::NotFound(_) => "not_found",
            Self::Conflict { code, .. } => code,
            Self::MethodNotAllowed(_) => "method_not_allowed",
            Self::PayloadTooLarge { .. } => "payload_too_large",
            Self::TooManyRequests { .. } => "too_many_requests",
            Self::Validation { .. } => "validation_failed",
            Self::Unavailable(_) => "unavailable",
            Self::Internal(_) => "internal",
        }
    }

    fn details(&self) -> Option<Value> {
        match self {
            Self::Conflict { details, .. } => details.clone(),
            Self::Validation { field, .. } => Some(serde_json::json!({ "field": field })),
            _ => None,
        }
    }
}

/// Unexpected failures are internal unless the database could not be reached at all.
impl From<anyhow::Error> for ApiError {
    fn from(err: anyhow::Error) -> Self {
        if crate::db::is_unavailable(&err) {
            Self::Unavailable(err)
        } else {
            Self::Internal(err)
        }
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        match self {
            Self::BadRequest(_) => StatusCode::BAD_REQUEST,
            Self::Unauthorized => StatusCode::UNAUTHORIZED,
            Self::Forbidden(_) => StatusCode::FORBIDDEN,
            Self::NotFound(_) => StatusCode::NOT_FOUND,
            Self::Conflict { .. } => StatusCode::CONFLICT,
            Self::MethodNotAllowed(_) => StatusCode::METHOD_NOT_ALLOWED,
            Self::PayloadTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            Self::TooManyRequests { .. } => StatusCode::TOO_MANY_REQUESTS,
            Self::Validation { .. } => StatusCode::UNPROCESSABLE_ENTITY,
            Self::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            Self::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_response(&self) -> HttpResponse {
        if let Self::Unavailable(cause) | Self::Internal(cause) = self {
            tracing::error!(error.code = self.code(), error.cause = ?cause, "request failed");
        }
        let mut response = HttpResponse::build(self.status_code());
        if matches!(self, Self::Unauthorized) {
            response.insert_header(("WWW-Authenticate", "Bearer"));
        }
        if let Self::TooManyRequests { retry_after } = self {
            response.insert_header(("Retry-After", retry_after.to_string()));
        }
        response.json(ErrorBody {
            error: self.code().to_owned(),
            message: self.to_string(),
            details: self.details(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::body::to_bytes;

    #[actix_web::test]
    async fn internal_errors_hide_their_cause() {
        let err = ApiError::Internal(anyhow::anyhow!("relation \"orders\" does not exist"));
        assert_eq!(err.status_code(), StatusCode::INTERNAL_SERVER_ERROR);
        let body = to_bytes(err.error_response().into_body()).await.unwrap();
        let text = String::from_utf8(body.to_vec()).unwrap();
        assert!(!text.contains("relation"), "{text}");
        let body: ErrorBody = serde_json::from_str(&text).unwrap();
        assert_eq!(body.error, "internal");
    }

    #[actix_web::test]
    async fn validation_names_the_field() {
        let err = ApiError::validation("quantity", "must be positive");
        assert_eq!(err.status_code(), StatusCode::UNPROCESSABLE_ENTITY);
        let body = to_bytes(err.error_response().into_body()).await.unwrap();
        let body: ErrorBody = serde_json::from_slice(&body).unwrap();
        assert_eq!(body.error, "validation_failed");
        assert_eq!(body.details.unwrap()["field"], "quantity");
    }
}
