//! Running account metrics, updated by every fill on the `executions` stream: counts,
//! volume, notional, fees, realized P&L and round-trip statistics, with the per-symbol
//! round-trip books that produce them. Stored in the read-models table, one item per
//! account, each fill applied exactly once (see `store::once`).

use std::collections::BTreeMap;

use crate::display::derived_money;
use analytics::RoundTripBook;
use domain::{AccountId, Currency, Decimal, DomainError, Fill, Money, Side, Symbol, Timestamp};
use serde::{Deserialize, Serialize};

/// See the module docs.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct RunningMetrics {
    pub fills: u64,
    pub buys: u64,
    pub sells: u64,
    /// Σ quantity.
    pub volume: Decimal,
    /// Σ price × quantity.
    pub notional: Decimal,
    pub fees: Decimal,
    /// Realized P&L before fees, over all symbols.
    pub realized_pnl: Decimal,
    pub round_trips: u64,
    pub wins: u64,
    pub losses: u64,
    /// Σ P&L of winning / losing trips (after fees; losses as a positive amount).
    pub gross_profit: Decimal,
    pub gross_loss: Decimal,
    pub first_fill_at: Option<Timestamp>,
    pub last_fill_at: Option<Timestamp>,
    #[serde(default)]
    books: BTreeMap<Symbol, RoundTripBook>,
}

fn add(a: Decimal, b: Decimal) -> Result<Decimal, DomainError> {
    a.checked_add(b).ok_or(DomainError::Overflow {
        operation: "running metrics",
    })
}

impl RunningMetrics {
    /// Where an account's metrics are kept.
    pub fn key(account: AccountId) -> (String, &'static str) {
        (format!("metrics#{account}"), "running")
    }

    /// Applies one fill.
    pub fn apply(&mut self, fill: &Fill) -> Result<(), DomainError> {
        let book = self
            .books
            .entry(fill.symbol)
            .or_insert_with(|| RoundTripBook::new(fill.symbol));
        let realized_before = book.position().realized_pnl().value();
        let trip = book.on_fill(fill)?;
        let realized_after = book.position().realized_pnl().value();
        self.fills += 1;
        match fill.side {
            Side::Buy => self.buys += 1,
            Side::Sell => self.sells += 1,
        }
        self.volume = add(self.volume, fill.quantity.value())?;
        let notional = fill
            .price
            .value()
            .checked_mul(fill.quantity.value())
            .ok_or(DomainError::Overflow {
                operation: "running metrics",
            })?;
        self.notional = add(self.notional, notional)?;
        self.fees = add(self.fees, fill.fee.value())?;
        self.realized_pnl = add(self.realized_pnl, realized_after - realized_before)?;
        if let Some(trip) = trip {
            self.round_trips += 1;
            if trip.pnl > Decimal::ZERO {
                self.wins += 1;
                self.gross_profit = add(self.gross_profit, trip.pnl)?;
            } else if trip.pnl < Decimal::ZERO {
                self.losses += 1;
                self.gross_loss = add(self.gross_loss, -trip.pnl)?;
            }
        }
        self.first_fill_at.get_or_insert(fill.time);
        self.last_fill_at = Some(self.last_fill_at.map_or(fill.time, |t| t.max(fill.time)));
        Ok(())
    }

    /// The public view: the totals and the ratios they give.
    /// The totals as the API shows them: P&L figures (derived from average prices) to
    /// `currency`'s minor unit (see `crate::display::derived_price`).
    pub fn view(&self, currency: Currency) -> serde_json::Value {
        let ratio = |a: Decimal, b: Decimal| {
            if b.is_zero() {
                None
            } else {
                a.checked_div(b)
                    .map(|r| r.round_dp(6).normalize().to_string())
            }
        };
        serde_json::json!({
            "fills": self.fills,
            "buys": self.buys,
            "sells": self.sells,
            "volume": self.volume.normalize().to_string(),
            "notional": self.notional.normalize().to_string(),
            "fees": self.fees.normalize().to_string(),
            "realized_pnl": derived_money(Money::new(self.realized_pnl), currency),
            "round_trips": self.round_trips,
            "wins": self.wins,
            "losses": self.losses,
            "win_rate": ratio(Decimal::from(self.wins), Decimal::from(self.round_trips)),
            "gross_profit": derived_money(Money::new(self.gross_profit), currency),
            "gross_loss": derived_money(Money::new(self.gross_loss), currency),
            "profit_factor": ratio(self.gross_profit, self.gross_loss),
            "first_fill_at": self.first_fill_at,
            "last_fill_at": self.last_fill_at,
        })
    }
}
