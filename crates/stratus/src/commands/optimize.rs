//! `stratus optimize`: a parameter search over a data file — every point of a grid or
//! random draws from ranges — spread over all cores, ranked by a metric, with an optional
//! walk-forward split; a progress bar on stderr, a table or JSON on stdout.

use std::collections::BTreeMap;
use std::io::{IsTerminal, Write};
use std::sync::Mutex;
use std::time::Instant;

use anyhow::{Context as _, bail};
use clap::Args;
use engine::market_data::MarketData;
use engine::optimize::{OptimizeConfig, OptimizeReport, ParamRange, RankBy, Search, optimize};
use serde_json::Value;

use super::backtest::{Progress, RunArgs, config, progress_frame};

#[derive(Debug, Args)]
pub struct OptimizeArgs {
    #[command(flatten)]
    run: RunArgs,
    /// A grid dimension, repeatable: `--grid period=10,20,30` (every combination runs).
    #[arg(long, value_name = "KEY=V1,V2,…")]
    grid: Vec<String>,
    /// A random range, repeatable: `--random period=5..60` (whole numbers) or
    /// `--random k=0.5..3.0` (numbers); draws `--samples` sets.
    #[arg(long, value_name = "KEY=MIN..MAX", conflicts_with = "grid")]
    random: Vec<String>,
    /// How many random sets to draw.
    #[arg(long, default_value_t = 100)]
    samples: usize,
    /// The random draws' seed (the same seed, the same sets).
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Rank by: sharpe, sortino, total_return, cagr, calmar, profit_factor, win_rate,
    /// max_drawdown (shallowest first).
    #[arg(long, default_value = "sharpe")]
    rank_by: String,
    /// Search the first share of the bars (e.g. 0.7) and test the best sets on the rest.
    #[arg(long, value_name = "SHARE")]
    walk_forward: Option<f64>,
    /// How many of the best sets to show (and test out-of-sample).
    #[arg(long, default_value_t = 10)]
    top: usize,
    /// Threads (default: every core).
    #[arg(long)]
    threads: Option<usize>,
    /// Print one JSON document instead of a table.
    #[arg(long)]
    json: bool,
    /// Progress bar on stderr: `auto` when stderr is a terminal, `always`, `never`.
    #[arg(long, value_enum, default_value_t = Progress::Auto)]
    progress: Progress,
}

/// `KEY=…` split once, with the flag's name in the error.
fn key_value<'a>(flag: &str, text: &'a str) -> anyhow::Result<(&'a str, &'a str)> {
    let (k, v) = text
        .split_once('=')
        .with_context(|| format!("--{flag} {text:?} is not KEY=VALUE"))?;
    let k = k.trim();
    if k.is_empty() {
        bail!("--{flag} {text:?} has an empty name");
    }
    Ok((k, v.trim()))
}

fn search(args: &OptimizeArgs) -> anyhow::Result<Search> {
    if !args.grid.is_empty() {
        let mut grid = BTreeMap::new();
        for dimension in &args.grid {
            let (key, values) = key_value("grid", dimension)?;
            let values: Vec<Value> = values
                .split(',')
                .map(|v| match serde_json::from_str::<Value>(v.trim()) {
                    Ok(n @ Value::Number(_)) => n,
                    _ => Value::String(v.trim().to_owned()),
                })
                .collect();
            if grid.insert(key.to_owned(), values).is_some() {
                bail!("--grid {key} is given twice");
            }
        }
        return Ok(Search::Grid(grid));
    }
    if !args.random.is_empty() {
        let mut ranges = BTreeMap::new();
        for range in &args.random {
            let (key, bounds) = key_value("random", range)?;
            let (lo, hi) = bounds
                .split_once("..")
                .with_context(|| format!("--random {range:?}: write MIN..MAX"))?;
            let range = match (lo.parse::<i64>(), hi.parse::<i64>()) {
                (Ok(min), Ok(max)) => ParamRange::Integer { min, max },
                _ => match (lo.parse::<f64>(), hi.parse::<f64>()) {
                    (Ok(min), Ok(max)) => ParamRange::Number { min, max },
                    _ => bail!("--random {range:?}: MIN and MAX must be numbers"),
                },
            };
            ranges.insert(key.to_owned(), range);
        }
        return Ok(Search::Random {
            ranges,
            samples: args.samples,
            seed: args.seed,
        });
    }
    bail!("give --grid KEY=V1,V2,… or --random KEY=MIN..MAX (repeatable)")
}

fn rank_by(text: &str) -> anyhow::Result<RankBy> {
    serde_json::from_value(Value::String(text.to_owned())).map_err(|_| {
        let valid: Vec<String> = RankBy::ALL
            .iter()
            .filter_map(|r| serde_json::to_value(r).ok())
            .filter_map(|v| v.as_str().map(str::to_owned))
            .collect();
        anyhow::anyhow!("--rank-by {text:?}; valid: {}", valid.join(", "))
    })
}

