//! `Price`, `Quantity` and `Money`: decimal newtypes with the invariants of each.
//!
//! All three wrap [`rust_decimal::Decimal`] (28 significant digits, exact in base 10), so
//! `0.1 + 0.2 == 0.3` and nothing is lost to binary floating point. Arithmetic that can
//! overflow is only offered as `checked_*` returning [`DomainError::Overflow`].
//! On the wire all three are JSON strings (`"101.25"`), never floats.
//!
//! [`SmallDecimal`] and the functions built on it (`to_f64`, `sub_to_f64`, `compare`) are
//! the fast exact paths for the small decimals market data is made of.

use std::cmp::Ordering;
use std::fmt;
use std::str::FromStr;

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::error::DomainError;

mod small;

pub use small::SmallDecimal;

/// Parses a decimal string exactly: no rounding, no exponent, no surrounding spaces.
/// The result is normalized (no trailing fractional zeros: `"101.50"` → `101.5`).
///
/// `Decimal::from_str` silently rounds inputs with more than 28 significant digits;
/// `from_str_exact` refuses them, which is what a price or an amount needs. Plain inputs
/// of up to 18 digits (every price in a market data file) take a fast path that builds the
/// mantissa directly.
pub fn parse_decimal(field: &'static str, input: &str) -> Result<Decimal, DomainError> {
    if let Some(d) = parse_plain(input) {
        return Ok(d);
    }
    let invalid = || DomainError::InvalidNumber {
        field,
        input: truncate_for_message(input),
    };
    if input.is_empty() {
        return Err(DomainError::Empty { field });
    }
    if input.len() > 64 || input.trim() != input {
        return Err(invalid());
    }
    Decimal::from_str_exact(input)
        .map(|d| d.normalize())
        .map_err(|_| invalid())
}

/// `[-+]DIGITS[.DIGITS]` with at most 18 digits, normalized; `None` for anything else
/// (which the general parser then judges).
fn parse_plain(input: &str) -> Option<Decimal> {
    let bytes = input.as_bytes();
    let (negative, body) = match bytes.first()? {
        b'-' => (true, &bytes[1..]),
        b'+' => (false, &bytes[1..]),
        _ => (false, bytes),
    };
    if body.is_empty() || body.len() > 19 {
        return None;
    }
    let mut mantissa: u64 = 0;
    let mut digits = 0u32;
    let mut dot: Option<u32> = None;
    for &b in body {
        match b {
            b'0'..=b'9' => {
                mantissa = mantissa * 10 + u64::from(b - b'0');
                digits += 1;
            }
            b'.' if dot.is_none() => dot = Some(digits),
            _ => return None,
        }
    }
    // "1." and ".5" and 19 digits are left to the general parser.
    let int_digits = dot.unwrap_or(digits);
    if digits > 18 || int_digits == 0 || (dot.is_some() && int_digits == digits) {
        return None;
    }
    let mut scale = digits - int_digits;
    while scale > 0 && mantissa % 10 == 0 {
        mantissa /= 10;
        scale -= 1;
    }
    Some(Decimal::from_parts(
        mantissa as u32,
        (mantissa >> 32) as u32,
        0,
        negative && mantissa != 0,
        scale,
    ))
}

/// The `f64` nearest to a decimal. Mantissas below 2^53 with up to 22 decimals are exact
/// in `f64`, and so is the power of ten, so one division gives the correctly rounded
/// result — several times faster than `Decimal::as_f64`, which every other decimal takes
/// (it is the infallible form of `ToPrimitive::to_f64`). For indicator inputs and return
/// ratios, never for money.
#[inline(always)]
pub fn to_f64(d: Decimal) -> f64 {
    match SmallDecimal::new(d).and_then(SmallDecimal::to_f64) {
        Some(x) => x,
        None => to_f64_slow(d),
    }
}

#[cold]
#[inline(never)]
fn to_f64_slow(d: Decimal) -> f64 {
    d.as_f64()
}

/// The `f64` nearest to `a − b`, the difference taken exactly in decimal: what
/// `a.checked_sub(b).map(to_f64)` gives, `None` when the difference is beyond the decimal
/// range. Small operands take [`SmallDecimal::sub_to_f64`]; return ratios over a
/// million-point curve take that path.
#[inline(always)]
pub fn sub_to_f64(a: Decimal, b: Decimal) -> Option<f64> {
    let fast = SmallDecimal::new(a)
        .zip(SmallDecimal::new(b))
        .and_then(|(a, b)| a.sub_to_f64(b));
    fast.or_else(|| sub_to_f64_slow(a, b))
}

