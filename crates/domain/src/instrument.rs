//! `Instrument`: what can be traded and on which price and quantity grid.

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::error::DomainError;
use crate::num::{Price, Quantity};
use crate::symbol::{Currency, Symbol};
use crate::trading_calendar::CalendarCode;

/// What kind of thing an instrument is (reference data for clients and reports).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AssetClass {
    Equity,
    Etf,
    Future,
    Crypto,
    #[default]
    Other,
}

/// What happens to an order placed while the instrument's market is closed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ClosedMarketPolicy {
    /// Accepted; it works from the next trade the feed brings — with a real exchange's
    /// feed, the next session's open (a `DAY` order lives until that session's close).
    #[default]
    Queue,
    /// Refused (409 `market_closed`).
    Refuse,
}

/// A tradable instrument and its grid: prices are multiples of `tick_size`, quantities are
/// multiples of `lot_size` and at least `min_quantity`.
///
/// The matching engine works in integer ticks and lots; [`Instrument::price_to_ticks`] and
/// friends are the one place where decimals become integers and back.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "InstrumentSpec", into = "InstrumentSpec")]
pub struct Instrument {
    symbol: Symbol,
    tick_size: Decimal,
    lot_size: Decimal,
    min_quantity: Quantity,
    currency: Currency,
    asset_class: AssetClass,
    calendar: CalendarCode,
    closed_market: ClosedMarketPolicy,
}

/// The serialized form of an [`Instrument`], validated on the way in.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct InstrumentSpec {
    pub symbol: Symbol,
    pub tick_size: Decimal,
    pub lot_size: Decimal,
    pub min_quantity: Decimal,
    pub currency: Currency,
    #[serde(default)]
    pub asset_class: AssetClass,
    /// Absent: open around the clock.
    #[serde(default = "always_open")]
    pub calendar: CalendarCode,
    #[serde(default)]
    pub closed_market: ClosedMarketPolicy,
}

fn always_open() -> CalendarCode {
    CalendarCode::Always
}

impl Instrument {
    pub fn new(
        symbol: Symbol,
        tick_size: Decimal,
        lot_size: Decimal,
        min_quantity: Decimal,
        currency: Currency,
    ) -> Result<Self, DomainError> {
        if tick_size <= Decimal::ZERO {
            return Err(DomainError::NotPositive { field: "tick_size" });
        }
        if lot_size <= Decimal::ZERO {
            return Err(DomainError::NotPositive { field: "lot_size" });
        }
        let min_quantity = Quantity::positive("min_quantity", min_quantity)?;
        let instrument = Instrument {
            symbol,
            tick_size: tick_size.normalize(),
            lot_size: lot_size.normalize(),
            min_quantity,
            currency,
            asset_class: AssetClass::Other,
            calendar: CalendarCode::Always,
            closed_market: ClosedMarketPolicy::Queue,
        };
        instrument
            .quantity_to_lots(min_quantity)
            .map_err(|_| DomainError::OffLot {
                field: "min_quantity",
                value: min_quantity.to_string(),
                lot_size: lot_size.to_string(),
            })?;
        Ok(instrument)
    }

    pub fn symbol(&self) -> Symbol {
        self.symbol
    }
    pub fn tick_size(&self) -> Decimal {
        self.tick_size
    }
    pub fn lot_size(&self) -> Decimal {
        self.lot_size
    }
    pub fn min_quantity(&self) -> Quantity {
        self.min_quantity
    }
    pub fn currency(&self) -> Currency {
        self.currency
    }
    pub fn asset_class(&self) -> AssetClass {
        self.asset_class
    }
    /// The trading calendar its market follows.
    pub fn calendar(&self) -> CalendarCode {
        self.calendar
    }
    pub fn closed_market(&self) -> ClosedMarketPolicy {
        self.closed_market
    }

    /// The same grid with its market's reference data.
    pub fn with_market(
        mut self,
        asset_class: AssetClass,
        calendar: CalendarCode,
        closed_market: ClosedMarketPolicy,
    ) -> Self {
        self.asset_class = asset_class;
        self.calendar = calendar;
        self.closed_market = closed_market;
        self
    }

    /// Checks that `price` lies on the tick grid.
    pub fn validate_price(&self, field: &'static str, price: Price) -> Result<(), DomainError> {
        self.ticks(field, price).map(|_| ())
    }

