//! `Body<T>`: a JSON request body parsed once into its domain types (see [`crate::domain`]); `Query<T>`:
//! the query string, likewise.
//!
//! serde_path_to_error (by serde's author) keeps the path of the value that failed, so a value a type
//! refuses answers 422 `validation_failed` naming its field (`field: "quantity"`, and where it is,
//! `items[1].quantity`, in the message); malformed JSON or a wrong content type is 400 `bad_request`,
//! a body over [`BODY_LIMIT`] 413 `payload_too_large`.

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
        let bytes = json_bytes(req, payload);
        Box::pin(async move { parse(&bytes.await?).map(Body) })
    }
}

/// The bytes of a JSON request body: 400 for another content type, 413 over [`BODY_LIMIT`].
pub(crate) fn json_bytes(
    req: &HttpRequest,
    payload: &mut Payload,
) -> impl std::future::Future<Output = Result<web::Bytes, ApiError>> + 'static {
    let is_json =
        req.mime_type().ok().flatten().is_some_and(|mime| {
            mime.subtype() == "json" || mime.suffix().is_some_and(|s| s == "json")
        });
    let bytes = web::Bytes::from_request(req, payload);
    async move {
        if !is_json {
            return Err(ApiError::BadRequest(
                "expected Content-Type: application/json".into(),
            ));
        }
        bytes
            .await
            .map_err(|e| match e.as_response_error().status_code().as_u16() {
                413 => ApiError::PayloadTooLarge { limit: BODY_LIMIT },
                _ => ApiError::BadRequest(format!("could not read the request body: {e}")),
            })
    }
}

/// A request's query string parsed into `T` (serde_urlencoded, actix's own, under
/// serde_path_to_error). A control character anywhere (a NUL among them) answers 422 naming the
/// parameter, before anything reaches the database; so does a value `T` refuses, an empty one among
/// them (`?phone=` is no phone number: leave the parameter out for "any").
pub struct Query<T>(pub T);

impl<T> std::ops::Deref for Query<T> {
    type Target = T;

    fn deref(&self) -> &T {
        &self.0
    }
}

impl<T: DeserializeOwned> FromRequest for Query<T> {
    type Error = ApiError;
    type Future = std::future::Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        std::future::ready(parse_query(req.query_string()).map(Query))
    }
}

/// Parses a query string as [`Query`] does.
pub fn parse_query<T: DeserializeOwned>(query: &str) -> Result<T, ApiError> {
    let mut whole_written_as_decimal = false;
    for (name, value) in form_urlencoded::parse(query.as_bytes()) {
        if name.chars().chain(value.chars()).any(char::is_control) {
            return Err(ApiError::validation(
                name.into_owned(),
                "must not contain control characters",
            ));
        }
        whole_written_as_decimal |= whole_as_decimal(&value).is_some();
    }
    // `?city_id=1.0` is JSON Schema's integer 1, as in a body: read it as `1`.
    let rewritten;
    let query = if whole_written_as_decimal {
        rewritten = form_urlencoded::Serializer::new(String::new())
            .extend_pairs(
                form_urlencoded::parse(query.as_bytes()).map(|(name, value)| {
                    let value = whole_as_decimal(&value).unwrap_or_else(|| value.into_owned());
                    (name, value)
                }),
            )
            .finish();
        rewritten.as_str()
    } else {
        query
    };
    let deserializer =
        serde_urlencoded::Deserializer::new(form_urlencoded::parse(query.as_bytes()));
    serde_path_to_error::deserialize(deserializer).map_err(|e| {
        let path = e.path().to_string();
        let message = e.into_inner().to_string();
        let field = match path.as_str() {
            "." => named_in(&message).unwrap_or("query").to_owned(),
            _ => path,
        };
        ApiError::validation(field, message)
    })
}

/// The id in a path such as `/customers/{id}`: a positive 32-bit integer. Anything else (`0`, `-3`,
/// `2147483648`, `x`) names no resource: 404 `not_found`, as for an id that is not there.
#[derive(Debug, Clone, Copy)]
pub struct Id(pub i32);

impl std::ops::Deref for Id {
    type Target = i32;

    fn deref(&self) -> &i32 {
        &self.0
    }
}

