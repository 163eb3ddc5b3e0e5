//! Period returns and the sample statistics the ratios are built from.
//!
//! A period return is the simple return `r_i = e_i / e_{i−1} − 1` between consecutive
//! equity points. Ratios are computed in `f64` from returns taken exactly in `Decimal`, so a
//! curve 100 → 110 has a return of exactly 0.1.

use domain::Decimal;
use domain::num::SmallDecimal;

use crate::curve::Points;

/// Below this multiple of the mean absolute return a standard deviation is rounding noise,
/// not variation: a curve growing by exactly 1% a period still shows deviations of about
/// 1e-17 after the mean is taken in floating point, and dividing by them would report a
/// Sharpe ratio of 10^15 where the honest answer is "undefined".
pub(crate) const RELATIVE_NOISE: f64 = 1e-10;

/// `num / den − 1` for `den > 0`, exactly in `Decimal` when the quotient fits and in `f64`
/// otherwise. Always finite: both operands are finite and `den` is positive.
pub(crate) fn ratio_minus_one(num: Decimal, den: Decimal) -> f64 {
    // The difference is exact in decimal; dividing in f64 then costs one rounding
    // (~1e-16 relative) instead of a 96-bit decimal division per period.
    let den_f = domain::num::to_f64(den);
    domain::num::sub_to_f64(num, den)
        .map(|diff| diff / den_f)
        .unwrap_or_else(|| domain::num::to_f64(num) / den_f - 1.0)
}

/// `d > 0`, without a general decimal comparison.
#[inline]
pub(crate) fn is_positive(d: Decimal) -> bool {
    !d.is_zero() && d.is_sign_positive()
}

/// Point `index` of a curve as returns and drawdowns need it: unpacked for integer
/// arithmetic when it is small (every equity a backtest produces) and in `f64`, computed
/// once and carried along a walk over the curve. The exact decimal is only read from the
/// curve when the small form cannot answer; every answer is the one `ratio_minus_one` and
/// decimal comparison give.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Level {
    index: usize,
    small: Option<SmallDecimal>,
    f: f64,
}

impl Level {
    #[inline(always)]
    pub(crate) fn at<P: Points + ?Sized>(points: &P, index: usize) -> Self {
        let small = points.small(index);
        let f = match small.and_then(SmallDecimal::to_f64) {
            Some(f) => f,
            None => domain::num::to_f64(points.equity(index)),
        };
        Level { index, small, f }
    }

    /// The value in `f64`.
    #[inline(always)]
    pub(crate) fn f(&self) -> f64 {
        self.f
    }

    #[inline(always)]
    pub(crate) fn is_positive<P: Points + ?Sized>(&self, points: &P) -> bool {
        match self.small {
            Some(small) => small.is_positive(),
            None => is_positive(points.equity(self.index)),
        }
    }

    /// `self ≥ other`, exactly.
    #[inline(always)]
    pub(crate) fn at_or_above<P: Points + ?Sized>(&self, points: &P, other: &Level) -> bool {
        let order = match self.small.zip(other.small).and_then(|(a, b)| a.compare(b)) {
            Some(order) => order,
            None => domain::num::compare(points.equity(self.index), points.equity(other.index)),
        };
        order != std::cmp::Ordering::Less
    }

    /// `self / base − 1` for `base > 0`, as [`ratio_minus_one`] gives it.
    #[inline(always)]
    pub(crate) fn return_over<P: Points + ?Sized>(&self, points: &P, base: &Level) -> f64 {
        let small = self
            .small
            .zip(base.small)
            .and_then(|(a, b)| a.sub_to_f64(b));
        let diff = match small {
            Some(diff) => Some(diff),
            None => domain::num::sub_to_f64(points.equity(self.index), points.equity(base.index)),
        };
        match diff {
            Some(diff) => diff / base.f,
            None => self.f / base.f - 1.0,
        }
    }
}

/// A walk over a curve's periods: each point is unpacked and converted once, when it ends
/// a period, and carried to the next period as its base.
pub(crate) struct Walk {
    base: Level,
}

