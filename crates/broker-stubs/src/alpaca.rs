//! A stand-in for Alpaca on loopback: the documented subset of the **Trading API v2**, the
//! `trade_updates` stream and the market-data stream, close enough that alpaca-py's own
//! clients parse every answer (`scripts/broker-sdk-check` holds it to that).
//!
//! REST, behind `APCA-API-KEY-ID` / `APCA-API-SECRET-KEY` (anything but the configured
//! pair is a 401 `{"code":40110000,"message":"request is not authorized"}`):
//! `GET /v2/account`; `POST /v2/orders` (simple orders: market, limit, stop, stop_limit;
//! day, gtc, ioc, fok; a reused `client_order_id` is a 422 with code 40010001; crypto and
//! fractional orders held to Alpaca's rules; buys beyond the cash are a 403);
//! `GET /v2/orders?status&limit&after&until&direction&side&symbols`;
//! `GET /v2/orders/{id}`; `GET /v2/orders:by_client_order_id`; `PATCH /v2/orders/{id}`
//! (a replacement order with a new id that `replaces` the old, which becomes `replaced`
//! with `replaced_by`); `DELETE /v2/orders/{id}` (204; 404; 422 when not cancelable);
//! `DELETE /v2/orders` (207 with one status per order); `GET /v2/positions` and
//! `GET /v2/positions/{symbol}`. Numbers are decimal strings, as Alpaca writes them.
//! Not offered: notional orders, bracket/OCO/OTO classes, trailing stops, `opg`/`cls`,
//! assets, clock, calendar, activities.
//!
//! Streams: see the `streams` module. Test controls on [`AlpacaStub`] (and, for a driver in another
//! process, `POST /_stub/trade`, `/_stub/quote`, `/_stub/drop_streams`,
//! `/_stub/close_the_day`, `GET /_stub/connections`): print a trade (fills) or a quote,
//! fail the next requests ([`Fault`]), close every stream, send the next event twice or
//! two events swapped.

use std::collections::VecDeque;
use std::fmt;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use axum::Router;
use axum::routing::get;
use rust_decimal::Decimal;
use serde_json::{Value, json};
use tokio::sync::{broadcast, watch};

mod codec;
mod rest;
mod streams;
mod venue;

use venue::{TradeUpdate, Venue};

/// What the stub is started with.
#[derive(Clone)]
pub struct AlpacaStubConfig {
    /// The port on 127.0.0.1 (0: any free port).
    pub port: u16,
    /// The only key id and secret accepted, on REST and on both streams.
    pub key_id: String,
    pub secret_key: String,
    /// The account's starting cash (USD).
    pub cash: Decimal,
    /// How long a request hit by [`Fault::Timeout`] waits before it is answered.
    pub stall: Duration,
}

impl Default for AlpacaStubConfig {
    fn default() -> Self {
        AlpacaStubConfig {
            port: 0,
            key_id: "stub-key".into(),
            secret_key: "stub-secret".into(),
            cash: Decimal::from(100_000),
            stall: Duration::from_secs(60),
        }
    }
}

impl fmt::Debug for AlpacaStubConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AlpacaStubConfig")
            .field("port", &self.port)
            .field("key_id", &self.key_id)
            .field("secret_key", &"***")
            .field("cash", &self.cash)
            .field("stall", &self.stall)
            .finish()
    }
}

impl AlpacaStubConfig {
    fn accepts(&self, key: Option<&str>, secret: Option<&str>) -> bool {
        key == Some(self.key_id.as_str()) && secret == Some(self.secret_key.as_str())
    }
}

/// How the next REST request fails (see [`AlpacaStub::fail_next`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// 429 with `Retry-After` and Alpaca's `X-Ratelimit-*` headers; nothing happens.
    RateLimited { retry_after_secs: u64 },
    /// 500; nothing happens.
    ServerError,
    /// The request takes effect but its answer is withheld for the configured stall, so
    /// the client times out not knowing what happened.
    Timeout,
    /// 401, whatever the credentials; nothing happens.
    Unauthorized,
    /// The request is lost on the way: no answer for the configured stall, then a 504
    /// from the gateway; nothing happens.
    Lost,
}

