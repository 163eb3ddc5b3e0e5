//! `CandleAggregator`: ticks of one symbol → candles on several timeframes at once.
//!
//! Periods are aligned to UTC (see [`Timeframe::period_start`]). A candle is emitted when
//! its period has closed: when a tick of a later period arrives, or when a heartbeat
//! ([`CandleAggregator::on_heartbeat`]) reports that the clock has passed its end, so a
//! quiet market still closes its bars. Periods without trades produce no candle unless
//! gap filling is on; then each is a flat candle at the previous close with zero volume
//! and zero trades.
//!
//! **Late ticks.** The aggregator keeps a watermark: the latest start of an open period
//! over its timeframes — for nested timeframes (5m in 1h), the finest one's — advanced by
//! ticks and heartbeats. A tick older than the watermark
//! belongs to a candle that may already have been emitted; it is dropped — for every
//! timeframe, so all timeframes see the same ticks — and counted in
//! [`AggregatorStats::late_ticks`]. A tick out of order but not older than the watermark
//! is inside every open candle: it counts toward high, low, volume and trades, and sets
//! the close only if it is the newest tick of the candle.
//!
//! Emission order: candles closed by the same tick or heartbeat come out by end time,
//! then finest timeframe first.
//!
//! **Cost.** Only the finest timeframe, and any timeframe it does not divide, is updated
//! per tick. A timeframe the finest divides (1h over 1m) is built from the finest
//! candles as they close, like a resampler — exactly the same candles, tested — so six
//! nested timeframes cost little more than one.

use domain::{Candle, Price, Quantity, Symbol, Tick, Timeframe, Timestamp};
use serde::{Deserialize, Serialize};

use super::CandleError;

/// Options of an aggregator.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AggregatorConfig {
    /// Emit flat candles for periods without trades.
    pub gap_fill: bool,
}

/// What the aggregator has seen.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AggregatorStats {
    pub ticks: u64,
    /// Ticks dropped for being older than the watermark.
    pub late_ticks: u64,
    /// Ticks of another symbol, refused.
    pub foreign_ticks: u64,
    pub candles: u64,
}

/// A candle being built.
#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
struct OpenCandle {
    start: Timestamp,
    end: Timestamp,
    open: Price,
    high: Price,
    low: Price,
    close: Price,
    /// Time of the tick that set `close`.
    close_time: Timestamp,
    volume: Quantity,
    trades: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Series {
    timeframe: Timeframe,
    /// Built from the finest series' closed candles rather than from ticks.
    derived: bool,
    open: Option<OpenCandle>,
    /// Close of the last emitted candle, for gap filling.
    last_close: Option<Price>,
    /// End of the last emitted candle: the next gap-filled period starts here.
    last_end: Option<Timestamp>,
}

/// Builds candles of one symbol on several timeframes. See the module docs. Serializable,
/// open candles included, so a live runner's snapshot continues a candle mid-period.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CandleAggregator {
    symbol: Symbol,
    config: AggregatorConfig,
    /// Finest first.
    series: Vec<Series>,
    watermark: Timestamp,
    stats: AggregatorStats,
}

impl CandleAggregator {
    pub fn new(
        symbol: Symbol,
        timeframes: &[Timeframe],
        config: AggregatorConfig,
    ) -> Result<Self, CandleError> {
        if timeframes.is_empty() {
            return Err(CandleError::NoTimeframes);
        }
        let mut sorted = timeframes.to_vec();
        sorted.sort();
        if let Some(w) = sorted.windows(2).find(|w| w[0] == w[1]) {
            return Err(CandleError::DuplicateTimeframe(w[0]));
        }
        let finest = sorted[0];
        let series = sorted
            .into_iter()
            .enumerate()
            .map(|(i, timeframe)| Series {
                timeframe,
                derived: i > 0 && finest.divides(timeframe),
                open: None,
                last_close: None,
                last_end: None,
            })
            .collect();
        Ok(CandleAggregator {
            symbol,
            config,
            series,
            watermark: Timestamp::from_nanos(i64::MIN),
            stats: AggregatorStats::default(),
        })
    }

