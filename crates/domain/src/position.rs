//! Positions with average-cost accounting.
//!
//! A position's quantity is signed (long > 0, short < 0). Fills in the direction of the
//! position move the average cost; fills against it realize P&L on the closed part at
//! `(price - average) × closed × direction`; a fill larger than the position closes it and
//! opens the remainder on the other side at the fill price. Fees are kept apart from
//! gross P&L so both can be reported.

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::error::DomainError;
use crate::fill::Fill;
use crate::num::{Money, Price};
use crate::order::Side;
use crate::symbol::Symbol;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Position {
    pub symbol: Symbol,
    quantity: Decimal,
    average_price: Decimal,
    realized_pnl: Money,
    fees: Money,
}

fn overflow(operation: &'static str) -> DomainError {
    DomainError::Overflow { operation }
}

impl Position {
    pub fn flat(symbol: Symbol) -> Self {
        Position {
            symbol,
            quantity: Decimal::ZERO,
            average_price: Decimal::ZERO,
            realized_pnl: Money::ZERO,
            fees: Money::ZERO,
        }
    }

    /// Signed quantity: positive long, negative short, zero flat.
    pub fn quantity(&self) -> Decimal {
        self.quantity
    }
    /// Average entry price of the open quantity (zero when flat).
    pub fn average_price(&self) -> Decimal {
        self.average_price
    }
    /// Realized P&L before fees.
    pub fn realized_pnl(&self) -> Money {
        self.realized_pnl
    }
    pub fn fees(&self) -> Money {
        self.fees
    }
    pub fn is_flat(&self) -> bool {
        self.quantity.is_zero()
    }

    /// Realized P&L after fees.
    pub fn net_realized_pnl(&self) -> Result<Money, DomainError> {
        self.realized_pnl.checked_sub(self.fees)
    }

    /// P&L of the open quantity marked at `mark`.
    pub fn unrealized_pnl(&self, mark: Price) -> Result<Money, DomainError> {
        mark.value()
            .checked_sub(self.average_price)
            .and_then(|d| d.checked_mul(self.quantity))
            .map(Money::new)
            .ok_or_else(|| overflow("unrealized pnl"))
    }

    /// Market value of the open quantity at `mark` (negative for shorts).
    pub fn market_value(&self, mark: Price) -> Result<Money, DomainError> {
        self.quantity
            .checked_mul(mark.value())
            .map(Money::new)
            .ok_or_else(|| overflow("market value"))
    }

    /// Applies a fill of this position's symbol. On error the position is unchanged.
    pub fn apply(&mut self, fill: &Fill) -> Result<(), DomainError> {
        if fill.symbol != self.symbol {
            return Err(DomainError::Invalid {
                field: "symbol",
                reason: format!(
                    "fill for {} applied to a {} position",
                    fill.symbol, self.symbol
                ),
            });
        }
        self.apply_trade(
            fill.side,
            fill.quantity.value(),
            fill.price.value(),
            fill.fee,
        )
    }

