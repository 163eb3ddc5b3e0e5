//! Alpaca: [`AlpacaBroker`] (the [`Broker`](crate::Broker) port over the Trading API v2
//! and its `trade_updates` stream) and [`AlpacaMarketData`] (the
//! [`MarketData`](crate::MarketData) port over the market-data stream).
//!
//! What is supported: simple orders — market, limit, stop and stop-limit — on US equities
//! (time in force day, gtc, ioc, fok; fractional quantities only for market and limit day
//! orders) and on crypto pairs (market, limit and stop-limit; gtc and ioc), as Alpaca
//! takes them; `supports` refuses the rest before anything is sent. Symbols map 1:1
//! (`AAPL`; a share class is written as Alpaca writes it, `BRK.B`) but for crypto pairs,
//! `BTC-USD` in Stratus and `BTC/USD` at Alpaca (`BTCUSD` in its positions).
//!
//! Identity: each order is sent with the client order id [`crate::client_id::encode`] makes of its
//! Stratus id. Alpaca replaces an order by a *new* order (new id, `replaces` the old, the
//! old one `replaced` and `replaced_by` the new), so each replacement gets the next
//! revision's client id, and an order is found by looking up revision 0 by client id and
//! following `replaced_by` to the newest — which also works after a restart; an instance
//! remembers the newest Alpaca id it saw per order to skip the walk. A partially filled
//! order is not replaced (the replacement's fills would start again from zero): cancel it
//! and submit the rest.
//!
//! Errors: 401 (and a 403 that is not about an order) → `Unauthorized` with Alpaca's
//! message; 429 → `RateLimited` from `Retry-After`, else `X-Ratelimit-Reset`; 5xx and
//! connection failures → `Unavailable`; a timeout or a lost connection after an order was
//! sent (submit, replace, cancel), or a 504 to one → `UnknownOutcome` — a submit first looks
//! the order up by its client id and answers what it finds; 400/422 and 403 to an order
//! request (insufficient buying power, unchanged parameters) → `Rejected`; 404 →
//! `NotFound`.
//!
//! Execution reports: `new`/`accepted` → `Accepted`, `partial_fill` → `PartialFill`,
//! `fill` → `Fill` (with the event's price and quantity; Alpaca charges no commission),
//! `canceled`, `rejected`, `expired` → their kinds, `replaced` → `Replaced` carrying the
//! replacement's terms (fetched by `replaced_by`; if that fetch fails the feed ends with
//! `Unavailable`, to be caught up by `order()`). `pending_*`, `done_for_day`, `restated`,
//! `calculated`, the replacement's own `new` and events of orders Stratus did not place are
//! not reported. The event id is Alpaca's `execution_id`, else the order id, event and
//! time; a duplicate event keeps its id.
//!
//! Market data: trades (`t`) become ticks carrying the latest quote's (`q`) bid and ask;
//! corrections, cancel errors and bars are not read. One [`AlpacaMarketData`] reads one
//! feed (`Endpoints::data`: the IEX or SIP stock feed, or the crypto feed).
//!
//! Secrets: the secret key travels only in the `APCA-API-SECRET-KEY` header (marked
//! sensitive) and the streams' auth messages; [`Credentials`]' `Debug` hides it and
//! nothing logs it.

use std::fmt;
use std::time::Duration;

use domain::Clock;
use url::Url;

mod data;
mod execution;
mod http;
mod socket;
mod stream;
mod wire;

pub use data::AlpacaMarketData;
pub use execution::AlpacaBroker;

/// Where Alpaca is: the REST base, the `trade_updates` stream and a market-data feed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoints {
    pub trading: Url,
    pub stream: Url,
    pub data: Url,
}

fn constant(url: &str) -> Url {
    // Only called with the literal URLs below, which parse.
    Url::parse(url).expect("a valid constant URL")
}

impl Endpoints {
    /// Paper trading, with the free IEX stock feed.
    pub fn paper() -> Self {
        Endpoints {
            trading: constant("https://paper-api.alpaca.markets"),
            stream: constant("wss://paper-api.alpaca.markets/stream"),
            data: constant("wss://stream.data.alpaca.markets/v2/iex"),
        }
    }

