//! Alpaca's JSON, read: the order, position and account objects, `trade_updates` events,
//! market-data messages, and their translation into the port's types. Decimals are read
//! from their text — Alpaca's decimal strings, or the digits of a JSON number — and never
//! pass through `f64`. Symbols: `BTC-USD` in Stratus is `BTC/USD` at Alpaca.

use domain::num::parse_decimal;
use domain::{OrderStatus, OrderType, Price, Quantity, Side, Symbol, TimeInForce, Timestamp};
use rust_decimal::Decimal;
use serde::{Deserialize, Deserializer};
use serde_json::value::RawValue;

use crate::{BrokerOrderState, client_id};

/// A decimal as Alpaca writes it: a string (`"101.5"`), a JSON number (market data), or
/// none (`null`, `""`, absent).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Dec(pub Option<Decimal>);

/// Exact, or the scientific form a JSON number may take (`1e-5`).
pub(crate) fn decimal_text(text: &str) -> Option<Decimal> {
    parse_decimal("decimal", text)
        .ok()
        .or_else(|| Decimal::from_scientific(text).ok().map(|d| d.normalize()))
}

impl<'de> Deserialize<'de> for Dec {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        // The raw text of the value: a number's own digits, not an f64 made of them.
        let raw: Box<RawValue> = Deserialize::deserialize(deserializer)?;
        let text = raw.get().trim();
        if text == "null" {
            return Ok(Dec(None));
        }
        let unquoted = if text.starts_with('"') {
            serde_json::from_str::<String>(text).map_err(serde::de::Error::custom)?
        } else {
            text.to_owned()
        };
        if unquoted.is_empty() {
            return Ok(Dec(None));
        }
        decimal_text(&unquoted)
            .map(|d| Dec(Some(d)))
            .ok_or_else(|| serde::de::Error::custom(format!("not a decimal: {unquoted}")))
    }
}

/// Why a message from Alpaca could not be read as the port's types.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub(crate) struct WireError(pub String);

fn wire(message: impl Into<String>) -> WireError {
    WireError(message.into())
}

/// Alpaca's order object (the fields the port reads).
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct AlpacaOrder {
    pub id: String,
    pub client_order_id: String,
    pub updated_at: Option<String>,
    pub submitted_at: Option<String>,
    pub created_at: Option<String>,
    pub replaced_by: Option<String>,
    pub replaces: Option<String>,
    pub symbol: Option<String>,
    #[serde(default)]
    pub qty: Dec,
    #[serde(default)]
    pub filled_qty: Dec,
    #[serde(default)]
    pub filled_avg_price: Dec,
    #[serde(rename = "type")]
    pub order_type: Option<String>,
    pub side: Option<String>,
    pub time_in_force: Option<String>,
    #[serde(default)]
    pub limit_price: Dec,
    #[serde(default)]
    pub stop_price: Dec,
    pub status: String,
}

impl AlpacaOrder {
    /// Stratus's order id and the revision, from the client order id; `None` for an order
    /// Stratus did not place.
    pub(crate) fn stratus_id(&self) -> Option<(domain::OrderId, u32)> {
        client_id::decode(&self.client_order_id)
    }

    /// This revision was replaced and names its replacement.
    pub(crate) fn replacement(&self) -> Option<&str> {
        if self.status == "replaced" {
            self.replaced_by.as_deref()
        } else {
            None
        }
    }
}

/// Alpaca's symbol for a Stratus symbol: crypto pairs take a slash (`BTC-USD` →
/// `BTC/USD`); everything else is as written.
pub(crate) fn alpaca_symbol(symbol: Symbol, crypto: bool) -> String {
    let text = symbol.as_str();
    if crypto {
        text.replace('-', "/")
    } else {
        text.to_owned()
    }
}

/// The quote currencies Alpaca's crypto pairs end with, for positions (`BTCUSD`), which
/// drop the slash.
const CRYPTO_QUOTES: [&str; 4] = ["USDT", "USDC", "USD", "BTC"];

