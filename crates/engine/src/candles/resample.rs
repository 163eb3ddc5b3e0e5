//! `Resampler`: candles of a lower timeframe → candles of a higher one (5m → 1h,
//! 1d → 1w). Open is the first open, high the highest high, low the lowest low, close the
//! last close; volume and trades add up. Fed the candles of a tick aggregator, it gives
//! exactly the candles an aggregator of the higher timeframe would have built from the
//! same ticks (tested in `tests/candles.rs`).
//!
//! Feed it candles without gap filling (a flat filler candle would set the open of the
//! next real period); ask the resampler itself for gap filling instead: real candles
//! resampled with gap filling on equal the gap-filled candles of an aggregator of the
//! higher timeframe, heartbeats included (tested).

use domain::{Candle, Quantity, Symbol, Timeframe, Timestamp};

use super::CandleError;

#[derive(Debug, Clone)]
pub struct Resampler {
    symbol: Symbol,
    source: Timeframe,
    target: Timeframe,
    gap_fill: bool,
    open: Option<Candle>,
    last: Option<Candle>,
    /// End of the last source candle, to refuse candles out of order.
    source_end: Option<Timestamp>,
}

impl Resampler {
    pub fn new(
        symbol: Symbol,
        source: Timeframe,
        target: Timeframe,
        gap_fill: bool,
    ) -> Result<Self, CandleError> {
        if !source.divides(target) {
            return Err(CandleError::NotResampleable {
                from: source,
                to: target,
            });
        }
        Ok(Resampler {
            symbol,
            source,
            target,
            gap_fill,
            open: None,
            last: None,
            source_end: None,
        })
    }

    pub fn target(&self) -> Timeframe {
        self.target
    }

    /// Adds a source candle; appends the target candles it closes.
    pub fn on_candle(&mut self, candle: &Candle, out: &mut Vec<Candle>) -> Result<(), CandleError> {
        if candle.symbol != self.symbol || candle.timeframe != self.source {
            return Err(CandleError::WrongInput {
                expected: format!("{} {}", self.symbol, self.source),
                got: format!("{} {}", candle.symbol, candle.timeframe),
            });
        }
        if self.source_end.is_some_and(|end| candle.start < end) {
            return Err(CandleError::OutOfOrder {
                start: candle.start,
            });
        }
        self.source_end = Some(candle.end);
        let start = self.target.period_start(candle.start);
        match &mut self.open {
            Some(c) if c.start == start => {
                c.high = c.high.max(candle.high);
                c.low = c.low.min(candle.low);
                c.close = candle.close;
                c.volume = c.volume.checked_add(candle.volume).unwrap_or(c.volume);
                c.trades += candle.trades;
            }
            _ => {
                self.close_open(out);
                self.fill_gaps(start, out);
                self.open = Some(Candle {
                    symbol: self.symbol,
                    timeframe: self.target,
                    start,
                    end: self.target.period_end(start),
                    ..*candle
                });
            }
        }
        Ok(())
    }

    /// The clock reads `now`: closes the open target candle if its period has ended.
    pub fn on_heartbeat(&mut self, now: Timestamp, out: &mut Vec<Candle>) {
        if self.open.is_some_and(|c| c.end <= now) {
            self.close_open(out);
        }
        if self.open.is_none() {
            self.fill_gaps(self.target.period_start(now), out);
        }
    }

    /// Emits the open target candle (end of data).
    pub fn flush(&mut self, out: &mut Vec<Candle>) {
        self.close_open(out);
    }

    fn close_open(&mut self, out: &mut Vec<Candle>) {
        if let Some(c) = self.open.take() {
            out.push(c);
            self.last = Some(c);
        }
    }

    fn fill_gaps(&mut self, until: Timestamp, out: &mut Vec<Candle>) {
        if !self.gap_fill {
            return;
        }
        let Some(last) = self.last else { return };
        let mut start = last.end;
        while start < until {
            let flat = Candle {
                start,
                end: self.target.period_end(start),
                open: last.close,
                high: last.close,
                low: last.close,
                volume: Quantity::ZERO,
                trades: 0,
                ..last
            };
            out.push(flat);
            start = flat.end;
            self.last = Some(flat);
        }
    }
}