impl Walk {
    pub(crate) fn over<P: Points + ?Sized>(points: &P) -> Self {
        Walk {
            base: Level::at(points, 0),
        }
    }

    /// Continues the walk from point `index` as the base.
    pub(crate) fn restart<P: Points + ?Sized>(&mut self, points: &P, index: usize) {
        self.base = Level::at(points, index);
    }

    /// The simple return of the period ending at point `i` (≥ 1, the next point of the
    /// walk), `None` when it starts at zero or negative equity: a return relative to a
    /// non-positive base has no meaning, so every ratio built on returns is then
    /// undefined.
    #[inline(always)]
    pub(crate) fn next<P: Points + ?Sized>(&mut self, points: &P, i: usize) -> Option<f64> {
        let to = Level::at(points, i);
        let from = std::mem::replace(&mut self.base, to);
        from.is_positive(points)
            .then(|| to.return_over(points, &from))
    }
}

/// The simple return of each period, or `None` when some period starts at zero or negative
/// equity: a return relative to a non-positive base has no meaning, so every ratio built on
/// returns is then undefined.
pub(crate) fn period_returns<P: Points + ?Sized>(points: &P) -> Option<Vec<f64>> {
    points.period_returns()
}

/// [`period_returns`] by a [`Walk`], for any curve.
pub(crate) fn walk_returns<P: Points + ?Sized>(points: &P) -> Option<Vec<f64>> {
    let periods = points.len().saturating_sub(1);
    let mut returns = Vec::with_capacity(periods);
    if periods > 0 {
        let mut walk = Walk::over(points);
        for i in 1..=periods {
            returns.push(walk.next(points, i)?);
        }
    }
    Some(returns)
}

/// `Some(x)` when `x` is a finite number: the last gate before a ratio is published.
pub(crate) fn finite(x: f64) -> Option<f64> {
    x.is_finite().then_some(x)
}

pub(crate) fn mean(xs: &[f64]) -> Option<f64> {
    if xs.is_empty() {
        return None;
    }
    finite(xs.iter().sum::<f64>() / xs.len() as f64)
}

/// Sample covariance (divided by `n − 1`); needs two observations of each.
pub(crate) fn sample_covariance(xs: &[f64], ys: &[f64]) -> Option<f64> {
    if xs.len() < 2 || xs.len() != ys.len() {
        return None;
    }
    let (mx, my) = (mean(xs)?, mean(ys)?);
    let sum: f64 = xs.iter().zip(ys).map(|(x, y)| (x - mx) * (y - my)).sum();
    finite(sum / (xs.len() - 1) as f64)
}

/// Sample variance (divided by `n − 1`); needs two observations.
pub(crate) fn sample_variance(xs: &[f64]) -> Option<f64> {
    sample_covariance(xs, xs)
}

/// The sample standard deviation of `xs`, snapped to exactly 0 when it is rounding noise
/// rather than variation (see [`RELATIVE_NOISE`]); `None` for fewer than two values.
pub(crate) fn sample_stdev(xs: &[f64]) -> Option<f64> {
    let stdev = sample_variance(xs)?.sqrt();
    Some(if is_noise(stdev, xs) { 0.0 } else { stdev })
}