/// The Stratus symbol for one of Alpaca's: `BTC/USD` → `BTC-USD`; a crypto position's
/// `BTCUSD` → `BTC-USD`; anything else as written.
pub(crate) fn stratus_symbol(symbol: &str, crypto: bool) -> Result<Symbol, WireError> {
    let text = if symbol.contains('/') {
        symbol.replace('/', "-")
    } else if crypto {
        CRYPTO_QUOTES
            .iter()
            .find_map(|quote| {
                symbol
                    .strip_suffix(quote)
                    .filter(|base| !base.is_empty())
                    .map(|base| format!("{base}-{quote}"))
            })
            .unwrap_or_else(|| symbol.to_owned())
    } else {
        symbol.to_owned()
    };
    Symbol::parse(&text).map_err(|e| wire(format!("symbol {symbol}: {e}")))
}

/// The port's status for one of Alpaca's (what has filled decides between working
/// states).
pub(crate) fn status(alpaca: &str, filled: Decimal) -> OrderStatus {
    let working = if filled > Decimal::ZERO {
        OrderStatus::PartiallyFilled
    } else {
        OrderStatus::Accepted
    };
    match alpaca {
        "pending_new" | "accepted_for_bidding" | "pending_review" => OrderStatus::New,
        "partially_filled" => OrderStatus::PartiallyFilled,
        "filled" => OrderStatus::Filled,
        "canceled" => OrderStatus::Cancelled,
        "expired" => OrderStatus::Expired,
        "rejected" => OrderStatus::Rejected,
        // A replaced revision trades no more (the adapter follows `replaced_by` to the
        // order's current one; this is for a revision read on its own).
        "replaced" => OrderStatus::Cancelled,
        // new, accepted, pending_cancel, pending_replace, done_for_day, calculated,
        // stopped, held, suspended, and any status Alpaca adds: still working.
        _ => working,
    }
}

fn required<T>(value: Option<T>, what: &str) -> Result<T, WireError> {
    value.ok_or_else(|| wire(format!("the order has no {what}")))
}

fn time(text: Option<&str>, what: &str) -> Result<Timestamp, WireError> {
    Timestamp::parse(required(text, what)?).map_err(|e| wire(format!("{what}: {e}")))
}

fn price(value: Dec, what: &str) -> Result<Price, WireError> {
    Price::named("price", required(value.0, what)?).map_err(|e| wire(format!("{what}: {e}")))
}

/// The port's view of an order object (see the parent module for the identity rules).
pub(crate) fn order_state(order: &AlpacaOrder) -> Result<BrokerOrderState, WireError> {
    let (order_id, _) = order.stratus_id().ok_or_else(|| {
        wire(format!(
            "client order id {} is not one Stratus made",
            order.client_order_id
        ))
    })?;
    let order_type = match required(order.order_type.as_deref(), "type")? {
        "market" => OrderType::Market,
        "limit" => OrderType::Limit {
            limit_price: price(order.limit_price, "limit_price")?,
        },
        "stop" => OrderType::Stop {
            stop_price: price(order.stop_price, "stop_price")?,
        },
        "stop_limit" => OrderType::StopLimit {
            stop_price: price(order.stop_price, "stop_price")?,
            limit_price: price(order.limit_price, "limit_price")?,
        },
        other => {
            return Err(wire(format!(
                "order type {other} is not one Stratus places"
            )));
        }
    };
    let side = match required(order.side.as_deref(), "side")? {
        "buy" => Side::Buy,
        "sell" => Side::Sell,
        other => return Err(wire(format!("side {other}"))),
    };
    let time_in_force = match required(order.time_in_force.as_deref(), "time_in_force")? {
        "day" => TimeInForce::Day,
        "gtc" => TimeInForce::Gtc,
        "ioc" => TimeInForce::Ioc,
        "fok" => TimeInForce::Fok,
        other => {
            return Err(wire(format!(
                "time in force {other} is not one Stratus places"
            )));
        }
    };
    let symbol = required(order.symbol.as_deref(), "symbol")?;
    let filled = order.filled_qty.0.unwrap_or_default();
    let quantity =
        Quantity::named("qty", required(order.qty.0, "qty")?).map_err(|e| wire(e.to_string()))?;
    let filled_quantity = Quantity::named("filled_qty", filled).map_err(|e| wire(e.to_string()))?;
    let updated_at = order
        .updated_at
        .as_deref()
        .or(order.submitted_at.as_deref())
        .or(order.created_at.as_deref());
    Ok(BrokerOrderState {
        order_id,
        broker_order_id: order.id.clone(),
        symbol: stratus_symbol(symbol, symbol.contains('/'))?,
        side,
        order_type,
        time_in_force,
        quantity,
        status: status(&order.status, filled),
        filled_quantity,
        // Alpaca may say 0 before anything has filled: only a positive price is one.
        average_price: order
            .filled_avg_price
            .0
            .filter(|_| filled > Decimal::ZERO)
            .and_then(|p| Price::new(p).ok()),
        reason: None,
        updated_at: time(updated_at, "updated_at")?,
    })
}

