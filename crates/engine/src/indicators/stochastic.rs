//! Stochastic oscillator (TA-Lib `STOCH` with SMA smoothing for both slow %K and %D).
//!
//! Fast %K = `(close - lowest low) / ((highest high - lowest low) / 100)` over the last
//! `fastk` bars (0 when the range is empty, as TA-Lib); slow %K is its SMA(`slowk`) and
//! %D the SMA(`slowd`) of slow %K.
//!
//! Parameters: `fastk`, `slowk`, `slowd` ≥ 1. Warm-up: lookback
//! `(fastk - 1) + (slowk - 1) + (slowd - 1)`; %K and %D both start there (TA-Lib withholds
//! %K until %D exists).
//!
//! The highest high and lowest low come from monotonic deques, amortized O(1) per bar.

use super::Bar;
use super::error::{IndicatorError, check_period};
use super::rolling_extreme::{Extreme, RollingExtreme};
use super::sma::Sma;

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct StochasticOutput {
    pub k: f64,
    pub d: f64,
}

#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct Stochastic {
    fastk_period: usize,
    highest_high: RollingExtreme,
    lowest_low: RollingExtreme,
    /// Bars seen until the first full `fastk` window; equals `fastk_period` after that.
    bars_in_window: usize,
    slow_k: Sma,
    slow_d: Sma,
    lookback: usize,
}

impl Stochastic {
    pub fn new(fastk: usize, slowk: usize, slowd: usize) -> Result<Self, IndicatorError> {
        check_period("stoch", "fast %K period", 1, fastk)?;
        check_period("stoch", "slow %K period", 1, slowk)?;
        check_period("stoch", "slow %D period", 1, slowd)?;
        Ok(Stochastic {
            fastk_period: fastk,
            highest_high: RollingExtreme::new(Extreme::Highest, fastk),
            lowest_low: RollingExtreme::new(Extreme::Lowest, fastk),
            bars_in_window: 0,
            slow_k: Sma::new(slowk)?,
            slow_d: Sma::new(slowd)?,
            lookback: (fastk - 1) + (slowk - 1) + (slowd - 1),
        })
    }

    pub fn update(&mut self, bar: &Bar) -> Option<StochasticOutput> {
        let highest = self.highest_high.push(bar.high);
        let lowest = self.lowest_low.push(bar.low);
        if self.bars_in_window < self.fastk_period {
            self.bars_in_window += 1;
            if self.bars_in_window < self.fastk_period {
                return None;
            }
        }
        // Divided by range/100 rather than multiplied by 100/range: TA-Lib's order of
        // operations, which decides the last bit.
        let range = (highest - lowest) / 100.0;
        let fast_k = if range == 0.0 {
            0.0
        } else {
            (bar.close - lowest) / range
        };
        let k = self.slow_k.update(fast_k)?;
        let d = self.slow_d.update(k)?;
        Some(StochasticOutput { k, d })
    }

    pub fn reset(&mut self) {
        self.highest_high.clear();
        self.lowest_low.clear();
        self.bars_in_window = 0;
        self.slow_k.reset();
        self.slow_d.reset();
    }

    /// Inputs consumed before the first output.
    pub fn lookback(&self) -> usize {
        self.lookback
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bar(high: f64, low: f64, close: f64) -> Bar {
        Bar {
            open: close,
            high,
            low,
            close,
            volume: 0.0,
        }
    }

    #[test]
    fn fast_k_is_the_close_within_the_range() {
        let mut stoch = Stochastic::new(2, 1, 1).unwrap();
        assert_eq!(stoch.lookback(), 1);
        assert_eq!(stoch.update(&bar(10.0, 8.0, 9.0)), None);
        // Range 8..12 over two bars, close 11: 75.
        assert_eq!(
            stoch.update(&bar(12.0, 9.0, 11.0)),
            Some(StochasticOutput { k: 75.0, d: 75.0 })
        );
    }

    #[test]
    fn k_and_d_are_successive_smas() {
        let bars: Vec<Bar> = (0..40)
            .map(|i| {
                let mid = 50.0 + f64::from((i * 13) % 7) - f64::from(i % 3);
                bar(mid + 1.0, mid - 1.5, mid + f64::from(i % 2) * 0.5)
            })
            .collect();
        let (fastk, slowk, slowd) = (5, 3, 2);
        let fast: Vec<f64> = (fastk - 1..bars.len())
            .map(|i| {
                let window = &bars[i + 1 - fastk..=i];
                let hh = window.iter().map(|b| b.high).fold(f64::MIN, f64::max);
                let ll = window.iter().map(|b| b.low).fold(f64::MAX, f64::min);
                (bars[i].close - ll) / ((hh - ll) / 100.0)
            })
            .collect();
        let slow_k: Vec<f64> = fast
            .windows(slowk)
            .map(|w| w.iter().sum::<f64>() / 3.0)
            .collect();
        let slow_d: Vec<f64> = slow_k
            .windows(slowd)
            .map(|w| w.iter().sum::<f64>() / 2.0)
            .collect();

        let mut stoch = Stochastic::new(fastk, slowk, slowd).unwrap();
        assert_eq!(stoch.lookback(), 7);
        let got: Vec<_> = bars.iter().filter_map(|b| stoch.update(b)).collect();
        assert_eq!(got.len(), bars.len() - 7);
        for (i, out) in got.iter().enumerate() {
            assert!((out.k - slow_k[i + 1]).abs() < 1e-9, "k at {i}");
            assert!((out.d - slow_d[i]).abs() < 1e-9, "d at {i}");
        }
    }

    #[test]
    fn an_empty_range_gives_zero_as_in_talib() {
        let mut stoch = Stochastic::new(3, 1, 1).unwrap();
        let got: Vec<_> = (0..5).map(|_| stoch.update(&bar(1.1, 1.1, 1.1))).collect();
        assert_eq!(got[4], Some(StochasticOutput { k: 0.0, d: 0.0 }));
    }

    #[test]
    fn reset_starts_over() {
        let mut stoch = Stochastic::new(1, 1, 1).unwrap();
        assert_eq!(stoch.lookback(), 0);
        stoch.update(&bar(100.0, 0.0, 50.0));
        stoch.reset();
        assert_eq!(
            stoch.update(&bar(4.0, 2.0, 3.0)),
            Some(StochasticOutput { k: 50.0, d: 50.0 })
        );
    }

    #[test]
    fn refuses_a_zero_period() {
        assert_eq!(
            Stochastic::new(14, 0, 3).unwrap_err().to_string(),
            "stoch slow %K period must be at least 1, got 0"
        );
    }
}