    /// Applies a trade of `quantity` (positive) at `price` with `fee`.
    pub fn apply_trade(
        &mut self,
        side: Side,
        quantity: Decimal,
        price: Decimal,
        fee: Money,
    ) -> Result<(), DomainError> {
        if quantity <= Decimal::ZERO {
            return Err(DomainError::NotPositive { field: "quantity" });
        }
        let mut next = self.clone();
        next.fees = next.fees.checked_add(fee)?;
        let delta = quantity
            .checked_mul(side.sign())
            .ok_or_else(|| overflow("position delta"))?;
        let same_direction =
            next.quantity.is_zero() || next.quantity.is_sign_positive() == delta.is_sign_positive();
        if same_direction {
            // Weighted average of the old and the new cost.
            let old_cost = next.quantity.abs().checked_mul(next.average_price);
            let add_cost = quantity.checked_mul(price);
            let new_qty = next
                .quantity
                .checked_add(delta)
                .ok_or_else(|| overflow("position quantity"))?;
            let avg = old_cost
                .zip(add_cost)
                .and_then(|(a, b)| a.checked_add(b))
                .and_then(|cost| cost.checked_div(new_qty.abs()))
                .ok_or_else(|| overflow("average price"))?;
            next.quantity = new_qty;
            next.average_price = avg;
        } else {
            let open = next.quantity.abs();
            let closed = quantity.min(open);
            let direction = if next.quantity.is_sign_negative() {
                Decimal::NEGATIVE_ONE
            } else {
                Decimal::ONE
            };
            let pnl = price
                .checked_sub(next.average_price)
                .and_then(|d| d.checked_mul(closed))
                .and_then(|d| d.checked_mul(direction))
                .ok_or_else(|| overflow("realized pnl"))?;
            next.realized_pnl = next.realized_pnl.checked_add(Money::new(pnl))?;
            next.quantity = next
                .quantity
                .checked_add(delta)
                .ok_or_else(|| overflow("position quantity"))?;
            if next.quantity.is_zero() {
                next.average_price = Decimal::ZERO;
            } else if quantity > open {
                // Flipped through zero: the remainder opened at the fill price.
                next.average_price = price;
            }
        }
        *self = next;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rust_decimal_macros::dec;

    fn pos() -> Position {
        Position::flat(Symbol::parse("ES").unwrap())
    }
    fn m(v: Decimal) -> Money {
        Money::new(v)
    }

    #[test]
    fn long_average_cost_and_realized_pnl() {
        let mut p = pos();
        p.apply_trade(Side::Buy, dec!(10), dec!(100), m(dec!(1)))
            .unwrap();
        p.apply_trade(Side::Buy, dec!(10), dec!(110), m(dec!(1)))
            .unwrap();
        assert_eq!(p.quantity(), dec!(20));
        assert_eq!(p.average_price(), dec!(105));
        p.apply_trade(Side::Sell, dec!(5), dec!(120), m(dec!(1)))
            .unwrap();
        assert_eq!(p.quantity(), dec!(15));
        assert_eq!(p.average_price(), dec!(105), "reducing keeps the average");
        assert_eq!(p.realized_pnl(), m(dec!(75)));
        assert_eq!(p.fees(), m(dec!(3)));
        assert_eq!(p.net_realized_pnl().unwrap(), m(dec!(72)));
        assert_eq!(
            p.unrealized_pnl(Price::new(dec!(100)).unwrap()).unwrap(),
            m(dec!(-75))
        );
    }

    #[test]
    fn short_positions_profit_when_price_falls() {
        let mut p = pos();
        p.apply_trade(Side::Sell, dec!(4), dec!(50), Money::ZERO)
            .unwrap();
        assert_eq!(p.quantity(), dec!(-4));
        assert_eq!(
            p.unrealized_pnl(Price::new(dec!(45)).unwrap()).unwrap(),
            m(dec!(20))
        );
        p.apply_trade(Side::Buy, dec!(4), dec!(45), Money::ZERO)
            .unwrap();
        assert!(p.is_flat());
        assert_eq!(p.average_price(), Decimal::ZERO);
        assert_eq!(p.realized_pnl(), m(dec!(20)));
    }

    #[test]
    fn flipping_through_zero_opens_the_rest_at_the_fill_price() {
        let mut p = pos();
        p.apply_trade(Side::Buy, dec!(3), dec!(10), Money::ZERO)
            .unwrap();
        p.apply_trade(Side::Sell, dec!(5), dec!(12), Money::ZERO)
            .unwrap();
        assert_eq!(p.quantity(), dec!(-2));
        assert_eq!(p.average_price(), dec!(12));
        assert_eq!(p.realized_pnl(), m(dec!(6)));
        p.apply_trade(Side::Buy, dec!(6), dec!(11), Money::ZERO)
            .unwrap();
        assert_eq!(p.quantity(), dec!(4));
        assert_eq!(p.average_price(), dec!(11));
        assert_eq!(p.realized_pnl(), m(dec!(8)));
    }

    #[test]
    fn bad_fills_leave_the_position_unchanged() {
        let mut p = pos();
        p.apply_trade(Side::Buy, dec!(1), dec!(10), Money::ZERO)
            .unwrap();
        let before = p.clone();
        assert!(
            p.apply_trade(Side::Buy, dec!(0), dec!(10), Money::ZERO)
                .is_err()
        );
        assert!(
            p.apply_trade(Side::Buy, Decimal::MAX, Decimal::MAX, Money::ZERO)
                .is_err()
        );
        assert_eq!(p, before);
    }
}
