//! Candles: ticks aggregated into OHLCV bars on many timeframes at once, and bars of a
//! lower timeframe resampled into a higher one.

mod aggregator;
mod resample;

pub use aggregator::{AggregatorConfig, AggregatorStats, CandleAggregator};
pub use resample::Resampler;

use domain::{Candle, Symbol, Timeframe, Timestamp};

use crate::market_data::MarketData;

/// The timeframes of the candle history: what the live core aggregates ticks into, and
/// what an import of ticks records.
pub const HISTORY_TIMEFRAMES: [Timeframe; 6] = [
    Timeframe::M1,
    Timeframe::M5,
    Timeframe::M15,
    Timeframe::H1,
    Timeframe::H4,
    Timeframe::D1,
];

/// The candles a data file adds to the history of `symbol`: its bars as they are, or its
/// ticks aggregated into the [`HISTORY_TIMEFRAMES`] (the last candles of each, which the
/// file may end inside of, included). The same file always gives the same candles, so
/// loading it twice changes nothing. A tick file that starts or ends inside a period
/// makes that period's candle from its own ticks alone, which replaces a stored one: tick
/// files are best imported in whole days.
pub fn history_candles(data: &MarketData, symbol: Symbol) -> Vec<Candle> {
    match data {
        MarketData::Bars { candles, .. } => {
            candles.iter().map(|c| Candle { symbol, ..*c }).collect()
        }
        MarketData::Ticks(ticks) => {
            // Six distinct timeframes: the aggregator cannot refuse them.
            let Ok(mut aggregator) =
                CandleAggregator::new(symbol, &HISTORY_TIMEFRAMES, AggregatorConfig::default())
            else {
                return Vec::new();
            };
            let mut out = Vec::new();
            for tick in ticks {
                aggregator.on_tick(&domain::Tick { symbol, ..*tick }, &mut out);
            }
            aggregator.flush(&mut out);
            out
        }
    }
}

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
