//! Orders: side, type, time in force, and the lifecycle state machine.
//!
//! ```text
//! New ──accept──► Accepted ──fill──► PartiallyFilled ──fill──► Filled
//!  │                 │  └──────────────fill (all)───────────────►┘
//!  └─reject─► Rejected│ cancel / expire        │ cancel / expire
//!                    ▼                         ▼
//!               Cancelled | Expired       Cancelled | Expired
//! ```
//! Every transition is a method that returns `Err(IllegalTransition)` instead of moving
//! an order out of a terminal state or skipping acceptance.

use std::fmt;

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::error::DomainError;
use crate::ids::{AccountId, ClientOrderId, OrderId, StrategyId};
use crate::instrument::Instrument;
use crate::num::{Price, Quantity};
use crate::symbol::Symbol;
use crate::time::Timestamp;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Side {
    Buy,
    Sell,
}

impl Side {
    pub fn opposite(self) -> Side {
        match self {
            Side::Buy => Side::Sell,
            Side::Sell => Side::Buy,
        }
    }

    /// +1 for buys, -1 for sells: the sign of the position change.
    pub fn sign(self) -> Decimal {
        match self {
            Side::Buy => Decimal::ONE,
            Side::Sell => Decimal::NEGATIVE_ONE,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Side::Buy => "buy",
            Side::Sell => "sell",
        }
    }
}

impl fmt::Display for Side {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What kind of order, with the prices that kind needs (so a limit order without a limit
/// price cannot be written down).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum OrderType {
    /// Executes against the best prices available now; never rests on the book.
    Market,
    Limit {
        limit_price: Price,
    },
    /// Becomes a market order when the last trade price reaches `stop_price`.
    Stop {
        stop_price: Price,
    },
    /// Becomes a limit order at `limit_price` when the last trade price reaches `stop_price`.
    StopLimit {
        stop_price: Price,
        limit_price: Price,
    },
}

impl OrderType {
    pub fn limit_price(&self) -> Option<Price> {
        match *self {
            OrderType::Limit { limit_price } | OrderType::StopLimit { limit_price, .. } => {
                Some(limit_price)
            }
            OrderType::Market | OrderType::Stop { .. } => None,
        }
    }

    pub fn stop_price(&self) -> Option<Price> {
        match *self {
            OrderType::Stop { stop_price } | OrderType::StopLimit { stop_price, .. } => {
                Some(stop_price)
            }
            OrderType::Market | OrderType::Limit { .. } => None,
        }
    }

    pub fn name(&self) -> &'static str {
        match self {
            OrderType::Market => "market",
            OrderType::Limit { .. } => "limit",
            OrderType::Stop { .. } => "stop",
            OrderType::StopLimit { .. } => "stop_limit",
        }
    }
}

/// How long an order may rest.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TimeInForce {
    /// Good till cancelled.
    #[default]
    Gtc,
    /// Immediate or cancel: whatever does not fill at once is cancelled.
    Ioc,
    /// Fill or kill: fills completely at once or not at all.
    Fok,
    /// Rests until the end of the trading day, then expires.
    Day,
}

