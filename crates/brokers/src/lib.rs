//! The `Broker` port: what an external venue must do for Stratus to route an account's
//! orders to it — submit, cancel, replace, an order's status by Stratus's id, the open
//! orders, positions, cash and buying power, and a stream of execution reports — with
//! its own error kinds ([`BrokerError`]). Adapters: [`paper::PaperVenue`] (an in-process
//! venue filling against the trades it is shown, the suite's reference), `alpaca` (Trading
//! API v2) and `binance` (Spot). Every adapter passes the one conformance suite
//! (`conformance`, feature `conformance`).
//!
//! Identity: the venue knows an order by the **client order id** Stratus gives it, which
//! carries Stratus's order id ([`client_id`]), so a submit retried after a timeout is
//! refused as a duplicate by the venue rather than placed twice, and an order whose
//! outcome is unknown is found again by that id.
//!
//! Quantities, prices and cash are exact decimals (`domain` types); the adapters parse the
//! venues' decimal strings and never go through `f64`.

use async_trait::async_trait;
use domain::{
    AssetClass, Currency, Money, OrderId, OrderStatus, OrderType, Price, Quantity, Side, Symbol,
    Tick, TimeInForce, Timestamp,
};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use tokio::sync::mpsc;

pub mod alpaca;
pub mod binance;
pub mod client_id;
pub mod paper;
pub mod registry;

pub use registry::{OpenSpec, open, open_market_data};

#[cfg(feature = "conformance")]
pub mod conformance;

/// Why a venue did not do what it was asked.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BrokerError {
    /// The venue refused the request, with its reason (nothing happened).
    #[error("the broker refused: {0}")]
    Rejected(String),
    /// The venue does not offer this for this instrument; found before anything was sent.
    #[error("not supported by the broker: {0}")]
    Unsupported(String),
    /// The venue refused the credentials, with its reason.
    #[error("the broker refused the credentials: {0}")]
    Unauthorized(String),
    /// The venue asks to slow down; nothing happened; retry after this many seconds.
    #[error("the broker is rate limiting; retry after {retry_after} s")]
    RateLimited { retry_after: u64 },
    /// The venue cannot be reached or failed (5xx); nothing happened.
    #[error("the broker is unavailable: {0}")]
    Unavailable(String),
    /// The request may or may not have taken effect (a timeout or a dropped connection
    /// after sending it): look the order up by its id before sending it again.
    #[error("the outcome is unknown: {0}")]
    UnknownOutcome(String),
    /// The venue has no such order.
    #[error("the broker has no such order: {0}")]
    NotFound(String),
}

impl BrokerError {
    /// Seconds a caller should wait before trying again, for the errors where trying
    /// again can help.
    pub fn retry_after(&self) -> Option<u64> {
        match self {
            BrokerError::RateLimited { retry_after } => Some(*retry_after),
            BrokerError::Unavailable(_) | BrokerError::UnknownOutcome(_) => Some(5),
            _ => None,
        }
    }
}

pub type BrokerResult<T> = Result<T, BrokerError>;

/// An order as Stratus sends it to a venue.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BrokerOrder {
    /// Stratus's order id; the venue's client order id carries it.
    pub order_id: OrderId,
    pub symbol: Symbol,
    pub asset_class: AssetClass,
    pub side: Side,
    pub order_type: OrderType,
    pub time_in_force: TimeInForce,
    pub quantity: Quantity,
}

/// New terms for a working order (`None` keeps a term).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Replace {
    pub order_id: OrderId,
    pub quantity: Option<Quantity>,
    pub limit_price: Option<Price>,
    pub stop_price: Option<Price>,
}

impl Replace {
    /// The order type after this replace of an order of type `current`: only the prices
    /// the order has may change (`Rejected` otherwise).
    pub fn order_type(&self, current: OrderType) -> BrokerResult<OrderType> {
        Ok(match (current, self.limit_price, self.stop_price) {
            (t, None, None) => t,
            (OrderType::Limit { .. }, Some(limit_price), None) => OrderType::Limit { limit_price },
            (OrderType::Stop { .. }, None, Some(stop_price)) => OrderType::Stop { stop_price },
            (
                OrderType::StopLimit {
                    stop_price,
                    limit_price,
                },
                limit,
                stop,
            ) => OrderType::StopLimit {
                stop_price: stop.unwrap_or(stop_price),
                limit_price: limit.unwrap_or(limit_price),
            },
            _ => {
                return Err(BrokerError::Rejected(
                    "a replace may change only the prices the order has".into(),
                ));
            }
        })
    }
}

/// An order as the venue has it now.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BrokerOrderState {
    /// Stratus's order id (from the client order id).
    pub order_id: OrderId,
    /// The venue's own id for the order (a replaced order gets a new one at some venues).
    pub broker_order_id: String,
    pub symbol: Symbol,
    pub side: Side,
    pub order_type: OrderType,
    pub time_in_force: TimeInForce,
    pub quantity: Quantity,
    /// `New` while the venue has not yet accepted it.
    pub status: OrderStatus,
    /// Filled so far (cumulative).
    pub filled_quantity: Quantity,
    /// The average price of what has filled, when anything has.
    pub average_price: Option<Price>,
    /// Why the venue rejected, cancelled or expired it, when it says.
    pub reason: Option<String>,
    pub updated_at: Timestamp,
}

/// What an execution report says happened (the domain's, as the core applies it).
pub use domain::events::ExecutionKind;

