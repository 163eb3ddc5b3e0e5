//! `EquityPoint`, one sample of an equity curve, and the checks a curve must pass before it
//! is analysed.

use domain::num::SmallDecimal;
use domain::{Decimal, Timestamp};
use serde::{Deserialize, Serialize};

use crate::error::{AnalyticsError, Curve};

/// One point of an account's equity curve (cash plus marked positions), in time order.
///
/// Point `i` closes the period that runs from point `i − 1` to it; the first point only
/// marks where the curve starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct EquityPoint {
    /// The end of the period, when `equity` was marked.
    pub time: Timestamp,
    /// Cash plus positions marked to market at `time`.
    pub equity: Decimal,
    /// Whether a position was open during the period that ends at this point.
    pub exposed: bool,
}

impl EquityPoint {
    pub const fn new(time: Timestamp, equity: Decimal, exposed: bool) -> Self {
        EquityPoint {
            time,
            equity,
            exposed,
        }
    }
}

/// What the metrics read from a curve, however it is stored: a slice of points, or an
/// [`EquityCurve`](crate::EquityCurve).
pub(crate) trait Points {
    fn len(&self) -> usize;
    fn time(&self, index: usize) -> Timestamp;
    fn exposed(&self, index: usize) -> bool;
    /// The equity of point `index`, exactly.
    fn equity(&self, index: usize) -> Decimal;
    /// The same, unpacked, when it is small (see [`SmallDecimal`]).
    fn small(&self, index: usize) -> Option<SmallDecimal>;

    /// The simple return of each period (see [`crate::returns::period_returns`]).
    fn period_returns(&self) -> Option<Vec<f64>> {
        crate::returns::walk_returns(self)
    }
}

impl Points for [EquityPoint] {
    fn len(&self) -> usize {
        <[EquityPoint]>::len(self)
    }

    #[inline(always)]
    fn time(&self, index: usize) -> Timestamp {
        self[index].time
    }

    #[inline(always)]
    fn exposed(&self, index: usize) -> bool {
        self[index].exposed
    }

    #[inline(always)]
    fn equity(&self, index: usize) -> Decimal {
        self[index].equity
    }

    #[inline(always)]
    fn small(&self, index: usize) -> Option<SmallDecimal> {
        SmallDecimal::new(self[index].equity)
    }
}

/// Checks that the equity curve is not empty, its times strictly increase and it starts
/// above zero (returns are measured relative to the start).
pub(crate) fn check_equity<P: Points + ?Sized>(points: &P) -> Result<(), AnalyticsError> {
    if points.len() == 0 {
        return Err(AnalyticsError::EmptyEquity);
    }
    for index in 1..points.len() {
        let (previous, time) = (points.time(index - 1), points.time(index));
        if time <= previous {
            return Err(AnalyticsError::TimesNotIncreasing {
                curve: Curve::Equity,
                index,
                previous,
                time,
            });
        }
    }
    require_positive_start(Curve::Equity, points.equity(0))
}

/// Checks that a (non-empty) benchmark has exactly the equity curve's times and starts
/// above zero. Sharing the times is what makes period returns comparable one to one.
pub(crate) fn check_benchmark<P: Points + ?Sized>(
    equity: &P,
    benchmark: &P,
) -> Result<(), AnalyticsError> {
    if benchmark.len() != equity.len() {
        return Err(AnalyticsError::BenchmarkLength {
            equity: equity.len(),
            benchmark: benchmark.len(),
        });
    }
    for index in 0..equity.len() {
        let (equity_time, benchmark_time) = (equity.time(index), benchmark.time(index));
        if equity_time != benchmark_time {
            return Err(AnalyticsError::BenchmarkTime {
                index,
                equity_time,
                benchmark_time,
            });
        }
    }
    match benchmark.len() {
        0 => Ok(()),
        _ => require_positive_start(Curve::Benchmark, benchmark.equity(0)),
    }
}

#[cfg(test)]
fn validate_equity(points: &[EquityPoint]) -> Result<(), AnalyticsError> {
    check_equity(points)
}

#[cfg(test)]
fn validate_benchmark(
    equity: &[EquityPoint],
    benchmark: &[EquityPoint],
) -> Result<(), AnalyticsError> {
    check_benchmark(equity, benchmark)
}

fn require_positive_start(curve: Curve, equity: Decimal) -> Result<(), AnalyticsError> {
    if equity <= Decimal::ZERO {
        return Err(AnalyticsError::NonPositiveStart { curve, equity });
    }
    Ok(())
}

/// Seconds from `from` to `to`, truncated toward zero; saturates instead of overflowing.
pub(crate) fn seconds_between(from: Timestamp, to: Timestamp) -> i64 {
    to.nanos().saturating_sub(from.nanos()) / 1_000_000_000
}

#[cfg(test)]
mod tests {
    use super::*;

    fn point(secs: i64, equity: i64) -> EquityPoint {
        EquityPoint::new(Timestamp::from_secs(secs), Decimal::from(equity), false)
    }

    #[test]
    fn refuses_empty_repeated_times_and_non_positive_start() {
        assert_eq!(validate_equity(&[]), Err(AnalyticsError::EmptyEquity));
        assert!(matches!(
            validate_equity(&[point(0, 1), point(5, 1), point(5, 1)]),
            Err(AnalyticsError::TimesNotIncreasing { index: 2, .. })
        ));
        assert!(matches!(
            validate_equity(&[point(0, 0)]),
            Err(AnalyticsError::NonPositiveStart {
                curve: Curve::Equity,
                ..
            })
        ));
        assert_eq!(validate_equity(&[point(0, 1), point(1, -5)]), Ok(()));
    }

    #[test]
    fn benchmark_must_share_every_time() {
        let equity = [point(0, 1), point(1, 2)];
        assert!(matches!(
            validate_benchmark(&equity, &[point(0, 1)]),
            Err(AnalyticsError::BenchmarkLength {
                equity: 2,
                benchmark: 1
            })
        ));
        assert!(matches!(
            validate_benchmark(&equity, &[point(0, 1), point(2, 2)]),
            Err(AnalyticsError::BenchmarkTime { index: 1, .. })
        ));
        assert_eq!(
            validate_benchmark(&equity, &[point(0, 3), point(1, 4)]),
            Ok(())
        );
    }

    #[test]
    fn seconds_between_saturates() {
        assert_eq!(
            seconds_between(Timestamp::from_secs(10), Timestamp::from_secs(70)),
            60
        );
        assert_eq!(
            seconds_between(Timestamp::from_nanos(i64::MIN), Timestamp::MAX),
            i64::MAX / 1_000_000_000
        );
    }
}
