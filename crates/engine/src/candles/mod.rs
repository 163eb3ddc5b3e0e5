//! Candles: ticks aggregated into OHLCV bars on many timeframes at once, and bars of a
//! lower timeframe resampled into a higher one.

mod aggregator;
mod resample;

pub use aggregator::{AggregatorConfig, AggregatorStats, CandleAggregator};
pub use resample::Resampler;

use domain::{Timeframe, Timestamp};

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CandleError {
    #[error("at least one timeframe is needed")]
    NoTimeframes,
    #[error("timeframe {0} is listed twice")]
    DuplicateTimeframe(Timeframe),
    #[error(
        "{from} bars cannot be resampled into {to} bars: {to} is not a whole number of aligned {from} periods"
    )]
    NotResampleable { from: Timeframe, to: Timeframe },
    #[error("expected {expected} candles, got {got}")]
    WrongInput { expected: String, got: String },
    #[error("candle starting {start} is older than the previous one")]
    OutOfOrder { start: Timestamp },
}
