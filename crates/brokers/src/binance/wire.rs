//! Binance's names and JSON, and how they become Stratus's: symbols (`BTC-USD` ↔
//! `BTCUSDT`), order sides, types, times in force and statuses, the order objects REST
//! answers with and the `executionReport` event. Decimals are read from Binance's strings,
//! exactly.

use domain::{OrderStatus, OrderType, Price, Quantity, Side, Symbol, TimeInForce, Timestamp};
use rust_decimal::Decimal;
use serde::Deserialize;

use crate::{BrokerError, BrokerOrderState, BrokerResult};

/// The asset a Stratus `USD` quote stands for: Binance Spot has no US dollar, and USDT is
/// where its dollar liquidity is (1 USDT is counted as 1 USD).
pub(crate) const USD_STAND_IN: &str = "USDT";

/// A Stratus symbol and its Binance pair.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Pair {
    pub stratus: Symbol,
    /// `BTCUSDT`.
    pub venue: String,
    /// The quote asset when it is known (`USDT`), for telling a fee in it.
    pub quote: Option<String>,
}

impl Pair {
    /// `BTC-USD` → `BTCUSDT`; `ETH-BTC` → `ETHBTC`; `BTCUSDT` (no `-`) as it is.
    pub fn of(symbol: Symbol) -> Self {
        match symbol.as_str().split_once('-') {
            Some((base, quote)) => {
                let quote = if quote == "USD" { USD_STAND_IN } else { quote };
                Pair {
                    stratus: symbol,
                    venue: format!("{base}{quote}"),
                    quote: Some(quote.to_string()),
                }
            }
            None => Pair {
                stratus: symbol,
                venue: symbol.as_str().to_string(),
                quote: symbol
                    .as_str()
                    .ends_with(USD_STAND_IN)
                    .then(|| USD_STAND_IN.to_string()),
            },
        }
    }

    /// The Stratus symbol for a Binance pair this process did not map itself: a `USDT`
    /// pair is `<BASE>-USD`; anything else keeps Binance's name.
    pub fn from_venue(venue: &str) -> BrokerResult<Self> {
        let stratus = match venue.strip_suffix(USD_STAND_IN) {
            Some(base) if !base.is_empty() => format!("{base}-USD"),
            _ => venue.to_string(),
        };
        let symbol =
            Symbol::parse(&stratus).map_err(|e| unreadable(format!("symbol {venue:?}: {e}")))?;
        Ok(Pair::of(symbol))
    }
}

/// An answer that does not say what Binance documents.
pub(crate) fn unreadable(what: impl std::fmt::Display) -> BrokerError {
    BrokerError::Unavailable(format!("an unreadable answer from binance: {what}"))
}

/// A Binance decimal string, exactly.
pub(crate) fn decimal(field: &str, text: &str) -> BrokerResult<Decimal> {
    Decimal::from_str_exact(text)
        .map(|d| d.normalize())
        .map_err(|_| unreadable(format!("{field} {text:?} is not a decimal")))
}

pub(crate) fn quantity(field: &str, value: Decimal) -> BrokerResult<Quantity> {
    Quantity::new(value).map_err(|e| unreadable(format!("{field}: {e}")))
}

/// A price, or `None` for Binance's zero ("no price").
pub(crate) fn price(field: &str, text: &str) -> BrokerResult<Option<Price>> {
    let value = decimal(field, text)?;
    if value.is_zero() {
        return Ok(None);
    }
    Price::new(value)
        .map(Some)
        .map_err(|e| unreadable(format!("{field}: {e}")))
}

/// Binance's milliseconds as a timestamp.
pub(crate) fn millis(ms: i64) -> Timestamp {
    Timestamp::from_nanos(ms.saturating_mul(1_000_000))
}

pub(crate) fn side_name(side: Side) -> &'static str {
    match side {
        Side::Buy => "BUY",
        Side::Sell => "SELL",
    }
}