impl TimeInForce {
    pub fn as_str(self) -> &'static str {
        match self {
            TimeInForce::Gtc => "gtc",
            TimeInForce::Ioc => "ioc",
            TimeInForce::Fok => "fok",
            TimeInForce::Day => "day",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OrderStatus {
    New,
    Accepted,
    PartiallyFilled,
    Filled,
    Cancelled,
    Rejected,
    Expired,
}

impl OrderStatus {
    pub fn is_terminal(self) -> bool {
        matches!(
            self,
            OrderStatus::Filled
                | OrderStatus::Cancelled
                | OrderStatus::Rejected
                | OrderStatus::Expired
        )
    }

    /// Whether the order can still trade (it is working on the book or waiting for a stop).
    pub fn is_open(self) -> bool {
        matches!(self, OrderStatus::Accepted | OrderStatus::PartiallyFilled)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            OrderStatus::New => "new",
            OrderStatus::Accepted => "accepted",
            OrderStatus::PartiallyFilled => "partially_filled",
            OrderStatus::Filled => "filled",
            OrderStatus::Cancelled => "cancelled",
            OrderStatus::Rejected => "rejected",
            OrderStatus::Expired => "expired",
        }
    }
}

impl fmt::Display for OrderStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What a client asks for; validated into an [`Order`] by [`Order::new`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrderRequest {
    pub id: OrderId,
    pub client_order_id: Option<ClientOrderId>,
    pub account_id: AccountId,
    pub symbol: Symbol,
    pub side: Side,
    #[serde(flatten)]
    pub order_type: OrderType,
    #[serde(default)]
    pub time_in_force: TimeInForce,
    pub quantity: Quantity,
}

/// An order's quantity and prices on its instrument's grid (whole lots and ticks).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GridOrder {
    pub lots: u64,
    pub limit_ticks: Option<i64>,
    pub stop_ticks: Option<i64>,
}

impl OrderRequest {
    /// Checks the request against the instrument's grid: positive quantity on the lot grid
    /// and above the minimum, prices on the tick grid. Returns the first problem found.
    pub fn validate(&self, instrument: &Instrument) -> Result<(), DomainError> {
        self.to_grid(instrument).map(|_| ())
    }

    /// Validates like [`OrderRequest::validate`] and returns the grid values.
    pub fn to_grid(&self, instrument: &Instrument) -> Result<GridOrder, DomainError> {
        if self.symbol != instrument.symbol() {
            return Err(DomainError::Invalid {
                field: "symbol",
                reason: format!(
                    "order is for {} but the instrument is {}",
                    self.symbol,
                    instrument.symbol()
                ),
            });
        }
        let lots = instrument.order_lots("quantity", self.quantity)?;
        let limit_ticks = match self.order_type.limit_price() {
            Some(p) => Some(instrument.ticks("limit_price", p)?),
            None => None,
        };
        let stop_ticks = match self.order_type.stop_price() {
            Some(p) => Some(instrument.ticks("stop_price", p)?),
            None => None,
        };
        Ok(GridOrder {
            lots,
            limit_ticks,
            stop_ticks,
        })
    }
}

/// An order and where it is in its life.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Order {
    pub id: OrderId,
    pub client_order_id: Option<ClientOrderId>,
    pub account_id: AccountId,
    pub symbol: Symbol,
    pub side: Side,
    /// The strategy deployment that placed the order (`None` for a user's own order).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub strategy_id: Option<StrategyId>,
    #[serde(flatten)]
    order_type: OrderType,
    time_in_force: TimeInForce,
    quantity: Quantity,
    status: OrderStatus,
    filled_quantity: Quantity,
    /// Sum of price × quantity over fills, for the average fill price.
    filled_notional: Decimal,
    created_at: Timestamp,
    updated_at: Timestamp,
    reason: Option<String>,
}

impl Order {
    /// A validated order in state `New`.
    pub fn new(
        request: OrderRequest,
        instrument: &Instrument,
        now: Timestamp,
    ) -> Result<Self, DomainError> {
        request.validate(instrument)?;
        Ok(Order {
            id: request.id,
            client_order_id: request.client_order_id,
            account_id: request.account_id,
            symbol: request.symbol,
            side: request.side,
            strategy_id: None,
            order_type: request.order_type,
            time_in_force: request.time_in_force,
            quantity: request.quantity,
            status: OrderStatus::New,
            filled_quantity: Quantity::ZERO,
            filled_notional: Decimal::ZERO,
            created_at: now,
            updated_at: now,
            reason: None,
        })
    }

    pub fn status(&self) -> OrderStatus {
        self.status
    }
    pub fn order_type(&self) -> OrderType {
        self.order_type
    }
    pub fn time_in_force(&self) -> TimeInForce {
        self.time_in_force
    }
    pub fn quantity(&self) -> Quantity {
        self.quantity
    }
    pub fn filled_quantity(&self) -> Quantity {
        self.filled_quantity
    }
    pub fn created_at(&self) -> Timestamp {
        self.created_at
    }
    pub fn updated_at(&self) -> Timestamp {
        self.updated_at
    }
    /// Why the order was rejected, cancelled or expired, if it was.
    pub fn reason(&self) -> Option<&str> {
        self.reason.as_deref()
    }