#[cold]
#[inline(never)]
fn sub_to_f64_slow(a: Decimal, b: Decimal) -> Option<f64> {
    a.checked_sub(b).map(to_f64)
}

/// Orders two decimals exactly, on their integer mantissas when that is cheap (see
/// `cmp_decimal`); for drawdowns over long equity curves.
#[inline]
pub fn compare(a: Decimal, b: Decimal) -> Ordering {
    cmp_decimal(&a, &b)
}

/// A non-negative decimal from its mantissa and scale, normalized.
#[inline]
fn from_parts(mut mantissa: u64, mut scale: u32) -> Option<Decimal> {
    if scale > 28 {
        return None;
    }
    while scale > 0 && mantissa % 10 == 0 {
        mantissa /= 10;
        scale -= 1;
    }
    Some(Decimal::from_parts(
        mantissa as u32,
        (mantissa >> 32) as u32,
        0,
        false,
        scale,
    ))
}

/// `d` without trailing fractional zeros; cheap when it already has none.
fn normalized(d: Decimal) -> Decimal {
    if d.scale() == 0 {
        return d;
    }
    match i64::try_from(d.mantissa()) {
        Ok(m) if m % 10 != 0 => d,
        _ => d.normalize(),
    }
}

fn truncate_for_message(input: &str) -> String {
    input.chars().take(40).collect()
}

/// Orders two decimals on their integer mantissas when that is exact and cheap (in 64
/// bits when both are small, else at the same scale or after one rescale that fits in 128
/// bits), else through `Decimal::cmp`.
///
/// Candle aggregation compares every tick's price with the candle's high and low; this
/// is several times cheaper than the general comparison, which handles every scale and
/// sign combination.
#[inline]
fn cmp_decimal(a: &Decimal, b: &Decimal) -> Ordering {
    let small = SmallDecimal::new(*a)
        .zip(SmallDecimal::new(*b))
        .and_then(|(a, b)| a.compare(b));
    match small {
        Some(order) => order,
        None => cmp_decimal_wide(a, b),
    }
}

#[cold]
#[inline(never)]
fn cmp_decimal_wide(a: &Decimal, b: &Decimal) -> Ordering {
    let (sa, sb) = (a.scale(), b.scale());
    if sa == sb {
        return a.mantissa().cmp(&b.mantissa());
    }
    let rescaled = if sa < sb {
        POW10
            .get((sb - sa) as usize)
            .and_then(|f| a.mantissa().checked_mul(*f))
            .map(|ma| ma.cmp(&b.mantissa()))
    } else {
        POW10
            .get((sa - sb) as usize)
            .and_then(|f| b.mantissa().checked_mul(*f))
            .map(|mb| a.mantissa().cmp(&mb))
    };
    rescaled.unwrap_or_else(|| a.cmp(b))
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

/// `a + b` on the mantissas when both have the same scale (volumes from one source
/// share a scale), else through `Decimal::checked_add`.
#[inline]
fn add_decimal(a: Decimal, b: Decimal) -> Option<Decimal> {
    if a.scale() == b.scale() {
        if let Some(sum) = a.mantissa().checked_add(b.mantissa()) {
            if let Ok(d) = Decimal::try_from_i128_with_scale(sum, a.scale()) {
                return Some(d);
            }
        }
    }
    a.checked_add(b)
}

macro_rules! fast_ord {
    ($t:ty) => {
        impl Ord for $t {
            #[inline]
            fn cmp(&self, other: &Self) -> Ordering {
                cmp_decimal(&self.0, &other.0)
            }
        }
        impl PartialOrd for $t {
            #[inline]
            fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
                Some(self.cmp(other))
            }
        }
    };
}
fast_ord!(Price);
fast_ord!(Quantity);

/// A strictly positive price per unit of an instrument.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "Decimal", into = "Decimal")]
pub struct Price(Decimal);

impl Price {
    pub fn new(value: Decimal) -> Result<Self, DomainError> {
        Self::named("price", value)
    }

    /// Like [`Price::new`], naming `field` in the error (e.g. `stop_price`).
    pub fn named(field: &'static str, value: Decimal) -> Result<Self, DomainError> {
        if value <= Decimal::ZERO {
            return Err(DomainError::NotPositive { field });
        }
        Ok(Price(normalized(value)))
    }

