//! Relative strength index (TA-Lib `RSI`, Wilder's smoothing, default compatibility).
//!
//! `100 * avg_gain / (avg_gain + avg_loss)` over the changes between consecutive values,
//! which is the usual `100 - 100 / (1 + RS)` without the division by a zero loss.
//!
//! Parameters: `period` ≥ 2 (TA-Lib refuses 1). Warm-up: the first `period` changes need
//! `period + 1` values; their plain averages seed the gains and losses, so the first
//! output is at index `period` (lookback `period`). After that, as TA-Lib:
//! `avg = (avg * (period - 1) + change) / period` for gains and losses alike.
//!
//! When no change has been seen (a flat series), gains and losses are both exactly zero
//! and the RSI is 0, as in TA-Lib, not the 50 one might expect. After some movement a
//! flat stretch keeps the last value: both averages shrink by the same factor. The test
//! is for exact zero, as TA-Lib 0.8 (the reference here) behaves; TA-Lib 0.4 returned 0
//! whenever the sum fell below 1e-8, which broke instruments priced in fractions of a
//! cent.

use super::error::{IndicatorError, check_period};

#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct Rsi {
    period: usize,
    previous: Option<f64>,
    /// Changes accumulated into the seed so far; equals `period` once seeded.
    changes: usize,
    avg_gain: f64,
    avg_loss: f64,
}

impl Rsi {
    pub fn new(period: usize) -> Result<Self, IndicatorError> {
        let period = check_period("rsi", "period", 2, period)?;
        Ok(Rsi {
            period,
            previous: None,
            changes: 0,
            avg_gain: 0.0,
            avg_loss: 0.0,
        })
    }

    pub fn update(&mut self, value: f64) -> Option<f64> {
        let previous = self.previous.replace(value)?;
        let change = value - previous;
        let n = self.period as f64;
        if self.changes < self.period {
            self.add_change(change);
            self.changes += 1;
            if self.changes < self.period {
                return None;
            }
            self.avg_gain /= n;
            self.avg_loss /= n;
        } else {
            self.avg_gain *= n - 1.0;
            self.avg_loss *= n - 1.0;
            self.add_change(change);
            self.avg_gain /= n;
            self.avg_loss /= n;
        }
        let total = self.avg_gain + self.avg_loss;
        Some(if total == 0.0 {
            0.0
        } else {
            100.0 * (self.avg_gain / total)
        })
    }

    fn add_change(&mut self, change: f64) {
        if change < 0.0 {
            self.avg_loss -= change;
        } else {
            self.avg_gain += change;
        }
    }

    pub fn reset(&mut self) {
        self.previous = None;
        self.changes = 0;
        self.avg_gain = 0.0;
        self.avg_loss = 0.0;
    }

    /// Inputs consumed before the first output.
    pub fn lookback(&self) -> usize {
        self.period
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(period: usize, values: &[f64]) -> Vec<Option<f64>> {
        let mut rsi = Rsi::new(period).unwrap();
        values.iter().map(|&v| rsi.update(v)).collect()
    }

    #[test]
    fn first_output_at_index_period() {
        let got = run(3, &[1.0, 2.0, 1.0, 2.0, 3.0]);
        assert_eq!(got[..3], [None, None, None]);
        // gains 1, 0, 1 and losses 0, 1, 0: 2/3 against 1/3.
        assert!((got[3].unwrap() - 100.0 * 2.0 / 3.0).abs() < 1e-12);
        // Wilder: gain (2/3 * 2 + 1) / 3 = 7/9, loss (1/3 * 2) / 3 = 2/9.
        assert!((got[4].unwrap() - 100.0 * 7.0 / 9.0).abs() < 1e-12);
        assert_eq!(Rsi::new(3).unwrap().lookback(), 3);
    }

    #[test]
    fn only_rises_is_100_only_falls_is_0() {
        let up: Vec<f64> = (0..10).map(f64::from).collect();
        assert_eq!(run(4, &up)[9], Some(100.0));
        let down: Vec<f64> = up.iter().rev().copied().collect();
        assert_eq!(run(4, &down)[9], Some(0.0));
    }

    #[test]
    fn a_flat_series_is_0_as_in_talib() {
        assert!(run(14, &[5.0; 30])[14..].iter().all(|v| *v == Some(0.0)));
    }

    #[test]
    fn a_flat_stretch_after_movement_keeps_the_last_value() {
        let mut values = vec![1.0, 2.0, 1.5, 3.0, 2.0];
        values.extend([2.0; 500]);
        let got = run(3, &values);
        let settled = got[4].unwrap();
        assert!(settled > 0.0 && settled < 100.0);
        for v in &got[5..] {
            assert!((v.unwrap() - settled).abs() < 1e-9);
        }
    }

    #[test]
    fn tiny_prices_are_not_mistaken_for_flat() {
        let scale = 1e-12;
        let big: Vec<f64> = [1.0, 2.0, 1.0, 2.0, 3.0].to_vec();
        let small: Vec<f64> = big.iter().map(|v| v * scale).collect();
        let (big, small) = (run(3, &big), run(3, &small));
        assert!((big[4].unwrap() - small[4].unwrap()).abs() < 1e-9);
    }

    #[test]
    fn reset_starts_over() {
        let mut rsi = Rsi::new(2).unwrap();
        for v in [1.0, 2.0, 3.0, 4.0] {
            rsi.update(v);
        }
        rsi.reset();
        assert_eq!(rsi.update(4.0), None);
        assert_eq!(rsi.update(3.0), None);
        assert_eq!(rsi.update(2.0), Some(0.0));
    }

    #[test]
    fn refuses_period_one() {
        assert_eq!(
            Rsi::new(1).unwrap_err().to_string(),
            "rsi period must be at least 2, got 1"
        );
    }
}
