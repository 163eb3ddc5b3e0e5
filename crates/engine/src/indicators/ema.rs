//! Exponential moving average (TA-Lib `EMA`, default compatibility).
//!
//! Parameters: `period` ≥ 1; the smoothing factor is `k = 2 / (period + 1)`. Warm-up:
//! like TA-Lib, the first output is the simple average of the first `period` values, at
//! the `period`-th input (lookback `period - 1`); after that
//! `ema = (value - ema) * k + ema`, in that order of operations, as TA-Lib writes it.

use super::error::{IndicatorError, check_period};

#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct Ema {
    period: usize,
    k: f64,
    /// Inputs summed for the seed so far; equals `period` once seeded.
    seeded: usize,
    seed_sum: f64,
    value: f64,
}

impl Ema {
    pub fn new(period: usize) -> Result<Self, IndicatorError> {
        let period = check_period("ema", "period", 1, period)?;
        Ok(Ema {
            period,
            k: 2.0 / (period as f64 + 1.0),
            seeded: 0,
            seed_sum: 0.0,
            value: 0.0,
        })
    }

    pub fn update(&mut self, value: f64) -> Option<f64> {
        if self.seeded == self.period {
            self.value += (value - self.value) * self.k;
            return Some(self.value);
        }
        self.seed_sum += value;
        self.seeded += 1;
        if self.seeded < self.period {
            return None;
        }
        self.value = self.seed_sum / self.period as f64;
        Some(self.value)
    }

    pub fn reset(&mut self) {
        self.seeded = 0;
        self.seed_sum = 0.0;
        self.value = 0.0;
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
    fn seeds_with_the_simple_average_then_smooths() {
        let mut ema = Ema::new(3).unwrap();
        assert_eq!(ema.update(1.0), None);
        assert_eq!(ema.update(2.0), None);
        assert_eq!(ema.update(6.0), Some(3.0));
        // k = 0.5
        assert_eq!(ema.update(5.0), Some(4.0));
        assert_eq!(ema.update(0.0), Some(2.0));
        assert_eq!(ema.lookback(), 2);
    }

    #[test]
    fn period_one_is_the_input() {
        let mut ema = Ema::new(1).unwrap();
        for x in [3.5, -1.0, 7.25] {
            assert_eq!(ema.update(x), Some(x));
        }
    }

    #[test]
    fn reset_starts_a_new_seed() {
        let mut ema = Ema::new(2).unwrap();
        ema.update(10.0);
        ema.update(20.0);
        ema.update(30.0);
        ema.reset();
        assert_eq!(ema.update(1.0), None);
        assert_eq!(ema.update(3.0), Some(2.0));
    }

    #[test]
    fn refuses_period_zero() {
        assert_eq!(
            Ema::new(0).unwrap_err().to_string(),
            "ema period must be at least 1, got 0"
        );
    }
}