/// One fill, as the venue reports it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BrokerFill {
    /// The venue's id for this execution (unique per venue account).
    pub execution_id: String,
    pub quantity: Quantity,
    pub price: Price,
    /// Commission charged, in the account's currency (zero when the venue reports none).
    pub fee: Money,
    pub time: Timestamp,
}

/// An event on the venue's execution stream: what happened and the order as it is after
/// it (cumulative filled quantity, status). Reports can arrive twice or out of order: a
/// consumer applies the difference between `order.filled_quantity` and what it has
/// applied, never a report's fill on top of an order that already counts it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExecutionReport {
    /// Unique per event at the venue (the dedup key).
    pub event_id: String,
    pub kind: ExecutionKind,
    pub order: BrokerOrderState,
    pub fill: Option<BrokerFill>,
    pub time: Timestamp,
}

/// A position at the venue. `quantity` is signed (short below zero).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BrokerPosition {
    pub symbol: Symbol,
    pub quantity: Decimal,
    pub average_price: Option<Price>,
}

/// The venue account's money.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BrokerAccount {
    pub currency: Currency,
    pub cash: Money,
    pub buying_power: Money,
}

/// The live end of a venue's execution stream. Reports arrive in the venue's order; an
/// `Err` (the connection dropped, the venue closed it) ends the feed — subscribe again and
/// catch up from [`Broker::open_orders`] and [`Broker::order`].
#[derive(Debug)]
pub struct ExecutionFeed {
    receiver: mpsc::Receiver<BrokerResult<ExecutionReport>>,
}

impl ExecutionFeed {
    /// A feed and the sender an adapter's reader task writes into.
    pub fn channel(capacity: usize) -> (mpsc::Sender<BrokerResult<ExecutionReport>>, Self) {
        let (sender, receiver) = mpsc::channel(capacity);
        (sender, ExecutionFeed { receiver })
    }

    /// The next report; `None` once the feed has ended (after its error, if any).
    pub async fn next(&mut self) -> Option<BrokerResult<ExecutionReport>> {
        self.receiver.recv().await
    }
}

/// See the module docs. Every method is safe to retry with the same arguments: a submit
/// of an order id the venue already has is `Rejected` and changes nothing there.
#[async_trait]
pub trait Broker: Send + Sync {
    /// The adapter's name (`paper`, `alpaca`, `binance`).
    fn name(&self) -> &'static str;

    /// Whether the venue takes this order for this instrument, answered without sending
    /// anything: `Err(Unsupported)` names what it does not take.
    fn supports(&self, order: &BrokerOrder) -> BrokerResult<()>;

    /// Sends a new order; the venue's state of it when it answered.
    async fn submit(&self, order: &BrokerOrder) -> BrokerResult<BrokerOrderState>;

    /// Asks for a working order to be cancelled (the cancel itself is reported on the
    /// execution stream).
    async fn cancel(&self, order_id: OrderId) -> BrokerResult<()>;

    /// Changes a working order's terms; the order as the venue has it after.
    async fn replace(&self, replace: &Replace) -> BrokerResult<BrokerOrderState>;

    /// An order by Stratus's id (`NotFound` if the venue never had it).
    async fn order(&self, order_id: OrderId) -> BrokerResult<BrokerOrderState>;

    /// The orders still working at the venue.
    async fn open_orders(&self) -> BrokerResult<Vec<BrokerOrderState>>;

    /// Non-flat positions.
    async fn positions(&self) -> BrokerResult<Vec<BrokerPosition>>;

    /// Cash and buying power (also how credentials are checked).
    async fn account(&self) -> BrokerResult<BrokerAccount>;

    /// Subscribes to execution reports (see [`ExecutionFeed`]).
    async fn executions(&self) -> BrokerResult<ExecutionFeed>;
}

/// What the order types and times in force are called in errors.
pub fn describe(order: &BrokerOrder) -> String {
    let kind = match order.order_type {
        OrderType::Market => "market",
        OrderType::Limit { .. } => "limit",
        OrderType::Stop { .. } => "stop",
        OrderType::StopLimit { .. } => "stop_limit",
    };
    format!(
        "a {kind} order with time in force {} on {}",
        order.time_in_force.as_str(),
        order.symbol
    )
}

/// The live end of a venue's market-data stream: each trade as a [`Tick`] carrying the
/// latest quote's bid and ask where the venue sends quotes. An `Err` ends the feed
/// (subscribe again).
#[derive(Debug)]
pub struct TickFeed {
    receiver: mpsc::Receiver<BrokerResult<Tick>>,
}

impl TickFeed {
    /// A feed and the sender an adapter's reader task writes into.
    pub fn channel(capacity: usize) -> (mpsc::Sender<BrokerResult<Tick>>, Self) {
        let (sender, receiver) = mpsc::channel(capacity);
        (sender, TickFeed { receiver })
    }

    /// The next tick; `None` once the feed has ended (after its error, if any).
    pub async fn next(&mut self) -> Option<BrokerResult<Tick>> {
        self.receiver.recv().await
    }
}

/// A venue's live market data (a feed source of `stratus up --feed <venue>`).
#[async_trait]
pub trait MarketData: Send + Sync {
    fn name(&self) -> &'static str;
    /// Subscribes to the trades (and quotes, where the venue has them) of `symbols`
    /// (Stratus's symbols; the adapter maps them to the venue's).
    async fn subscribe(&self, symbols: &[Symbol]) -> BrokerResult<TickFeed>;
}
