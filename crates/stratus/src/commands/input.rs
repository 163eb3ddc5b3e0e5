//! Loading a data file for the CLI: the file, the symbol, a `--from`/`--to` window, and
//! optional aggregation or resampling to a timeframe.

use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use clap::Args;
use domain::{Candle, Symbol, Tick, Timeframe, Timestamp};
use engine::candles::{AggregatorConfig, CandleAggregator, Resampler};
use engine::market_data::{MarketData, read_file};

/// Where the data comes from and which part of it to use.
#[derive(Debug, Clone, Args)]
pub struct DataArgs {
    /// A CSV file of ticks or bars (formats: `engine::market_data::csv`).
    #[arg(long, value_name = "FILE")]
    pub data: PathBuf,
    /// Symbol to label the data with.
    #[arg(long, default_value = "DATA")]
    pub symbol: String,
    /// First day or instant to use: `2006-01-15` or `2006-01-15T09:30:00Z`.
    #[arg(long, value_name = "DATE")]
    pub from: Option<String>,
    /// Last day to use (inclusive), or an instant to stop before.
    #[arg(long, value_name = "DATE")]
    pub to: Option<String>,
}

/// A `--from`/`--to` value: a date covers its whole day.
pub fn parse_bound(flag: &str, text: &str, end_of_day: bool) -> anyhow::Result<Timestamp> {
    Timestamp::parse_bound(text, end_of_day).map_err(|_| {
        anyhow::anyhow!(
            "{flag} {text:?} is not a date (2006-01-15) or an RFC 3339 time (2006-01-15T09:30:00Z)"
        )
    })
}

impl DataArgs {
    pub fn symbol(&self) -> anyhow::Result<Symbol> {
        Symbol::parse(&self.symbol).with_context(|| format!("--symbol {:?}", self.symbol))
    }

    /// The `[from, to)` window.
    pub fn window(&self) -> anyhow::Result<(Timestamp, Timestamp)> {
        let from = match &self.from {
            Some(t) => parse_bound("--from", t, false)?,
            None => Timestamp::from_nanos(i64::MIN),
        };
        let to = match &self.to {
            Some(t) => parse_bound("--to", t, true)?,
            None => Timestamp::MAX,
        };
        if from >= to {
            bail!("--from {} is not before --to {}", from, to);
        }
        Ok((from, to))
    }

    /// Reads the file and keeps what lies in the window.
    pub fn load(&self) -> anyhow::Result<MarketData> {
        let symbol = self.symbol()?;
        let (from, to) = self.window()?;
        let data = read_file(&self.data, symbol)?;
        let data = match data {
            MarketData::Ticks(ticks) => MarketData::Ticks(
                ticks
                    .into_iter()
                    .filter(|t| t.time >= from && t.time < to)
                    .collect(),
            ),
            MarketData::Bars { timeframe, candles } => MarketData::Bars {
                timeframe,
                candles: candles
                    .into_iter()
                    .filter(|c| c.start >= from && c.start < to)
                    .collect(),
            },
        };
        if data.is_empty() {
            bail!("{}: no data between --from and --to", self.data.display());
        }
        Ok(data)
    }
}

/// Candles of `timeframe` from ticks (aggregated) or bars (resampled; `timeframe` must be
/// a whole number of the file's bar periods). `None` keeps bars as they are and turns
/// ticks into one-tick bars.
pub fn to_candles(
    path: &Path,
    data: MarketData,
    timeframe: Option<Timeframe>,
    gap_fill: bool,
) -> anyhow::Result<Vec<Candle>> {
    let mut out = Vec::new();
    match (data, timeframe) {
        (MarketData::Ticks(ticks), Some(tf)) => {
            let symbol = ticks.first().map(|t| t.symbol).context("no ticks")?;
            let mut agg = CandleAggregator::new(symbol, &[tf], AggregatorConfig { gap_fill })?;
            for t in &ticks {
                agg.on_tick(t, &mut out);
            }
            agg.flush(&mut out);
        }
        (MarketData::Ticks(ticks), None) => out.extend(ticks.iter().map(tick_bar)),
        (MarketData::Bars { candles, .. }, None) => out = candles,
        (
            MarketData::Bars {
                timeframe: source,
                candles,
            },
            Some(tf),
        ) => {
            if source == tf && !gap_fill {
                return Ok(candles);
            }
            let symbol = candles.first().map(|c| c.symbol).context("no bars")?;
            let mut resampler = Resampler::new(symbol, source, tf, gap_fill)
                .with_context(|| format!("{}: holds {source} bars", path.display()))?;
            for c in &candles {
                resampler.on_candle(c, &mut out)?;
            }
            resampler.flush(&mut out);
        }
    }
    Ok(out)
}

/// A tick as a bar of its own: open = high = low = close = price.
fn tick_bar(t: &Tick) -> Candle {
    Candle {
        symbol: t.symbol,
        timeframe: Timeframe::S1,
        start: t.time,
        end: t.time,
        open: t.price,
        high: t.price,
        low: t.price,
        close: t.price,
        volume: t.size,
        trades: 1,
    }
}