    /// Checks that `quantity` is positive, on the lot grid and at least the minimum.
    pub fn validate_quantity(
        &self,
        field: &'static str,
        quantity: Quantity,
    ) -> Result<(), DomainError> {
        self.order_lots(field, quantity).map(|_| ())
    }

    /// An order quantity as whole lots: positive, at least the minimum, on the lot grid.
    /// Errors name `field`.
    pub fn order_lots(&self, field: &'static str, quantity: Quantity) -> Result<u64, DomainError> {
        if quantity.is_zero() {
            return Err(DomainError::NotPositive { field });
        }
        if quantity < self.min_quantity {
            return Err(DomainError::BelowMinimum {
                field,
                value: quantity.to_string(),
                minimum: self.min_quantity.to_string(),
            });
        }
        self.quantity_to_lots_named(field, quantity)
    }

    /// The price as a whole number of ticks, or an error if it is off the grid.
    pub fn price_to_ticks(&self, price: Price) -> Result<i64, DomainError> {
        self.ticks("price", price)
    }

    /// Like [`Instrument::price_to_ticks`], naming `field` in the error.
    pub fn ticks(&self, field: &'static str, price: Price) -> Result<i64, DomainError> {
        let off = || DomainError::OffTick {
            field,
            value: price.to_string(),
            tick_size: self.tick_size.to_string(),
        };
        match grid_steps(price.value(), self.tick_size) {
            GridSteps::Exact(n) => i64::try_from(n).map_err(|_| DomainError::OutOfRange {
                field,
                reason: "too many ticks for the instrument".into(),
            }),
            GridSteps::OffGrid => Err(off()),
            GridSteps::Overflow => Err(DomainError::overflow("price to ticks")),
        }
    }

    /// The quantity as a whole number of lots, or an error if it is off the grid.
    pub fn quantity_to_lots(&self, quantity: Quantity) -> Result<u64, DomainError> {
        self.quantity_to_lots_named("quantity", quantity)
    }

    fn quantity_to_lots_named(
        &self,
        field: &'static str,
        quantity: Quantity,
    ) -> Result<u64, DomainError> {
        match grid_steps(quantity.value(), self.lot_size) {
            GridSteps::Exact(n) => u64::try_from(n).map_err(|_| DomainError::OutOfRange {
                field,
                reason: "too many lots for the instrument".into(),
            }),
            GridSteps::OffGrid => Err(DomainError::OffLot {
                field,
                value: quantity.to_string(),
                lot_size: self.lot_size.to_string(),
            }),
            GridSteps::Overflow => Err(DomainError::overflow("quantity to lots")),
        }
    }

    /// The price of `ticks` ticks. Fails only for non-positive or absurdly large counts.
    pub fn ticks_to_price(&self, ticks: i64) -> Result<Price, DomainError> {
        let value = Decimal::from(ticks)
            .checked_mul(self.tick_size)
            .ok_or(DomainError::overflow("ticks to price"))?;
        Price::new(value)
    }

    /// The quantity of `lots` lots.
    pub fn lots_to_quantity(&self, lots: u64) -> Result<Quantity, DomainError> {
        let value = Decimal::from(lots)
            .checked_mul(self.lot_size)
            .ok_or(DomainError::overflow("lots to quantity"))?;
        Quantity::new(value)
    }
}

impl TryFrom<InstrumentSpec> for Instrument {
    type Error = DomainError;
    fn try_from(s: InstrumentSpec) -> Result<Self, Self::Error> {
        Instrument::new(
            s.symbol,
            s.tick_size,
            s.lot_size,
            s.min_quantity,
            s.currency,
        )
        .map(|i| i.with_market(s.asset_class, s.calendar, s.closed_market))
    }
}

impl From<Instrument> for InstrumentSpec {
    fn from(i: Instrument) -> Self {
        InstrumentSpec {
            symbol: i.symbol,
            tick_size: i.tick_size,
            lot_size: i.lot_size,
            min_quantity: i.min_quantity.value(),
            currency: i.currency,
            asset_class: i.asset_class,
            calendar: i.calendar,
            closed_market: i.closed_market,
        }
    }
}

enum GridSteps {
    Exact(i128),
    OffGrid,
    Overflow,
}