    pub fn parse(field: &'static str, input: &str) -> Result<Self, DomainError> {
        Self::named(field, parse_decimal(field, input)?)
    }

    /// `mantissa × 10^-scale`, for parsers that have the digits already; `None` for zero
    /// or a scale above 28.
    #[inline]
    pub fn from_mantissa(mantissa: u64, scale: u32) -> Option<Self> {
        if mantissa == 0 {
            return None;
        }
        from_parts(mantissa, scale).map(Price)
    }

    pub fn value(self) -> Decimal {
        self.0
    }

    /// Notional value of `quantity` units at this price.
    pub fn checked_notional(self, quantity: Quantity) -> Result<Money, DomainError> {
        self.0
            .checked_mul(quantity.0)
            .map(Money)
            .ok_or_else(|| DomainError::overflow("price * quantity"))
    }
}

impl TryFrom<Decimal> for Price {
    type Error = DomainError;
    fn try_from(value: Decimal) -> Result<Self, Self::Error> {
        Price::new(value)
    }
}

impl From<Price> for Decimal {
    fn from(p: Price) -> Decimal {
        p.0
    }
}

impl FromStr for Price {
    type Err = DomainError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Price::parse("price", s)
    }
}

impl fmt::Display for Price {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0, f)
    }
}

/// A non-negative amount of an instrument. Zero is allowed (a fully filled order has zero
/// remaining); constructors that need a positive amount say so ([`Quantity::positive`]).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "Decimal", into = "Decimal")]
pub struct Quantity(Decimal);

impl Quantity {
    pub const ZERO: Quantity = Quantity(Decimal::ZERO);

    pub fn new(value: Decimal) -> Result<Self, DomainError> {
        Self::named("quantity", value)
    }

    pub fn named(field: &'static str, value: Decimal) -> Result<Self, DomainError> {
        if value.is_sign_negative() && !value.is_zero() {
            return Err(DomainError::Negative { field });
        }
        Ok(Quantity(normalized(value)))
    }

    /// A quantity that must be greater than zero (order and fill sizes).
    pub fn positive(field: &'static str, value: Decimal) -> Result<Self, DomainError> {
        if value <= Decimal::ZERO {
            return Err(DomainError::NotPositive { field });
        }
        Ok(Quantity(normalized(value)))
    }

    pub fn parse(field: &'static str, input: &str) -> Result<Self, DomainError> {
        Self::named(field, parse_decimal(field, input)?)
    }

    /// `mantissa × 10^-scale`; `None` for a scale above 28.
    #[inline]
    pub fn from_mantissa(mantissa: u64, scale: u32) -> Option<Self> {
        from_parts(mantissa, scale).map(Quantity)
    }

    pub fn value(self) -> Decimal {
        self.0
    }

    pub fn is_zero(self) -> bool {
        self.0.is_zero()
    }

    pub fn checked_add(self, other: Quantity) -> Result<Quantity, DomainError> {
        add_decimal(self.0, other.0)
            .map(Quantity)
            .ok_or_else(|| DomainError::overflow("quantity + quantity"))
    }

    /// `self - other`, refusing to go below zero.
    pub fn checked_sub(self, other: Quantity) -> Result<Quantity, DomainError> {
        let out = self
            .0
            .checked_sub(other.0)
            .ok_or_else(|| DomainError::overflow("quantity - quantity"))?;
        Quantity::named("quantity", out)
    }

    pub fn min(self, other: Quantity) -> Quantity {
        if self <= other { self } else { other }
    }
}

impl TryFrom<Decimal> for Quantity {
    type Error = DomainError;
    fn try_from(value: Decimal) -> Result<Self, Self::Error> {
        Quantity::new(value)
    }
}

impl From<Quantity> for Decimal {
    fn from(q: Quantity) -> Decimal {
        q.0
    }
}

impl FromStr for Quantity {
    type Err = DomainError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Quantity::parse("quantity", s)
    }
}

impl fmt::Display for Quantity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0, f)
    }
}

/// A signed amount of cash in an account's currency: balances, P&L, fees, notionals.
///
/// The currency lives with the account or instrument rather than in every `Money` value:
/// an account holds one base currency, so carrying it in each amount would only add a
/// run-time mismatch check to every addition.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
#[serde(transparent)]
pub struct Money(Decimal);

