//! `EquityCurve`: an equity curve stored compactly, for long backtests.
//!
//! A million-point curve as `Vec<EquityPoint>` is 32 MB, most of it 16-byte decimals with
//! a handful of significant digits. Here a point is 16 bytes: its time, and its equity as
//! a 56-bit mantissa packed with the scale and the exposure flag in one `i64`. The rare
//! value that does not fit (a mantissa of 2^55 or more, a negative zero) is kept aside as
//! it is.
//! Points come back exactly as they were pushed, and [`compute_curves`] analyses the
//! mantissas directly, without unpacking a decimal per point.
//!
//! [`compute_curves`]: crate::compute_curves

use domain::num::SmallDecimal;
use domain::{Decimal, Timestamp};

use crate::curve::{EquityPoint, Points};
use crate::returns::{Level, Walk};

/// See the module docs.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct EquityCurve {
    times: Vec<Timestamp>,
    /// Per point: the mantissa shifted up by 8 bits, under the scale (`SCALE` bits) and
    /// the `EXPOSED` and `WIDE` flags.
    values: Vec<i64>,
    /// The values kept as they are (`WIDE` points), by point index, ascending.
    wide: Vec<(usize, Decimal)>,
}

const SCALE: i64 = 0x1F;
const EXPOSED: i64 = 0x20;
const WIDE: i64 = 0x40;
/// Mantissas below this magnitude are packed.
const PACKED: u64 = 1 << 55;

impl EquityCurve {
    pub fn new() -> Self {
        Self::default()
    }

    /// Appends a point (the curve does not check it: [`compute_curves`] does).
    ///
    /// [`compute_curves`]: crate::compute_curves
    #[inline]
    pub fn push(&mut self, point: EquityPoint) {
        let equity = point.equity;
        let exposed = if point.exposed { EXPOSED } else { 0 };
        let packed = SmallDecimal::new(equity)
            .filter(|small| small.mantissa().unsigned_abs() < PACKED)
            .filter(|_| !(equity.is_zero() && equity.is_sign_negative()));
        let value = match packed {
            // A small decimal's scale is at most 28: five bits.
            Some(small) => (small.mantissa() << 8) | i64::from(small.scale()) | exposed,
            None => {
                self.wide.push((self.times.len(), equity));
                WIDE | exposed
            }
        };
        self.times.push(point.time);
        self.values.push(value);
    }

    pub fn len(&self) -> usize {
        self.times.len()
    }

    pub fn is_empty(&self) -> bool {
        self.times.is_empty()
    }

    /// Point `index`, as it was pushed.
    pub fn get(&self, index: usize) -> Option<EquityPoint> {
        (index < self.len()).then(|| self.point(index))
    }

    pub fn first(&self) -> Option<EquityPoint> {
        self.get(0)
    }

    pub fn last(&self) -> Option<EquityPoint> {
        self.len().checked_sub(1).and_then(|i| self.get(i))
    }

    /// The points in order.
    pub fn iter(&self) -> impl ExactSizeIterator<Item = EquityPoint> + '_ {
        (0..self.len()).map(|i| self.point(i))
    }

    /// The points as a vector.
    pub fn to_vec(&self) -> Vec<EquityPoint> {
        self.iter().collect()
    }

    fn point(&self, index: usize) -> EquityPoint {
        EquityPoint {
            time: self.times[index],
            equity: self.equity_at(index),
            exposed: self.values[index] & EXPOSED != 0,
        }
    }

    fn equity_at(&self, index: usize) -> Decimal {
        match self.small_at(index) {
            Some(small) => small.to_decimal(),
            None => self
                .wide
                .binary_search_by_key(&index, |&(i, _)| i)
                .map_or(Decimal::ZERO, |at| self.wide[at].1),
        }
    }

    #[inline(always)]
    fn small_at(&self, index: usize) -> Option<SmallDecimal> {
        let value = self.values[index];
        if value & WIDE != 0 {
            return None;
        }
        SmallDecimal::from_parts(value_mantissa(value), (value & SCALE) as u32)
    }
}