    /// Live trading, with the SIP stock feed (which needs Alpaca's data subscription).
    pub fn live() -> Self {
        Endpoints {
            trading: constant("https://api.alpaca.markets"),
            stream: constant("wss://api.alpaca.markets/stream"),
            data: constant("wss://stream.data.alpaca.markets/v2/sip"),
        }
    }

    /// Everything under one base, as the stub serves it: `http://127.0.0.1:PORT` gives
    /// `ws://127.0.0.1:PORT/stream` and `ws://127.0.0.1:PORT/v2/iex`.
    pub fn at(base: &str) -> Result<Self, url::ParseError> {
        let trading = Url::parse(base)?;
        let ws = match trading.scheme() {
            "https" => "wss",
            _ => "ws",
        };
        let root = trading.as_str().trim_end_matches('/');
        let root = format!("{ws}{}", &root[trading.scheme().len()..]);
        Ok(Endpoints {
            stream: Url::parse(&format!("{root}/stream"))?,
            data: Url::parse(&format!("{root}/v2/iex"))?,
            trading,
        })
    }
}

/// An Alpaca API key. `Debug` shows the key id, never the secret.
#[derive(Clone)]
pub struct Credentials {
    key_id: String,
    secret_key: String,
}

impl Credentials {
    pub fn new(key_id: impl Into<String>, secret_key: impl Into<String>) -> Self {
        Credentials {
            key_id: key_id.into(),
            secret_key: secret_key.into(),
        }
    }

    pub fn key_id(&self) -> &str {
        &self.key_id
    }

    pub(crate) fn secret_key(&self) -> &str {
        &self.secret_key
    }
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credentials")
            .field("key_id", &self.key_id)
            .field("secret_key", &"***")
            .finish()
    }
}

/// How long a request may take before it is given up (its outcome then unknown, for an
/// order request).
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);

/// Everything an Alpaca adapter needs.
#[derive(Clone)]
pub struct AlpacaConfig {
    pub endpoints: Endpoints,
    pub credentials: Credentials,
    /// Per request, and for each step of a stream's handshake.
    pub timeout: Duration,
    /// "Now", for reading `X-Ratelimit-Reset` (a Unix time) as a wait.
    pub clock: Clock,
}

impl AlpacaConfig {
    pub fn new(endpoints: Endpoints, credentials: Credentials) -> Self {
        AlpacaConfig {
            endpoints,
            credentials,
            timeout: DEFAULT_TIMEOUT,
            clock: Clock::system(),
        }
    }

    pub fn with_timeout(self, timeout: Duration) -> Self {
        AlpacaConfig { timeout, ..self }
    }
}

impl fmt::Debug for AlpacaConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AlpacaConfig")
            .field("endpoints", &self.endpoints)
            .field("credentials", &self.credentials)
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints_under_one_base() {
        let at = Endpoints::at("http://127.0.0.1:4000/").expect("endpoints");
        assert_eq!(at.trading.as_str(), "http://127.0.0.1:4000/");
        assert_eq!(at.stream.as_str(), "ws://127.0.0.1:4000/stream");
        assert_eq!(at.data.as_str(), "ws://127.0.0.1:4000/v2/iex");
        let tls = Endpoints::at("https://example.test").expect("endpoints");
        assert_eq!(tls.stream.as_str(), "wss://example.test/stream");
        assert_eq!(
            Endpoints::paper().stream.host_str(),
            Some("paper-api.alpaca.markets")
        );
        assert_eq!(Endpoints::live().data.path(), "/v2/sip");
    }

    #[test]
    fn credentials_never_print_the_secret() {
        let credentials = Credentials::new("AKID", "very-secret");
        let config = AlpacaConfig::new(Endpoints::paper(), credentials.clone());
        for text in [format!("{credentials:?}"), format!("{config:?}")] {
            assert!(text.contains("AKID"), "{text}");
            assert!(!text.contains("very-secret"), "{text}");
        }
    }
}