/// Alpaca's position object.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct AlpacaPosition {
    pub symbol: String,
    pub asset_class: Option<String>,
    #[serde(default)]
    pub qty: Dec,
    #[serde(default)]
    pub avg_entry_price: Dec,
    pub side: Option<String>,
}

/// Alpaca's account object.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct AlpacaAccount {
    pub currency: Option<String>,
    #[serde(default)]
    pub cash: Dec,
    #[serde(default)]
    pub buying_power: Dec,
}

/// One `trade_updates` event's `data`.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct TradeUpdate {
    pub event: String,
    pub execution_id: Option<String>,
    pub timestamp: Option<String>,
    #[serde(default)]
    pub price: Dec,
    #[serde(default)]
    pub qty: Dec,
    pub order: AlpacaOrder,
}

/// A stream frame: `{"stream": "…", "data": {…}}`, the data read later by what it is.
#[derive(Debug, Deserialize)]
pub(crate) struct StreamFrame {
    pub stream: String,
    pub data: Box<RawValue>,
}

/// A market-data message (the fields of `t`, `q`, `success`, `error`, `subscription`).
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct DataMessage {
    #[serde(rename = "T")]
    pub kind: String,
    #[serde(rename = "S")]
    pub symbol: Option<String>,
    #[serde(default)]
    pub p: Dec,
    #[serde(default)]
    pub s: Dec,
    pub t: Option<String>,
    #[serde(default)]
    pub bp: Dec,
    #[serde(default)]
    pub ap: Dec,
    pub msg: Option<String>,
    pub code: Option<i64>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use domain::OrderId;

    fn dec(text: &str) -> Decimal {
        text.parse().expect("decimal")
    }

    #[test]
    fn decimals_are_read_from_their_text() {
        #[derive(Deserialize)]
        struct Holder {
            a: Dec,
            b: Dec,
            c: Dec,
            d: Dec,
            e: Dec,
            #[serde(default)]
            f: Dec,
        }
        let h: Holder =
            serde_json::from_str(r#"{"a": "101.50", "b": 0.1, "c": null, "d": "", "e": 1e-5}"#)
                .expect("parsed");
        assert_eq!(h.a.0, Some(dec("101.5")));
        // 0.1 is not an f64 here: exactly one tenth.
        assert_eq!(h.b.0, Some(dec("0.1")));
        assert_eq!((h.c.0, h.d.0, h.f.0), (None, None, None));
        assert_eq!(h.e.0, Some(dec("0.00001")));
        assert!(serde_json::from_str::<Holder>(r#"{"a":"x","b":1,"c":1,"d":1,"e":1}"#).is_err());
    }

    #[test]
    fn symbols_map_both_ways() {
        let btc = Symbol::parse("BTC-USD").expect("symbol");
        assert_eq!(alpaca_symbol(btc, true), "BTC/USD");
        assert_eq!(stratus_symbol("BTC/USD", true), Ok(btc));
        assert_eq!(stratus_symbol("BTCUSD", true), Ok(btc));
        assert_eq!(
            stratus_symbol("ETHUSDT", true).map(|s| s.to_string()),
            Ok("ETH-USDT".to_owned())
        );
        let brk = Symbol::parse("BRK.B").expect("symbol");
        assert_eq!(alpaca_symbol(brk, false), "BRK.B");
        assert_eq!(stratus_symbol("BRK.B", false), Ok(brk));
    }

    #[test]
    fn statuses_by_what_has_filled() {
        let cases = [
            ("pending_new", "0", OrderStatus::New),
            ("new", "0", OrderStatus::Accepted),
            ("accepted", "0", OrderStatus::Accepted),
            ("pending_cancel", "1", OrderStatus::PartiallyFilled),
            ("done_for_day", "0", OrderStatus::Accepted),
            ("partially_filled", "1", OrderStatus::PartiallyFilled),
            ("filled", "2", OrderStatus::Filled),
            ("canceled", "1", OrderStatus::Cancelled),
            ("expired", "0", OrderStatus::Expired),
            ("rejected", "0", OrderStatus::Rejected),
            ("some_new_status", "0", OrderStatus::Accepted),
        ];
        for (alpaca, filled, expected) in cases {
            assert_eq!(status(alpaca, dec(filled)), expected, "{alpaca}");
        }
    }

    #[test]
    fn an_order_object_becomes_the_port_state() {
        let id = OrderId::random();
        let text = format!(
            r#"{{"id": "61e69015-8549-4bfd-b9c3-01e75843f47d", "client_order_id": "{}",
            "created_at": "2024-03-01T15:00:00Z", "updated_at": "2024-03-01T15:00:01.5Z",
            "submitted_at": "2024-03-01T15:00:00Z", "replaced_by": null, "replaces": null,
            "symbol": "BTC/USD", "asset_class": "crypto", "qty": "0.5", "filled_qty": "0.2",
            "filled_avg_price": "60000.125", "order_class": "simple", "type": "stop_limit",
            "side": "sell", "time_in_force": "gtc", "limit_price": "59000",
            "stop_price": "59500", "status": "partially_filled", "extended_hours": false}}"#,
            client_id::encode(id, 2)
        );
        let order: AlpacaOrder = serde_json::from_str(&text).expect("order");
        let state = order_state(&order).expect("state");
        assert_eq!(state.order_id, id);
        assert_eq!(state.symbol, Symbol::parse("BTC-USD").expect("symbol"));
        assert_eq!(state.side, Side::Sell);
        assert_eq!(
            state.order_type,
            OrderType::StopLimit {
                stop_price: Price::new(dec("59500")).expect("price"),
                limit_price: Price::new(dec("59000")).expect("price"),
            }
        );
        assert_eq!(state.quantity.value(), dec("0.5"));
        assert_eq!(state.filled_quantity.value(), dec("0.2"));
        assert_eq!(
            state.average_price.map(Price::value),
            Some(dec("60000.125"))
        );
        assert_eq!(state.status, OrderStatus::PartiallyFilled);
        assert_eq!(
            state.updated_at,
            Timestamp::parse("2024-03-01T15:00:01.5Z").expect("time")
        );

        let foreign: AlpacaOrder =
            serde_json::from_str(&text.replace(&client_id::encode(id, 2), "my-own"))
                .expect("order");
        assert!(
            order_state(&foreign).is_err(),
            "not an order Stratus placed"
        );
        let trailing: AlpacaOrder =
            serde_json::from_str(&text.replace("stop_limit", "trailing_stop")).expect("order");
        assert!(order_state(&trailing).is_err());
    }
}
