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
                JsonPayloadError::Overflow { .. } | JsonPayloadError::OverflowKnownLength { .. } => {
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
pub async fn not_found() -> ApiError {
    ApiError::NotFound("no such endpoint".into())
}
