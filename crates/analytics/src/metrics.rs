//! `Metrics` and [`compute`], which fills them from an equity curve, trades and a benchmark.
//!
//! The definitions of every metric are on [`Metrics`].

use domain::{Decimal, Timestamp};
use serde::{Deserialize, Serialize};

use crate::benchmark::{BenchmarkComparison, compare};
use crate::config::AnalyticsConfig;
use crate::curve::{EquityPoint, Points, check_benchmark, check_equity, seconds_between};
use crate::drawdown::max_drawdown_of;
use crate::equity_curve::EquityCurve;
use crate::error::AnalyticsError;
use crate::returns::{finite, is_positive, mean, period_returns, ratio_minus_one, sample_stdev};
use crate::trades::{RoundTrip, trade_stats};

/// Seconds in the average Gregorian-with-leap-years year, for CAGR.
const SECONDS_PER_YEAR: f64 = 365.25 * 86_400.0;
/// CAGR over less than this is an extrapolation too wild to report.
const MIN_CAGR_SECONDS: i64 = 86_400;

/// The performance report of one equity curve.
///
/// Money is `Decimal` and travels as a JSON string; ratios are `f64`, and an undefined ratio
/// is `None` (`null`), never NaN or infinite.
///
/// Definitions, with `e_i` the equity points, `r_i = e_i / e_{i−1} − 1` the per-period
/// simple returns, `ppy` the periods per year and `rf` the per-period risk-free rate
/// (`(1 + annual)^(1/ppy) − 1`):
///
/// | metric | definition | `None` when |
/// |---|---|---|
/// | total return | `e_last / e_first − 1` | never |
/// | CAGR | `(e_last / e_first)^(1/years) − 1`, years = elapsed seconds / 365.25 days | under a day elapsed, or `e_last ≤ 0` |
/// | annual volatility | sample stdev of `r` × √ppy (0 for constant returns) | fewer than 2 periods |
/// | Sharpe | `mean(r − rf) / stdev(r) × √ppy` | fewer than 2 periods, or stdev is zero |
/// | Sortino | `mean(r − rf) / dd × √ppy`, dd = √(mean over all periods of min(0, r − rf)²) | fewer than 2 periods, or none below `rf` |
/// | max drawdown | largest `(peak − e) / peak` over the running peak, as a positive fraction | never (0 for no drawdown) |
/// | its duration | peak to recovery (first point back at the peak) or to the end, in seconds and periods | never (0 for no drawdown) |
/// | Calmar | CAGR / max drawdown | no CAGR, or no drawdown |
/// | win rate | trades with P&L > 0 / trades | no trades |
/// | profit factor | gross profit / gross loss | no losing trade |
/// | expectancy | mean P&L per trade | no trades |
/// | average win / loss | mean P&L of winners / of losers (negative) | no winner / no loser |
/// | exposure | periods whose point is `exposed` / periods | never (0 for a single point) |
///
/// Every return-based ratio is also `None` when the curve reaches zero or below before its
/// last point, since a return measured from a non-positive base has no meaning. The
/// benchmark comparison is defined on [`BenchmarkComparison`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Metrics {
    pub start_equity: Decimal,
    pub end_equity: Decimal,
    /// `end / start − 1`.
    pub total_return: f64,
    /// Compound annual growth rate over the calendar time elapsed.
    pub cagr: Option<f64>,
    /// Sample standard deviation of period returns × √periods_per_year.
    pub annual_volatility: Option<f64>,
    pub sharpe: Option<f64>,
    pub sortino: Option<f64>,
    /// Deepest fall below the running peak as a positive fraction (0.23 for 23%).
    pub max_drawdown: f64,
    /// Seconds from the deepest drawdown's peak to its recovery, or to the end.
    pub max_drawdown_duration_secs: i64,
    /// The same duration in periods.
    pub max_drawdown_periods: usize,
    pub calmar: Option<f64>,
    /// Number of closed round trips.
    pub trades: usize,
    pub win_rate: Option<f64>,
    pub profit_factor: Option<f64>,
    pub expectancy: Option<Decimal>,
    pub average_win: Option<Decimal>,
    /// Negative: the mean P&L of the losing trades.
    pub average_loss: Option<Decimal>,
    /// Fraction of periods with a position open.
    pub exposure: f64,
    /// Present when a benchmark curve was given.
    pub benchmark: Option<BenchmarkComparison>,
}

/// Computes the [`Metrics`] of an equity curve, its closed trades and, if `benchmark` is not
/// empty, a comparison with a benchmark curve sampled at exactly the same times.
///
/// Refuses an empty curve, times that do not strictly increase, a curve (or benchmark) that
/// does not start above zero, a benchmark with other times, trades that exit before they
/// enter or have no quantity, and a configuration with a non-positive or non-finite
/// `periods_per_year` or a risk-free rate that is not finite and above −1.
pub fn compute(
    equity: &[EquityPoint],
    trades: &[RoundTrip],
    benchmark: &[EquityPoint],
    config: &AnalyticsConfig,
) -> Result<Metrics, AnalyticsError> {
    compute_points(equity, trades, benchmark, config)
}

