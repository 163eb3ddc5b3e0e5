//! Events: the messages on Stratus's streams, and their versioned JSON envelope.
//!
//! ```json
//! {"id":"…","type":"order.filled","version":1,"time":"2026-11-22T09:30:00Z",
//!  "partition_key":"<account id>","payload":{…}}
//! ```
//! The envelope is stable; each `type` has its own payload schema and `version`. A reader
//! refuses a type or version it does not know instead of guessing. Golden files in
//! `tests/golden/` pin every payload's wire form, so a change to it fails a test.
//!
//! Partition keys: commands, ticks and candles by symbol (one book, in order); executions
//! by account (one account's fills, in order).

use serde::{Deserialize, Serialize};

use crate::fill::Fill;
use crate::ids::{AccountId, EventId, OrderId};
use crate::market::{Candle, Tick};
use crate::num::{Money, Price, Quantity};
use crate::order::OrderRequest;
use crate::symbol::Symbol;
use crate::time::Timestamp;

/// The wire form of every event.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EventEnvelope {
    pub id: EventId,
    #[serde(rename = "type")]
    pub event_type: String,
    pub version: u16,
    pub time: Timestamp,
    pub partition_key: String,
    pub payload: serde_json::Value,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EventError {
    #[error("record is not an event envelope: {0}")]
    Malformed(String),
    #[error("unknown event type {0:?}")]
    UnknownType(String),
    #[error(
        "{event_type} version {version} is not supported (this build reads version {supported})"
    )]
    UnsupportedVersion {
        event_type: String,
        version: u16,
        supported: u16,
    },
    #[error("{event_type} payload is invalid: {message}")]
    Payload { event_type: String, message: String },
}

/// Identifies an order in execution events.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrderRef {
    pub order_id: OrderId,
    pub account_id: AccountId,
    pub symbol: Symbol,
}

/// Why an order or a command was refused, or why an order stopped working.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReasonCode {
    /// The command named a symbol with no book.
    UnknownSymbol,
    /// Cancel or amend of an order that is not open (or not the caller's).
    UnknownOrder,
    /// A new order reused the id of an order that is still open.
    DuplicateOrderId,
    /// A price or quantity broke the instrument's rules.
    InvalidOrder,
    /// An amend asked for a quantity at or below what already filled.
    QuantityBelowFilled,
    /// Pre-trade risk refused the order.
    RiskRejected,
    /// The owner cancelled it.
    Requested,
    /// An IOC order's unfilled remainder.
    ImmediateOrCancel,
    /// A FOK order that could not fill completely at once.
    FillOrKill,
    /// A market order's remainder with nothing left to trade against.
    NoLiquidity,
    /// Self-trade prevention removed it.
    SelfTrade,
}

/// An order ended (rejected, cancelled) with a reason.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrderOutcome {
    #[serde(flatten)]
    pub order: OrderRef,
    pub code: ReasonCode,
    pub message: String,
}

/// Cancel an open order (command).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct CancelOrder {
    #[serde(flatten)]
    pub order: OrderRef,
}

/// Change an open order (command, and the event that confirms it). `quantity` is the new
/// total quantity, filled part included.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct AmendOrder {
    #[serde(flatten)]
    pub order: OrderRef,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quantity: Option<Quantity>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit_price: Option<Price>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stop_price: Option<Price>,
}

/// What an external broker's execution report says happened to a routed order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ExecutionKind {
    Accepted,
    PartialFill,
    Fill,
    Cancelled,
    Rejected,
    Expired,
    /// The order's terms changed (a replace took effect).
    Replaced,
}

/// One fill at an external broker.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VenueFill {
    /// The broker's id for the execution.
    pub execution_id: String,
    pub quantity: Quantity,
    pub price: Price,
    pub fee: Money,
    pub time: Timestamp,
}

/// An external broker's execution report for an order Stratus routed to it (command, on
/// `commands` by symbol): what happened and the order as the broker has it after it.
/// The core applies the difference between `filled_quantity` (cumulative) and what it has
/// applied, so a report delivered twice, late or out of order changes nothing twice.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BrokerExecution {
    #[serde(flatten)]
    pub order: OrderRef,
    /// The adapter (`alpaca`, `binance`, `paper`).
    pub broker: String,
    /// The broker's id for this event.
    pub broker_event_id: String,
    pub kind: ExecutionKind,
    /// The order's terms after the event (a replace changes them).
    pub quantity: Quantity,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit_price: Option<Price>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stop_price: Option<Price>,
    /// Filled so far, cumulative.
    pub filled_quantity: Quantity,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub average_price: Option<Price>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fill: Option<VenueFill>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// An account's new orders are halted (on `executions` by account): reconciliation with
/// its broker found a difference it cannot explain.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccountHalted {
    pub account_id: AccountId,
    pub reason: String,
}

