//! Binance Spot: [`BinanceBroker`] (the [`Broker`] port over the REST API and the WebSocket
//! API's user data stream) and [`BinanceMarketData`] (the [`crate::MarketData`] port over
//! the market streams), with HMAC-SHA256 keys.
//!
//! - Where: [`Endpoints::live`], [`Endpoints::testnet`], or [`Endpoints::at`] a stand-in
//!   (`broker-stubs`' Binance stub). Who: [`Credentials`]. How long a request may take,
//!   `recvWindow`, the symbols to search after a restart: [`BinanceConfig`].
//! - Symbols: a Stratus `<BASE>-USD` is Binance's `<BASE>USDT` — Binance Spot has no US
//!   dollar and USDT is its dollar, counted 1:1 (`BTC-USD` ↔ `BTCUSDT`, `ETH-USD` ↔
//!   `ETHUSDT`); another quote is joined (`ETH-BTC` → `ETHBTC`); a symbol without `-` is
//!   Binance's name as it is.
//! - Orders (`supports`): crypto only; `MARKET`, `LIMIT` (GTC, IOC, FOK), `STOP_LOSS`
//!   (a stop-market order) and `STOP_LOSS_LIMIT` (GTC, IOC, FOK). Binance has no day
//!   orders, and its market and stop-market orders take no time in force: those are
//!   refused (a market or stop order is sent without one, as GTC stands for "none").
//!   The client order id is `client_id::encode(order, revision)`; a replace is a
//!   `cancelReplace` to revision + 1. How orders are found and replaced: `orders`.
//! - Money: `account()` is the USDT balance (cash: free + locked; buying power: free),
//!   in USD. `positions()` are the non-zero balances of every other asset (free +
//!   locked) as `<ASSET>-USD`, without an average price (Binance keeps none).
//! - Execution reports: `stream`. Errors: 429/418 → `RateLimited` (`Retry-After`), 5xx
//!   and no connection → `Unavailable`, -2015/-2014/-1022/401 → `Unauthorized` with
//!   Binance's message, -2013 and "Unknown order sent." → `NotFound`, other refusals
//!   (-2010 "Duplicate order sent.", filters, balance) → `Rejected`; a submit, cancel or
//!   replace without an answer is looked up, else `UnknownOutcome`.
//!
//! Requests are stamped with `BinanceConfig::clock`; a machine clock more than
//! `recvWindow` off Binance's gets -1021 (`Rejected`). Nothing logs the secret or a
//! signed query string.

mod config;
mod http;
mod market_data;
mod orders;
mod stream;
mod wire;

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use domain::{AssetClass, Currency, Money, OrderId, OrderType, Symbol, TimeInForce};
use reqwest::Method;
use rust_decimal::Decimal;

pub use config::{BinanceConfig, Credentials, Endpoints};
pub use market_data::BinanceMarketData;

use http::{CallError, Rest};
use orders::Session;
use wire::{AccountJson, USD_STAND_IN, decimal};

use crate::{
    Broker, BrokerAccount, BrokerError, BrokerOrder, BrokerOrderState, BrokerPosition,
    BrokerResult, ExecutionFeed, Replace, describe,
};

/// See the module docs.
#[derive(Debug, Clone)]
pub struct BinanceBroker {
    session: Arc<Session>,
    ws_api: String,
    timeout: Duration,
    recv_window_ms: u32,
}

impl BinanceBroker {
    /// An adapter for `config`'s account; nothing is sent until it is used.
    pub fn new(config: BinanceConfig) -> BrokerResult<Self> {
        let rest = Rest::new(&config)?;
        Ok(BinanceBroker {
            session: Arc::new(Session::new(rest, config.symbols.clone())),
            ws_api: config.endpoints.ws_api.clone(),
            timeout: config.timeout,
            recv_window_ms: config.recv_window_ms,
        })
    }

    /// The account's balances: (asset, free, locked), the zero ones left out.
    async fn balances(&self) -> BrokerResult<Vec<(String, Decimal, Decimal)>> {
        let account: AccountJson = self
            .session
            .rest
            .signed(
                Method::GET,
                "/api/v3/account",
                &[("omitZeroBalances", "true".to_string())],
            )
            .await
            .map_err(CallError::into_broker)?;
        account
            .balances
            .into_iter()
            .map(|b| {
                let free = decimal("free", &b.free)?;
                let locked = decimal("locked", &b.locked)?;
                Ok((b.asset, free, locked))
            })
            .collect()
    }
}

#[async_trait]
impl Broker for BinanceBroker {
    fn name(&self) -> &'static str {
        "binance"
    }

    fn supports(&self, order: &BrokerOrder) -> BrokerResult<()> {
        let refuse = |why: &str| {
            Err(BrokerError::Unsupported(format!(
                "{}: {why}",
                describe(order)
            )))
        };
        if order.asset_class != AssetClass::Crypto {
            return refuse("Binance Spot trades crypto only");
        }
        match (order.order_type, order.time_in_force) {
            (_, TimeInForce::Day) => refuse("Binance has no day orders"),
            (OrderType::Market | OrderType::Stop { .. }, TimeInForce::Ioc | TimeInForce::Fok) => {
                refuse("Binance's market and stop-market orders take no time in force")
            }
            _ => Ok(()),
        }
    }

    async fn submit(&self, order: &BrokerOrder) -> BrokerResult<BrokerOrderState> {
        self.supports(order)?;
        self.session.submit(order).await
    }

    async fn cancel(&self, order_id: OrderId) -> BrokerResult<()> {
        self.session.cancel(order_id).await
    }

    async fn replace(&self, replace: &Replace) -> BrokerResult<BrokerOrderState> {
        self.session.replace(replace).await
    }

    async fn order(&self, order_id: OrderId) -> BrokerResult<BrokerOrderState> {
        self.session.order(order_id).await
    }

    async fn open_orders(&self) -> BrokerResult<Vec<BrokerOrderState>> {
        self.session.open_orders().await
    }

    async fn positions(&self) -> BrokerResult<Vec<BrokerPosition>> {
        let mut positions = Vec::new();
        for (asset, free, locked) in self.balances().await? {
            let quantity = free + locked;
            if asset == USD_STAND_IN || quantity.is_zero() {
                continue;
            }
            match Symbol::parse(&format!("{asset}-USD")) {
                Ok(symbol) => positions.push(BrokerPosition {
                    symbol,
                    quantity,
                    average_price: None,
                }),
                Err(e) => tracing::debug!(asset, error = %e, "a balance with no Stratus symbol"),
            }
        }
        Ok(positions)
    }

    async fn account(&self) -> BrokerResult<BrokerAccount> {
        let (free, locked) = self
            .balances()
            .await?
            .into_iter()
            .find(|(asset, _, _)| asset == USD_STAND_IN)
            .map(|(_, free, locked)| (free, locked))
            .unwrap_or_default();
        Ok(BrokerAccount {
            currency: Currency::USD,
            cash: Money::new(free + locked),
            buying_power: Money::new(free),
        })
    }

    async fn executions(&self) -> BrokerResult<ExecutionFeed> {
        stream::subscribe(
            self.session.clone(),
            &self.ws_api,
            self.timeout,
            self.recv_window_ms,
        )
        .await
    }
}
