//! `Idempotency-Key` on creates (the IETF httpapi draft's header): a client that lost the answer to a
//! POST sends it again with the same key and gets the first answer, instead of a second row. The key
//! is kept with a fingerprint of the request (method, path and the body's JSON, whatever its key order
//! or spacing); the same key with another request is refused (409 `idempotency_mismatch`), as a sale's
//! key is.

use std::sync::LazyLock;

use actix_web::dev::Payload;
use actix_web::{FromRequest, HttpRequest};
use futures_util::future::LocalBoxFuture;
use regex::Regex;
use serde::de::DeserializeOwned;
use sha2::{Digest, Sha256};

use crate::error::ApiError;
use crate::extract::{json_bytes, parse};

pub const HEADER: &str = "Idempotency-Key";
/// The header a replayed answer carries.
pub const REPLAYED_HEADER: &str = "Idempotent-Replayed";
/// What a key may be: 1 to 255 visible ASCII characters (a UUID is the usual choice).
pub const PATTERN: &str = "^[!-~]{1,255}$";

static RULE: LazyLock<Regex> = LazyLock::new(|| {
    #[allow(clippy::expect_used)] // a constant, compiled by the tests
    Regex::new(PATTERN).expect("the key pattern compiles")
});

/// A client's key and the fingerprint of the request it came with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdempotencyKey {
    pub key: String,
    pub fingerprint: [u8; 32],
}

/// A JSON body (as [`crate::extract::Body`] reads it) and the request's `Idempotency-Key`, if any.
pub struct Idempotent<T> {
    pub body: T,
    pub key: Option<IdempotencyKey>,
}

/// The header as the OpenAPI documents give it (documentation only).
#[derive(utoipa::IntoParams)]
#[into_params(parameter_in = Header)]
pub struct IdempotencyKeyHeader {
    /// Makes the create safe to retry: the same key with the same request answers what the first did
    /// (with `Idempotent-Replayed: true`); with another request, 409 `idempotency_mismatch`.
    #[param(rename = "Idempotency-Key", pattern = "^[!-~]{1,255}$")]
    pub key: Option<String>,
}

fn key_of(req: &HttpRequest) -> Result<Option<String>, ApiError> {
    let Some(value) = req.headers().get(HEADER) else {
        return Ok(None);
    };
    match value.to_str() {
        Ok(key) if RULE.is_match(key) => Ok(Some(key.to_owned())),
        _ => Err(ApiError::validation(
            HEADER,
            "must be 1 to 255 visible ASCII characters",
        )),
    }
}

/// The request's fingerprint: its method, its path and its body as canonical JSON (serde_json's map
/// is ordered by key, so `{"a":1,"b":2}` and `{ "b": 2, "a": 1 }` are the same request).
fn fingerprint(method: &str, path: &str, body: &serde_json::Value) -> [u8; 32] {
    Sha256::new()
        .chain_update(method.as_bytes())
        .chain_update([0])
        .chain_update(path.as_bytes())
        .chain_update([0])
        .chain_update(body.to_string().as_bytes())
        .finalize()
        .into()
}

impl<T: DeserializeOwned + 'static> FromRequest for Idempotent<T> {
    type Error = ApiError;
    type Future = LocalBoxFuture<'static, Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let key = key_of(req);
        let (method, path) = (req.method().to_string(), req.path().to_owned());
        let bytes = json_bytes(req, payload);
        Box::pin(async move {
            let bytes = bytes.await?;
            let body: T = parse(&bytes)?;
            let key = match key? {
                None => None,
                Some(key) => {
                    // `parse` took the body: it is JSON.
                    let value: serde_json::Value = serde_json::from_slice(&bytes)
                        .map_err(|e| ApiError::BadRequest(e.to_string()))?;
                    Some(IdempotencyKey {
                        key,
                        fingerprint: fingerprint(&method, &path, &value),
                    })
                }
            };
            Ok(Self { body, key })
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_fingerprint_ignores_key_order_and_spacing_but_not_values_or_paths() {
        let a: serde_json::Value = serde_json::from_str(r#"{"name":"Tea","city_id":1}"#).unwrap();
        let b: serde_json::Value =
            serde_json::from_str(r#"{ "city_id": 1,  "name": "Tea" }"#).unwrap();
        assert_eq!(
            fingerprint("POST", "/stores", &a),
            fingerprint("POST", "/stores", &b)
        );
        assert_ne!(
            fingerprint("POST", "/stores", &a),
            fingerprint("POST", "/customers", &a)
        );
        assert_ne!(
            fingerprint("POST", "/stores", &a),
            fingerprint("POST", "/stores", &json!({"name": "Tea", "city_id": 2}))
        );
    }

    #[test]
    fn a_key_is_visible_ascii_of_at_most_255() {
        assert!(RULE.is_match("3f0c2a4e-8d5b-4f43-9a1e-6f7d0b2c9e11"));
        assert!(RULE.is_match(&"k".repeat(255)));
        assert!(!RULE.is_match(&"k".repeat(256)));
        assert!(!RULE.is_match(""));
        assert!(!RULE.is_match("a key"));
        assert!(!RULE.is_match("clé"));
    }

    #[test]
    fn the_document_states_the_same_pattern() {
        use utoipa::IntoParams;
        let params = IdempotencyKeyHeader::into_params(|| None);
        let param = serde_json::to_value(&params[0]).unwrap();
        assert_eq!(param["name"], HEADER);
        assert_eq!(param["in"], "header");
        assert_eq!(param["schema"]["pattern"], PATTERN);
    }
}