/// A fault waiting for its request.
#[derive(Debug, Clone, Copy)]
struct Pending {
    fault: Fault,
    /// Only for a request that changes orders (POST, PATCH, DELETE).
    order_requests_only: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Channel {
    Trades,
    Quotes,
}

/// A market-data message and what a connection must subscribe to for it.
#[derive(Debug, Clone)]
struct MarketEvent {
    channel: Channel,
    symbol: String,
    message: Value,
}

/// What the routes share.
#[derive(Debug)]
struct Shared {
    config: AlpacaStubConfig,
    venue: Mutex<Venue>,
    faults: Mutex<VecDeque<Pending>>,
    /// Bumped to close every stream connection.
    drops: watch::Sender<u64>,
    trade_updates: broadcast::Sender<TradeUpdate>,
    market: broadcast::Sender<MarketEvent>,
}

/// A market-data number: an integer when whole, else the nearest float (Alpaca's market
/// data carries prices and sizes as JSON numbers).
fn number(d: Decimal) -> Value {
    let d = d.normalize();
    if d.fract().is_zero() {
        if let Ok(n) = u64::try_from(d) {
            return json!(n);
        }
    }
    d.to_string()
        .parse::<f64>()
        .ok()
        .and_then(serde_json::Number::from_f64)
        .map_or(Value::Null, Value::Number)
}

impl Shared {
    fn venue(&self) -> MutexGuard<'_, Venue> {
        // A panic while holding the lock leaves plain data, still consistent per field.
        self.venue.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The fault for this request, if the next one waiting applies to it.
    fn next_fault(&self, order_request: bool) -> Option<Fault> {
        let mut faults = self.faults.lock().unwrap_or_else(|p| p.into_inner());
        let applies = faults
            .front()
            .is_some_and(|p| order_request || !p.order_requests_only);
        if applies {
            faults.pop_front().map(|p| p.fault)
        } else {
            None
        }
    }

    fn queue_faults(&self, n: usize, fault: Fault, order_requests_only: bool) {
        let mut faults = self.faults.lock().unwrap_or_else(|p| p.into_inner());
        let pending = Pending {
            fault,
            order_requests_only,
        };
        faults.extend(std::iter::repeat_n(pending, n));
    }

    fn trade(&self, symbol: &str, price: Decimal, qty: Decimal) {
        let mut venue = self.venue();
        let time = venue.now();
        let id = venue.next_trade_id();
        let message = json!({"T": "t", "S": symbol, "i": id, "x": "V", "p": number(price),
            "s": number(qty), "t": time.to_string(), "c": ["@"], "z": "C"});
        // No subscriber is not an error.
        let _ = self.market.send(MarketEvent {
            channel: Channel::Trades,
            symbol: symbol.to_owned(),
            message,
        });
        venue.trade(symbol, price, qty);
    }

    fn quote(&self, symbol: &str, bid: Decimal, ask: Decimal) {
        let time = self.venue().now();
        let message = json!({"T": "q", "S": symbol, "bx": "V", "bp": number(bid), "bs": 1,
            "ax": "V", "ap": number(ask), "as": 1, "t": time.to_string(), "c": ["R"],
            "z": "C"});
        let _ = self.market.send(MarketEvent {
            channel: Channel::Quotes,
            symbol: symbol.to_owned(),
            message,
        });
    }

    fn drop_streams(&self) {
        self.drops.send_modify(|generation| *generation += 1);
    }

