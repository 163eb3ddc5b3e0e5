//! `SmallDecimal`: a decimal whose mantissa fits in 62 bits, unpacked for integer
//! arithmetic.
//!
//! Every price, quantity, amount and equity that market data and backtests produce is of
//! this kind, and on it conversions, differences and comparisons take a few integer
//! instructions instead of `Decimal`'s 96-bit general algorithms. Each operation gives
//! exactly what the `Decimal` one gives, or `None` where it cannot do so cheaply (the
//! caller then takes the `Decimal` path); the tests in `num` check this over scales,
//! signs, zeros and sizes on both sides of the bounds.

use std::cmp::Ordering;

use rust_decimal::Decimal;

/// See the module docs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SmallDecimal {
    /// Signed, below 2^62 in magnitude.
    mantissa: i64,
    scale: u32,
}

/// Mantissas up to this magnitude are exact in `f64`.
const EXACT_IN_F64: u64 = 1 << 53;

/// The powers of ten that are exact in `f64`.
const F64_POWERS: [f64; 23] = [
    1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16,
    1e17, 1e18, 1e19, 1e20, 1e21, 1e22,
];

const POW10: [i64; 19] = {
    let mut table = [1i64; 19];
    let mut i = 1;
    while i < 19 {
        table[i] = table[i - 1] * 10;
        i += 1;
    }
    table
};

impl SmallDecimal {
    /// `d` unpacked, when its mantissa is below 2^62 in magnitude.
    #[inline(always)]
    pub fn new(d: Decimal) -> Option<Self> {
        let parts = d.unpack();
        if parts.hi != 0 || parts.mid >= 1 << 30 {
            return None;
        }
        let magnitude = (i64::from(parts.mid) << 32) | i64::from(parts.lo);
        Some(SmallDecimal {
            mantissa: if parts.negative {
                -magnitude
            } else {
                magnitude
            },
            scale: parts.scale,
        })
    }

    /// `mantissa × 10^-scale`, when the mantissa is below 2^62 in magnitude and the scale
    /// at most 28.
    #[inline(always)]
    pub fn from_parts(mantissa: i64, scale: u32) -> Option<Self> {
        (mantissa.unsigned_abs() < 1 << 62 && scale <= 28)
            .then_some(SmallDecimal { mantissa, scale })
    }

    /// The signed mantissa.
    #[inline(always)]
    pub fn mantissa(self) -> i64 {
        self.mantissa
    }

    /// The number of decimal places.
    #[inline(always)]
    pub fn scale(self) -> u32 {
        self.scale
    }

    /// The decimal: the very representation `new` unpacked (but for the sign of a zero,
    /// which a mantissa cannot carry).
    #[inline(always)]
    pub fn to_decimal(self) -> Decimal {
        let magnitude = self.mantissa.unsigned_abs();
        Decimal::from_parts(
            magnitude as u32,
            (magnitude >> 32) as u32,
            0,
            self.mantissa < 0,
            self.scale,
        )
    }

    /// `self > 0`.
    #[inline(always)]
    pub fn is_positive(self) -> bool {
        self.mantissa > 0
    }

    /// The `f64` nearest to the value, when the mantissa is at most 2^53 and the scale at
    /// most 22: both are then exact in `f64`, so one division rounds correctly.
    #[inline(always)]
    pub fn to_f64(self) -> Option<f64> {
        exact_ratio(self.mantissa, self.scale)
    }

    /// The `f64` nearest to `self − other`, taken exactly on the mantissas at the larger
    /// scale: what `to_f64` gives for the decimal difference, when that difference is
    /// within `to_f64`'s exact bounds.
    ///
    /// Correct rounding makes the representation of the difference irrelevant: the
    /// decimal difference has the same value, and its mantissa is then within the same
    /// bounds (its scale is at most the larger scale), so `to_f64` of it is the same
    /// correctly rounded quotient.
    #[inline(always)]
    pub fn sub_to_f64(self, other: Self) -> Option<f64> {
        let (a, b, scale) = self.aligned(other)?;
        exact_ratio(a.checked_sub(b)?, scale)
    }

    /// The exact order of the two values.
    #[inline(always)]
    pub fn compare(self, other: Self) -> Option<Ordering> {
        let (a, b, _) = self.aligned(other)?;
        Some(a.cmp(&b))
    }

    /// Both mantissas at the larger scale, when the rescaled one stays within 64 bits.
    #[inline(always)]
    fn aligned(self, other: Self) -> Option<(i64, i64, u32)> {
        let (a, b) = (self, other);
        match a.scale.cmp(&b.scale) {
            Ordering::Equal => Some((a.mantissa, b.mantissa, a.scale)),
            Ordering::Less => {
                let factor = *POW10.get((b.scale - a.scale) as usize)?;
                Some((a.mantissa.checked_mul(factor)?, b.mantissa, b.scale))
            }
            Ordering::Greater => {
                let factor = *POW10.get((a.scale - b.scale) as usize)?;
                Some((a.mantissa, b.mantissa.checked_mul(factor)?, a.scale))
            }
        }
    }
}

/// `mantissa / 10^scale` correctly rounded, when both are exact in `f64`.
#[inline(always)]
fn exact_ratio(mantissa: i64, scale: u32) -> Option<f64> {
    let power = F64_POWERS.get(scale as usize)?;
    (mantissa.unsigned_abs() <= EXACT_IN_F64).then(|| mantissa as f64 / power)
}
