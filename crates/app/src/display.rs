//! How numbers are written for people and clients: decimals exact without trailing
//! zeros ([`Plain`]), and figures derived by division rounded to a sensible precision
//! ([`derived_price`], [`derived_money`]). The API's answers and the daily report rows
//! use these.

use domain::{Decimal, Money, Price, Quantity};

/// A decimal as the API writes it: exact, without trailing zeros (`10000`, `0.1`,
/// `-12.5`), whatever scale the store returned it with (Postgres NUMERIC keeps its
/// column's scale, SQLite the text it was given), so every backend answers alike.
pub trait Plain {
    fn plain(&self) -> String;
}

impl Plain for Decimal {
    fn plain(&self) -> String {
        let n = self.normalize();
        if n.is_zero() {
            "0".to_owned()
        } else {
            n.to_string()
        }
    }
}

/// How figures derived by division are shown. An average price (cost over quantity), and
/// the P&L and values computed from one, carry residue to the 28th digit
/// (`411.20483870967741935483870968`). They are shown rounded half to even: prices to
/// the instrument's tick decimals plus two (4 places for a 0.01 tick), money to the
/// currency's minor unit (cents). Exact figures — cash, reservations, ledger entries,
/// fills, fees, order prices — are shown exactly as they are kept.
pub fn derived_price(price: Decimal, tick: Option<Decimal>) -> String {
    let places = tick.map_or(4, |t| t.normalize().scale() + 2);
    price
        .round_dp_with_strategy(places, domain::RoundingStrategy::MidpointNearestEven)
        .plain()
}

/// See [`derived_price`].
pub fn derived_money(amount: Money, currency: domain::Currency) -> String {
    amount
        .value()
        .round_dp_with_strategy(
            currency.minor_units(),
            domain::RoundingStrategy::MidpointNearestEven,
        )
        .plain()
}

impl Plain for Money {
    fn plain(&self) -> String {
        self.value().plain()
    }
}

impl Plain for Price {
    fn plain(&self) -> String {
        self.value().plain()
    }
}

impl Plain for Quantity {
    fn plain(&self) -> String {
        self.value().plain()
    }
}