/// [`compute`] on compact curves (an empty `benchmark` for none): the same checks and
/// exactly the same metrics, without unpacking a decimal per point.
pub fn compute_curves(
    equity: &EquityCurve,
    trades: &[RoundTrip],
    benchmark: &EquityCurve,
    config: &AnalyticsConfig,
) -> Result<Metrics, AnalyticsError> {
    compute_points(equity, trades, benchmark, config)
}

fn compute_points<P: Points + ?Sized>(
    equity: &P,
    trades: &[RoundTrip],
    benchmark: &P,
    config: &AnalyticsConfig,
) -> Result<Metrics, AnalyticsError> {
    config.validate()?;
    check_equity(equity)?;
    if benchmark.len() > 0 {
        check_benchmark(equity, benchmark)?;
    }
    let trade_stats = trade_stats(trades)?;
    let last = equity.len() - 1;
    let (first_equity, last_equity) = (equity.equity(0), equity.equity(last));

    let ppy = config.periods_per_year;
    let rf = config.risk_free_per_period();
    let returns = period_returns(equity);
    let total_return = ratio_minus_one(last_equity, first_equity);
    let cagr = cagr(equity.time(0), equity.time(last), last_equity, total_return);
    let stdev = returns.as_deref().and_then(sample_stdev);
    let annual_volatility = stdev.and_then(|s| finite(s * ppy.sqrt()));
    let mean_excess = returns.as_deref().and_then(mean).map(|m| m - rf);
    let sharpe = mean_excess
        .zip(stdev.filter(|&s| s > 0.0))
        .and_then(|(excess, stdev)| finite(excess / stdev * ppy.sqrt()));
    let sortino = returns
        .as_deref()
        .zip(mean_excess)
        .and_then(|(r, excess)| finite(excess / downside_deviation(r, rf)? * ppy.sqrt()));
    let drawdown = max_drawdown_of(equity);
    let calmar = cagr
        .filter(|_| drawdown.depth > 0.0)
        .and_then(|cagr| finite(cagr / drawdown.depth));
    let periods = last;
    let exposed = (1..equity.len()).filter(|&i| equity.exposed(i)).count();
    let exposure = if periods == 0 {
        0.0
    } else {
        exposed as f64 / periods as f64
    };
    let benchmark = compare(returns.as_deref(), total_return, benchmark, ppy, rf);

    Ok(Metrics {
        start_equity: first_equity,
        end_equity: last_equity,
        total_return,
        cagr,
        annual_volatility,
        sharpe,
        sortino,
        max_drawdown: drawdown.depth,
        max_drawdown_duration_secs: drawdown.duration_secs,
        max_drawdown_periods: drawdown.duration_periods,
        calmar,
        trades: trade_stats.trades,
        win_rate: trade_stats.win_rate,
        profit_factor: trade_stats.profit_factor,
        expectancy: trade_stats.expectancy,
        average_win: trade_stats.average_win,
        average_loss: trade_stats.average_loss,
        exposure,
        benchmark,
    })
}

/// `(1 + total_return)^(1/years) − 1` over the calendar time between the two points.
fn cagr(first: Timestamp, last: Timestamp, last_equity: Decimal, total_return: f64) -> Option<f64> {
    let seconds = seconds_between(first, last);
    if seconds < MIN_CAGR_SECONDS || !is_positive(last_equity) {
        return None;
    }
    let years = seconds as f64 / SECONDS_PER_YEAR;
    // ln_1p/exp_m1 keep the precision of small returns over long spans.
    finite((total_return.ln_1p() / years).exp_m1())
}

/// Downside deviation: the root mean square of `min(0, r − rf)` over every period (periods
/// above `rf` count as zero), `None` when no period is below `rf` or there are fewer than
/// two periods.
fn downside_deviation(returns: &[f64], rf: f64) -> Option<f64> {
    if returns.len() < 2 {
        return None;
    }
    // One pass each, no temporaries: a million-bar backtest calls this too.
    let n = returns.len() as f64;
    let shortfall_squares: f64 = returns
        .iter()
        .map(|r| {
            let s = (r - rf).min(0.0);
            s * s
        })
        .sum();
    let deviation = finite((shortfall_squares / n).sqrt())?;
    let excess_scale = returns.iter().map(|r| (r - rf).abs()).sum::<f64>() / n;
    (deviation > 0.0 && deviation > crate::returns::RELATIVE_NOISE * excess_scale)
        .then_some(deviation)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn downside_deviation_is_rms_over_all_periods() {
        let dd = downside_deviation(&[0.1, -0.1, 0.2, -0.2], 0.0).unwrap();
        assert!((dd - (0.05f64 / 4.0).sqrt()).abs() < 1e-15);
        assert_eq!(downside_deviation(&[0.1, 0.2], 0.0), None);
        assert_eq!(downside_deviation(&[-0.1], 0.0), None);
        // Below a positive risk-free rate counts as downside even when positive.
        assert!(downside_deviation(&[0.01, 0.03], 0.02).is_some());
    }
}
