//! `Body<T>`: a JSON request body parsed once into its domain types (see [`crate::domain`]).
//!
//! serde_path_to_error (by serde's author) keeps the path of the value that failed, so a value a type
//! refuses answers 422 `validation_failed` naming its field (`field: "quantity"`, and where it is,
//! `items[1].quantity`, in the message); malformed JSON, a wrong content type or an oversized body are
//! 400 `bad_request`, as with actix's own `Json`.

use actix_web::dev::Payload;
use actix_web::{FromRequest, HttpMessage, HttpRequest, web};
use futures_util::future::LocalBoxFuture;
use serde::de::DeserializeOwned;
use serde_path_to_error::Segment;

use crate::error::ApiError;

/// The largest body a service reads.
pub const BODY_LIMIT: usize = 256 * 1024;

pub struct Body<T>(pub T);

impl<T> Body<T> {
    pub fn into_inner(self) -> T {
        self.0
    }
}

impl<T> std::ops::Deref for Body<T> {
    type Target = T;

    fn deref(&self) -> &T {
        &self.0
    }
}

impl<T: DeserializeOwned + 'static> FromRequest for Body<T> {
    type Error = ApiError;
    type Future = LocalBoxFuture<'static, Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let is_json = req.mime_type().ok().flatten().is_some_and(|mime| {
            mime.subtype() == "json" || mime.suffix().is_some_and(|s| s == "json")
        });
        let bytes = web::Bytes::from_request(req, payload);
        Box::pin(async move {
            if !is_json {
                return Err(ApiError::BadRequest(
                    "expected Content-Type: application/json".into(),
                ));
            }
            let bytes = bytes.await.map_err(|e| {
                ApiError::BadRequest(match e.as_response_error().status_code().as_u16() {
                    413 => "request body is too large".into(),
                    _ => format!("could not read the request body: {e}"),
                })
            })?;
            parse(&bytes).map(Body)
        })
    }
}

/// Parses `bytes` as a `T`, answering as [`Body`] does.
pub fn parse<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    let mut deserializer = serde_json::Deserializer::from_slice(bytes);
    let value = serde_path_to_error::deserialize(&mut deserializer).map_err(|e| {
        let path = e.path().clone();
        let error = e.into_inner();
        if !error.is_data() {
            return ApiError::BadRequest(format!("malformed JSON body: {error}"));
        }
        let message = without_position(&error.to_string());
        let field = named_in(&message)
            .map(str::to_owned)
            .or_else(|| {
                path.iter().rev().find_map(|segment| match segment {
                    Segment::Map { key } => Some(key.clone()),
                    _ => None,
                })
            })
            .unwrap_or_else(|| "body".to_owned());
        // The answer reads "field: message"; a field inside a list also says which one.
        let location = path.to_string();
        if location == "." || location == field {
            ApiError::validation(field, message)
        } else {
            ApiError::validation(field, format!("{message} (at {location})"))
        }
    })?;
    deserializer
        .end()
        .map_err(|e| ApiError::BadRequest(format!("malformed JSON body: {e}")))?;
    Ok(value)
}

/// serde_json's message without its " at line L column C" (the path says where).
fn without_position(message: &str) -> String {
    match message.rsplit_once(" at line ") {
        Some((text, position)) if position.contains(" column ") => text.to_owned(),
        _ => message.to_owned(),
    }
}

/// The field a missing- or unknown-field message names (it is not in the path: the path is the object).
fn named_in(message: &str) -> Option<&str> {
    let rest = message
        .strip_prefix("missing field `")
        .or_else(|| message.strip_prefix("unknown field `"))?;
    rest.split('`').next()
}

#[cfg(test)]
mod tests {
    use serde::Deserialize;

    use super::parse;
    use crate::domain::Quantity;
    use crate::error::ApiError;

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Line {
        #[allow(dead_code)] // read through Debug only
        quantity: Quantity,
    }

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Sale {
        #[allow(dead_code)] // read through Debug only
        items: Vec<Line>,
    }

    fn refusal(json: &str) -> (String, String) {
        match parse::<Sale>(json.as_bytes()) {
            Err(ApiError::Validation { field, message }) => (field, message),
            other => panic!("not a validation error: {other:?}"),
        }
    }

    #[test]
    fn a_refused_value_names_its_field_and_path() {
        let (field, message) = refusal(r#"{"items": [{"quantity": 1}, {"quantity": 0}]}"#);
        assert_eq!(field, "quantity");
        assert_eq!(
            message,
            "must be a whole number between 1 and 100000 (at items[1].quantity)"
        );
        assert_eq!(refusal(r#"{}"#).0, "items");
        assert_eq!(refusal(r#"{"items": [], "extra": 1}"#).0, "extra");
    }

    #[test]
    fn malformed_json_is_a_bad_request() {
        assert!(matches!(
            parse::<Sale>(b"{\"items\": ["),
            Err(ApiError::BadRequest(_))
        ));
        assert!(matches!(
            parse::<Sale>(b"{\"items\": []} x"),
            Err(ApiError::BadRequest(_))
        ));
    }
}
