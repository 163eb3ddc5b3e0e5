//! `Portfolio`: one account's cash and positions, moved by fills and marked to the last
//! prices seen.
//!
//! Buying reduces cash by the notional plus the fee; selling adds the notional minus the
//! fee. Every operation is checked: on error nothing changes.

use std::collections::BTreeMap;

use domain::{DomainError, Fill, Money, Position, Price, Side, Symbol};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Portfolio {
    cash: Money,
    positions: BTreeMap<Symbol, Position>,
    marks: BTreeMap<Symbol, Price>,
    fees: Money,
}

impl Portfolio {
    pub fn new(cash: Money) -> Self {
        Portfolio {
            cash,
            positions: BTreeMap::new(),
            marks: BTreeMap::new(),
            fees: Money::ZERO,
        }
    }

    /// Sets the cash (the ledger moved it: a deposit or withdrawal).
    pub fn set_cash(&mut self, cash: Money) {
        self.cash = cash;
    }

    pub fn cash(&self) -> Money {
        self.cash
    }

    /// Total fees paid.
    pub fn fees(&self) -> Money {
        self.fees
    }

    pub fn position(&self, symbol: Symbol) -> Option<&Position> {
        self.positions.get(&symbol)
    }

    /// Signed quantity held of `symbol` (zero if none).
    pub fn quantity(&self, symbol: Symbol) -> domain::Decimal {
        self.positions
            .get(&symbol)
            .map(Position::quantity)
            .unwrap_or_default()
    }

    pub fn positions(&self) -> impl Iterator<Item = &Position> {
        self.positions.values()
    }

    /// Whether any position is open.
    pub fn is_exposed(&self) -> bool {
        self.positions.values().any(|p| !p.is_flat())
    }

    pub fn mark(&mut self, symbol: Symbol, price: Price) {
        self.marks.insert(symbol, price);
    }

    /// Marks `symbol` at `price` if the account holds it or has marked it before (an
    /// account that never traded a symbol keeps no price for it). One map search when
    /// the mark is updated, as it is on every bar of a traded symbol.
    pub fn mark_if_held(&mut self, symbol: Symbol, price: Price) {
        if let Some(mark) = self.marks.get_mut(&symbol) {
            *mark = price;
        } else if self.positions.contains_key(&symbol) {
            self.marks.insert(symbol, price);
        }
    }

    pub fn last_price(&self, symbol: Symbol) -> Option<Price> {
        self.marks.get(&symbol).copied()
    }

    /// Cash plus positions marked at the last prices (a position with no mark yet is
    /// valued at its average price).
    pub fn equity(&self) -> Result<Money, DomainError> {
        let mut equity = self.cash;
        for p in self.positions.values().filter(|p| !p.is_flat()) {
            let value = match self.marks.get(&p.symbol) {
                Some(mark) => p.market_value(*mark)?,
                None => Money::new(p.quantity().checked_mul(p.average_price()).ok_or(
                    DomainError::Overflow {
                        operation: "position value",
                    },
                )?),
            };
            equity = equity.checked_add(value)?;
        }
        Ok(equity)
    }

    /// Applies a fill to cash and the position. On error nothing changes.
    pub fn apply(&mut self, fill: &Fill) -> Result<(), DomainError> {
        let notional = fill.price.checked_notional(fill.quantity)?;
        let cash = match fill.side {
            Side::Buy => self.cash.checked_sub(notional)?.checked_sub(fill.fee)?,
            Side::Sell => self.cash.checked_add(notional)?.checked_sub(fill.fee)?,
        };
        let fees = self.fees.checked_add(fill.fee)?;
        // `Position::apply` changes nothing when it fails, so the position is moved in
        // place; a new one is only inserted once it has applied.
        match self.positions.get_mut(&fill.symbol) {
            Some(position) => position.apply(fill)?,
            None => {
                let mut position = Position::flat(fill.symbol);
                position.apply(fill)?;
                self.positions.insert(fill.symbol, position);
            }
        }
        self.cash = cash;
        self.fees = fees;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use domain::{AccountId, Liquidity, OrderId, Quantity, Timestamp, TradeId};
    use rust_decimal_macros::dec;

    fn fill(side: Side, qty: &str, price: &str, fee: &str) -> Fill {
        Fill {
            trade_id: TradeId(1),
            order_id: OrderId::from_u128(1),
            account_id: AccountId::from_u128(1),
            symbol: Symbol::parse("ES").unwrap(),
            side,
            price: price.parse().unwrap(),
            quantity: qty.parse::<Quantity>().unwrap(),
            fee: Money::new(fee.parse().unwrap()),
            liquidity: Liquidity::Taker,
            time: Timestamp::EPOCH,
        }
    }

    #[test]
    fn cash_and_equity_follow_fills_and_marks() {
        let es = Symbol::parse("ES").unwrap();
        let mut p = Portfolio::new(Money::new(dec!(10000)));
        p.apply(&fill(Side::Buy, "10", "100", "1")).unwrap();
        assert_eq!(p.cash(), Money::new(dec!(8999)));
        assert_eq!(
            p.equity().unwrap(),
            Money::new(dec!(9999)),
            "unmarked: valued at cost"
        );
        p.mark(es, "110".parse().unwrap());
        assert_eq!(p.equity().unwrap(), Money::new(dec!(10099)));
        p.apply(&fill(Side::Sell, "10", "110", "1")).unwrap();
        assert_eq!(p.cash(), Money::new(dec!(10098)));
        assert_eq!(p.equity().unwrap(), p.cash());
        assert!(!p.is_exposed());
        assert_eq!(p.fees(), Money::new(dec!(2)));
    }

    #[test]
    fn a_failing_fill_changes_nothing() {
        let mut p = Portfolio::new(Money::new(domain::Decimal::MAX));
        let before = p.clone();
        assert!(p.apply(&fill(Side::Sell, "10", "100", "0")).is_err());
        assert_eq!(p, before);
    }
}
