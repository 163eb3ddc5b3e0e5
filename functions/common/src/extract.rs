//! Strict extractors whose errors are [`ApiError`]s naming the field.
//!
//! [`ApiJson`] wants `Content-Type: application/json` (415 otherwise), a body within the
//! limit (413), well-formed JSON (400) and a body of the expected shape (422, with the
//! path of the offending field: `side`, `credentials.api_secret`, or the unknown field a
//! `deny_unknown_fields` type refused). [`ApiQuery`] does the same for query strings.

use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::header;
use axum::http::request::Parts;
use serde::de::DeserializeOwned;

use crate::error::{ApiError, FieldError};

/// A JSON body of type `T`. See the module docs.
#[derive(Debug, Clone)]
pub struct ApiJson<T>(pub T);

/// A query string of type `T`. See the module docs.
#[derive(Debug, Clone)]
pub struct ApiQuery<T>(pub T);

/// The field a serde error is about: its path, or the field named in the message
/// (`unknown field `x``, `missing field `x``), joined with the path of its parent.
fn field_of(path: &str, message: &str) -> String {
    let named = ["unknown field `", "missing field `", "duplicate field `"]
        .iter()
        .find_map(|prefix| {
            let start = message.find(prefix)? + prefix.len();
            let end = message[start..].find('`')?;
            Some(&message[start..start + end])
        });
    let path = if path == "." { "" } else { path };
    if let Some(name) = named {
        if path == name || path.ends_with(&format!(".{name}")) {
            return path.to_owned();
        }
    }
    match (named, path.is_empty()) {
        (Some(name), true) => name.to_owned(),
        (Some(name), false) => format!("{path}.{name}"),
        (None, true) => "body".to_owned(),
        (None, false) => path.to_owned(),
    }
}

/// The message without serde's position suffix (` at line 1 column 12`).
fn clean(message: &str) -> String {
    match message.find(" at line ") {
        Some(i) => message[..i].to_owned(),
        None => message.to_owned(),
    }
}

/// Parses `bytes` as `T`, with errors as in the module docs.
pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let result: Result<T, _> = serde_path_to_error::deserialize(&mut de);
    let value = match result {
        Ok(v) => v,
        Err(e) => {
            let path = e.path().to_string();
            let inner = e.into_inner();
            return Err(match inner.classify() {
                serde_json::error::Category::Syntax | serde_json::error::Category::Eof => {
                    ApiError::bad_request(format!("the body is not valid JSON: {inner}"))
                }
                serde_json::error::Category::Io => ApiError::bad_request(inner.to_string()),
                serde_json::error::Category::Data => {
                    let message = clean(&inner.to_string());
                    ApiError::invalid(vec![FieldError::new(field_of(&path, &message), message)])
                }
            });
        }
    };
    de.end()
        .map_err(|e| ApiError::bad_request(format!("the body is not valid JSON: {e}")))?;
    Ok(value)
}

impl<T, S> FromRequest<S> for ApiJson<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let is_json = req
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(';').next())
            .map(|v| {
                let v = v.trim();
                v.eq_ignore_ascii_case("application/json")
                    || (v.starts_with("application/") && v.ends_with("+json"))
            })
            .unwrap_or(false);
        if !is_json {
            return Err(ApiError::unsupported_media_type(
                "send the body as JSON with Content-Type: application/json",
            ));
        }
        let limit = req
            .extensions()
            .get::<crate::http::BodyLimit>()
            .map(|l| l.0)
            .unwrap_or(64 * 1024);
        let bytes = Bytes::from_request(req, state).await.map_err(|rejection| {
            if rejection.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE {
                ApiError::payload_too_large(limit)
            } else {
                ApiError::bad_request(format!("the body could not be read: {rejection}"))
            }
        })?;
        parse_json(&bytes).map(ApiJson)
    }
}

impl<T, S> FromRequestParts<S> for ApiQuery<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let query = parts.uri.query().unwrap_or_default();
        let de = serde_urlencoded::Deserializer::new(form_urlencoded::parse(query.as_bytes()));
        serde_path_to_error::deserialize(de)
            .map(ApiQuery)
            .map_err(|e| {
                let path = e.path().to_string();
                let message = clean(&e.into_inner().to_string());
                ApiError::bad_query(field_of(&path, &message), message)
            })
    }
}

/// A `limit` query parameter: `default` when absent, else 1 to `max` (400 otherwise).
pub fn page_limit(value: Option<usize>, default: usize, max: usize) -> Result<usize, ApiError> {
    let limit = value.unwrap_or(default);
    if (1..=max).contains(&limit) {
        Ok(limit)
    } else {
        Err(ApiError::bad_query("limit", format!("must be 1 to {max}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Body {
        symbol: String,
        quantity: u32,
        nested: Option<Nested>,
    }

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Nested {
        key: String,
    }

    fn field(bytes: &str) -> (u16, String) {
        let e = parse_json::<Body>(bytes.as_bytes()).expect_err("invalid");
        let field = e
            .errors
            .first()
            .map(|f| f.field.clone())
            .unwrap_or_default();
        (e.status.as_u16(), field)
    }

    #[test]
    fn errors_name_the_field() {
        assert_eq!(
            field(r#"{"symbol":"ES","quantity":"x"}"#),
            (422, "quantity".into())
        );
        assert_eq!(field(r#"{"quantity":1}"#), (422, "symbol".into()));
        assert_eq!(
            field(r#"{"symbol":"ES","quantity":1,"user_id":"u"}"#),
            (422, "user_id".into())
        );
        assert_eq!(
            field(r#"{"symbol":"ES","quantity":1,"nested":{"key":1}}"#),
            (422, "nested.key".into())
        );
        assert_eq!(
            field(r#"{"symbol":"ES","quantity":1,"nested":{"key":"k","x":1}}"#),
            (422, "nested.x".into())
        );
        assert_eq!(field(r#"{"symbol":"ES","#).0, 400);
        assert_eq!(field(r#"{"symbol":"ES","quantity":1} trailing"#).0, 400);
        assert_eq!(field("[]").0, 422);
    }
}
