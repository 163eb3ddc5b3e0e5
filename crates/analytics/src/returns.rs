//! Period returns and the sample statistics the ratios are built from.
//!
//! A period return is the simple return `r_i = e_i / e_{i−1} − 1` between consecutive
//! equity points. Ratios are computed in `f64` from returns taken exactly in `Decimal`, so a
//! curve 100 → 110 has a return of exactly 0.1.

use domain::Decimal;

use crate::curve::EquityPoint;

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
    let (num_f, den_f) = (domain::num::to_f64(num), domain::num::to_f64(den));
    num.checked_sub(den)
        .map(|diff| domain::num::to_f64(diff) / den_f)
        .unwrap_or_else(|| num_f / den_f - 1.0)
}

/// The simple return of each period, or `None` when some period starts at zero or negative
/// equity: a return relative to a non-positive base has no meaning, so every ratio built on
/// returns is then undefined.
pub(crate) fn period_returns(points: &[EquityPoint]) -> Option<Vec<f64>> {
    points
        .windows(2)
        .map(|pair| {
            (pair[0].equity > Decimal::ZERO)
                .then(|| ratio_minus_one(pair[1].equity, pair[0].equity))
        })
        .collect()
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
    use domain::Timestamp;
    use rust_decimal_macros::dec;

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
