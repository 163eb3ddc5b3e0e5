//! Incremental technical indicators: each consumes one value (or one [`Bar`]) per call and
//! answers in O(1) amortized time, with no re-scan of its window.
//!
//! The numbers agree with TA-Lib (the reference every charting package is compared with):
//! same warm-up, same seeding, same first output index (`lookback()`), values within
//! 1e-6 relative, as `tests/indicators_talib.rs` checks on three real price series. Where
//! TA-Lib has a quirk that changes numbers (MACD's seeding, RSI's flat-series zero), the
//! quirk is reproduced and documented in the indicator's module.
//!
//! The math is `f64`, unlike money in the rest of the platform: an indicator is a
//! statistical signal, not an amount, TA-Lib itself is `f64`, and the streaming core has
//! to update tens of millions of them per second. Running sums that could drift over a
//! long stream are compensated (Neumaier summation) or periodically recomputed from the
//! window, so a result stays as accurate after a billion updates as after a hundred.
//!
//! Inputs are expected to be finite (a [`Bar`] built from a candle always is); checking
//! would cost every update a branch. A NaN or an infinity can poison an indicator's
//! running state until `reset()`.
//!
//! [`IndicatorSpec`] and [`BarIndicator`] are the dynamic layer: an indicator chosen at
//! run time from a string such as `macd:12:26:9`, fed bars, writing one value per column.

pub mod atr;
pub mod bollinger;
pub mod crossover;
pub mod ema;
pub mod error;
pub mod macd;
pub mod obv;
mod rolling_extreme;
pub mod rsi;
pub mod sma;
pub mod spec;
pub mod stochastic;
mod sum;
pub mod vwap;
mod window;
pub mod wma;

pub use atr::Atr;
pub use bollinger::{BollingerBands, BollingerBandsOutput};
pub use crossover::{Cross, Crossover};
pub use ema::Ema;
pub use error::{IndicatorError, MAX_PERIOD};
pub use macd::{Macd, MacdOutput};
pub use obv::Obv;
pub use rsi::Rsi;
pub use sma::Sma;
pub use spec::{AnyIndicator, BarIndicator, IndicatorSpec};
pub use stochastic::{Stochastic, StochasticOutput};
pub use vwap::Vwap;
pub use wma::Wma;

/// One bar's numbers for indicators (f64 views of a candle).
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Bar {
    pub open: f64,
    pub high: f64,
    pub low: f64,
    pub close: f64,
    pub volume: f64,
}

impl Bar {
    /// `(high + low + close) / 3`, the price VWAP weights by volume.
    pub fn typical_price(&self) -> f64 {
        (self.high + self.low + self.close) / 3.0
    }
}

impl From<&domain::Candle> for Bar {
    fn from(candle: &domain::Candle) -> Self {
        Bar {
            open: domain::num::to_f64(candle.open.value()),
            high: domain::num::to_f64(candle.high.value()),
            low: domain::num::to_f64(candle.low.value()),
            close: domain::num::to_f64(candle.close.value()),
            volume: domain::num::to_f64(candle.volume.value()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use domain::{Candle, Price, Quantity, Symbol, Timeframe, Timestamp};

    #[test]
    fn a_bar_is_the_candle_in_f64() {
        let candle = Candle {
            symbol: Symbol::parse("ORCL").unwrap(),
            timeframe: Timeframe::parse("1d").unwrap(),
            start: Timestamp::from_secs(0),
            end: Timestamp::from_secs(86_400),
            open: Price::parse("open", "2.179012").unwrap(),
            high: Price::parse("high", "2.191358").unwrap(),
            low: Price::parse("low", "2.117284").unwrap(),
            close: Price::parse("close", "2.117284").unwrap(),
            volume: Quantity::parse("volume", "36301200").unwrap(),
            trades: 1,
        };
        let bar = Bar::from(&candle);
        assert_eq!(
            bar,
            Bar {
                open: 2.179012,
                high: 2.191358,
                low: 2.117284,
                close: 2.117284,
                volume: 36_301_200.0,
            }
        );
        assert_eq!(bar.typical_price(), (2.191358 + 2.117284 + 2.117284) / 3.0);
    }
}
