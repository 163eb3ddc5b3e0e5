//! A stand-in for Binance Spot on loopback: the documented REST subset, the WebSocket
//! API's user data stream and the market streams, in Binance's JSON shapes (from
//! `binance/binance-spot-api-docs` — `rest-api.md`, `web-socket-api.md`,
//! `user-data-stream.md`, `web-socket-streams.md`, `errors.md` — and checked against the
//! official `binance-sdk-spot` client by `scripts/broker-sdk-check/binance_check.py`).
//!
//! What it serves (one account, HMAC keys; see each module for the details):
//!
//! - REST (`rest`), at [`BinanceStub::base_url`] (Binance: `https://api.binance.com`):
//!   `GET /api/v3/ping`, `time`, `exchangeInfo` (`PRICE_FILTER`, `LOT_SIZE`, `NOTIONAL`),
//!   `POST/GET/DELETE /api/v3/order` (`LIMIT`, `LIMIT_MAKER`, `MARKET`, `STOP_LOSS`,
//!   `STOP_LOSS_LIMIT`, `TAKE_PROFIT`, `TAKE_PROFIT_LIMIT`; `GTC`/`IOC`/`FOK`;
//!   `newOrderRespType` `ACK`/`RESULT`/`FULL`; client ids unique among open orders),
//!   `POST /api/v3/order/cancelReplace` (both modes), `GET /api/v3/openOrders`,
//!   `account`, `myTrades`. Signed requests are verified exactly as Binance does
//!   (`signature`): a bad signature is 400 `-1022`, an unknown key 401 `-2015`, a stale
//!   timestamp 400 `-1021`.
//! - The WebSocket API (`ws`), at [`BinanceStub::ws_url`]: the user data stream by
//!   `userDataStream.subscribe.signature` (`executionReport`, `outboundAccountPosition`).
//! - Market streams (`ws`), under [`BinanceStub::stream_url`]: `<symbol>@trade` and
//!   `<symbol>@bookTicker`, raw or combined.
//!
//! How orders fill and balances move: `exchange` (the paper venue's rules: a trade print
//! stands for the book). Listed: `BTCUSDT` and `ETHUSDT`.
//!
//! Test controls on the handle: [`BinanceStub::trade`] and [`BinanceStub::quote`] (also
//! over HTTP: `POST /_stub/trade {"symbol","price","qty"}`, `POST /_stub/quote`),
//! [`BinanceStub::fail_next`] ([`Fault`]s on the next REST requests),
//! [`BinanceStub::drop_streams`], [`BinanceStub::duplicate_next_events`] and
//! [`BinanceStub::reorder_next_events`] (the user data stream delivering twice or out of
//! order).

mod exchange;
mod rest;
mod signature;
mod ws;

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use anyhow::Context;
use domain::Clock;
use rust_decimal::Decimal;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use exchange::{Exchange, Listing};

/// What a stub account holds and how it is reached.
#[derive(Debug, Clone)]
pub struct StubConfig {
    /// The loopback port (0: any free one).
    pub port: u16,
    /// The one API key the stub knows.
    pub api_key: String,
    /// Its secret (HMAC-SHA256).
    pub secret_key: String,
    /// The account's balances at start, free, by asset.
    pub balances: Vec<(String, Decimal)>,
    /// Commission on every fill, as a fraction of what it receives (0.001 is Binance's
    /// standard 0.1 %).
    pub commission_rate: Decimal,
    /// The exchange's clock (server time, event times, the `recvWindow` check).
    pub clock: Clock,
}

impl Default for StubConfig {
    /// 100,000 USDT and 10 BTC, no commission, the system clock, any port.
    fn default() -> Self {
        StubConfig {
            port: 0,
            api_key: "stratus-stub-api-key".to_string(),
            secret_key: "stratus-stub-secret-key".to_string(),
            balances: vec![
                ("USDT".to_string(), Decimal::from(100_000)),
                ("BTC".to_string(), Decimal::from(10)),
                ("ETH".to_string(), Decimal::ZERO),
            ],
            commission_rate: Decimal::ZERO,
            clock: Clock::system(),
        }
    }
}

/// A fault the next REST requests meet (`/api/v3/...` only; the WebSocket API and the
/// control routes are not affected).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// HTTP 429, `Retry-After`, `{"code":-1003,"msg":"Too much request weight used; …"}`;
    /// the request is not applied.
    RateLimited { retry_after: u64 },
    /// HTTP 418 (an IP ban after ignoring 429s), `Retry-After`, code -1003.
    Banned { retry_after: u64 },
    /// HTTP 500, code -1000; the request is not applied.
    ServerError,
    /// The request is applied but never answered: the client times out not knowing.
    Timeout,
    /// The request is lost on the way: never applied, never answered.
    Lost,
}

/// What the routes share.
#[derive(Debug)]
struct Shared {
    exchange: Mutex<Exchange>,
    api_key: String,
    secret_key: String,
    clock: Clock,
    faults: Mutex<VecDeque<Fault>>,
    /// Bumped to close every WebSocket.
    drops: watch::Sender<u64>,
    /// `true` once the stub stops.
    shutdown: watch::Receiver<bool>,
    next_connection: AtomicU64,
    weight: AtomicU64,
}

impl Shared {
    fn now_ms(&self) -> i64 {
        self.clock.now().nanos() / 1_000_000
    }

