//! Where Binance Spot is and who the adapter is there.

use std::fmt;
use std::time::Duration;

use domain::{Clock, Symbol};

/// Binance Spot's three addresses: REST, the WebSocket API (which carries the user data
/// stream) and the market streams.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoints {
    /// e.g. `https://api.binance.com`.
    pub rest: String,
    /// e.g. `wss://ws-api.binance.com:443/ws-api/v3`.
    pub ws_api: String,
    /// e.g. `wss://stream.binance.com:9443` (streams are at `/ws/…` and `/stream…`).
    pub streams: String,
}

impl Endpoints {
    /// Real money.
    pub fn live() -> Self {
        Endpoints {
            rest: "https://api.binance.com".to_string(),
            ws_api: "wss://ws-api.binance.com:443/ws-api/v3".to_string(),
            streams: "wss://stream.binance.com:9443".to_string(),
        }
    }

    /// The Spot testnet (its own keys, play money).
    pub fn testnet() -> Self {
        Endpoints {
            rest: "https://testnet.binance.vision".to_string(),
            ws_api: "wss://ws-api.testnet.binance.vision/ws-api/v3".to_string(),
            streams: "wss://stream.testnet.binance.vision".to_string(),
        }
    }

    /// A stand-in serving all three at `base` (`http://127.0.0.1:4321`, as the
    /// `broker-stubs` Binance stub does): REST there, the WebSocket API at
    /// `ws://…/ws-api/v3`, the streams at `ws://…`.
    pub fn at(base: &str) -> Self {
        let base = base.trim_end_matches('/');
        let ws = if let Some(rest) = base.strip_prefix("https://") {
            format!("wss://{rest}")
        } else if let Some(rest) = base.strip_prefix("http://") {
            format!("ws://{rest}")
        } else {
            base.to_string()
        };
        Endpoints {
            rest: base.to_string(),
            ws_api: format!("{ws}/ws-api/v3"),
            streams: ws,
        }
    }
}

/// An HMAC API key and its secret. `Debug` never shows the secret.
#[derive(Clone, PartialEq, Eq)]
pub struct Credentials {
    pub api_key: String,
    pub secret_key: String,
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credentials")
            .field("api_key", &self.api_key)
            .field("secret_key", &"<redacted>")
            .finish()
    }
}

/// How the adapter reaches Binance.
#[derive(Debug, Clone)]
pub struct BinanceConfig {
    pub endpoints: Endpoints,
    pub credentials: Credentials,
    /// How long a request may take. After it, a submit, cancel or replace is looked up
    /// and, if that does not settle it, its outcome is unknown.
    pub timeout: Duration,
    /// `recvWindow`: how long (ms) a signed request stays valid after its timestamp.
    pub recv_window_ms: u32,
    /// Where to look for an order this process has not seen (after a restart): Binance
    /// finds an order by client id only within a symbol, so `order`, `cancel` and
    /// `replace` of an unseen order that is no longer open try each of these.
    pub symbols: Vec<Symbol>,
    /// The time requests are stamped with.
    pub clock: Clock,
}

impl BinanceConfig {
    /// A 10 s timeout, Binance's default 5 s `recvWindow`, the system clock, no symbols
    /// to search.
    pub fn new(endpoints: Endpoints, credentials: Credentials) -> Self {
        BinanceConfig {
            endpoints,
            credentials,
            timeout: Duration::from_secs(10),
            recv_window_ms: 5_000,
            symbols: Vec::new(),
            clock: Clock::system(),
        }
    }

    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    pub fn with_symbols(mut self, symbols: Vec<Symbol>) -> Self {
        self.symbols = symbols;
        self
    }

    pub fn with_clock(mut self, clock: Clock) -> Self {
        self.clock = clock;
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_stub_base_gives_all_three_addresses() {
        let e = Endpoints::at("http://127.0.0.1:4321/");
        assert_eq!(e.rest, "http://127.0.0.1:4321");
        assert_eq!(e.ws_api, "ws://127.0.0.1:4321/ws-api/v3");
        assert_eq!(e.streams, "ws://127.0.0.1:4321");
    }

    #[test]
    fn debug_never_shows_the_secret() {
        let c = Credentials {
            api_key: "key".into(),
            secret_key: "hunter2".into(),
        };
        let shown = format!("{c:?}");
        assert!(
            shown.contains("key") && !shown.contains("hunter2"),
            "{shown}"
        );
    }
}