impl FromIterator<EquityPoint> for EquityCurve {
    fn from_iter<I: IntoIterator<Item = EquityPoint>>(points: I) -> Self {
        let mut curve = EquityCurve::new();
        for point in points {
            curve.push(point);
        }
        curve
    }
}

impl Points for EquityCurve {
    fn len(&self) -> usize {
        self.times.len()
    }

    #[inline(always)]
    fn time(&self, index: usize) -> Timestamp {
        self.times[index]
    }

    #[inline(always)]
    fn exposed(&self, index: usize) -> bool {
        self.values[index] & EXPOSED != 0
    }

    fn equity(&self, index: usize) -> Decimal {
        self.equity_at(index)
    }

    #[inline(always)]
    fn small(&self, index: usize) -> Option<SmallDecimal> {
        self.small_at(index)
    }

    /// Straight off the packed values: consecutive points at the same scale take a
    /// mantissa difference and two divisions ([`SmallDecimal::sub_to_f64`] and
    /// [`SmallDecimal::to_f64`] on them, inline); any other period takes the general
    /// [`Walk`] step.
    fn period_returns(&self) -> Option<Vec<f64>> {
        let periods = self.len().saturating_sub(1);
        let mut returns = Vec::with_capacity(periods);
        if periods == 0 {
            return Some(returns);
        }
        let mut walk = Walk::over(self);
        let mut base = self.values[0];
        let mut base_f = Level::at(self, 0).f();
        for i in 1..=periods {
            let value = self.values[i];
            let same_scale = (base | value) & WIDE == 0 && (base ^ value) & SCALE == 0;
            if same_scale {
                let scale = (value & SCALE) as u32;
                let (from, to) = (value_mantissa(base), value_mantissa(value));
                if let (Some(from), Some(to)) = (
                    SmallDecimal::from_parts(from, scale),
                    SmallDecimal::from_parts(to, scale),
                ) {
                    if let (Some(diff), Some(to_f)) = (to.sub_to_f64(from), to.to_f64()) {
                        if !from.is_positive() {
                            return None;
                        }
                        returns.push(diff / base_f);
                        (base, base_f) = (value, to_f);
                        continue;
                    }
                }
            }
            // The general step, from this period's base on.
            walk.restart(self, i - 1);
            returns.push(walk.next(self, i)?);
            (base, base_f) = (value, Level::at(self, i).f());
        }
        Some(returns)
    }
}

/// The mantissa of a packed value.
#[inline(always)]
fn value_mantissa(value: i64) -> i64 {
    value >> 8
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn points_come_back_exactly_as_pushed() {
        let values = [
            Decimal::new(10_000_000, 2),
            Decimal::new(1_000_050, 2),
            Decimal::new(-355, 1),
            Decimal::ZERO,
            Decimal::new(0, 3),
            -Decimal::ZERO,
            Decimal::MAX,
            Decimal::MIN,
            Decimal::new(1, 28),
            Decimal::new(i64::MAX, 4),
            Decimal::new((1 << 55) - 1, 2),
            Decimal::new(-(1 << 55) + 1, 2),
            Decimal::new(1 << 55, 0),
            Decimal::new(-(1 << 55), 0),
            Decimal::new(1 << 62, 0),
        ];
        let points: Vec<EquityPoint> = values
            .iter()
            .enumerate()
            .map(|(i, &equity)| {
                EquityPoint::new(Timestamp::from_secs(i as i64), equity, i % 3 == 0)
            })
            .collect();
        let curve: EquityCurve = points.iter().copied().collect();
        assert_eq!(curve.len(), points.len());
        for (got, want) in curve.iter().zip(&points) {
            assert_eq!(got, *want);
            // The very representation: scale and sign of zero included.
            assert_eq!(
                got.equity.serialize(),
                want.equity.serialize(),
                "{}",
                want.equity
            );
        }
        assert_eq!(curve.to_vec(), points);
        assert_eq!(curve.first(), points.first().copied());
        assert_eq!(curve.last(), points.last().copied());
        assert_eq!(curve.get(points.len()), None);
        assert!(EquityCurve::new().first().is_none() && EquityCurve::new().is_empty());
    }
}