impl Money {
    pub const ZERO: Money = Money(Decimal::ZERO);

    pub fn new(value: Decimal) -> Self {
        Money(value)
    }

    pub fn parse(field: &'static str, input: &str) -> Result<Self, DomainError> {
        parse_decimal(field, input).map(Money)
    }

    pub fn value(self) -> Decimal {
        self.0
    }

    pub fn is_negative(self) -> bool {
        self.0.is_sign_negative() && !self.0.is_zero()
    }

    pub fn checked_add(self, other: Money) -> Result<Money, DomainError> {
        self.0
            .checked_add(other.0)
            .map(Money)
            .ok_or_else(|| DomainError::overflow("money + money"))
    }

    pub fn checked_sub(self, other: Money) -> Result<Money, DomainError> {
        self.0
            .checked_sub(other.0)
            .map(Money)
            .ok_or_else(|| DomainError::overflow("money - money"))
    }

    pub fn checked_mul(self, factor: Decimal) -> Result<Money, DomainError> {
        self.0
            .checked_mul(factor)
            .map(Money)
            .ok_or_else(|| DomainError::overflow("money * factor"))
    }

    pub fn checked_neg(self) -> Money {
        Money(-self.0)
    }
}

impl From<Decimal> for Money {
    fn from(value: Decimal) -> Self {
        Money(value)
    }
}

impl fmt::Display for Money {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0, f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rust_decimal_macros::dec;

    #[test]
    fn prices_must_be_positive() {
        assert_eq!(
            Price::new(dec!(0)),
            Err(DomainError::NotPositive { field: "price" })
        );
        assert_eq!(
            Price::new(dec!(-1.5)),
            Err(DomainError::NotPositive { field: "price" })
        );
        assert_eq!(Price::new(dec!(101.50)).unwrap().value(), dec!(101.5));
    }

    #[test]
    fn parsing_refuses_what_would_round_or_overflow() {
        for bad in [
            "",
            " 1",
            "1e5",
            "abc",
            "NaN",
            "1.2.3",
            "79228162514264337593543950336",
        ] {
            assert!(
                Price::parse("price", bad).is_err(),
                "{bad:?} should not parse"
            );
        }
        // 29 decimal places would be rounded by from_str; we refuse instead.
        assert!(Price::parse("price", "1.00000000000000000000000000001").is_err());
        assert_eq!(
            Price::parse("limit_price", "12.25").unwrap().value(),
            dec!(12.25)
        );
    }

    #[test]
    fn error_names_the_field() {
        let err = Quantity::parse("quantity", "-3").unwrap_err();
        assert_eq!(err.field(), Some("quantity"));
        assert_eq!(err.to_string(), "quantity must not be negative");
        assert!(Quantity::positive("quantity", dec!(0)).is_err());
        assert!(Quantity::parse("quantity", "0").unwrap().is_zero());
    }

    #[test]
    fn money_arithmetic_is_checked() {
        let max = Money::new(Decimal::MAX);
        assert_eq!(
            max.checked_add(Money::new(dec!(1))),
            Err(DomainError::Overflow {
                operation: "money + money"
            })
        );
        assert!(
            Price::new(Decimal::MAX)
                .unwrap()
                .checked_notional(Quantity::new(dec!(2)).unwrap())
                .is_err()
        );
        assert_eq!(
            Money::new(dec!(0.1))
                .checked_add(Money::new(dec!(0.2)))
                .unwrap(),
            Money::new(dec!(0.3))
        );
    }

    #[test]
    fn quantities_do_not_go_negative() {
        let one = Quantity::new(dec!(1)).unwrap();
        let two = Quantity::new(dec!(2)).unwrap();
        assert!(one.checked_sub(two).is_err());
        assert_eq!(two.checked_sub(one).unwrap(), one);
    }

    #[test]
    fn fast_f64_conversion_is_the_nearest_double() {
        for d in [
            dec!(0),
            dec!(1.5),
            dec!(-3067.25),
            dec!(0.1),
            dec!(1.750000),
            dec!(123456.789012),
            Decimal::MAX,
            Decimal::new(1, 28),
        ] {
            assert_eq!(to_f64(d), d.as_f64(), "{d}");
        }
    }