    /// The exchange, its clock moved to now.
    fn exchange(&self) -> MutexGuard<'_, Exchange> {
        // A panic while holding the lock leaves plain data, still consistent per field.
        let mut exchange = self.exchange.lock().unwrap_or_else(|p| p.into_inner());
        exchange.tick(self.now_ms());
        exchange
    }

    fn take_fault(&self) -> Option<Fault> {
        self.faults
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .pop_front()
    }

    fn next_connection(&self) -> u64 {
        self.next_connection.fetch_add(1, Ordering::Relaxed)
    }

    /// Counts a request; the weight used so far.
    fn add_weight(&self) -> u64 {
        self.weight.fetch_add(1, Ordering::Relaxed) + 1
    }
}

/// A running stub (see the module docs). Dropping it stops it.
#[derive(Debug)]
pub struct BinanceStub {
    addr: SocketAddr,
    shared: Arc<Shared>,
    stop: watch::Sender<bool>,
    server: Option<JoinHandle<()>>,
}

/// Starts a stub on `127.0.0.1:<config.port>`.
pub async fn start(config: StubConfig) -> anyhow::Result<BinanceStub> {
    let listener = TcpListener::bind(("127.0.0.1", config.port))
        .await
        .with_context(|| format!("binding 127.0.0.1:{}", config.port))?;
    let addr = listener.local_addr()?;
    let (stop, shutdown) = watch::channel(false);
    let listings = vec![Listing::usdt("BTC"), Listing::usdt("ETH")];
    let shared = Arc::new(Shared {
        exchange: Mutex::new(Exchange::new(
            listings,
            &config.balances,
            config.commission_rate,
        )),
        api_key: config.api_key,
        secret_key: config.secret_key,
        clock: config.clock,
        faults: Mutex::new(VecDeque::new()),
        drops: watch::Sender::new(0),
        shutdown: shutdown.clone(),
        next_connection: AtomicU64::new(1),
        weight: AtomicU64::new(0),
    });
    let app = rest::router(shared.clone())
        .merge(ws::router())
        .with_state(shared.clone());
    let mut signal = shutdown;
    let server = tokio::spawn(async move {
        let stopped = async move {
            let _ = signal.wait_for(|stopped| *stopped).await;
        };
        if let Err(e) = axum::serve(listener, app)
            .with_graceful_shutdown(stopped)
            .await
        {
            tracing::warn!(error = %e, "binance stub server ended");
        }
    });
    tracing::info!(%addr, "binance stub listening");
    Ok(BinanceStub {
        addr,
        shared,
        stop,
        server: Some(server),
    })
}

impl BinanceStub {
    /// The REST base URL (`https://api.binance.com`'s role), e.g. `http://127.0.0.1:4321`.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The WebSocket API (`wss://ws-api.binance.com:443/ws-api/v3`'s role).
    pub fn ws_url(&self) -> String {
        format!("ws://{}/ws-api/v3", self.addr)
    }

    /// The market streams' base (`wss://stream.binance.com:9443`'s role): streams are at
    /// `/ws/<name>` and `/stream?streams=`.
    pub fn stream_url(&self) -> String {
        format!("ws://{}", self.addr)
    }

    pub fn api_key(&self) -> &str {
        &self.shared.api_key
    }

    pub fn secret_key(&self) -> &str {
        &self.shared.secret_key
    }

    /// A trade of `quantity` at `price` prints on `symbol` (Binance's name, `BTCUSDT`):
    /// market subscribers get a `trade` event and the working orders it reaches fill.
    pub fn trade(&self, symbol: &str, price: Decimal, quantity: Decimal) -> anyhow::Result<()> {
        anyhow::ensure!(
            price > Decimal::ZERO && quantity > Decimal::ZERO,
            "a trade needs a positive price and quantity"
        );
        self.shared
            .exchange()
            .trade(symbol, price, quantity)
            .map_err(|r| anyhow::anyhow!("{}", r.msg))
    }

    /// The best bid and ask on `symbol` change: `bookTicker` subscribers hear of it.
    pub fn quote(
        &self,
        symbol: &str,
        bid: Decimal,
        bid_quantity: Decimal,
        ask: Decimal,
        ask_quantity: Decimal,
    ) -> anyhow::Result<()> {
        self.shared
            .exchange()
            .quote(symbol, (bid, bid_quantity), (ask, ask_quantity))
            .map_err(|r| anyhow::anyhow!("{}", r.msg))
    }

    /// The next `n` REST requests meet `fault`.
    pub fn fail_next(&self, n: usize, fault: Fault) {
        let mut faults = self.shared.faults.lock().unwrap_or_else(|p| p.into_inner());
        faults.extend(std::iter::repeat_n(fault, n));
    }

    /// Closes every WebSocket (the WebSocket API and the market streams).
    pub fn drop_streams(&self) {
        self.shared.drops.send_modify(|generation| *generation += 1);
    }

    /// The next `n` user-data events are each delivered twice.
    pub fn duplicate_next_events(&self, n: usize) {
        self.shared.exchange().duplicate_next_events(n);
    }

    /// The next `executionReport` is delivered after the one that follows it.
    pub fn reorder_next_events(&self) {
        self.shared.exchange().reorder_next_events();
    }

    /// An asset's balance: (free, locked).
    pub fn balance(&self, asset: &str) -> (Decimal, Decimal) {
        self.shared.exchange().balance_of(asset)
    }

    /// How many orders, in any status, carry this client order id.
    pub fn orders_with_client_id(&self, client_order_id: &str) -> usize {
        self.shared
            .exchange()
            .orders_with_client_id(client_order_id)
    }

    /// Stops the server and waits for it.
    pub async fn shutdown(mut self) {
        let _ = self.stop.send(true);
        if let Some(server) = self.server.take() {
            let _ = server.await;
        }
    }
}

impl Drop for BinanceStub {
    fn drop(&mut self) {
        let _ = self.stop.send(true);
    }
}