    pub fn remaining_quantity(&self) -> Quantity {
        // filled ≤ quantity is an invariant kept by `fill` and `amend`.
        self.quantity
            .checked_sub(self.filled_quantity)
            .unwrap_or(Quantity::ZERO)
    }

    /// Volume-weighted average price of the fills so far.
    pub fn average_fill_price(&self) -> Option<Price> {
        if self.filled_quantity.is_zero() {
            return None;
        }
        self.filled_notional
            .checked_div(self.filled_quantity.value())
            .and_then(|p| Price::new(p).ok())
    }

    fn illegal(&self, action: &'static str) -> DomainError {
        DomainError::IllegalTransition {
            from: self.status,
            action,
        }
    }

    pub fn accept(&mut self, now: Timestamp) -> Result<(), DomainError> {
        if self.status != OrderStatus::New {
            return Err(self.illegal("accept"));
        }
        self.status = OrderStatus::Accepted;
        self.updated_at = now;
        Ok(())
    }

    pub fn reject(&mut self, reason: impl Into<String>, now: Timestamp) -> Result<(), DomainError> {
        if self.status != OrderStatus::New {
            return Err(self.illegal("reject"));
        }
        self.status = OrderStatus::Rejected;
        self.reason = Some(reason.into());
        self.updated_at = now;
        Ok(())
    }

    /// Applies an execution of `quantity` at `price`; refuses to overfill.
    pub fn fill(
        &mut self,
        quantity: Quantity,
        price: Price,
        now: Timestamp,
    ) -> Result<(), DomainError> {
        if !self.status.is_open() {
            return Err(self.illegal("fill"));
        }
        if quantity.is_zero() {
            return Err(DomainError::NotPositive {
                field: "fill_quantity",
            });
        }
        let filled = self.filled_quantity.checked_add(quantity)?;
        if filled > self.quantity {
            return Err(DomainError::OutOfRange {
                field: "fill_quantity",
                reason: format!(
                    "fill of {quantity} exceeds remaining {}",
                    self.remaining_quantity()
                ),
            });
        }
        let notional = price.checked_notional(quantity)?;
        self.filled_notional =
            self.filled_notional
                .checked_add(notional.value())
                .ok_or(DomainError::Overflow {
                    operation: "filled notional",
                })?;
        self.filled_quantity = filled;
        self.status = if filled == self.quantity {
            OrderStatus::Filled
        } else {
            OrderStatus::PartiallyFilled
        };
        self.updated_at = now;
        Ok(())
    }

    pub fn cancel(&mut self, reason: impl Into<String>, now: Timestamp) -> Result<(), DomainError> {
        if !self.status.is_open() {
            return Err(self.illegal("cancel"));
        }
        self.status = OrderStatus::Cancelled;
        self.reason = Some(reason.into());
        self.updated_at = now;
        Ok(())
    }

    pub fn expire(&mut self, now: Timestamp) -> Result<(), DomainError> {
        if !self.status.is_open() {
            return Err(self.illegal("expire"));
        }
        self.status = OrderStatus::Expired;
        self.reason = Some("time in force ended".into());
        self.updated_at = now;
        Ok(())
    }

    /// Changes the total quantity and/or the prices of an open order. The new quantity
    /// must exceed what has already filled; the order type cannot change.
    pub fn amend(
        &mut self,
        quantity: Option<Quantity>,
        limit_price: Option<Price>,
        stop_price: Option<Price>,
        now: Timestamp,
    ) -> Result<(), DomainError> {
        if !self.status.is_open() {
            return Err(self.illegal("amend"));
        }
        let amended = self.with_terms(quantity, limit_price, stop_price)?;
        self.quantity = amended.quantity;
        self.order_type = amended.order_type;
        self.updated_at = now;
        Ok(())
    }
}

