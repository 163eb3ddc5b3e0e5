//! `stratus candles`: the candles a file aggregates (ticks) or resamples (bars) to.

use std::io::Write;

use clap::Args;
use domain::Timeframe;

use super::input::{DataArgs, to_candles};

#[derive(Debug, Args)]
pub struct CandlesArgs {
    #[command(flatten)]
    data: DataArgs,
    /// Candle period: 1s, 15s, 1m, 5m, 1h, 4h, 1d, 1w, or any N s/m/h/d/w.
    #[arg(long, value_name = "TF")]
    timeframe: String,
    /// Emit flat candles for periods without trades.
    #[arg(long)]
    gap_fill: bool,
    /// Print CSV (`time,open,high,low,close,volume`) instead of a table.
    #[arg(long)]
    csv: bool,
}

pub fn run(args: CandlesArgs) -> anyhow::Result<()> {
    let timeframe =
        Timeframe::parse(&args.timeframe).map_err(|e| anyhow::anyhow!("--timeframe: {e}"))?;
    let data = args.data.load()?;
    let candles = to_candles(&args.data.data, data, Some(timeframe), args.gap_fill)?;
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    if args.csv {
        write_csv(&mut out, &candles)?;
    } else {
        writeln!(
            out,
            "{:<24} {:>12} {:>12} {:>12} {:>12} {:>14} {:>7}",
            "time", "open", "high", "low", "close", "volume", "trades"
        )?;
        for c in &candles {
            writeln!(
                out,
                "{:<24} {:>12} {:>12} {:>12} {:>12} {:>14} {:>7}",
                c.start.to_string(),
                c.open.to_string(),
                c.high.to_string(),
                c.low.to_string(),
                c.close.to_string(),
                c.volume.to_string(),
                c.trades
            )?;
        }
        writeln!(out, "{} {} candles", candles.len(), timeframe)?;
    }
    out.flush()?;
    Ok(())
}

/// Candles as CSV (`time,open,high,low,close,volume`, the time being the start): a
/// format the data reader reads back as bars.
pub fn write_csv(out: &mut impl Write, candles: &[domain::Candle]) -> std::io::Result<()> {
    writeln!(out, "time,open,high,low,close,volume")?;
    write_csv_rows(out, candles)
}

/// The rows of [`write_csv`] without its header.
pub fn write_csv_rows(out: &mut impl Write, candles: &[domain::Candle]) -> std::io::Result<()> {
    for c in candles {
        writeln!(
            out,
            "{},{},{},{},{},{}",
            c.start, c.open, c.high, c.low, c.close, c.volume
        )?;
    }
    Ok(())
}