    pub fn symbol(&self) -> Symbol {
        self.symbol
    }

    pub fn timeframes(&self) -> impl Iterator<Item = Timeframe> + '_ {
        self.series.iter().map(|s| s.timeframe)
    }

    pub fn stats(&self) -> AggregatorStats {
        self.stats
    }

    /// Adds a tick; candles it closes are appended to `out`. Returns whether the tick was
    /// used (false: late, or of another symbol).
    pub fn on_tick(&mut self, tick: &Tick, out: &mut Vec<Candle>) -> bool {
        self.stats.ticks += 1;
        if tick.symbol != self.symbol {
            self.stats.foreign_ticks += 1;
            return false;
        }
        let t = tick.time;
        if t < self.watermark {
            self.stats.late_ticks += 1;
            return false;
        }
        let before = out.len();
        for i in 0..self.series.len() {
            let series = &mut self.series[i];
            if series.derived {
                // Its candles come from the finest series; here it only closes the
                // periods this tick has moved past, as a tick-fed series would.
                if series.open.is_some_and(|c| t >= c.end) {
                    let start = series.timeframe.period_start(t);
                    self.close_series(i, out);
                    self.fill_gaps(i, start, out);
                }
                continue;
            }
            match &mut series.open {
                Some(c) if t < c.end => {
                    // The hot path: the tick falls in the open candle.
                    if tick.price > c.high {
                        c.high = tick.price;
                    } else if tick.price < c.low {
                        c.low = tick.price;
                    }
                    if t >= c.close_time {
                        c.close = tick.price;
                        c.close_time = t;
                    }
                    c.volume = c.volume.checked_add(tick.size).unwrap_or(c.volume);
                    c.trades += 1;
                }
                _ => {
                    let start = series.timeframe.period_start(t);
                    self.close_series(i, out);
                    self.fill_gaps(i, start, out);
                    let series = &mut self.series[i];
                    series.open = Some(OpenCandle {
                        start,
                        end: series.timeframe.period_end(start),
                        open: tick.price,
                        high: tick.price,
                        low: tick.price,
                        close: tick.price,
                        close_time: t,
                        volume: tick.size,
                        trades: 1,
                    });
                    self.raise_watermark(start);
                }
            }
        }
        self.finish_batch(before, out);
        true
    }

    /// Tells the aggregator the clock reads `now`: candles whose period ended at or
    /// before `now` are closed (and, with gap filling, empty periods up to `now` filled).
    pub fn on_heartbeat(&mut self, now: Timestamp, out: &mut Vec<Candle>) {
        let before = out.len();
        for i in 0..self.series.len() {
            if self.series[i].open.is_some_and(|c| c.end <= now) {
                self.close_series(i, out);
            }
            let current = self.series[i].timeframe.period_start(now);
            if self.series[i].open.is_none() {
                self.fill_gaps(i, current, out);
            }
            self.raise_watermark(current);
        }
        self.finish_batch(before, out);
    }

    /// Emits the candles still open (end of data). Their periods may be incomplete.
    pub fn flush(&mut self, out: &mut Vec<Candle>) {
        let before = out.len();
        for i in 0..self.series.len() {
            self.close_series(i, out);
        }
        self.finish_batch(before, out);
    }

    /// The candles still open, one per timeframe that has one, finest first: what a
    /// chart shows as the newest, still moving, candle. A derived series' open candle
    /// includes the finest series' open one (which it has not folded in yet).
    pub fn open_candles(&self) -> Vec<Candle> {
        let finest = self.series.first().and_then(|s| s.open);
        let mut out = Vec::with_capacity(self.series.len());
        for series in &self.series {
            let mut open = series.open;
            if series.derived {
                if let Some(f) = finest {
                    let start = series.timeframe.period_start(f.start);
                    open = match open {
                        Some(mut o) if o.start == start => {
                            o.high = o.high.max(f.high);
                            o.low = o.low.min(f.low);
                            o.close = f.close;
                            o.volume = o.volume.checked_add(f.volume).unwrap_or(o.volume);
                            o.trades += f.trades;
                            Some(o)
                        }
                        // The derived candle (if any) is of an earlier period, closed
                        // at the next tick or heartbeat: the finest one starts the new.
                        _ => Some(OpenCandle {
                            start,
                            end: series.timeframe.period_end(start),
                            ..f
                        }),
                    };
                }
            }
            if let Some(c) = open {
                out.push(Candle {
                    symbol: self.symbol,
                    timeframe: series.timeframe,
                    start: c.start,
                    end: c.end,
                    open: c.open,
                    high: c.high,
                    low: c.low,
                    close: c.close,
                    volume: c.volume,
                    trades: c.trades,
                });
            }
        }
        out
    }

    fn raise_watermark(&mut self, start: Timestamp) {
        if start > self.watermark {
            self.watermark = start;
        }
    }

    fn finish_batch(&mut self, before: usize, out: &mut [Candle]) {
        let batch = &mut out[before..];
        if batch.len() > 1 {
            // Each series emitted in time order; merge them by end, finest first.
            batch.sort_by_key(|c| (c.end, c.timeframe));
        }
        self.stats.candles += batch.len() as u64;
    }

    /// Emits series `i`'s open candle, if any; the finest series' candle is also folded
    /// into the derived series.
    fn close_series(&mut self, i: usize, out: &mut Vec<Candle>) {
        let series = &mut self.series[i];
        let Some(c) = series.open.take() else { return };
        series.last_close = Some(c.close);
        series.last_end = Some(c.end);
        out.push(Candle {
            symbol: self.symbol,
            timeframe: series.timeframe,
            start: c.start,
            end: c.end,
            open: c.open,
            high: c.high,
            low: c.low,
            close: c.close,
            volume: c.volume,
            trades: c.trades,
        });
        if i == 0 {
            for j in 1..self.series.len() {
                if self.series[j].derived {
                    self.fold(j, &c, out);
                }
            }
        }
    }

    /// Adds a closed finest candle to derived series `j`.
    fn fold(&mut self, j: usize, c: &OpenCandle, out: &mut Vec<Candle>) {
        let start = self.series[j].timeframe.period_start(c.start);
        match &mut self.series[j].open {
            Some(open) if open.start == start => {
                open.high = open.high.max(c.high);
                open.low = open.low.min(c.low);
                open.close = c.close;
                open.close_time = c.close_time;
                open.volume = open.volume.checked_add(c.volume).unwrap_or(open.volume);
                open.trades += c.trades;
            }
            _ => {
                self.close_series(j, out);
                self.fill_gaps(j, start, out);
                let series = &mut self.series[j];
                series.open = Some(OpenCandle {
                    start,
                    end: series.timeframe.period_end(start),
                    ..*c
                });
            }
        }
    }

    /// With gap filling on, emits flat candles for series `i` from the last emitted
    /// candle's end up to (not including) `until`.
    fn fill_gaps(&mut self, i: usize, until: Timestamp, out: &mut Vec<Candle>) {
        if !self.config.gap_fill {
            return;
        }
        let series = &mut self.series[i];
        let (Some(close), Some(mut start)) = (series.last_close, series.last_end) else {
            return;
        };
        while start < until {
            let end = series.timeframe.period_end(start);
            out.push(Candle {
                symbol: self.symbol,
                timeframe: series.timeframe,
                start,
                end,
                open: close,
                high: close,
                low: close,
                close,
                volume: Quantity::ZERO,
                trades: 0,
            });
            start = end;
        }
        series.last_end = Some(start);
    }
}