/// Whether `deviation` is indistinguishable from zero at the scale of `xs`.
pub(crate) fn is_noise(deviation: f64, xs: &[f64]) -> bool {
    let scale = xs.iter().map(|x| x.abs()).sum::<f64>() / xs.len().max(1) as f64;
    deviation <= RELATIVE_NOISE * scale
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::curve::EquityPoint;
    use domain::Timestamp;
    use rust_decimal_macros::dec;

    fn period_returns(points: &[EquityPoint]) -> Option<Vec<f64>> {
        super::period_returns(points)
    }

    /// The definition: each return through `ratio_minus_one` on the decimals.
    fn by_decimals(points: &[EquityPoint]) -> Option<Vec<f64>> {
        points
            .windows(2)
            .map(|pair| {
                (pair[0].equity > Decimal::ZERO)
                    .then(|| ratio_minus_one(pair[1].equity, pair[0].equity))
            })
            .collect()
    }

    /// Walked returns equal the definition bit for bit, on slices and on compact curves,
    /// over mixed scales, flat stretches, wide values, zero and negative equity.
    #[test]
    fn walked_returns_equal_the_definition() {
        let mut state = 0x2545_F491_4F6C_DD1Du64;
        let mut next = move |n: u64| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state % n
        };
        let (mut defined, mut undefined) = (0, 0);
        for case in 0..2_000 {
            let len = next(40) as usize + 1;
            let mut cents = 1_000_000 + next(1_000_000) as i64;
            let points: Vec<EquityPoint> = (0..len)
                .map(|i| {
                    match next(12) {
                        0 => {}
                        1 if case % 5 == 0 => cents = -cents / 3,
                        2 if case % 7 == 0 => cents = 0,
                        _ => cents += next(20_001) as i64 - 10_000,
                    }
                    let scale = next(4) as u32;
                    let mut value = Decimal::new(cents * 10i64.pow(scale), 2 + scale);
                    if next(50) == 0 {
                        value *= Decimal::new(1_000_000_000_000_000, 0);
                    }
                    EquityPoint::new(Timestamp::from_secs(60 * i as i64), value, true)
                })
                .collect();
            let want =
                by_decimals(&points).map(|r| r.iter().map(|x| x.to_bits()).collect::<Vec<_>>());
            let slice =
                period_returns(&points).map(|r| r.iter().map(|x| x.to_bits()).collect::<Vec<_>>());
            let curve: crate::EquityCurve = points.iter().copied().collect();
            let compact = super::period_returns(&curve)
                .map(|r| r.iter().map(|x| x.to_bits()).collect::<Vec<_>>());
            assert_eq!(slice, want, "case {case}: {points:?}");
            assert_eq!(compact, want, "case {case}: {points:?}");
            if want.is_some() {
                defined += 1
            } else {
                undefined += 1
            }
        }
        assert!(defined > 500 && undefined > 100, "{defined} / {undefined}");
    }

    fn curve(values: &[Decimal]) -> Vec<EquityPoint> {
        values
            .iter()
            .enumerate()
            .map(|(i, &e)| EquityPoint::new(Timestamp::from_secs(i as i64), e, false))
            .collect()
    }

    #[test]
    fn returns_are_exact_simple_returns() {
        let r = period_returns(&curve(&[dec!(100), dec!(110), dec!(99), dec!(121)])).unwrap();
        assert_eq!(r, vec![0.1, -0.1, 0.2222222222222222]);
        assert_eq!(period_returns(&curve(&[dec!(5)])), Some(vec![]));
    }

    #[test]
    fn returns_from_a_non_positive_base_are_undefined() {
        assert_eq!(
            period_returns(&curve(&[dec!(100), dec!(0), dec!(10)])),
            None
        );
        // Falling to zero is a -100% return; only the period after it is undefined.
        assert_eq!(
            period_returns(&curve(&[dec!(100), dec!(0)])),
            Some(vec![-1.0])
        );
    }

    #[test]
    fn ratio_falls_back_to_floating_point_beyond_the_decimal_range() {
        let r = ratio_minus_one(Decimal::MAX, dec!(0.0000000000000000000000000001));
        assert!(r.is_finite() && r > 1e50);
    }

    #[test]
    fn sample_statistics() {
        let xs = [1.0, 2.0, 3.0, 4.0];
        assert_eq!(mean(&xs), Some(2.5));
        assert!((sample_variance(&xs).unwrap() - 5.0 / 3.0).abs() < 1e-15);
        assert_eq!(sample_variance(&[1.0]), None);
        assert_eq!(mean(&[]), None);
        let ys = [2.0, 4.0, 6.0, 8.0];
        assert!((sample_covariance(&xs, &ys).unwrap() - 10.0 / 3.0).abs() < 1e-15);
    }

    #[test]
    fn constant_returns_have_no_dispersion() {
        assert_eq!(sample_stdev(&[0.01; 7]), Some(0.0));
        assert_eq!(sample_stdev(&[0.0; 3]), Some(0.0));
        assert!(sample_stdev(&[0.01, 0.02]).unwrap() > 0.007);
        assert_eq!(sample_stdev(&[0.01]), None);
    }
}
