//! [`RoundTripBook`]: round trips from one symbol's fills, as they arrive. A trip opens
//! when the position leaves zero and closes when it returns to zero; a fill that flips
//! the position through zero closes one trip and opens the next. The book is plain data
//! (serializable), so a consumer of fills can keep it between events.

use domain::{Decimal, DomainError, Fill, Money, Position, Symbol, Timestamp};
use serde::{Deserialize, Serialize};

use crate::trades::{RoundTrip, TradeSide};

/// See the module docs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RoundTripBook {
    position: Position,
    open: Option<OpenTrip>,
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
struct OpenTrip {
    entry_time: Timestamp,
    side: TradeSide,
    quantity: Decimal,
    entry_price: Decimal,
    realized_at_entry: Money,
    fees_at_entry: Money,
}

impl RoundTripBook {
    pub fn new(symbol: Symbol) -> Self {
        RoundTripBook {
            position: Position::flat(symbol),
            open: None,
        }
    }

    /// The position the fills so far add up to.
    pub fn position(&self) -> &Position {
        &self.position
    }

    /// Applies `fill`; the trip it closed, if any.
    pub fn on_fill(&mut self, fill: &Fill) -> Result<Option<RoundTrip>, DomainError> {
        let before = self.position.quantity();
        let fees_before = self.position.fees();
        let realized_before = self.position.realized_pnl();
        self.position.apply(fill)?;
        let after = self.position.quantity();
        if before.is_zero() && !after.is_zero() {
            self.open = Some(self.trip_from(fill, realized_before, fees_before));
        } else if let Some(trip) = &mut self.open {
            if after.abs() > before.abs() && after.is_sign_positive() == before.is_sign_positive() {
                trip.quantity = after.abs();
                trip.entry_price = self.position.average_price();
            }
        }
        let closed = !before.is_zero()
            && (after.is_zero() || after.is_sign_positive() != before.is_sign_positive());
        if !closed {
            return Ok(None);
        }
        let mut finished = None;
        if let Some(trip) = self.open.take() {
            let fees = self.position.fees().checked_sub(trip.fees_at_entry)?;
            let pnl = self
                .position
                .realized_pnl()
                .checked_sub(trip.realized_at_entry)?
                .checked_sub(fees)?;
            finished = Some(RoundTrip {
                entry_time: trip.entry_time,
                exit_time: fill.time,
                side: trip.side,
                quantity: trip.quantity,
                entry_price: trip.entry_price,
                exit_price: fill.price.value(),
                pnl: pnl.value(),
                fees: fees.value(),
            });
        }
        if !after.is_zero() {
            // Flipped: the rest opened at this fill's price.
            self.open =
                Some(self.trip_from(fill, self.position.realized_pnl(), self.position.fees()));
        }
        Ok(finished)
    }

    fn trip_from(&self, fill: &Fill, realized: Money, fees: Money) -> OpenTrip {
        OpenTrip {
            entry_time: fill.time,
            side: if self.position.quantity().is_sign_positive() {
                TradeSide::Long
            } else {
                TradeSide::Short
            },
            quantity: self.position.quantity().abs(),
            entry_price: self.position.average_price(),
            realized_at_entry: realized,
            fees_at_entry: fees,
        }
    }
}
