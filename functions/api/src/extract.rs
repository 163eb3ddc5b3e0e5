//! Strict extractors whose errors are [`ApiError`]s naming the field.
//!
//! [`ApiJson`] wants `Content-Type: application/json` (415 otherwise), a body within the
//! limit (413), well-formed JSON (400) and a body of the expected shape (422, with the
//! path of the offending field: `side`, `credentials.api_secret`, or the unknown field a
//! `deny_unknown_fields` type refused). [`ApiQuery`] does the same for query strings.
//!
//! One rule for every request body: it is one JSON object. serde would also read a
//! struct from an array of its fields in order (`["AAPL","buy",…]`); that form is refused
//! with a 422 before any field is read, and error messages never name a Rust type.

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
    // serde_path_to_error writes list items `timeframes[0]`; fields are named
    // `timeframes.0` everywhere else.
    let dotted = path.replace('[', ".").replace(']', "");
    let path = if dotted == "." { "" } else { dotted.as_str() };
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

/// The message without serde's position suffix (` at line 1 column 12`) and without the
/// names of Rust types (`expected struct PlaceBody with 8 elements` says "expected a JSON
/// object").
fn clean(message: &str) -> String {
    let message = match message.find(" at line ") {
        Some(i) => &message[..i],
        None => message,
    };
    let mut out = String::with_capacity(message.len());
    let mut rest = message;
    while let Some(at) = ["struct ", "enum "]
        .iter()
        .filter_map(|kind| rest.find(kind).map(|i| (i, *kind)))
        .min()
    {
        let (i, kind) = at;
        out.push_str(&rest[..i]);
        let after = &rest[i + kind.len()..];
        // The type's name, then an optional " with N element(s)".
        let name_end = after
            .find(|c: char| !(c.is_alphanumeric() || c == '_'))
            .unwrap_or(after.len());
        let mut tail = &after[name_end..];
        if let Some(t) = tail.strip_prefix(" with ") {
            let digits = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
            if digits > 0 {
                let t = &t[digits..];
                tail = t
                    .strip_prefix(" elements")
                    .or_else(|| t.strip_prefix(" element"))
                    .unwrap_or(t);
            }
        }
        if name_end == 0 {
            // Not a type name ("struct" in a field value): keep the word.
            out.push_str(kind);
        } else {
            out.push_str(if kind == "struct " {
                "a JSON object"
            } else {
                "one of the documented values"
            });
        }
        rest = tail;
    }
    out.push_str(rest);
    out
}

/// Parses `bytes` as `T`, with errors as in the module docs.
pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    let first = bytes.iter().find(|b| !b.is_ascii_whitespace());
    if first != Some(&b'{') {
        return Err(
            match serde_json::from_slice::<serde::de::IgnoredAny>(bytes) {
                Ok(_) => ApiError::invalid(vec![FieldError::new(
                    "body",
                    "the body must be a JSON object",
                )]),
                Err(e) => ApiError::bad_request(format!("the body is not valid JSON: {e}")),
            },
        );
    }
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

    #[test]
    fn a_body_is_one_object_never_an_array_of_fields() {
        for body in [r#"["ES", 1, null]"#, "[]", "\"ES\"", "5", "null", " true"] {
            let e = parse_json::<Body>(body.as_bytes()).expect_err(body);
            assert_eq!(e.status.as_u16(), 422, "{body}");
            assert_eq!(e.errors[0].field, "body");
            assert_eq!(e.errors[0].message, "the body must be a JSON object");
        }
        assert_eq!(
            parse_json::<Body>(b"[1,")
                .expect_err("broken")
                .status
                .as_u16(),
            400
        );
        assert_eq!(
            parse_json::<Body>(b"").expect_err("empty").status.as_u16(),
            400
        );
    }

    #[test]
    fn messages_never_name_a_rust_type() {
        let e = parse_json::<Body>(br#"{"symbol":"ES","quantity":1,"nested":5}"#)
            .expect_err("a number for an object");
        let message = &e.errors[0].message;
        assert!(!message.contains("Nested"), "{message}");
        assert!(message.contains("a JSON object"), "{message}");
        assert_eq!(
            clean("invalid length 1, expected struct PlaceBody with 8 elements at line 1 column 3"),
            "invalid length 1, expected a JSON object"
        );
        assert_eq!(
            clean("invalid type: string \"x\", expected enum Role"),
            "invalid type: string \"x\", expected one of the documented values"
        );
        assert_eq!(clean("unknown field `x`"), "unknown field `x`");
    }
}
