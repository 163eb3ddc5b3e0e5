//! The Trading API's REST client: one `reqwest` client with the key headers, a timeout,
//! and the mapping of Alpaca's answers and transport failures onto [`BrokerError`] (see
//! the parent module's docs for the table).

use std::time::Duration;

use domain::{Clock, Timestamp};
use reqwest::header::{HeaderMap, HeaderName, HeaderValue};
use reqwest::{Method, StatusCode};
use serde::de::DeserializeOwned;
use serde_json::Value;
use url::Url;

use super::Credentials;
use crate::{BrokerError, BrokerResult};

/// Whether a request changes anything at Alpaca: a write whose answer is lost leaves its
/// outcome unknown; a read can simply be made again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Effect {
    Read,
    Write,
}

/// See the module docs.
#[derive(Clone)]
pub(crate) struct Rest {
    client: reqwest::Client,
    base: Url,
    clock: Clock,
}

impl std::fmt::Debug for Rest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Rest")
            .field("base", &self.base.as_str())
            .finish_non_exhaustive()
    }
}

fn header(value: &str, what: &str) -> BrokerResult<HeaderValue> {
    let mut value = HeaderValue::from_str(value)
        .map_err(|_| BrokerError::Unauthorized(format!("the {what} is not a valid header")))?;
    // Kept out of any debug output of the request.
    value.set_sensitive(true);
    Ok(value)
}

/// The error body Alpaca sends: `{"code": 40010001, "message": "…"}`.
fn error_body(body: &[u8]) -> (Option<u64>, String) {
    match serde_json::from_slice::<Value>(body) {
        Ok(value) => (
            value.get("code").and_then(Value::as_u64),
            value
                .get("message")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned(),
        ),
        Err(_) => (
            None,
            String::from_utf8_lossy(body).chars().take(200).collect(),
        ),
    }
}

/// Seconds to wait after a 429: `Retry-After` when Alpaca sends it, else the time left
/// until `X-Ratelimit-Reset` (a Unix time in seconds), else one second.
pub(crate) fn retry_after(headers: &HeaderMap, now: Timestamp) -> u64 {
    let number = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<i64>().ok())
    };
    if let Some(seconds) = number("retry-after") {
        return u64::try_from(seconds).unwrap_or(0).max(1);
    }
    if let Some(reset) = number("x-ratelimit-reset") {
        let now = now.nanos().div_euclid(1_000_000_000);
        return u64::try_from(reset.saturating_sub(now)).unwrap_or(0).max(1);
    }
    1
}

/// An Alpaca error answer as a [`BrokerError`].
pub(crate) fn error_for(
    status: StatusCode,
    headers: &HeaderMap,
    body: &[u8],
    effect: Effect,
    now: Timestamp,
) -> BrokerError {
    let (_code, message) = error_body(body);
    let message = if message.is_empty() {
        status.to_string()
    } else {
        message
    };
    match status.as_u16() {
        401 => BrokerError::Unauthorized(message),
        // A 403 on an order request is the account's business (buying power 40310000,
        // pattern day trading 40310100, …): a refusal of that order, not of the key. Off
        // order requests a 403 is about the key.
        403 if effect == Effect::Write => BrokerError::Rejected(message),
        403 => BrokerError::Unauthorized(message),
        404 => BrokerError::NotFound(message),
        429 => BrokerError::RateLimited {
            retry_after: retry_after(headers, now),
        },
        // A gateway timeout may have let the request through.
        504 if effect == Effect::Write => {
            BrokerError::UnknownOutcome(format!("alpaca answered {status}: {message}"))
        }
        500..=599 => BrokerError::Unavailable(format!("alpaca answered {status}: {message}")),
        _ => BrokerError::Rejected(message),
    }
}

