//! Average true range (TA-Lib `ATR`): Wilder's smoothing of the true range
//! `max(high, previous close) - min(low, previous close)`.
//!
//! Parameters: `period` ≥ 1. Warm-up, as TA-Lib: the first bar has no previous close and
//! yields no true range; the first ATR is the simple average of the first `period` true
//! ranges, at index `period` (lookback `period`); after that
//! `atr = (atr * (period - 1) + true_range) / period`. With `period` 1 this is the true
//! range itself (TA-Lib `TRANGE`).

use super::Bar;
use super::error::{IndicatorError, check_period};

#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct Atr {
    period: usize,
    previous_close: Option<f64>,
    /// True ranges summed into the seed so far; equals `period` once seeded.
    seeded: usize,
    atr: f64,
}

impl Atr {
    pub fn new(period: usize) -> Result<Self, IndicatorError> {
        let period = check_period("atr", "period", 1, period)?;
        Ok(Atr {
            period,
            previous_close: None,
            seeded: 0,
            atr: 0.0,
        })
    }

    pub fn update(&mut self, bar: &Bar) -> Option<f64> {
        let previous_close = self.previous_close.replace(bar.close)?;
        let range = true_range(bar, previous_close);
        let n = self.period as f64;
        if self.seeded == self.period {
            self.atr = (self.atr * (n - 1.0) + range) / n;
            return Some(self.atr);
        }
        self.atr += range;
        self.seeded += 1;
        if self.seeded < self.period {
            return None;
        }
        self.atr /= n;
        Some(self.atr)
    }

    pub fn reset(&mut self) {
        self.previous_close = None;
        self.seeded = 0;
        self.atr = 0.0;
    }

    /// Inputs consumed before the first output.
    pub fn lookback(&self) -> usize {
        self.period
    }
}

/// The bar's range stretched to include the previous close, so that a gap counts.
fn true_range(bar: &Bar, previous_close: f64) -> f64 {
    bar.high.max(previous_close) - bar.low.min(previous_close)
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
    fn true_range_counts_gaps() {
        assert_eq!(true_range(&bar(12.0, 10.0, 11.0), 11.0), 2.0);
        assert_eq!(true_range(&bar(12.0, 10.0, 11.0), 8.0), 4.0);
        assert_eq!(true_range(&bar(12.0, 10.0, 11.0), 15.0), 5.0);
    }

    #[test]
    fn seeds_with_the_average_then_smooths() {
        let mut atr = Atr::new(2).unwrap();
        assert_eq!(atr.lookback(), 2);
        assert_eq!(atr.update(&bar(11.0, 9.0, 10.0)), None);
        assert_eq!(atr.update(&bar(12.0, 10.0, 11.0)), None); // TR 2
        assert_eq!(atr.update(&bar(15.0, 13.0, 14.0)), Some(3.0)); // TR 4
        assert_eq!(atr.update(&bar(15.0, 14.0, 14.0)), Some(2.0)); // TR 1
    }

    #[test]
    fn period_one_is_the_true_range() {
        let mut atr = Atr::new(1).unwrap();
        assert_eq!(atr.lookback(), 1);
        assert_eq!(atr.update(&bar(11.0, 9.0, 10.0)), None);
        assert_eq!(atr.update(&bar(12.0, 10.0, 11.0)), Some(2.0));
        assert_eq!(atr.update(&bar(20.0, 19.0, 19.5)), Some(9.0));
    }

    #[test]
    fn reset_forgets_the_previous_close() {
        let mut atr = Atr::new(1).unwrap();
        atr.update(&bar(11.0, 9.0, 10.0));
        atr.reset();
        assert_eq!(atr.update(&bar(30.0, 29.0, 29.5)), None);
    }
}
