//! Bollinger Bands (TA-Lib `BBANDS` with `matype` SMA and the same deviation up and down):
//! `middle = SMA(period)`, `upper/lower = middle ± k × σ`, σ the population standard
//! deviation of the same window.
//!
//! Parameters: `period` ≥ 2 (TA-Lib refuses 1), `k` any finite number (TA-Lib accepts a
//! negative one, which swaps the bands). Warm-up: first output at the `period`-th input
//! (lookback `period - 1`).
//!
//! The variance is not taken as `E[x²] - E[x]²`, which loses every digit when the bands are
//! narrow next to the price (a 1e-5 spread on a 3600 index is pure rounding noise that
//! way). The window is kept relative to a recent mean (`shift`), so the numbers summed are
//! of the size of the spread, not of the price; the sum of squared deviations slides with
//! the window by Welford's update, and is recomputed exactly (two passes over the window)
//! when the window fills and every `period` slides after that, O(1) amortized, so its
//! error never accumulates. A deviation within rounding noise of the middle (σ ≤ 4 ulp of
//! it) is reported as 0, so a flat window has its bands exactly on the middle, as in
//! TA-Lib.

use super::error::{IndicatorError, check_finite, check_period};
use super::window::Window;

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BollingerBandsOutput {
    pub upper: f64,
    pub middle: f64,
    pub lower: f64,
}

#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct BollingerBands {
    period: usize,
    k: f64,
    window: Window,
    /// The window's mean at the last recompute; the sums below are of `value - shift`.
    shift: f64,
    /// Σ (value - shift) over the window.
    shifted_sum: f64,
    /// Σ (value - mean)² over the window.
    squared_deviations: f64,
    slides_since_recompute: usize,
}

impl BollingerBands {
    pub fn new(period: usize, k: f64) -> Result<Self, IndicatorError> {
        let period = check_period("bbands", "period", 2, period)?;
        let k = check_finite("bbands", "multiplier", k)?;
        Ok(BollingerBands {
            period,
            k,
            window: Window::new(period),
            shift: 0.0,
            shifted_sum: 0.0,
            squared_deviations: 0.0,
            slides_since_recompute: 0,
        })
    }

    pub fn update(&mut self, value: f64) -> Option<BollingerBandsOutput> {
        let n = self.period as f64;
        match self.window.push(value) {
            None if !self.window.is_full() => return None,
            None => self.recompute(),
            Some(leaving) => {
                let (entering, leaving) = (value - self.shift, leaving - self.shift);
                let old_mean = self.shifted_sum / n;
                self.shifted_sum += entering - leaving;
                let new_mean = self.shifted_sum / n;
                self.squared_deviations +=
                    (entering - leaving) * (entering - new_mean + leaving - old_mean);
                self.slides_since_recompute += 1;
                if self.slides_since_recompute == self.period {
                    self.recompute();
                }
            }
        }
        let middle = self.shift + self.shifted_sum / n;
        let variance = self.squared_deviations / n;
        let noise = 4.0 * f64::EPSILON * middle;
        let deviation = if variance <= noise * noise {
            0.0
        } else {
            self.k * variance.sqrt()
        };
        Some(BollingerBandsOutput {
            upper: middle + deviation,
            middle,
            lower: middle - deviation,
        })
    }

    fn recompute(&mut self) {
        let n = self.period as f64;
        self.slides_since_recompute = 0;
        self.shift = self.window.iter().sum::<f64>() / n;
        let shift = self.shift;
        self.shifted_sum = self.window.iter().map(|v| v - shift).sum();
        let mean = self.shifted_sum / n;
        self.squared_deviations = self
            .window
            .iter()
            .map(|v| (v - shift - mean) * (v - shift - mean))
            .sum();
    }

    pub fn reset(&mut self) {
        self.window.clear();
        self.shift = 0.0;
        self.shifted_sum = 0.0;
        self.squared_deviations = 0.0;
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

    fn population_sd(window: &[f64]) -> f64 {
        let n = window.len() as f64;
        let mean = window.iter().sum::<f64>() / n;
        (window.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / n).sqrt()
    }

    #[test]
    fn bands_are_k_population_deviations_around_the_sma() {
        let values: Vec<f64> = (0..100)
            .map(|i| f64::from((i * 53) % 17) * 0.25 + 10.0)
            .collect();
        let mut bands = BollingerBands::new(5, 2.0).unwrap();
        assert_eq!(bands.lookback(), 4);
        for (i, &v) in values.iter().enumerate() {
            let got = bands.update(v);
            if i < 4 {
                assert_eq!(got, None);
                continue;
            }
            let window = &values[i - 4..=i];
            let mean = window.iter().sum::<f64>() / 5.0;
            let sd = population_sd(window);
            let got = got.unwrap();
            assert!((got.middle - mean).abs() < 1e-12, "at {i}");
            assert!((got.upper - (mean + 2.0 * sd)).abs() < 1e-12, "at {i}");
            assert!((got.lower - (mean - 2.0 * sd)).abs() < 1e-12, "at {i}");
        }
    }

    #[test]
    fn a_flat_window_has_no_width() {
        let mut bands = BollingerBands::new(20, 2.0).unwrap();
        for _ in 0..50 {
            if let Some(out) = bands.update(0.1) {
                assert_eq!(out.upper, out.middle);
                assert_eq!(out.lower, out.middle);
            }
        }
    }

    #[test]
    fn narrow_bands_on_a_high_price_keep_their_digits() {
        // ±1e-5 around 3600: E[x²] - E[x]² would be rounding noise here. An odd period,
        // so that the value entering differs from the one leaving.
        let values: Vec<f64> = (0..1000)
            .map(|i| {
                if i % 2 == 0 {
                    3600.0 + 1e-5
                } else {
                    3600.0 - 1e-5
                }
            })
            .collect();
        let mut bands = BollingerBands::new(5, 1.0).unwrap();
        for (i, &v) in values.iter().enumerate() {
            if let Some(out) = bands.update(v) {
                // The band itself is rounded to the price's ulp (4.5e-13 here), so the
                // width read back from it is exact to about 1e-7 of σ, no better.
                let sd = population_sd(&values[i - 4..=i]);
                let width = out.upper - out.middle;
                assert!((width - sd).abs() < 1e-6 * sd, "at {i}: {width} vs {sd}");
            }
        }
    }

    #[test]
    fn reset_forgets_the_window() {
        let mut bands = BollingerBands::new(2, 1.0).unwrap();
        for v in [1.0, 9.0, 4.0] {
            bands.update(v);
        }
        bands.reset();
        assert_eq!(bands.update(1.0), None);
        let out = bands.update(3.0).unwrap();
        assert_eq!(
            out,
            BollingerBandsOutput {
                upper: 3.0,
                middle: 2.0,
                lower: 1.0
            }
        );
    }

    #[test]
    fn refuses_period_one_and_a_non_finite_multiplier() {
        assert_eq!(
            BollingerBands::new(1, 2.0).unwrap_err().to_string(),
            "bbands period must be at least 2, got 1"
        );
        assert_eq!(
            BollingerBands::new(20, f64::NAN).unwrap_err().to_string(),
            "bbands multiplier must be a finite number, got NaN"
        );
    }
}
