//! `stratus bench backtest`: sma_cross over synthetic one-minute bars streamed from a
//! CSV file, the way `stratus backtest` reads a file.
//!
//! The file (`time,open,high,low,close,volume`, one GBM path) is written to the temp
//! directory first and is not timed; the backtest — parse, engine, strategy, paper fills,
//! equity curve, metrics — is. Peak memory is the process's high-water mark (`VmHWM`),
//! which covers the whole run.

use std::io::Write;
use std::time::Instant;

use anyhow::Context;
use clap::Args;
use domain::{Candle, Decimal, Money, Price, Quantity, Symbol, Timeframe, Timestamp};
use engine::backtest::{self, BacktestConfig};
use engine::market_data::csv::DataReader;
use engine::paper::CostModel;
use engine::rng::SplitMix64;

#[derive(Debug, Args)]
pub struct BacktestArgs {
    /// Number of one-minute bars.
    #[arg(long, default_value_t = 1_000_000)]
    bars: usize,
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// SMA period of the strategy.
    #[arg(long, default_value_t = 30)]
    period: usize,
}

/// `bars` one-minute bars of a random walk of `symbol` from 2024-01-01 (prices on a 0.01
/// grid, four steps a bar): the benches' market.
pub fn synthetic_bars(symbol: Symbol, bars: usize, seed: u64) -> anyhow::Result<Vec<Candle>> {
    let mut rng = SplitMix64::new(seed);
    let start = Timestamp::parse("2024-01-01T00:00:00Z")?;
    let mut cents: i64 = 10_000;
    let price = |c: i64| Price::new(Decimal::new(c, 2));
    let mut out = Vec::with_capacity(bars);
    for i in 0..bars {
        let open = cents;
        let mut high = open;
        let mut low = open;
        for _ in 0..4 {
            cents = (cents + (rng.normal() * 6.0).round() as i64).max(100);
            high = high.max(cents);
            low = low.min(cents);
        }
        let start = Timestamp::from_nanos(start.nanos() + i as i64 * 60_000_000_000);
        out.push(Candle {
            symbol,
            timeframe: Timeframe::M1,
            start,
            end: Timeframe::M1.period_end(start),
            open: price(open)?,
            high: price(high)?,
            low: price(low)?,
            close: price(cents)?,
            volume: Quantity::new(Decimal::from(1 + rng.below(500)))?,
            trades: 1,
        });
    }
    Ok(out)
}

/// Writes `bars` synthetic one-minute bars as CSV (what `stratus candles --csv` writes).
fn write_bars(path: &std::path::Path, bars: usize, seed: u64) -> anyhow::Result<()> {
    let file = std::fs::File::create(path)
        .with_context(|| format!("{}: cannot create", path.display()))?;
    let mut out = std::io::BufWriter::with_capacity(1 << 20, file);
    crate::commands::candles::write_csv(
        &mut out,
        &synthetic_bars(Symbol::parse("BENCH")?, bars, seed)?,
    )?;
    out.flush()?;
    Ok(())
}

/// The process's peak resident memory in MiB (Linux), if known.
pub fn peak_rss_mb() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb / 1024.0)
}

pub fn run(args: BacktestArgs) -> anyhow::Result<()> {
    anyhow::ensure!(args.bars >= 100, "--bars must be at least 100");
    let path = std::env::temp_dir().join(format!(
        "stratus-bench-{}-{}.csv",
        std::process::id(),
        args.bars
    ));
    write_bars(&path, args.bars, args.seed)?;
    let symbol = Symbol::parse("BENCH")?;
    let config = BacktestConfig {
        symbol,
        strategy: "sma_cross".into(),
        params: serde_json::json!({ "period": args.period, "size": 10 }),
        cash: Money::new(Decimal::from(100_000)),
        costs: CostModel::default(),
        timeframe: None,
        from: None,
        to: None,
        tick_size: Decimal::new(1, 2),
        strategies: std::sync::Arc::new(engine::strategy::Builtins),
    };
    // How much of the time is reading the file, for the log line.
    let started = Instant::now();
    let parsed = DataReader::open(&path, symbol)?
        .filter(Result::is_ok)
        .count();
    let parse_secs = started.elapsed().as_secs_f64();
    let started = Instant::now();
    let result = DataReader::open(&path, symbol)
        .map_err(anyhow::Error::from)
        .and_then(|reader| Ok(backtest::run(reader, &config, &mut |_| {})?));
    let elapsed = started.elapsed();
    let _ = std::fs::remove_file(&path);
    let report = result?;
    eprintln!(
        "backtest: {} bars in {:.2}s (reading and parsing {parsed} rows alone: {parse_secs:.2}s), {} fills, final equity {}",
        report.records,
        elapsed.as_secs_f64(),
        report.fills.len(),
        report.final_equity
    );
    let line = serde_json::json!({
        "bench": "backtest",
        "bars": report.records,
        "bars_per_sec": (report.records as f64 / elapsed.as_secs_f64()).round(),
        "peak_rss_mb": peak_rss_mb().map(|m| (m * 10.0).round() / 10.0),
        "fills": report.fills.len(),
    });
    println!("{line}");
    Ok(())
}
