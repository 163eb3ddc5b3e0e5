//! The signed REST client: parameters in the query string, `timestamp` and `recvWindow`
//! added, the HMAC-SHA256 `signature` of that query string under the secret key (hex),
//! the API key in `X-MBX-APIKEY` — Binance's "SIGNED Endpoint security". Answers are
//! sorted into what the adapter must do with them ([`CallError`]); nothing here logs a
//! query string (it carries the signature) or a key.

use std::time::Duration;

use aws_lc_rs::hmac;
use reqwest::{Method, StatusCode};
use serde::de::DeserializeOwned;
use serde_json::Value;

use super::config::{BinanceConfig, Credentials};
use crate::{BrokerError, BrokerResult};

/// The hex HMAC-SHA256 of `payload` under `secret` (Binance's HMAC signature).
pub(crate) fn sign(secret: &str, payload: &str) -> String {
    let key = hmac::Key::new(hmac::HMAC_SHA256, secret.as_bytes());
    hex::encode(hmac::sign(&key, payload.as_bytes()).as_ref())
}

/// Why a call did not give an answer to use.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum CallError {
    /// Binance answered with a refusal (its HTTP status, error code and message).
    Refused {
        status: u16,
        code: i64,
        msg: String,
        retry_after: Option<u64>,
        /// `data` of a failed `cancelReplace`: what happened to each half.
        data: Option<Value>,
    },
    /// Binance answered 5xx: by its docs the request may still have been executed.
    ServerError(String),
    /// The request may have reached Binance, but no usable answer came back (a timeout,
    /// a dropped connection, an unreadable body).
    NoAnswer(String),
    /// The request never left (no connection).
    NotSent(String),
}

impl CallError {
    /// The port's error for a request that changes nothing at Binance (a read), or for a
    /// refusal.
    pub fn into_broker(self) -> BrokerError {
        match self {
            CallError::Refused {
                status,
                code,
                msg,
                retry_after,
                ..
            } => refusal(status, code, msg, retry_after),
            CallError::ServerError(m) | CallError::NoAnswer(m) | CallError::NotSent(m) => {
                BrokerError::Unavailable(m)
            }
        }
    }

    /// Binance's error code, for a refusal.
    pub fn code(&self) -> Option<i64> {
        match self {
            CallError::Refused { code, .. } => Some(*code),
            _ => None,
        }
    }
}

/// Binance's refusals in the port's terms (`errors.md`).
fn refusal(status: u16, code: i64, msg: String, retry_after: Option<u64>) -> BrokerError {
    match (status, code) {
        // 429: over a rate limit; 418: banned for ignoring 429s. `Retry-After` is sent
        // with both; a second is the least anyone should wait if it is not.
        (429 | 418, _) => BrokerError::RateLimited {
            retry_after: retry_after.unwrap_or(1),
        },
        // The key: unknown, without the permission, from an IP it is not allowed from
        // (-2015), malformed (-2014); the signature (-1022); not authorized (-1002).
        (401, _) | (_, -2015 | -2014 | -1022 | -1002) => BrokerError::Unauthorized(msg),
        (_, -2013) => BrokerError::NotFound(msg),
        (_, -2011) if msg == "Unknown order sent." => BrokerError::NotFound(msg),
        _ => BrokerError::Rejected(msg),
    }
}

/// The REST half of the adapter.
#[derive(Debug, Clone)]
pub(crate) struct Rest {
    client: reqwest::Client,
    base: String,
    credentials: Credentials,
    recv_window_ms: u32,
    clock: domain::Clock,
}

impl Rest {
    pub fn new(config: &BinanceConfig) -> BrokerResult<Self> {
        let client = reqwest::Client::builder()
            .timeout(config.timeout)
            .connect_timeout(config.timeout.min(Duration::from_secs(10)))
            .build()
            .map_err(|e| BrokerError::Unavailable(format!("an HTTP client: {e}")))?;
        Ok(Rest {
            client,
            base: config.endpoints.rest.trim_end_matches('/').to_string(),
            credentials: config.credentials.clone(),
            recv_window_ms: config.recv_window_ms,
            clock: config.clock.clone(),
        })
    }

    pub fn credentials(&self) -> &Credentials {
        &self.credentials
    }

    pub fn now_ms(&self) -> i64 {
        self.clock.now().nanos() / 1_000_000
    }

    /// `params` with `recvWindow` and `timestamp`, encoded, and its signature appended.
    pub fn signed_query(&self, params: &[(&str, String)]) -> String {
        let mut query = url::form_urlencoded::Serializer::new(String::new());
        for (name, value) in params {
            query.append_pair(name, value);
        }
        query.append_pair("recvWindow", &self.recv_window_ms.to_string());
        query.append_pair("timestamp", &self.now_ms().to_string());
        let query = query.finish();
        let signature = sign(&self.credentials.secret_key, &query);
        format!("{query}&signature={signature}")
    }

    /// A SIGNED request; its JSON answer as `T`.
    pub async fn signed<T: DeserializeOwned>(
        &self,
        method: Method,
        path: &str,
        params: &[(&str, String)],
    ) -> Result<T, CallError> {
        let url = format!("{}{path}?{}", self.base, self.signed_query(params));
        let request = self
            .client
            .request(method.clone(), url)
            .header("X-MBX-APIKEY", &self.credentials.api_key);
        self.send(request, &method, path).await
    }

