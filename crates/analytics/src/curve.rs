//! `EquityPoint`, one sample of an equity curve, and the checks a curve must pass before it
//! is analysed.

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

/// Checks that the equity curve is not empty, its times strictly increase and it starts
/// above zero (returns are measured relative to the start).
pub(crate) fn validate_equity(points: &[EquityPoint]) -> Result<(), AnalyticsError> {
    let first = points.first().ok_or(AnalyticsError::EmptyEquity)?;
    for (index, pair) in points.windows(2).enumerate() {
        if pair[1].time <= pair[0].time {
            return Err(AnalyticsError::TimesNotIncreasing {
                curve: Curve::Equity,
                index: index + 1,
                previous: pair[0].time,
                time: pair[1].time,
            });
        }
    }
    require_positive_start(Curve::Equity, first)
}

/// Checks that a (non-empty) benchmark has exactly the equity curve's times and starts
/// above zero. Sharing the times is what makes period returns comparable one to one.
pub(crate) fn validate_benchmark(
    equity: &[EquityPoint],
    benchmark: &[EquityPoint],
) -> Result<(), AnalyticsError> {
    if benchmark.len() != equity.len() {
        return Err(AnalyticsError::BenchmarkLength {
            equity: equity.len(),
            benchmark: benchmark.len(),
        });
    }
    for (index, (e, b)) in equity.iter().zip(benchmark).enumerate() {
        if e.time != b.time {
            return Err(AnalyticsError::BenchmarkTime {
                index,
                equity_time: e.time,
                benchmark_time: b.time,
            });
        }
    }
    match benchmark.first() {
        Some(first) => require_positive_start(Curve::Benchmark, first),
        None => Ok(()),
    }
}

fn require_positive_start(curve: Curve, first: &EquityPoint) -> Result<(), AnalyticsError> {
    if first.equity <= Decimal::ZERO {
        return Err(AnalyticsError::NonPositiveStart {
            curve,
            equity: first.equity,
        });
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
