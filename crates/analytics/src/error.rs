//! The crate's one error type: every reason [`compute`](crate::compute) refuses its input.
//!
//! All of them are caller mistakes (nothing here is retryable), so each message says what was
//! wrong and what was expected, with the offending index or value.

use std::fmt;

use domain::{Decimal, Timestamp};

/// Which of the two curves given to [`compute`](crate::compute) an error is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Curve {
    Equity,
    Benchmark,
}

impl fmt::Display for Curve {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Curve::Equity => "equity",
            Curve::Benchmark => "benchmark",
        })
    }
}

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum AnalyticsError {
    #[error("the equity curve is empty; at least one point is needed")]
    EmptyEquity,

    #[error(
        "{curve} curve times must strictly increase, but point {index} at {time} is not after \
         the point before it at {previous}"
    )]
    TimesNotIncreasing {
        curve: Curve,
        index: usize,
        previous: Timestamp,
        time: Timestamp,
    },

    #[error("the {curve} curve must start above zero to measure returns, but starts at {equity}")]
    NonPositiveStart { curve: Curve, equity: Decimal },

    #[error(
        "the benchmark curve has {benchmark} points but the equity curve has {equity}; the \
         benchmark needs one point at each equity time"
    )]
    BenchmarkLength { equity: usize, benchmark: usize },

    #[error(
        "benchmark point {index} is at {benchmark_time} but equity point {index} is at \
         {equity_time}; the benchmark needs one point at each equity time"
    )]
    BenchmarkTime {
        index: usize,
        equity_time: Timestamp,
        benchmark_time: Timestamp,
    },

    #[error(
        "periods_per_year must be a finite number above zero (252 for daily bars, 98280 for \
         1-minute bars of a 6.5-hour session), got {value}"
    )]
    InvalidPeriodsPerYear { value: f64 },

    #[error("risk_free_rate must be a finite annual rate above -1 (0.04 for 4%), got {value}")]
    InvalidRiskFreeRate { value: f64 },

    #[error("round trip {index}: {reason}")]
    InvalidTrade { index: usize, reason: String },

    #[error("{what} is outside the decimal range")]
    Overflow { what: &'static str },
}
