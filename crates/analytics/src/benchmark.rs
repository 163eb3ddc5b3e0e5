//! Comparison against a benchmark curve: relative return, and CAPM alpha and beta.

use serde::{Deserialize, Serialize};

use crate::curve::Points;
use crate::returns::{
    finite, is_noise, mean, period_returns, ratio_minus_one, sample_covariance, sample_variance,
};

/// How the strategy did against a benchmark sampled at the same times.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BenchmarkComparison {
    /// The benchmark's own total return, `end / start − 1`.
    pub total_return: f64,
    /// Strategy total return minus benchmark total return.
    pub excess_return: f64,
    /// Jensen's alpha, annualized: `(mean(r) − rf − β·(mean(r_b) − rf)) × periods_per_year`
    /// on per-period returns with the per-period risk-free rate. `None` when beta is.
    pub alpha: Option<f64>,
    /// `cov(r, r_b) / var(r_b)` of the per-period returns (sample estimates). `None` with
    /// fewer than two periods, a benchmark that does not move, or a curve touching zero.
    pub beta: Option<f64>,
}

/// Compares the strategy returns with a validated benchmark curve of the same times.
pub(crate) fn compare<P: Points + ?Sized>(
    strategy_returns: Option<&[f64]>,
    strategy_total_return: f64,
    benchmark: &P,
    periods_per_year: f64,
    risk_free_per_period: f64,
) -> Option<BenchmarkComparison> {
    let last = benchmark.len().checked_sub(1)?;
    let total_return = ratio_minus_one(benchmark.equity(last), benchmark.equity(0));
    let benchmark_returns = period_returns(benchmark);
    let beta = strategy_returns
        .zip(benchmark_returns.as_deref())
        .and_then(|(r, rb)| beta(r, rb));
    let alpha = strategy_returns
        .zip(benchmark_returns.as_deref())
        .zip(beta)
        .and_then(|((r, rb), beta)| {
            let excess = mean(r)? - risk_free_per_period;
            let benchmark_excess = mean(rb)? - risk_free_per_period;
            finite((excess - beta * benchmark_excess) * periods_per_year)
        });
    Some(BenchmarkComparison {
        total_return,
        excess_return: strategy_total_return - total_return,
        alpha,
        beta,
    })
}

fn beta(r: &[f64], rb: &[f64]) -> Option<f64> {
    let variance = sample_variance(rb)?;
    if is_noise(variance.sqrt(), rb) {
        return None;
    }
    finite(sample_covariance(r, rb)? / variance)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn beta_of_a_series_against_itself_and_its_double() {
        let r = [0.01, -0.02, 0.03, 0.0];
        assert!((beta(&r, &r).unwrap() - 1.0).abs() < 1e-12);
        let doubled: Vec<f64> = r.iter().map(|x| 2.0 * x).collect();
        assert!((beta(&r, &doubled).unwrap() - 0.5).abs() < 1e-12);
        assert!((beta(&doubled, &r).unwrap() - 2.0).abs() < 1e-12);
        assert_eq!(beta(&r, &[0.01; 4]), None);
        assert_eq!(beta(&r[..1], &r[..1]), None);
    }
}