fn side(text: &str) -> BrokerResult<Side> {
    match text {
        "BUY" => Ok(Side::Buy),
        "SELL" => Ok(Side::Sell),
        other => Err(unreadable(format!("side {other:?}"))),
    }
}

pub(crate) fn tif_name(tif: TimeInForce) -> &'static str {
    match tif {
        TimeInForce::Ioc => "IOC",
        TimeInForce::Fok => "FOK",
        TimeInForce::Gtc | TimeInForce::Day => "GTC",
    }
}

fn tif(text: &str) -> BrokerResult<TimeInForce> {
    match text {
        "GTC" => Ok(TimeInForce::Gtc),
        "IOC" => Ok(TimeInForce::Ioc),
        "FOK" => Ok(TimeInForce::Fok),
        other => Err(unreadable(format!("time in force {other:?}"))),
    }
}

/// The Binance order type for a Stratus one and whether it takes `timeInForce`.
pub(crate) fn type_name(order_type: OrderType) -> (&'static str, bool) {
    match order_type {
        OrderType::Market => ("MARKET", false),
        OrderType::Limit { .. } => ("LIMIT", true),
        OrderType::Stop { .. } => ("STOP_LOSS", false),
        OrderType::StopLimit { .. } => ("STOP_LOSS_LIMIT", true),
    }
}

/// A Binance order type with its `price` and `stopPrice` as a Stratus one. The take-profit
/// types trigger the other way from a Stratus stop and are never placed by Stratus.
fn order_type(kind: &str, limit: &str, stop: &str) -> BrokerResult<OrderType> {
    let required = |field: &str, text: &str| {
        price(field, text)?.ok_or_else(|| unreadable(format!("a {kind} order without {field}")))
    };
    Ok(match kind {
        "MARKET" => OrderType::Market,
        "LIMIT" | "LIMIT_MAKER" => OrderType::Limit {
            limit_price: required("price", limit)?,
        },
        "STOP_LOSS" => OrderType::Stop {
            stop_price: required("stopPrice", stop)?,
        },
        "STOP_LOSS_LIMIT" => OrderType::StopLimit {
            stop_price: required("stopPrice", stop)?,
            limit_price: required("price", limit)?,
        },
        other => {
            return Err(unreadable(format!(
                "order type {other:?} is not one Stratus places"
            )));
        }
    })
}

fn status(text: &str) -> BrokerResult<OrderStatus> {
    Ok(match text {
        "PENDING_NEW" => OrderStatus::New,
        // `PENDING_CANCEL` is documented as unused; the order is still working if seen.
        "NEW" | "PENDING_CANCEL" => OrderStatus::Accepted,
        "PARTIALLY_FILLED" => OrderStatus::PartiallyFilled,
        "FILLED" => OrderStatus::Filled,
        "CANCELED" => OrderStatus::Cancelled,
        "REJECTED" => OrderStatus::Rejected,
        "EXPIRED" | "EXPIRED_IN_MATCH" => OrderStatus::Expired,
        other => return Err(unreadable(format!("order status {other:?}"))),
    })
}

/// What earlier revisions of a replaced order filled (Binance's replacement is a new
/// order that starts from nothing): quantity and quote amount.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Carried {
    pub quantity: Decimal,
    pub quote: Decimal,
}

/// The order facts both REST's order objects and `executionReport` give.
#[derive(Debug, Clone)]
pub(crate) struct OrderFacts<'a> {
    pub order_id: domain::OrderId,
    pub broker_order_id: u64,
    pub pair: &'a Pair,
    pub side: &'a str,
    pub kind: &'a str,
    pub time_in_force: &'a str,
    pub orig_qty: &'a str,
    pub price: &'a str,
    pub stop_price: &'a str,
    pub status: &'a str,
    pub executed_qty: &'a str,
    pub cum_quote: &'a str,
    pub updated_ms: i64,
    pub reason: Option<String>,
}

