//! An exact decimal as the ABI carries it: `mantissa / 10^scale`.

use core::cmp::Ordering;
use core::fmt;

/// An exact decimal number: `mantissa / 10^scale` (scale 0..=18). Quantities, cash and
/// prices are exact; arithmetic beyond comparison is left to the strategy (convert with
/// [`Decimal::to_f64`] and back with [`Decimal::from_f64`] at a chosen precision).
#[derive(Debug, Clone, Copy, Eq, Default)]
pub struct Decimal {
    pub mantissa: i64,
    pub scale: u32,
}

const POW10: [i64; 19] = {
    let mut p = [1i64; 19];
    let mut i = 1;
    while i < 19 {
        p[i] = p[i - 1] * 10;
        i += 1;
    }
    p
};

impl Decimal {
    pub const ZERO: Decimal = Decimal::new(0, 0);
    pub const ONE: Decimal = Decimal::new(1, 0);

    /// `mantissa / 10^scale`; a scale over 18 is clamped to 18.
    pub const fn new(mantissa: i64, scale: u32) -> Self {
        Decimal {
            mantissa,
            scale: if scale > 18 { 18 } else { scale },
        }
    }

    pub fn is_zero(self) -> bool {
        self.mantissa == 0
    }

    /// Strictly above zero.
    pub fn is_positive(self) -> bool {
        self.mantissa > 0
    }

    pub fn is_negative(self) -> bool {
        self.mantissa < 0
    }

    pub fn abs(self) -> Self {
        Decimal::new(self.mantissa.saturating_abs(), self.scale)
    }

    pub fn to_f64(self) -> f64 {
        self.mantissa as f64 / POW10[self.scale as usize] as f64
    }

    /// `x` rounded toward zero to `places` decimal places (`None` if not finite or out of
    /// range).
    pub fn from_f64(x: f64, places: u32) -> Option<Self> {
        let places = places.min(18);
        let scaled = (x * POW10[places as usize] as f64).trunc();
        (scaled.is_finite() && scaled.abs() < 9.2e18).then(|| Decimal::new(scaled as i64, places))
    }

    /// Parses `123`, `-0.5`, `1.250`.
    pub fn parse(text: &str) -> Option<Self> {
        let text = text.trim();
        let (negative, digits) = match text.strip_prefix('-') {
            Some(rest) => (true, rest),
            None => (false, text),
        };
        let (whole, fraction) = digits.split_once('.').unwrap_or((digits, ""));
        if whole.is_empty() && fraction.is_empty() || fraction.len() > 18 {
            return None;
        }
        let mut mantissa: i64 = 0;
        for c in whole.chars().chain(fraction.chars()) {
            let d = c.to_digit(10)?;
            mantissa = mantissa.checked_mul(10)?.checked_add(i64::from(d))?;
        }
        Some(Decimal::new(
            if negative { -mantissa } else { mantissa },
            fraction.len() as u32,
        ))
    }

    /// Both mantissas at the larger scale (an i64 times 10^18 fits an i128).
    fn aligned(self, other: Self) -> (i128, i128) {
        let scale = self.scale.max(other.scale);
        let a = i128::from(self.mantissa) * i128::from(POW10[(scale - self.scale) as usize]);
        let b = i128::from(other.mantissa) * i128::from(POW10[(scale - other.scale) as usize]);
        (a, b)
    }
}

impl PartialEq for Decimal {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl PartialOrd for Decimal {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Decimal {
    fn cmp(&self, other: &Self) -> Ordering {
        let (a, b) = self.aligned(*other);
        a.cmp(&b)
    }
}

impl fmt::Display for Decimal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let p = POW10[self.scale as usize].unsigned_abs();
        let m = self.mantissa.unsigned_abs();
        let sign = if self.mantissa < 0 { "-" } else { "" };
        if self.scale == 0 {
            write!(f, "{sign}{m}")
        } else {
            write!(
                f,
                "{sign}{}.{:0width$}",
                m / p,
                m % p,
                width = self.scale as usize
            )
        }
    }
}