impl Rest {
    pub(crate) fn new(
        base: Url,
        credentials: &Credentials,
        timeout: Duration,
        clock: Clock,
    ) -> BrokerResult<Self> {
        let mut headers = HeaderMap::new();
        headers.insert(
            HeaderName::from_static("apca-api-key-id"),
            header(credentials.key_id(), "key id")?,
        );
        headers.insert(
            HeaderName::from_static("apca-api-secret-key"),
            header(credentials.secret_key(), "secret key")?,
        );
        let client = reqwest::Client::builder()
            .default_headers(headers)
            .timeout(timeout)
            .connect_timeout(timeout)
            .user_agent(concat!("stratus/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| BrokerError::Unavailable(format!("cannot build the HTTP client: {e}")))?;
        Ok(Rest {
            client,
            base,
            clock,
        })
    }

    fn url(&self, path: &str, query: &[(&str, &str)]) -> Url {
        let mut url = self.base.clone();
        let joined = format!("{}{path}", self.base.path().trim_end_matches('/'));
        url.set_path(&joined);
        if !query.is_empty() {
            url.query_pairs_mut().extend_pairs(query);
        }
        url
    }

    /// Sends one request; the body of a 2xx answer (empty for a 204).
    async fn send(
        &self,
        method: Method,
        path: &str,
        query: &[(&str, &str)],
        body: Option<&Value>,
        effect: Effect,
    ) -> BrokerResult<Vec<u8>> {
        let what = format!("{method} {path}");
        let mut request = self.client.request(method, self.url(path, query));
        if let Some(body) = body {
            request = request.json(body);
        }
        let lost = |e: reqwest::Error| {
            let e = e.without_url();
            // Nothing was sent when the connection could not be made.
            if e.is_connect() || effect == Effect::Read {
                BrokerError::Unavailable(format!("{what}: {e}"))
            } else {
                BrokerError::UnknownOutcome(format!("{what}: {e}"))
            }
        };
        let response = request.send().await.map_err(lost)?;
        let status = response.status();
        let headers = response.headers().clone();
        let bytes = response.bytes().await.map_err(lost)?;
        if status.is_success() {
            Ok(bytes.to_vec())
        } else {
            let error = error_for(status, &headers, &bytes, effect, self.clock.now());
            tracing::debug!(request = %what, %status, error = %error, "alpaca refused");
            Err(error)
        }
    }

    /// A request whose answer is a JSON document.
    pub(crate) async fn json<T: DeserializeOwned>(
        &self,
        method: Method,
        path: &str,
        query: &[(&str, &str)],
        body: Option<&Value>,
        effect: Effect,
    ) -> BrokerResult<T> {
        let bytes = self.send(method.clone(), path, query, body, effect).await?;
        serde_json::from_slice(&bytes).map_err(|e| {
            let message = format!("{method} {path}: alpaca's answer is not understood: {e}");
            tracing::warn!(%message, "malformed answer");
            // A write that was answered took effect, whatever the answer says.
            match effect {
                Effect::Read => BrokerError::Unavailable(message),
                Effect::Write => BrokerError::UnknownOutcome(message),
            }
        })
    }

    /// A request whose answer has no body to read (`DELETE /v2/orders/{id}`: 204).
    pub(crate) async fn empty(
        &self,
        method: Method,
        path: &str,
        effect: Effect,
    ) -> BrokerResult<()> {
        self.send(method, path, &[], None, effect).await.map(|_| ())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.insert(*name, HeaderValue::from_str(value).expect("header"));
        }
        map
    }

    #[test]
    fn answers_map_onto_the_port_errors() {
        let now = Timestamp::from_secs(1_700_000_000);
        let none = HeaderMap::new();
        let body = |code: u64, message: &str| {
            serde_json::json!({"code": code, "message": message})
                .to_string()
                .into_bytes()
        };
        let cases = [
            (
                401,
                body(40110000, "request is not authorized"),
                Effect::Read,
                BrokerError::Unauthorized("request is not authorized".into()),
            ),
            (
                403,
                body(40310000, "insufficient buying power"),
                Effect::Write,
                BrokerError::Rejected("insufficient buying power".into()),
            ),
            (
                403,
                body(
                    40310100,
                    "trade denied due to pattern day trading protection",
                ),
                Effect::Write,
                BrokerError::Rejected("trade denied due to pattern day trading protection".into()),
            ),
            (
                403,
                body(40310000, "forbidden"),
                Effect::Read,
                BrokerError::Unauthorized("forbidden".into()),
            ),
            (
                404,
                body(40410000, "order not found"),
                Effect::Read,
                BrokerError::NotFound("order not found".into()),
            ),
            (
                422,
                body(40010001, "client_order_id must be unique"),
                Effect::Write,
                BrokerError::Rejected("client_order_id must be unique".into()),
            ),
            (
                500,
                b"oops".to_vec(),
                Effect::Write,
                BrokerError::Unavailable("alpaca answered 500 Internal Server Error: oops".into()),
            ),
            (
                504,
                Vec::new(),
                Effect::Write,
                BrokerError::UnknownOutcome(
                    "alpaca answered 504 Gateway Timeout: 504 Gateway Timeout".into(),
                ),
            ),
            (
                504,
                Vec::new(),
                Effect::Read,
                BrokerError::Unavailable(
                    "alpaca answered 504 Gateway Timeout: 504 Gateway Timeout".into(),
                ),
            ),
        ];
        for (status, body, effect, expected) in cases {
            let status = StatusCode::from_u16(status).expect("status");
            assert_eq!(
                error_for(status, &none, &body, effect, now),
                expected,
                "{status}"
            );
        }
    }

    #[test]
    fn rate_limits_say_how_long_to_wait() {
        let now = Timestamp::from_secs(1_700_000_000);
        assert_eq!(retry_after(&headers(&[("retry-after", "7")]), now), 7);
        let reset = headers(&[("x-ratelimit-reset", "1700000012")]);
        assert_eq!(retry_after(&reset, now), 12);
        let past = headers(&[("x-ratelimit-reset", "1600000000")]);
        assert_eq!(retry_after(&past, now), 1);
        assert_eq!(retry_after(&HeaderMap::new(), now), 1);
        assert_eq!(retry_after(&headers(&[("retry-after", "soon")]), now), 1);
    }
}