impl OrderFacts<'_> {
    /// The Stratus order: this revision's terms plus what earlier revisions filled.
    pub fn state(&self, carried: Carried) -> BrokerResult<BrokerOrderState> {
        let filled = carried.quantity + decimal("executedQty", self.executed_qty)?;
        let quote = decimal("cummulativeQuoteQty", self.cum_quote)?;
        // Binance gives a negative quote amount for some old orders: "not available".
        let average_price = if filled > Decimal::ZERO && quote >= Decimal::ZERO {
            Price::new((carried.quote + quote) / filled).ok()
        } else {
            None
        };
        Ok(BrokerOrderState {
            order_id: self.order_id,
            broker_order_id: self.broker_order_id.to_string(),
            symbol: self.pair.stratus,
            side: side(self.side)?,
            order_type: order_type(self.kind, self.price, self.stop_price)?,
            time_in_force: tif(self.time_in_force)?,
            quantity: quantity(
                "origQty",
                carried.quantity + decimal("origQty", self.orig_qty)?,
            )?,
            status: status(self.status)?,
            filled_quantity: quantity("executedQty", filled)?,
            average_price,
            reason: self.reason.clone(),
            updated_at: millis(self.updated_ms),
        })
    }
}

/// An order object as REST answers (query, open orders, a new order's `RESULT`, a
/// cancel): the fields Stratus reads.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct OrderJson {
    pub symbol: String,
    pub order_id: u64,
    pub client_order_id: String,
    #[serde(default)]
    pub orig_client_order_id: Option<String>,
    pub price: String,
    pub orig_qty: String,
    pub executed_qty: String,
    pub cummulative_quote_qty: String,
    pub status: String,
    pub time_in_force: String,
    #[serde(rename = "type")]
    pub kind: String,
    pub side: String,
    #[serde(default)]
    pub stop_price: Option<String>,
    #[serde(default)]
    pub update_time: Option<i64>,
    #[serde(default)]
    pub transact_time: Option<i64>,
    #[serde(default)]
    pub time: Option<i64>,
}

impl OrderJson {
    /// The client order id of the order itself (a cancel answer's `clientOrderId` is the
    /// cancel's own).
    pub fn order_client_id(&self) -> &str {
        self.orig_client_order_id
            .as_deref()
            .unwrap_or(&self.client_order_id)
    }

    pub fn facts<'a>(&'a self, order_id: domain::OrderId, pair: &'a Pair) -> OrderFacts<'a> {
        OrderFacts {
            order_id,
            broker_order_id: self.order_id,
            pair,
            side: &self.side,
            kind: &self.kind,
            time_in_force: &self.time_in_force,
            orig_qty: &self.orig_qty,
            price: &self.price,
            stop_price: self.stop_price.as_deref().unwrap_or("0"),
            status: &self.status,
            executed_qty: &self.executed_qty,
            cum_quote: &self.cummulative_quote_qty,
            updated_ms: self
                .update_time
                .or(self.transact_time)
                .or(self.time)
                .unwrap_or_default(),
            reason: None,
        }
    }
}

/// `GET /api/v3/account`: the balances.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct AccountJson {
    pub balances: Vec<BalanceJson>,
}

#[derive(Debug, Clone, Deserialize)]
pub(crate) struct BalanceJson {
    pub asset: String,
    pub free: String,
    pub locked: String,
}

/// `POST /api/v3/order/cancelReplace` when both halves succeeded.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct CancelReplaceJson {
    pub cancel_response: OrderJson,
    pub new_order_response: OrderJson,
}

