//! `stratus indicators`: indicator series over a file's bars (or its ticks as one-tick
//! bars), optionally on candles of another timeframe first.

use std::io::Write;

use anyhow::Context;
use clap::Args;
use domain::Timeframe;
use engine::indicators::{Bar, BarIndicator, IndicatorSpec};

use super::input::{DataArgs, to_candles};

#[derive(Debug, Args)]
pub struct IndicatorsArgs {
    #[command(flatten)]
    data: DataArgs,
    /// Indicator to compute, repeatable: sma:30, ema:30, wma:10, rsi:14, macd:12:26:9,
    /// bbands:20:2, atr:14, stoch:14:3:3, vwap, obv.
    #[arg(long = "indicator", value_name = "SPEC", required = true)]
    indicators: Vec<String>,
    /// Aggregate or resample to this timeframe first (default: the file's own bars).
    #[arg(long, value_name = "TF")]
    timeframe: Option<String>,
    /// Print CSV (`time` then one column per output, empty before the first value).
    #[arg(long)]
    csv: bool,
}

pub fn run(args: IndicatorsArgs) -> anyhow::Result<()> {
    let specs = args
        .indicators
        .iter()
        .map(|s| IndicatorSpec::parse(s).with_context(|| format!("--indicator {s:?}")))
        .collect::<anyhow::Result<Vec<_>>>()?;
    let timeframe = match &args.timeframe {
        Some(t) => Some(Timeframe::parse(t).map_err(|e| anyhow::anyhow!("--timeframe: {e}"))?),
        None => None,
    };
    let data = args.data.load()?;
    let candles = to_candles(&args.data.data, data, timeframe, false)?;
    let mut indicators = specs
        .iter()
        .map(IndicatorSpec::build)
        .collect::<Result<Vec<_>, _>>()?;
    let columns: Vec<String> = specs.iter().flat_map(IndicatorSpec::columns).collect();

    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    let separator = if args.csv { "," } else { " " };
    let cell = |s: &str, csv: bool| {
        if csv {
            s.to_owned()
        } else {
            format!("{s:>16}")
        }
    };
    let header: Vec<String> = std::iter::once(if args.csv {
        "time".to_owned()
    } else {
        format!("{:<24}", "time")
    })
    .chain(columns.iter().map(|c| cell(c, args.csv)))
    .collect();
    writeln!(out, "{}", header.join(separator))?;
    let mut values = Vec::with_capacity(columns.len());
    for candle in &candles {
        let bar = Bar::from(candle);
        values.clear();
        for indicator in &mut indicators {
            indicator.update(&bar, &mut values);
        }
        let time = if args.csv {
            candle.start.to_string()
        } else {
            format!("{:<24}", candle.start.to_string())
        };
        let row: Vec<String> = std::iter::once(time)
            .chain(values.iter().map(|v| {
                let text = match v {
                    Some(x) if args.csv => format!("{x}"),
                    Some(x) => format!("{x:.6}"),
                    None => String::new(),
                };
                cell(&text, args.csv)
            }))
            .collect();
        writeln!(out, "{}", row.join(separator))?;
    }
    out.flush()?;
    Ok(())
}