    #[test]
    fn the_fast_parser_agrees_with_the_general_one() {
        for text in [
            "0",
            "1",
            "-1",
            "+2",
            "101.50",
            "0.000001",
            "3067.00",
            "123456789012345678",
            "-0.5",
            "99.990",
            "1.750000",
            "000123.4500",
        ] {
            let fast = parse_plain(text).unwrap();
            let general = Decimal::from_str_exact(text).unwrap().normalize();
            assert_eq!(fast, general, "{text}");
            assert_eq!(fast.to_string(), general.to_string(), "{text}");
        }
        for slow in [
            ".5",
            "1.",
            "1234567890123456789",
            "1e5",
            "",
            "-",
            "+",
            "1.2.3",
            "١٢",
        ] {
            assert!(
                parse_plain(slow).is_none(),
                "{slow:?} should take the general path"
            );
        }
        assert_eq!(
            parse_decimal("x", "1234567890123456789.5")
                .unwrap()
                .to_string(),
            "1234567890123456789.5"
        );
        assert_eq!(parse_decimal("x", "2.50").unwrap().scale(), 1);
    }

    #[test]
    fn fast_comparison_and_addition_agree_with_decimal() {
        let values = [
            dec!(0),
            dec!(0.5),
            dec!(1),
            dec!(1.0),
            dec!(1.50),
            dec!(2),
            dec!(100.25),
            dec!(100.250),
            dec!(99.999999999),
            dec!(-3.5),
            Decimal::MAX,
            Decimal::MIN,
            Decimal::new(1, 28),
            dec!(7922816251426433759354395033),
            dec!(1234567890123456789.123456789),
        ];
        for a in values {
            for b in values {
                assert_eq!(cmp_decimal(&a, &b), a.cmp(&b), "{a} vs {b}");
                assert_eq!(add_decimal(a, b), a.checked_add(b), "{a} + {b}");
            }
        }
    }

    /// Differences taken on the mantissas convert to the same `f64` as the decimal
    /// difference, over scales, signs, zeros and sizes on both sides of the fast path's
    /// bounds.
    #[test]
    fn fast_differences_agree_with_decimal() {
        let mut state = 0x9E37_79B9_7F4A_7C15u64;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        let mut values = vec![
            Decimal::ZERO,
            Decimal::new(0, 5),
            Decimal::MAX,
            Decimal::MIN,
            Decimal::new(1, 28),
            dec!(9007199254740993),
            dec!(-9007199254740993),
            dec!(0.9007199254740993),
        ];
        for _ in 0..3_000 {
            let digits = next() % 20;
            let mantissa = (next() % 10u64.pow(digits as u32 % 20).max(1)) as i64;
            let sign = if next() % 3 == 0 { -1 } else { 1 };
            values.push(Decimal::new(sign * mantissa, (next() % 25) as u32));
        }
        for &d in &values {
            if let Some(small) = SmallDecimal::new(d) {
                assert_eq!(small.is_positive(), d > Decimal::ZERO, "{d}");
                let back = SmallDecimal::from_parts(small.mantissa(), small.scale());
                assert_eq!(back, Some(small));
                if !(d.is_zero() && d.is_sign_negative()) {
                    assert_eq!(small.to_decimal().serialize(), d.serialize(), "{d}");
                }
                if let Some(x) = small.to_f64() {
                    // The correctly rounded quotient (`as_f64` can be an ulp off).
                    let exact = d.mantissa() as f64 / 10f64.powi(d.scale() as i32);
                    assert_eq!(x.to_bits(), exact.to_bits(), "{d}");
                    assert!(d.mantissa().unsigned_abs() <= 1 << 53 && d.scale() <= 22);
                }
            }
        }
        for (i, &a) in values.iter().enumerate() {
            for &b in values.iter().skip(i % 7).step_by(37) {
                let want = a.checked_sub(b).map(to_f64).map(f64::to_bits);
                assert_eq!(sub_to_f64(a, b).map(f64::to_bits), want, "{a} - {b}");
                assert_eq!(compare(a, b), a.cmp(&b), "{a} vs {b}");
            }
        }
    }

    #[test]
    fn wire_format_is_a_string() {
        let p = Price::new(dec!(101.25)).unwrap();
        assert_eq!(serde_json::to_string(&p).unwrap(), "\"101.25\"");
        assert!(serde_json::from_str::<Price>("\"-1\"").is_err());
        assert!(serde_json::from_str::<Quantity>("\"-1\"").is_err());
    }
}