/// `value / step` when it is a whole number, computed on the decimals' integer mantissas
/// (both brought to a common scale), which is exact and several times cheaper than
/// `Decimal` division and remainder. Prices and lots nearly always fit in 64 bits, where
/// division is a single instruction; 128-bit division is the fallback.
fn grid_steps(value: Decimal, step: Decimal) -> GridSteps {
    let scale = value.scale().max(step.scale());
    let (Some(v), Some(s)) = (
        rescale_mantissa(value.mantissa(), scale - value.scale()),
        rescale_mantissa(step.mantissa(), scale - step.scale()),
    ) else {
        return GridSteps::Overflow;
    };
    if s == 0 {
        return GridSteps::OffGrid;
    }
    if let (Ok(v), Ok(s)) = (i64::try_from(v), i64::try_from(s)) {
        return if v % s == 0 {
            GridSteps::Exact(i128::from(v / s))
        } else {
            GridSteps::OffGrid
        };
    }
    if v % s == 0 {
        GridSteps::Exact(v / s)
    } else {
        GridSteps::OffGrid
    }
}

const POW10: [i128; 29] = {
    let mut table = [1i128; 29];
    let mut i = 1;
    while i < 29 {
        table[i] = table[i - 1] * 10;
        i += 1;
    }
    table
};

fn rescale_mantissa(mantissa: i128, extra_digits: u32) -> Option<i128> {
    if extra_digits == 0 {
        return Some(mantissa);
    }
    POW10
        .get(extra_digits as usize)
        .and_then(|f| mantissa.checked_mul(*f))
}

#[cfg(test)]
mod tests {
    use super::*;
    use rust_decimal_macros::dec;

    fn es() -> Instrument {
        Instrument::new(
            Symbol::parse("ES").unwrap(),
            dec!(0.25),
            dec!(1),
            dec!(1),
            Currency::USD,
        )
        .unwrap()
    }

    #[test]
    fn prices_on_the_grid_convert_to_ticks_and_back() {
        let i = es();
        let p = Price::new(dec!(4500.75)).unwrap();
        assert_eq!(i.price_to_ticks(p).unwrap(), 18003);
        assert_eq!(i.ticks_to_price(18003).unwrap(), p);
    }

    #[test]
    fn off_grid_values_are_typed_errors() {
        let i = es();
        let err = i
            .validate_price("limit_price", Price::new(dec!(4500.10)).unwrap())
            .unwrap_err();
        assert!(
            matches!(
                err,
                DomainError::OffTick {
                    field: "limit_price",
                    ..
                }
            ),
            "{err:?}"
        );
        let err = i
            .validate_quantity("quantity", Quantity::new(dec!(1.5)).unwrap())
            .unwrap_err();
        assert!(matches!(err, DomainError::OffLot { .. }));
        let err = i.validate_quantity("quantity", Quantity::ZERO).unwrap_err();
        assert!(matches!(err, DomainError::NotPositive { .. }));
    }

    #[test]
    fn minimum_quantity_is_enforced() {
        let i = Instrument::new(
            Symbol::parse("BTC").unwrap(),
            dec!(0.01),
            dec!(0.001),
            dec!(0.01),
            Currency::USD,
        )
        .unwrap();
        assert!(
            i.validate_quantity("quantity", Quantity::new(dec!(0.005)).unwrap())
                .is_err()
        );
        assert!(
            i.validate_quantity("quantity", Quantity::new(dec!(0.011)).unwrap())
                .is_ok()
        );
        assert_eq!(
            i.quantity_to_lots(Quantity::new(dec!(0.011)).unwrap())
                .unwrap(),
            11
        );
    }

    #[test]
    fn bad_instrument_definitions_are_refused() {
        let s = Symbol::parse("X").unwrap();
        assert!(Instrument::new(s, dec!(0), dec!(1), dec!(1), Currency::USD).is_err());
        assert!(Instrument::new(s, dec!(0.01), dec!(-1), dec!(1), Currency::USD).is_err());
        assert!(Instrument::new(s, dec!(0.01), dec!(10), dec!(15), Currency::USD).is_err());
    }

    #[test]
    fn huge_values_overflow_cleanly() {
        let i = es();
        let huge = Price::new(Decimal::MAX).unwrap();
        assert!(i.price_to_ticks(huge).is_err());
        let tiny = Price::new(Decimal::new(1, 28)).unwrap();
        assert!(i.price_to_ticks(tiny).is_err());
    }
}
