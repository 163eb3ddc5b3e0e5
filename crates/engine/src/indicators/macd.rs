//! Moving average convergence/divergence (TA-Lib `MACD`): `macd = EMA(fast) - EMA(slow)`,
//! `signal = EMA(signal)` of the MACD line, `histogram = macd - signal`.
//!
//! Parameters: `fast` ≥ 2, `slow` ≥ 2, `signal` ≥ 1 (TA-Lib's ranges). If `fast > slow`
//! the two are swapped, as TA-Lib does, so `Macd::new(26, 12, 9)` is `Macd::new(12, 26, 9)`.
//! Warm-up: lookback `(slow - 1) + (signal - 1)`; MACD line, signal and histogram all
//! start at that index.
//!
//! TA-Lib's seeding, reproduced here because it changes every value that follows: both
//! EMAs produce their first value at index `slow - 1`, so the fast EMA is *not* started at
//! index 0. Its seed is the simple average of the `fast` values ending at index
//! `slow - 1` (TA-Lib computes both EMAs from the same start index); the slow EMA's seed
//! is the average of the first `slow` values. The signal EMA is seeded with the average
//! of the first `signal` MACD values.

use super::ema::Ema;
use super::error::{IndicatorError, check_period};

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MacdOutput {
    pub macd: f64,
    pub signal: f64,
    pub histogram: f64,
}

#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct Macd {
    fast: Ema,
    slow: Ema,
    signal: Ema,
    /// `slow - fast`: inputs the fast EMA does not see, so both EMAs start together.
    fast_delay: usize,
    skipped: usize,
    lookback: usize,
}

impl Macd {
    pub fn new(fast: usize, slow: usize, signal: usize) -> Result<Self, IndicatorError> {
        check_period("macd", "fast period", 2, fast)?;
        check_period("macd", "slow period", 2, slow)?;
        check_period("macd", "signal period", 1, signal)?;
        let (fast, slow) = if fast > slow {
            (slow, fast)
        } else {
            (fast, slow)
        };
        Ok(Macd {
            fast: Ema::new(fast)?,
            slow: Ema::new(slow)?,
            signal: Ema::new(signal)?,
            fast_delay: slow - fast,
            skipped: 0,
            lookback: (slow - 1) + (signal - 1),
        })
    }

    pub fn update(&mut self, value: f64) -> Option<MacdOutput> {
        let slow = self.slow.update(value);
        let fast = if self.skipped < self.fast_delay {
            self.skipped += 1;
            None
        } else {
            self.fast.update(value)
        };
        let macd = fast? - slow?;
        let signal = self.signal.update(macd)?;
        Some(MacdOutput {
            macd,
            signal,
            histogram: macd - signal,
        })
    }

    pub fn reset(&mut self) {
        self.fast.reset();
        self.slow.reset();
        self.signal.reset();
        self.skipped = 0;
    }

    /// Inputs consumed before the first output.
    pub fn lookback(&self) -> usize {
        self.lookback
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn series() -> Vec<f64> {
        (0..60)
            .map(|i| 100.0 + f64::from(i % 9) - f64::from(i % 4) * 1.5)
            .collect()
    }

    #[test]
    fn both_emas_start_at_the_slow_seed() {
        let values = series();
        let mut macd = Macd::new(3, 5, 2).unwrap();
        assert_eq!(macd.lookback(), 5);
        let got: Vec<_> = values.iter().map(|&v| macd.update(v)).collect();
        assert!(got[..5].iter().all(Option::is_none));

        // By hand: fast seed = mean(values[2..5]), slow seed = mean(values[0..5]).
        let (k_fast, k_slow) = (0.5, 1.0 / 3.0);
        let mut fast = values[2..5].iter().sum::<f64>() / 3.0;
        let mut slow = values[0..5].iter().sum::<f64>() / 5.0;
        let first_macd = fast - slow;
        fast += (values[5] - fast) * k_fast;
        slow += (values[5] - slow) * k_slow;
        let second_macd = fast - slow;
        let signal = (first_macd + second_macd) / 2.0;
        let out = got[5].unwrap();
        assert!((out.macd - second_macd).abs() < 1e-12);
        assert!((out.signal - signal).abs() < 1e-12);
        assert!((out.histogram - (second_macd - signal)).abs() < 1e-12);
    }

    #[test]
    fn fast_above_slow_is_swapped() {
        let mut a = Macd::new(12, 26, 9).unwrap();
        let mut b = Macd::new(26, 12, 9).unwrap();
        assert_eq!(b.lookback(), 33);
        for v in series() {
            assert_eq!(a.update(v), b.update(v));
        }
    }

    #[test]
    fn signal_one_is_the_macd_line() {
        let mut macd = Macd::new(2, 3, 1).unwrap();
        assert_eq!(macd.lookback(), 2);
        for v in series() {
            if let Some(out) = macd.update(v) {
                assert_eq!(out.signal, out.macd);
                assert_eq!(out.histogram, 0.0);
            }
        }
    }

    #[test]
    fn reset_reproduces_the_same_series() {
        let mut macd = Macd::new(3, 5, 2).unwrap();
        let first: Vec<_> = series().iter().map(|&v| macd.update(v)).collect();
        macd.reset();
        let second: Vec<_> = series().iter().map(|&v| macd.update(v)).collect();
        assert_eq!(first, second);
    }

    #[test]
    fn refuses_periods_talib_refuses() {
        assert_eq!(
            Macd::new(1, 26, 9).unwrap_err().to_string(),
            "macd fast period must be at least 2, got 1"
        );
        assert_eq!(
            Macd::new(12, 26, 0).unwrap_err().to_string(),
            "macd signal period must be at least 1, got 0"
        );
    }
}
