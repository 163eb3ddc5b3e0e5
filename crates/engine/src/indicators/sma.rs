//! Simple moving average (TA-Lib `SMA`): the mean of the last `period` values.
//!
//! Parameters: `period` ≥ 1 (1 returns each input). Warm-up: the first output is at the
//! `period`-th input (lookback `period - 1`).
//!
//! The window's sum is moved by adding the new value and subtracting the leaving one, in
//! a compensated sum so that it does not drift over a long stream.

use super::error::{IndicatorError, check_period};
use super::sum::CompensatedSum;
use super::window::Window;

#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct Sma {
    period: usize,
    window: Window,
    sum: CompensatedSum,
}

impl Sma {
    pub fn new(period: usize) -> Result<Self, IndicatorError> {
        let period = check_period("sma", "period", 1, period)?;
        Ok(Sma {
            period,
            window: Window::new(period),
            sum: CompensatedSum::default(),
        })
    }

    pub fn update(&mut self, value: f64) -> Option<f64> {
        if let Some(leaving) = self.window.push(value) {
            self.sum.add(-leaving);
        }
        self.sum.add(value);
        self.window
            .is_full()
            .then(|| self.sum.value() / self.period as f64)
    }

    pub fn reset(&mut self) {
        self.window.clear();
        self.sum = CompensatedSum::default();
    }

    /// Inputs consumed before the first output.
    pub fn lookback(&self) -> usize {
        self.period - 1
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn averages_the_last_period_values() {
        let mut sma = Sma::new(3).unwrap();
        let got: Vec<_> = [1.0, 2.0, 3.0, 4.0, 8.0].map(|x| sma.update(x)).to_vec();
        assert_eq!(got, [None, None, Some(2.0), Some(3.0), Some(5.0)]);
        assert_eq!(sma.lookback(), 2);
    }

    #[test]
    fn period_one_is_the_input() {
        let mut sma = Sma::new(1).unwrap();
        assert_eq!(sma.lookback(), 0);
        for x in [3.5, -1.0, 7.25] {
            assert_eq!(sma.update(x), Some(x));
        }
    }

    #[test]
    fn reset_forgets_the_window() {
        let mut sma = Sma::new(2).unwrap();
        sma.update(100.0);
        sma.update(200.0);
        sma.reset();
        assert_eq!(sma.update(1.0), None);
        assert_eq!(sma.update(3.0), Some(2.0));
    }

    #[test]
    fn refuses_periods_out_of_range() {
        assert_eq!(
            Sma::new(0).unwrap_err().to_string(),
            "sma period must be at least 1, got 0"
        );
        assert_eq!(
            Sma::new(100_001).unwrap_err().to_string(),
            "sma period must be at most 100000, got 100001"
        );
    }

    #[test]
    fn stays_exact_over_a_long_stream() {
        // Values alternate around 1e6 with small fractional parts: a plain running sum
        // would carry a growing error; after a million updates the mean of the last
        // window must still be exact to a few ulps.
        let mut sma = Sma::new(4).unwrap();
        let value = |i: u32| 1e6 + f64::from(i % 7) * 0.1 + f64::from(i % 3) * 0.01;
        let mut last = None;
        for i in 0..1_000_000 {
            last = sma.update(value(i));
        }
        let exact = (999_996..1_000_000).map(value).sum::<f64>() / 4.0;
        let got = last.unwrap();
        assert!(
            (got - exact).abs() <= 4.0 * f64::EPSILON * exact,
            "{got} vs {exact}"
        );
    }
}
