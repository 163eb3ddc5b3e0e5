//! Performance analytics for Stratus: how well did an account or strategy do, and at what
//! risk.
//!
//! [`compute`] turns an equity curve (cash plus marked positions, one [`EquityPoint`] per
//! period), the closed [`RoundTrip`]s and an optional benchmark curve into [`Metrics`]:
//! returns, volatility, Sharpe and Sortino ratios, drawdown depth and duration, trade
//! statistics, exposure, and alpha/beta against the benchmark. [`drawdown_series`] gives the
//! underwater curve and [`equity_svg`] draws both as a standalone SVG chart.
//!
//! Like `domain`, this crate does no I/O, reads no clock and spawns nothing: backtest and
//! live runners call it with the curves they recorded.
//!
//! Money (equity, P&L, fees) stays [`Decimal`](domain::Decimal); ratios, which are
//! dimensionless and go through square roots and powers, are `f64`. A ratio that is not
//! defined for the input (zero variance, no trades, too few points) is `None` — `null` in
//! JSON — and never NaN or ±∞. Input that cannot be analysed (an empty curve, times that do
//! not increase, a non-positive starting equity, a nonsensical configuration) is refused
//! with an [`AnalyticsError`] naming the problem; nothing here panics on bad input.

#![forbid(unsafe_code)]

mod benchmark;
mod chart;
mod config;
mod curve;
mod drawdown;
mod equity_curve;
mod error;
mod metrics;
mod returns;
mod round_trips;
mod trades;

pub use benchmark::BenchmarkComparison;
pub use chart::equity_svg;
pub use config::AnalyticsConfig;
pub use curve::EquityPoint;
pub use drawdown::drawdown_series;
pub use equity_curve::EquityCurve;
pub use error::{AnalyticsError, Curve};
pub use metrics::{Metrics, compute, compute_curves};
pub use round_trips::RoundTripBook;
pub use trades::{RoundTrip, TradeSide};