/// What a working order commits its account to: its side's remaining quantity in its
/// symbol, and that quantity at the price it is reserved at — the limit price, else the
/// reserve price its placement recorded (a market order's last trade, a stop order's
/// trigger or the last trade if higher), else the stop price. Accounts keep the sum per
/// symbol and side, so buying power and position limits need no scan of the orders.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Exposure {
    pub symbol: Symbol,
    pub side: Side,
    pub quantity: Decimal,
    pub notional: Decimal,
}

impl Order {
    /// The order's exposure while it can still trade (`new`, accepted, partially
    /// filled); `None` once it is terminal. `reserve_price` is what its placement
    /// recorded for a market or stop order (see [`Exposure`]).
    pub fn exposure(&self, reserve_price: Option<Price>) -> Option<Exposure> {
        if self.status.is_terminal() {
            return None;
        }
        let quantity = self.remaining_quantity().value();
        let price = self
            .order_type
            .limit_price()
            .or(reserve_price)
            .or(self.order_type.stop_price())
            .map_or(Decimal::ZERO, |p| p.value());
        Some(Exposure {
            symbol: self.symbol,
            side: self.side,
            quantity,
            // Price × remaining of a valid order: far inside Decimal's range.
            notional: price.checked_mul(quantity).unwrap_or(Decimal::MAX),
        })
    }

    /// The order as an amend would leave it: the new total quantity and prices, whatever
    /// its state (what an amend must reserve before the core applies it). The quantity
    /// must exceed what has filled; the order type cannot change.
    pub fn with_terms(
        &self,
        quantity: Option<Quantity>,
        limit_price: Option<Price>,
        stop_price: Option<Price>,
    ) -> Result<Order, DomainError> {
        let mut order = self.clone();
        order.order_type = amended_type(self.order_type, limit_price, stop_price)?;
        if let Some(q) = quantity {
            if q <= self.filled_quantity {
                return Err(DomainError::OutOfRange {
                    field: "quantity",
                    reason: format!("must exceed the filled quantity {}", self.filled_quantity),
                });
            }
            order.quantity = q;
        }
        Ok(order)
    }
}