pub fn run(args: OptimizeArgs) -> anyhow::Result<()> {
    let backtest = config(&args.run)?;
    let search = search(&args)?;
    let rank_by = rank_by(&args.rank_by)?;
    if let Some(f) = args.walk_forward {
        if !(f > 0.0 && f < 1.0) {
            bail!("--walk-forward must be between 0 and 1, not {f}");
        }
    }
    if args.top == 0 {
        bail!("--top must be at least 1");
    }
    let threads = args
        .threads
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
    if threads == 0 {
        bail!("--threads must be at least 1");
    }
    // The sets are made and checked before any bar is read: a search the strategy
    // refuses whole fails at once (sets it refuses among others are skipped and listed).
    let base = match &backtest.params {
        Value::Object(m) => m.clone(),
        _ => serde_json::Map::new(),
    };
    let sets = engine::optimize::parameter_sets(&search, &base, engine::optimize::MAX_RUNS)?;
    engine::optimize::valid_sets(&backtest, sets)?;
    let data = args.run.data.load()?;
    let bars = match data {
        MarketData::Bars { candles, .. } => candles,
        MarketData::Ticks(_) => bail!(
            "{}: optimize runs over bars; make some first (stratus candles --csv, or stratus data import)",
            args.run.data.data.display()
        ),
    };
    let config = OptimizeConfig {
        backtest,
        search,
        rank_by,
        threads,
        walk_forward: args.walk_forward,
        top: args.top,
        max_runs: engine::optimize::MAX_RUNS,
    };
    let started = Instant::now();
    let show = match args.progress {
        Progress::Auto => std::io::stderr().is_terminal(),
        Progress::Always => true,
        Progress::Never => false,
    };
    let drawn = Mutex::new(false);
    let progress = |done: usize, total: usize| {
        if show {
            let frame = progress_frame(
                done as f64 / total.max(1) as f64,
                &format!("{done}/{total} runs"),
                started.elapsed().as_secs_f64(),
            );
            if let Ok(mut drawn) = drawn.lock() {
                eprint!("{frame}");
                *drawn = true;
            }
        }
    };
    let result = optimize(&bars, &config, &progress);
    if drawn.lock().map(|d| *d).unwrap_or(false) {
        eprintln!();
    }
    let report = result?;
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    if args.json {
        writeln!(out, "{}", serde_json::to_string(&report)?)?;
    } else {
        print_table(&mut out, &report, started.elapsed().as_secs_f64(), threads)?;
    }
    Ok(())
}

fn pct(x: Option<f64>) -> String {
    x.map(|x| format!("{:.2}%", x * 100.0))
        .unwrap_or_else(|| "n/a".into())
}

fn ratio(x: Option<f64>) -> String {
    x.map(|x| format!("{x:.2}")).unwrap_or_else(|| "n/a".into())
}

fn print_table(
    out: &mut impl Write,
    report: &OptimizeReport,
    secs: f64,
    threads: usize,
) -> anyhow::Result<()> {
    writeln!(
        out,
        "{} runs over {} bars on {threads} threads in {secs:.1}s, ranked by {}",
        report.runs,
        report.bars,
        serde_json::to_value(report.rank_by)?.as_str().unwrap_or("")
    )?;
    if let Some(split) = report.split_at {
        writeln!(out, "walk-forward: searched before {split}, tested from it")?;
    }
    if !report.skipped.is_empty() {
        writeln!(
            out,
            "{} sets skipped (the strategy refuses them), e.g. {}: {}",
            report.skipped.len(),
            report.skipped[0].params,
            report.skipped[0].reason
        )?;
    }
    writeln!(
        out,
        "{:>4}  {:<36} {:>9} {:>7} {:>9} {:>7}  out-of-sample return / sharpe",
        "rank", "params", "return", "sharpe", "max dd", "trades"
    )?;
    for r in &report.best {
        let m = &r.in_sample.metrics;
        let oos = r
            .out_of_sample
            .as_ref()
            .map(|o| {
                format!(
                    "{} / {}",
                    pct(Some(o.metrics.total_return)),
                    ratio(o.metrics.sharpe)
                )
            })
            .unwrap_or_default();
        writeln!(
            out,
            "{:>4}  {:<36} {:>9} {:>7} {:>9} {:>7}  {}",
            r.rank,
            r.params.to_string(),
            pct(Some(m.total_return)),
            ratio(m.sharpe),
            pct(Some(m.max_drawdown)),
            m.trades,
            oos
        )?;
    }
    Ok(())
}