impl std::fmt::Display for Id {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

impl FromRequest for Id {
    type Error = ApiError;
    type Future = std::future::Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let segment = req.match_info().iter().next().map(|(_, value)| value);
        let id = segment
            .and_then(|text| text.parse::<i32>().ok())
            .filter(|id| *id > 0)
            .map(Id)
            .ok_or_else(|| ApiError::not_found("no such resource"));
        std::future::ready(id)
    }
}

/// `"12.00"` → `"12"`: a whole number written with a zero fraction (no text parameter has that shape:
/// phone numbers, days and names have no such form).
fn whole_as_decimal(value: &str) -> Option<String> {
    let (whole, fraction) = value.split_once('.')?;
    let digits = whole.strip_prefix('-').unwrap_or(whole);
    let shaped = !digits.is_empty()
        && digits.bytes().all(|b| b.is_ascii_digit())
        && !fraction.is_empty()
        && fraction.bytes().all(|b| b == b'0');
    shaped.then(|| whole.to_owned())
}

/// Parses `bytes` as a `T`, answering as [`Body`] does.
pub fn parse<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    if let Some(problem) = array_for_an_object(bytes) {
        return Err(ApiError::validation("body", problem));
    }
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

/// serde reads a struct from a JSON array too (`[null, null]` for a patch of two fields), which no
/// schema of ours allows: every body is an object, and every list in one holds objects or plain values.
/// So a body that is an array, or holds a list inside a list, is refused before it is read. One pass
/// over the bytes, skipping strings.
fn array_for_an_object(bytes: &[u8]) -> Option<&'static str> {
    let mut significant = bytes.iter().copied().filter(|b| !b.is_ascii_whitespace());
    if significant.next() == Some(b'[') {
        return Some("must be a JSON object");
    }
    let (mut in_string, mut escaped, mut after_open_bracket) = (false, false, false);
    for byte in bytes.iter().copied() {
        if in_string {
            match (escaped, byte) {
                (true, _) => escaped = false,
                (false, b'\\') => escaped = true,
                (false, b'"') => in_string = false,
                _ => {}
            }
            continue;
        }
        if byte.is_ascii_whitespace() {
            continue;
        }
        if byte == b'[' && after_open_bracket {
            return Some("a list holds objects or values, never lists");
        }
        after_open_bracket = byte == b'[';
        in_string = byte == b'"';
    }
    None
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

    #[derive(Debug, Deserialize)]
    struct Search {
        phone: Option<String>,
        limit: Option<Quantity>,
    }

    #[test]
    fn a_query_refuses_control_characters_and_values_its_types_refuse() {
        let search: Search = super::parse_query("limit=5.00&phone=%2B92").unwrap();
        assert_eq!(search.phone.as_deref(), Some("+92"));
        let search: Search = super::parse_query("limit=5").unwrap();
        assert_eq!(
            (search.phone, search.limit.map(Quantity::get)),
            (None, Some(5))
        );
        let search: Search = super::parse_query("phone=%2B92%20300").unwrap();
        assert_eq!(search.phone.as_deref(), Some("+92 300"));
        for query in ["phone=12%0034", "phone=%07", "x%00=1"] {
            match super::parse_query::<Search>(query) {
                Err(ApiError::Validation { message, .. }) => {
                    assert_eq!(message, "must not contain control characters", "{query}")
                }
                other => panic!("{query}: {other:?}"),
            }
        }
        for query in ["limit=0", "limit="] {
            match super::parse_query::<Search>(query) {
                Err(ApiError::Validation { field, .. }) => assert_eq!(field, "limit", "{query}"),
                other => panic!("{query}: {other:?}"),
            }
        }
    }

    #[test]
    fn a_struct_written_as_an_array_is_refused() {
        assert_eq!(refusal(r#"[[{"quantity": 1}]]"#).0, "body");
        assert_eq!(refusal(r#"{"items": [[1]]}"#).0, "body");
        // Brackets inside strings are text.
        assert!(super::array_for_an_object(br#"{"name": "[[x]]", "items": []}"#).is_none());
        assert!(super::array_for_an_object(br#"{"name": "a\"[[", "ids": [1, 2]}"#).is_none());
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