/// The order type with new prices, refusing a price the type does not have.
pub fn amended_type(
    order_type: OrderType,
    limit_price: Option<Price>,
    stop_price: Option<Price>,
) -> Result<OrderType, DomainError> {
    let no_field = |field: &'static str| DomainError::Invalid {
        field,
        reason: format!("a {} order has no {field}", order_type.name()),
    };
    Ok(match order_type {
        OrderType::Market => {
            if limit_price.is_some() {
                return Err(no_field("limit_price"));
            }
            if stop_price.is_some() {
                return Err(no_field("stop_price"));
            }
            OrderType::Market
        }
        OrderType::Limit { limit_price: old } => {
            if stop_price.is_some() {
                return Err(no_field("stop_price"));
            }
            OrderType::Limit {
                limit_price: limit_price.unwrap_or(old),
            }
        }
        OrderType::Stop { stop_price: old } => {
            if limit_price.is_some() {
                return Err(no_field("limit_price"));
            }
            OrderType::Stop {
                stop_price: stop_price.unwrap_or(old),
            }
        }
        OrderType::StopLimit {
            stop_price: old_stop,
            limit_price: old_limit,
        } => OrderType::StopLimit {
            stop_price: stop_price.unwrap_or(old_stop),
            limit_price: limit_price.unwrap_or(old_limit),
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::symbol::Currency;
    use rust_decimal_macros::dec;

    fn instrument() -> Instrument {
        Instrument::new(
            Symbol::parse("ES").unwrap(),
            dec!(0.25),
            dec!(1),
            dec!(1),
            Currency::USD,
        )
        .unwrap()
    }

    fn request(quantity: Decimal, order_type: OrderType) -> OrderRequest {
        OrderRequest {
            id: OrderId::from_u128(1),
            client_order_id: None,
            account_id: AccountId::from_u128(7),
            symbol: Symbol::parse("ES").unwrap(),
            side: Side::Buy,
            order_type,
            time_in_force: TimeInForce::Gtc,
            quantity: Quantity::new(quantity).unwrap(),
        }
    }

    fn limit(price: Decimal) -> OrderType {
        OrderType::Limit {
            limit_price: Price::new(price).unwrap(),
        }
    }

    fn q(v: Decimal) -> Quantity {
        Quantity::new(v).unwrap()
    }
    fn p(v: Decimal) -> Price {
        Price::new(v).unwrap()
    }
    const T: Timestamp = Timestamp::from_secs(1);

    #[test]
    fn orders_are_validated_against_the_instrument() {
        let i = instrument();
        assert!(Order::new(request(dec!(3), limit(dec!(100.25))), &i, T).is_ok());
        let err = Order::new(request(dec!(3), limit(dec!(100.1))), &i, T).unwrap_err();
        assert_eq!(err.field(), Some("limit_price"));
        let err = Order::new(request(dec!(0), limit(dec!(100))), &i, T).unwrap_err();
        assert_eq!(err.field(), Some("quantity"));
        let stop = OrderType::StopLimit {
            stop_price: p(dec!(99.3)),
            limit_price: p(dec!(99)),
        };
        assert_eq!(
            Order::new(request(dec!(1), stop), &i, T)
                .unwrap_err()
                .field(),
            Some("stop_price")
        );
    }

    #[test]
    fn lifecycle_new_accepted_partial_filled() {
        let mut o = Order::new(request(dec!(3), limit(dec!(100))), &instrument(), T).unwrap();
        assert_eq!(o.status(), OrderStatus::New);
        assert!(
            o.fill(q(dec!(1)), p(dec!(100)), T).is_err(),
            "cannot fill before accept"
        );
        o.accept(T).unwrap();
        o.fill(q(dec!(1)), p(dec!(100)), T).unwrap();
        assert_eq!(o.status(), OrderStatus::PartiallyFilled);
        o.fill(q(dec!(2)), p(dec!(99.25)), T).unwrap();
        assert_eq!(o.status(), OrderStatus::Filled);
        assert_eq!(o.average_fill_price(), Some(p(dec!(99.5))));
        for result in [
            o.cancel("x", T),
            o.expire(T),
            o.accept(T),
            o.fill(q(dec!(1)), p(dec!(1)), T),
        ] {
            assert!(matches!(
                result,
                Err(DomainError::IllegalTransition {
                    from: OrderStatus::Filled,
                    ..
                })
            ));
        }
    }

    #[test]
    fn overfills_and_terminal_moves_are_refused() {
        let mut o = Order::new(request(dec!(2), limit(dec!(100))), &instrument(), T).unwrap();
        o.accept(T).unwrap();
        assert!(o.fill(q(dec!(3)), p(dec!(100)), T).is_err());
        assert_eq!(
            o.filled_quantity(),
            Quantity::ZERO,
            "a refused fill changes nothing"
        );
        o.cancel("user", T).unwrap();
        assert_eq!(o.status(), OrderStatus::Cancelled);
        assert!(o.expire(T).is_err());
        assert!(o.reject("late", T).is_err());
    }

    #[test]
    fn rejection_only_from_new() {
        let mut o = Order::new(request(dec!(2), OrderType::Market), &instrument(), T).unwrap();
        o.reject("no buying power", T).unwrap();
        assert_eq!(o.reason(), Some("no buying power"));
        assert!(o.accept(T).is_err());
    }

    #[test]
    fn amend_keeps_quantity_above_filled_and_type_fixed() {
        let mut o = Order::new(request(dec!(5), limit(dec!(100))), &instrument(), T).unwrap();
        o.accept(T).unwrap();
        o.fill(q(dec!(2)), p(dec!(100)), T).unwrap();
        assert!(o.amend(Some(q(dec!(2))), None, None, T).is_err());
        assert!(
            o.amend(None, None, Some(p(dec!(99))), T).is_err(),
            "limit order has no stop"
        );
        o.amend(Some(q(dec!(4))), Some(p(dec!(101))), None, T)
            .unwrap();
        assert_eq!(o.remaining_quantity(), q(dec!(2)));
        assert_eq!(o.order_type().limit_price(), Some(p(dec!(101))));
    }
}
