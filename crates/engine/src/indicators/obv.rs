//! On-balance volume (TA-Lib `OBV`): a running total that adds the bar's volume when the
//! close rises, subtracts it when the close falls, and keeps it when the close is
//! unchanged.
//!
//! No parameters. Warm-up: none (lookback 0); as TA-Lib, the first value is the first
//! bar's volume, not zero.

use super::Bar;

#[derive(Debug, Clone, Default, serde::Serialize, serde::Deserialize)]
pub struct Obv {
    /// Previous close and the total so far, once a bar has been seen.
    state: Option<(f64, f64)>,
}

impl Obv {
    pub fn new() -> Self {
        Obv::default()
    }

    /// Always `Some`: OBV has no warm-up; the `Option` keeps the shape every indicator's
    /// `update` has.
    pub fn update(&mut self, bar: &Bar) -> Option<f64> {
        let total = match self.state {
            None => bar.volume,
            Some((previous_close, total)) if bar.close > previous_close => total + bar.volume,
            Some((previous_close, total)) if bar.close < previous_close => total - bar.volume,
            Some((_, total)) => total,
        };
        self.state = Some((bar.close, total));
        Some(total)
    }

    pub fn reset(&mut self) {
        self.state = None;
    }

    /// Inputs consumed before the first output.
    pub fn lookback(&self) -> usize {
        0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bar(close: f64, volume: f64) -> Bar {
        Bar {
            open: close,
            high: close,
            low: close,
            close,
            volume,
        }
    }

    #[test]
    fn adds_on_rises_subtracts_on_falls() {
        let mut obv = Obv::new();
        let got: Vec<_> = [
            (10.0, 100.0),
            (11.0, 50.0),
            (10.5, 30.0),
            (10.5, 999.0),
            (12.0, 5.0),
        ]
        .iter()
        .map(|&(close, volume)| obv.update(&bar(close, volume)))
        .collect();
        assert_eq!(
            got,
            [
                Some(100.0),
                Some(150.0),
                Some(120.0),
                Some(120.0),
                Some(125.0)
            ]
        );
    }

    #[test]
    fn reset_starts_from_the_next_volume() {
        let mut obv = Obv::new();
        obv.update(&bar(10.0, 100.0));
        obv.reset();
        assert_eq!(obv.update(&bar(5.0, 7.0)), Some(7.0));
    }
}
