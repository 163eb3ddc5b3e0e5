//! Weighted moving average (TA-Lib `WMA`): the last `period` values weighted 1 (oldest)
//! to `period` (newest), divided by `period * (period + 1) / 2`.
//!
//! Parameters: `period` ≥ 1 (1 returns each input). Warm-up: first output at the
//! `period`-th input (lookback `period - 1`).
//!
//! O(1) per update through two running sums: when the window slides, every weight drops
//! by one, which subtracts the plain sum from the weighted sum, and the new value enters
//! with weight `period`. Because the weighted sum is updated from the plain sum, the
//! plain sum's rounding errors would pile up in it; both are therefore recomputed from
//! the window every `period` updates (O(period) work every `period` updates, so still
//! O(1) amortized), which bounds the error to that of one window.

use super::error::{IndicatorError, check_period};
use super::window::Window;

#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct Wma {
    period: usize,
    /// `period * (period + 1) / 2`, the sum of the weights.
    divisor: f64,
    window: Window,
    /// Σ weight × value over the window.
    weighted_sum: f64,
    /// Σ value over the window.
    sum: f64,
    slides_since_recompute: usize,
}

impl Wma {
    pub fn new(period: usize) -> Result<Self, IndicatorError> {
        let period = check_period("wma", "period", 1, period)?;
        let n = period as f64;
        Ok(Wma {
            period,
            divisor: n * (n + 1.0) / 2.0,
            window: Window::new(period),
            weighted_sum: 0.0,
            sum: 0.0,
            slides_since_recompute: 0,
        })
    }

    pub fn update(&mut self, value: f64) -> Option<f64> {
        match self.window.push(value) {
            None => {
                // Still filling: the new value's weight is its position.
                self.weighted_sum += value * self.window.len() as f64;
                self.sum += value;
            }
            Some(leaving) => {
                self.weighted_sum += value * self.period as f64 - self.sum;
                self.sum += value - leaving;
                self.slides_since_recompute += 1;
                if self.slides_since_recompute == self.period {
                    self.recompute();
                }
            }
        }
        self.window
            .is_full()
            .then(|| self.weighted_sum / self.divisor)
    }

    fn recompute(&mut self) {
        self.slides_since_recompute = 0;
        self.sum = self.window.iter().sum();
        self.weighted_sum = self
            .window
            .iter()
            .zip(1..)
            .map(|(value, weight)| value * f64::from(weight))
            .sum();
    }

    pub fn reset(&mut self) {
        self.window.clear();
        self.weighted_sum = 0.0;
        self.sum = 0.0;
        self.slides_since_recompute = 0;
    }

    /// Inputs consumed before the first output.
    pub fn lookback(&self) -> usize {
        self.period - 1
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn naive(window: &[f64]) -> f64 {
        let n = window.len() as f64;
        let weighted: f64 = window.iter().zip(1..).map(|(v, w)| v * f64::from(w)).sum();
        weighted / (n * (n + 1.0) / 2.0)
    }

    #[test]
    fn weights_newest_most() {
        let mut wma = Wma::new(3).unwrap();
        assert_eq!(wma.update(1.0), None);
        assert_eq!(wma.update(2.0), None);
        // (1*1 + 2*2 + 3*6) / 6
        assert_eq!(wma.update(6.0), Some(23.0 / 6.0));
        assert_eq!(wma.lookback(), 2);
    }

    #[test]
    fn sliding_matches_the_definition() {
        let values: Vec<f64> = (0..200).map(|i| f64::from((i * 37) % 101) / 7.0).collect();
        let mut wma = Wma::new(5).unwrap();
        for (i, &v) in values.iter().enumerate() {
            let got = wma.update(v);
            if i < 4 {
                assert_eq!(got, None);
            } else {
                let expected = naive(&values[i - 4..=i]);
                assert!((got.unwrap() - expected).abs() < 1e-12, "at {i}");
            }
        }
    }

    #[test]
    fn period_one_is_the_input() {
        let mut wma = Wma::new(1).unwrap();
        for x in [3.5, -1.0, 7.25, 0.0] {
            assert_eq!(wma.update(x), Some(x));
        }
    }

    #[test]
    fn reset_forgets_the_window() {
        let mut wma = Wma::new(2).unwrap();
        for x in [5.0, 6.0, 7.0] {
            wma.update(x);
        }
        wma.reset();
        assert_eq!(wma.update(1.0), None);
        assert_eq!(wma.update(4.0), Some(3.0));
    }
}