    async fn send<T: DeserializeOwned>(
        &self,
        request: reqwest::RequestBuilder,
        method: &Method,
        path: &str,
    ) -> Result<T, CallError> {
        let response = request.send().await.map_err(|e| {
            // Not the error's text: it carries the URL, and so the signature.
            let what = if e.is_timeout() {
                "timed out"
            } else if e.is_connect() {
                "could not connect"
            } else {
                "failed"
            };
            tracing::debug!(%method, path, what, "binance request without an answer");
            // A connect error (refused, unreachable, or timed out connecting): never sent.
            if e.is_connect() {
                CallError::NotSent(format!("{method} {path}: {what}"))
            } else {
                CallError::NoAnswer(format!("{method} {path}: {what}"))
            }
        })?;
        let status = response.status();
        let retry_after = response
            .headers()
            .get(reqwest::header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse().ok());
        let body = response
            .bytes()
            .await
            .map_err(|_| CallError::NoAnswer(format!("{method} {path}: the answer broke off")))?;
        if status.is_success() {
            return serde_json::from_slice(&body).map_err(|e| {
                CallError::NoAnswer(format!("{method} {path}: an unreadable answer ({e})"))
            });
        }
        tracing::debug!(%method, path, status = status.as_u16(), "binance refused");
        if status.is_server_error() {
            return Err(CallError::ServerError(format!(
                "{method} {path}: binance answered {status}"
            )));
        }
        let error: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
        Err(CallError::Refused {
            status: status.as_u16(),
            code: error["code"].as_i64().unwrap_or_default(),
            msg: error["msg"]
                .as_str()
                .map(str::to_string)
                .unwrap_or_else(|| status_text(status)),
            retry_after,
            data: error.get("data").cloned(),
        })
    }
}

fn status_text(status: StatusCode) -> String {
    format!(
        "binance answered {status} {}",
        status.canonical_reason().unwrap_or_default()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `rest-api.md`, "SIGNED Endpoint Examples for POST /api/v3/order", HMAC keys.
    #[test]
    fn signs_the_documented_example() {
        let secret = "NhqPtmdSJYdKjVHjA7PZj4Mge3R5YNiP1e3UZjInClVN65XAbvqqM6A7H5fATj0j";
        let payload = "symbol=LTCBTC&side=BUY&type=LIMIT&timeInForce=GTC&quantity=1&price=0.1\
                       &recvWindow=5000&timestamp=1499827319559";
        assert_eq!(
            sign(secret, payload),
            "c8db56825ae71d6d79447849e617115f4a920fa2acdcab2b053c4b2838bd6b71"
        );
    }

    /// The same request built by the client, at the documented time.
    #[test]
    fn the_client_builds_the_documented_query() {
        let config = BinanceConfig::new(
            super::super::config::Endpoints::at("http://127.0.0.1:1"),
            Credentials {
                api_key: "vmPUZE6mv9SD5VNHk4HlWFsOr6aKE2zvsw0MuIgwCIPy6utIco14y7Ju91duEh8A".into(),
                secret_key: "NhqPtmdSJYdKjVHjA7PZj4Mge3R5YNiP1e3UZjInClVN65XAbvqqM6A7H5fATj0j"
                    .into(),
            },
        )
        .with_clock(domain::Clock::from_fn(|| {
            domain::Timestamp::from_nanos(1_499_827_319_559 * 1_000_000)
        }));
        let rest = Rest::new(&config).expect("a client");
        let query = rest.signed_query(&[
            ("symbol", "LTCBTC".into()),
            ("side", "BUY".into()),
            ("type", "LIMIT".into()),
            ("timeInForce", "GTC".into()),
            ("quantity", "1".into()),
            ("price", "0.1".into()),
        ]);
        assert_eq!(
            query,
            "symbol=LTCBTC&side=BUY&type=LIMIT&timeInForce=GTC&quantity=1&price=0.1\
             &recvWindow=5000&timestamp=1499827319559\
             &signature=c8db56825ae71d6d79447849e617115f4a920fa2acdcab2b053c4b2838bd6b71"
        );
    }

    #[test]
    fn refusals_map_to_the_ports_errors() {
        let unauthorized = refusal(
            401,
            -2015,
            "Invalid API-key, IP, or permissions for action.".into(),
            None,
        );
        assert_eq!(
            unauthorized,
            BrokerError::Unauthorized("Invalid API-key, IP, or permissions for action.".into())
        );
        assert!(matches!(
            refusal(
                400,
                -1022,
                "Signature for this request is not valid.".into(),
                None
            ),
            BrokerError::Unauthorized(_)
        ));
        assert_eq!(
            refusal(429, -1003, "Too much request weight used".into(), Some(7)),
            BrokerError::RateLimited { retry_after: 7 }
        );
        assert_eq!(
            refusal(418, -1003, "banned".into(), Some(120)),
            BrokerError::RateLimited { retry_after: 120 }
        );
        assert!(matches!(
            refusal(400, -2013, "Order does not exist.".into(), None),
            BrokerError::NotFound(_)
        ));
        assert!(matches!(
            refusal(400, -2011, "Unknown order sent.".into(), None),
            BrokerError::NotFound(_)
        ));
        assert!(matches!(
            refusal(
                400,
                -2011,
                "Order was not canceled due to cancel restrictions.".into(),
                None
            ),
            BrokerError::Rejected(_)
        ));
        assert_eq!(
            refusal(400, -2010, "Duplicate order sent.".into(), None),
            BrokerError::Rejected("Duplicate order sent.".into())
        );
    }
}