/// The user data stream's `executionReport` (Binance's one-letter fields).
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct ExecutionReportJson {
    #[serde(rename = "E")]
    pub event_time: i64,
    #[serde(rename = "s")]
    pub symbol: String,
    #[serde(rename = "c")]
    pub client_order_id: String,
    #[serde(rename = "S")]
    pub side: String,
    #[serde(rename = "o")]
    pub kind: String,
    #[serde(rename = "f")]
    pub time_in_force: String,
    #[serde(rename = "q")]
    pub quantity: String,
    #[serde(rename = "p")]
    pub price: String,
    #[serde(rename = "P")]
    pub stop_price: String,
    /// The original client order id, on a cancel (whose `c` is the cancel's own id).
    #[serde(rename = "C", default)]
    pub orig_client_order_id: Option<String>,
    #[serde(rename = "x")]
    pub execution_type: String,
    #[serde(rename = "X")]
    pub status: String,
    #[serde(rename = "r", default)]
    pub reject_reason: Option<String>,
    #[serde(rename = "i")]
    pub order_id: u64,
    #[serde(rename = "l")]
    pub last_quantity: String,
    #[serde(rename = "z")]
    pub cumulative_quantity: String,
    #[serde(rename = "L")]
    pub last_price: String,
    #[serde(rename = "n", default)]
    pub commission: Option<String>,
    #[serde(rename = "N", default)]
    pub commission_asset: Option<String>,
    #[serde(rename = "T")]
    pub transaction_time: i64,
    #[serde(rename = "t", default)]
    pub trade_id: Option<i64>,
    #[serde(rename = "I", default)]
    pub execution_id: Option<i64>,
    #[serde(rename = "Z")]
    pub cumulative_quote: String,
    #[serde(rename = "eR", default)]
    pub expiry_reason: Option<String>,
}

impl ExecutionReportJson {
    /// The id of the order the event is about (on a cancel, `C`).
    pub fn order_client_id(&self) -> &str {
        match &self.orig_client_order_id {
            Some(original) if !original.is_empty() => original,
            _ => &self.client_order_id,
        }
    }

    pub fn facts<'a>(&'a self, order_id: domain::OrderId, pair: &'a Pair) -> OrderFacts<'a> {
        let reason = match self.reject_reason.as_deref() {
            Some(r) if r != "NONE" => Some(r.to_string()),
            _ => self.expiry_reason.clone(),
        };
        OrderFacts {
            order_id,
            broker_order_id: self.order_id,
            pair,
            side: &self.side,
            kind: &self.kind,
            time_in_force: &self.time_in_force,
            orig_qty: &self.quantity,
            price: &self.price,
            stop_price: &self.stop_price,
            status: &self.status,
            executed_qty: &self.cumulative_quantity,
            cum_quote: &self.cumulative_quote,
            updated_ms: self.transaction_time,
            reason,
        }
    }
}

/// Reads a decimal string field that may be absent (`n` before any fill).
pub(crate) fn optional_decimal(field: &str, text: Option<&str>) -> BrokerResult<Decimal> {
    match text {
        None | Some("") => Ok(Decimal::ZERO),
        Some(t) => decimal(field, t),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn symbol(text: &str) -> Symbol {
        Symbol::parse(text).expect("a symbol")
    }

    #[test]
    fn usd_quotes_are_usdt_pairs() {
        let btc = Pair::of(symbol("BTC-USD"));
        assert_eq!(btc.venue, "BTCUSDT");
        assert_eq!(btc.quote.as_deref(), Some("USDT"));
        assert_eq!(Pair::of(symbol("ETH-USD")).venue, "ETHUSDT");
        assert_eq!(Pair::of(symbol("ETH-BTC")).venue, "ETHBTC");
        assert_eq!(Pair::of(symbol("BNBUSDT")).venue, "BNBUSDT");
        assert_eq!(Pair::from_venue("BTCUSDT").expect("pair"), btc);
        assert_eq!(
            Pair::from_venue("ETHBTC").expect("pair").stratus,
            symbol("ETHBTC")
        );
    }

    #[test]
    fn decimals_are_exact_and_zero_prices_are_none() {
        assert_eq!(
            decimal("p", "0.10000000").expect("decimal"),
            Decimal::new(1, 1)
        );
        assert!(
            decimal("p", "1e-5").is_err(),
            "Binance never sends exponents"
        );
        assert_eq!(price("p", "0.00000000").expect("price"), None);
    }
}
