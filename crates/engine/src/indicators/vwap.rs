//! Volume-weighted average price over a session: `Σ(typical price × volume) / Σ volume`,
//! typical price `(high + low + close) / 3`.
//!
//! No parameters. Warm-up: `None` while the session's volume is still zero (so a feed
//! without volumes never produces a VWAP); lookback 0. `reset()` starts a new session
//! (call it at the session boundary, e.g. the daily open). Not in TA-Lib: the reference
//! values come from the same formula in numpy (`scripts/talib_vectors.py`).
//!
//! Both sums only grow over a session, so they are compensated: a plain sum of millions
//! of products would lose the low digits of each new one.

use super::Bar;
use super::sum::CompensatedSum;

#[derive(Debug, Clone, Default, serde::Serialize, serde::Deserialize)]
pub struct Vwap {
    price_volume: CompensatedSum,
    volume: CompensatedSum,
}

impl Vwap {
    pub fn new() -> Self {
        Vwap::default()
    }

    pub fn update(&mut self, bar: &Bar) -> Option<f64> {
        self.price_volume.add(bar.typical_price() * bar.volume);
        self.volume.add(bar.volume);
        let volume = self.volume.value();
        (volume != 0.0).then(|| self.price_volume.value() / volume)
    }

    /// Starts a new session.
    pub fn reset(&mut self) {
        *self = Vwap::default();
    }

    /// Inputs consumed before the first output: none, given volume on the first bar.
    pub fn lookback(&self) -> usize {
        0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bar(high: f64, low: f64, close: f64, volume: f64) -> Bar {
        Bar {
            open: close,
            high,
            low,
            close,
            volume,
        }
    }

    #[test]
    fn weights_typical_prices_by_volume() {
        let mut vwap = Vwap::new();
        assert_eq!(vwap.update(&bar(12.0, 9.0, 9.0, 100.0)), Some(10.0));
        // (10 × 100 + 22 × 300) / 400
        assert_eq!(vwap.update(&bar(23.0, 21.0, 22.0, 300.0)), Some(19.0));
    }

    #[test]
    fn no_value_until_some_volume() {
        let mut vwap = Vwap::new();
        assert_eq!(vwap.update(&bar(12.0, 9.0, 9.0, 0.0)), None);
        assert_eq!(vwap.update(&bar(12.0, 9.0, 9.0, 0.0)), None);
        assert_eq!(vwap.update(&bar(6.0, 3.0, 3.0, 5.0)), Some(4.0));
    }

    #[test]
    fn reset_starts_a_new_session() {
        let mut vwap = Vwap::new();
        vwap.update(&bar(12.0, 9.0, 9.0, 100.0));
        vwap.reset();
        assert_eq!(vwap.update(&bar(6.0, 3.0, 3.0, 0.0)), None);
        assert_eq!(vwap.update(&bar(6.0, 3.0, 3.0, 1.0)), Some(4.0));
    }
}