    /// Connections listening to `trade_updates`, and subscribed to market data.
    fn listeners(&self) -> (usize, usize) {
        (
            self.trade_updates.receiver_count(),
            self.market.receiver_count(),
        )
    }
}

/// The running stub: its addresses and its test controls. Dropping it stops the server.
#[derive(Debug)]
pub struct AlpacaStub {
    address: SocketAddr,
    shared: Arc<Shared>,
    shutdown: watch::Sender<bool>,
}

impl Drop for AlpacaStub {
    fn drop(&mut self) {
        let _ = self.shutdown.send(true);
        self.shared.drop_streams();
    }
}

/// The stub's routes: the Trading API, both streams and the control routes.
fn router(shared: Arc<Shared>) -> Router {
    let data = get(streams::market_data);
    Router::new()
        .merge(rest::trading_router(shared.clone()))
        .merge(rest::control_router())
        .route("/stream", get(streams::trade_updates))
        // The stock feeds and the crypto feed, at the paths Alpaca serves them.
        .route("/v2/iex", data.clone())
        .route("/v2/sip", data.clone())
        .route("/v2/delayed_sip", data.clone())
        .route("/v2/test", data.clone())
        .route("/v1beta3/crypto/us", data)
        .with_state(shared)
}

/// Starts the stub on 127.0.0.1 (see [`AlpacaStubConfig`]).
pub async fn start(config: AlpacaStubConfig) -> anyhow::Result<AlpacaStub> {
    let listener = tokio::net::TcpListener::bind((Ipv4Addr::LOCALHOST, config.port)).await?;
    let address = listener.local_addr()?;
    let (trade_updates, _) = broadcast::channel(1024);
    let (market, _) = broadcast::channel(1024);
    let shared = Arc::new(Shared {
        venue: Mutex::new(Venue::new(config.cash, trade_updates.clone())),
        config,
        faults: Mutex::new(VecDeque::new()),
        drops: watch::Sender::new(0),
        trade_updates,
        market,
    });
    let (shutdown, mut stop) = watch::channel(false);
    let app = router(shared.clone());
    tokio::spawn(async move {
        let stopped = async move {
            let _ = stop.wait_for(|stop| *stop).await;
        };
        if let Err(e) = axum::serve(listener, app)
            .with_graceful_shutdown(stopped)
            .await
        {
            tracing::error!(error = %e, "the alpaca stub stopped");
        }
    });
    Ok(AlpacaStub {
        address,
        shared,
        shutdown,
    })
}

impl AlpacaStub {
    /// The REST base (`http://127.0.0.1:PORT`), where `https://paper-api.alpaca.markets`
    /// would be.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.address)
    }

    /// The `trade_updates` stream (`ws://127.0.0.1:PORT/stream`).
    pub fn stream_url(&self) -> String {
        format!("ws://{}/stream", self.address)
    }

    /// The stock market-data stream on the IEX feed (`ws://127.0.0.1:PORT/v2/iex`).
    pub fn data_url(&self) -> String {
        format!("ws://{}/v2/iex", self.address)
    }

    pub fn address(&self) -> SocketAddr {
        self.address
    }

    /// A trade of `qty` at `price` prints on `symbol` (Alpaca's symbol: `AAPL`,
    /// `BTC/USD`): market-data subscribers get a `t` message, and working orders it
    /// reaches fill (see the `venue` rules), each up to `qty`, with `trade_updates` events.
    pub fn trade(&self, symbol: &str, price: Decimal, qty: Decimal) {
        self.shared.trade(symbol, price, qty);
    }

    /// A quote on `symbol`: market-data subscribers get a `q` message.
    pub fn quote(&self, symbol: &str, bid: Decimal, ask: Decimal) {
        self.shared.quote(symbol, bid, ask);
    }

    /// The next `n` Trading API requests fail with `fault`.
    pub fn fail_next(&self, n: usize, fault: Fault) {
        self.shared.queue_faults(n, fault, false);
    }

    /// The next `n` requests that change orders (`POST`, `PATCH`, `DELETE`) fail with
    /// `fault`; reads in between are answered (an adapter looks an order up before it
    /// replaces or cancels it).
    pub fn fail_next_order_request(&self, n: usize, fault: Fault) {
        self.shared.queue_faults(n, fault, true);
    }

    /// Closes every stream connection (clients must connect and subscribe again; events
    /// in between are not replayed).
    pub fn drop_streams(&self) {
        self.shared.drop_streams();
    }

    /// The next `trade_updates` event is sent twice, identical.
    pub fn duplicate_next_event(&self) {
        self.shared.venue().duplicate_next_event();
    }

    /// The next `trade_updates` event is held back and sent right after the one that
    /// follows it (the two arrive swapped).
    pub fn reorder_next_events(&self) {
        self.shared.venue().reorder_next_events();
    }

    /// The market closes: every open day order expires.
    pub fn close_the_day(&self) {
        self.shared.venue().close_the_day();
    }

    /// Orders the account has ever had (a replace adds one).
    pub fn order_count(&self) -> usize {
        self.shared.venue().order_count()
    }

    /// Connections listening to `trade_updates`, and subscribed to market data.
    pub fn listeners(&self) -> (usize, usize) {
        self.shared.listeners()
    }
}