/// Every event Stratus puts on a stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    // stream `commands`, by symbol
    PlaceOrder(OrderRequest),
    CancelOrder(CancelOrder),
    AmendOrder(AmendOrder),
    BrokerExecution(BrokerExecution),
    // stream `executions`, by account
    OrderAccepted(OrderRef),
    OrderRejected(OrderOutcome),
    OrderFilled(Fill),
    OrderCancelled(OrderOutcome),
    OrderExpired(OrderRef),
    OrderTriggered(OrderRef),
    OrderAmended(AmendOrder),
    AccountHalted(AccountHalted),
    // streams `ticks` and `candles`, by symbol
    TickReceived(Tick),
    CandleClosed(Candle),
}

macro_rules! event_table {
    ($( $variant:ident => $type:literal v $version:literal ),* $(,)?) => {
        impl Event {
            /// Every event type this build reads and writes, with its current version.
            pub const TYPES: &'static [(&'static str, u16)] = &[$(($type, $version)),*];

            pub fn event_type(&self) -> &'static str {
                match self { $(Event::$variant(_) => $type),* }
            }

            pub fn version(&self) -> u16 {
                match self { $(Event::$variant(_) => $version),* }
            }

            fn payload_json(&self) -> Result<serde_json::Value, serde_json::Error> {
                match self { $(Event::$variant(p) => serde_json::to_value(p)),* }
            }

            /// Reads a typed event from its envelope.
            pub fn from_envelope(envelope: &EventEnvelope) -> Result<Event, EventError> {
                let payload_error = |e: serde_json::Error| EventError::Payload {
                    event_type: envelope.event_type.clone(),
                    message: e.to_string(),
                };
                match envelope.event_type.as_str() {
                    $($type => {
                        if envelope.version != $version {
                            return Err(EventError::UnsupportedVersion {
                                event_type: envelope.event_type.clone(),
                                version: envelope.version,
                                supported: $version,
                            });
                        }
                        serde_json::from_value(envelope.payload.clone())
                            .map(Event::$variant)
                            .map_err(payload_error)
                    })*
                    other => Err(EventError::UnknownType(other.to_owned())),
                }
            }
        }
    };
}

event_table! {
    PlaceOrder => "order.place" v 1,
    CancelOrder => "order.cancel" v 1,
    AmendOrder => "order.amend" v 1,
    BrokerExecution => "broker.execution" v 1,
    OrderAccepted => "order.accepted" v 1,
    OrderRejected => "order.rejected" v 1,
    OrderFilled => "order.filled" v 1,
    OrderCancelled => "order.cancelled" v 1,
    OrderExpired => "order.expired" v 1,
    OrderTriggered => "order.triggered" v 1,
    OrderAmended => "order.amended" v 1,
    AccountHalted => "account.halted" v 1,
    TickReceived => "market.tick" v 1,
    CandleClosed => "candle.closed" v 1,
}

impl Event {
    /// The stream partition this event belongs to: the symbol for commands and market
    /// data, the account for executions.
    pub fn partition_key(&self) -> String {
        match self {
            Event::PlaceOrder(r) => r.symbol.to_string(),
            Event::CancelOrder(c) => c.order.symbol.to_string(),
            Event::AmendOrder(a) => a.order.symbol.to_string(),
            Event::BrokerExecution(b) => b.order.symbol.to_string(),
            Event::AccountHalted(h) => h.account_id.to_string(),
            Event::OrderAccepted(o) | Event::OrderExpired(o) | Event::OrderTriggered(o) => {
                o.account_id.to_string()
            }
            Event::OrderRejected(o) | Event::OrderCancelled(o) => o.order.account_id.to_string(),
            Event::OrderFilled(f) => f.account_id.to_string(),
            Event::OrderAmended(a) => a.order.account_id.to_string(),
            Event::TickReceived(t) => t.symbol.to_string(),
            Event::CandleClosed(c) => c.symbol.to_string(),
        }
    }

    /// Wraps the event in its envelope.
    pub fn to_envelope(&self, id: EventId, time: Timestamp) -> EventEnvelope {
        EventEnvelope {
            id,
            event_type: self.event_type().to_owned(),
            version: self.version(),
            time,
            partition_key: self.partition_key(),
            // Serializing these plain data types cannot fail (no maps with non-string keys,
            // no custom serializers that error); a failure would be a bug caught by the
            // golden tests, and Null keeps this infallible for callers.
            payload: self.payload_json().unwrap_or(serde_json::Value::Null),
        }
    }
}

impl EventEnvelope {
    /// Parses a stream record's bytes.
    pub fn from_slice(bytes: &[u8]) -> Result<EventEnvelope, EventError> {
        serde_json::from_slice(bytes).map_err(|e| EventError::Malformed(e.to_string()))
    }

    pub fn to_vec(&self) -> Vec<u8> {
        // A struct of strings, numbers and a Value always serializes.
        serde_json::to_vec(self).unwrap_or_default()
    }

    /// Parses the payload into a typed event.
    pub fn decode(&self) -> Result<Event, EventError> {
        Event::from_envelope(self)
    }
}
