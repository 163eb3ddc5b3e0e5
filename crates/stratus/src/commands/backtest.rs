//! `stratus backtest`: a strategy over a data file, with the very engine the live service
//! runs; a summary table, a JSON document, or a report directory.

use std::io::{IsTerminal, Read, Write};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use anyhow::{Context as _, bail};
use clap::Args;
use domain::{Decimal, Money, Timeframe};
use engine::backtest::{self, BacktestConfig, BacktestReport};
use engine::market_data::csv::DataReader;
use engine::paper::{Commission, CostModel, Slippage};
use engine::strategy::{Builtins, StrategyFactory, builtin};
use engine::wasm::WasmModules;

use super::input::DataArgs;

/// What a run is: the data, the strategy, the account and its costs (shared by
/// `backtest` and `optimize`).
#[derive(Debug, Args)]
pub struct RunArgs {
    #[command(flatten)]
    pub data: DataArgs,
    /// Strategy to run: sma_cross, ema_cross, rsi_reversion, macd_trend, bollinger_breakout.
    #[arg(
        long,
        required_unless_present = "strategy_wasm",
        conflicts_with = "strategy_wasm"
    )]
    pub strategy: Option<String>,
    /// Run a strategy module of your own instead (a `.wasm` built with the guest SDK,
    /// `wasm/sdk`), in the same sandbox the platform runs uploaded modules in.
    #[arg(long, value_name = "FILE")]
    pub strategy_wasm: Option<PathBuf>,
    /// A strategy parameter, repeatable: --param period=30 --param size=10.
    #[arg(long = "param", value_name = "KEY=VALUE")]
    pub params: Vec<String>,
    /// Starting cash.
    #[arg(long, default_value = "10000")]
    pub cash: String,
    /// Commission: 0, per_unit:AMOUNT, percent:PCT (or PCT%), fixed:AMOUNT.
    #[arg(long, default_value = "0")]
    pub commission: String,
    /// Slippage on market and stop fills: 0, ticks:N, bps:N.
    #[arg(long, default_value = "0")]
    pub slippage: String,
    /// Trade on candles of this timeframe (default: the file's bars; ticks: 1m).
    #[arg(long, value_name = "TF")]
    pub timeframe: Option<String>,
    /// Price grid of the instrument (for limit/stop prices and slippage in ticks).
    #[arg(long, default_value = "0.01")]
    pub tick_size: String,
}

#[derive(Debug, Args)]
pub struct BacktestArgs {
    #[command(flatten)]
    run: RunArgs,
    /// Print one JSON document instead of a table.
    #[arg(long)]
    json: bool,
    /// Also write report.json and equity.svg into this directory.
    #[arg(long, value_name = "DIR")]
    report_dir: Option<PathBuf>,
    /// Progress bar on stderr (share of the file read, records, seconds): `auto` draws it
    /// when stderr is a terminal and the run lasts over a second; `always` draws it
    /// every 65,536 records and once more when done, terminal or not (for logs); `never`
    /// does not.
    #[arg(long, value_enum, default_value_t = Progress::Auto)]
    progress: Progress,
}

/// When to draw the progress bar.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Progress {
    Auto,
    Always,
    Never,
}

/// One frame of the progress bar: a carriage return, then the bar, so each frame
/// overwrites the last on a terminal.
pub fn progress_frame(done: f64, count: &str, elapsed_secs: f64) -> String {
    let filled = ((done * 30.0).round() as usize).min(30);
    format!(
        "\r[{}{}] {:>3.0}%  {count}  {:.1}s",
        "#".repeat(filled),
        ".".repeat(30 - filled),
        done * 100.0,
        elapsed_secs
    )
}

/// `--param k=v` pairs into a JSON object (numbers stay numbers, the rest strings).
pub fn params(pairs: &[String]) -> anyhow::Result<serde_json::Value> {
    let mut map = serde_json::Map::new();
    for pair in pairs {
        let Some((key, value)) = pair.split_once('=') else {
            bail!("--param {pair:?} is not KEY=VALUE");
        };
        let key = key.trim();
        if key.is_empty() {
            bail!("--param {pair:?} has an empty name");
        }
        let value = value.trim();
        let json = match serde_json::from_str::<serde_json::Value>(value) {
            Ok(n @ serde_json::Value::Number(_)) => n,
            _ => serde_json::Value::String(value.to_owned()),
        };
        if map.insert(key.to_owned(), json).is_some() {
            bail!("--param {key} is given twice");
        }
    }
    Ok(serde_json::Value::Object(map))
}

/// Counts the bytes read from the file, for the progress bar.
struct Counting<R> {
    inner: R,
    read: Arc<AtomicU64>,
}

impl<R: Read> Read for Counting<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.read.fetch_add(n as u64, Ordering::Relaxed);
        Ok(n)
    }
}

/// The strategy to run and what creates it: a built-in by name, or the module in
/// `--strategy-wasm` (checked as an upload is: an error names the file and the reason).
fn strategy(args: &RunArgs) -> anyhow::Result<(String, Arc<dyn StrategyFactory>)> {
    if let Some(path) = &args.strategy_wasm {
        let bytes =
            std::fs::read(path).with_context(|| format!("{}: cannot read", path.display()))?;
        let id = path
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .filter(|s| !s.is_empty())
            .unwrap_or_else(|| "module".into());
        let modules = WasmModules::default();
        modules
            .insert(&id, &bytes)
            .map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
        return Ok((format!("{}{id}", engine::wasm::PREFIX), Arc::new(modules)));
    }
    let name = args.strategy.clone().unwrap_or_default();
    if !builtin::NAMES.contains(&name.as_str()) {
        bail!(
            "unknown strategy {name:?}; valid: {} (or --strategy-wasm FILE)",
            builtin::NAMES.join(", ")
        );
    }
    Ok((name, Arc::new(Builtins)))
}

pub fn config(args: &RunArgs) -> anyhow::Result<BacktestConfig> {
    let (strategy, strategies) = strategy(args)?;
    let cash = domain::num::parse_decimal("cash", &args.cash)
        .ok()
        .filter(|c| *c > Decimal::ZERO)
        .with_context(|| format!("--cash must be a positive amount, got {:?}", args.cash))?;
    let commission: Commission = args.commission.parse().context("--commission")?;
    let slippage: Slippage = args.slippage.parse().context("--slippage")?;
    let tick_size = domain::num::parse_decimal("tick_size", &args.tick_size)
        .ok()
        .filter(|t| *t > Decimal::ZERO)
        .with_context(|| {
            format!(
                "--tick-size must be a positive number, got {:?}",
                args.tick_size
            )
        })?;
    let timeframe = match &args.timeframe {
        Some(t) => Some(Timeframe::parse(t).map_err(|e| anyhow::anyhow!("--timeframe: {e}"))?),
        None => None,
    };
    let (from, to) = args.data.window()?;
    Ok(BacktestConfig {
        symbol: args.data.symbol()?,
        strategy,
        params: params(&args.params)?,
        cash: Money::new(cash),
        costs: CostModel {
            commission,
            slippage,
        },
        timeframe,
        from: (from != domain::Timestamp::from_nanos(i64::MIN)).then_some(from),
        to: (to != domain::Timestamp::MAX).then_some(to),
        tick_size,
        strategies,
    })
}

pub fn run(args: BacktestArgs) -> anyhow::Result<()> {
    let config = config(&args.run)?;
    // Parameters are checked before the file is read: a typo fails at once.
    let probe = engine::strategy::StrategyConfig::new(
        vec![config.symbol],
        vec![Timeframe::D1],
        config.params.clone(),
    );
    config.strategies.create(&config.strategy, &probe)?;

    let path = &args.run.data.data;
    let file =
        std::fs::File::open(path).with_context(|| format!("{}: cannot read", path.display()))?;
    let size = file.metadata().map(|m| m.len()).unwrap_or(0).max(1);
    let read = Arc::new(AtomicU64::new(0));
    let counting = Counting {
        inner: file,
        read: read.clone(),
    };
    let reader = DataReader::new(
        std::io::BufReader::with_capacity(1 << 16, counting),
        path,
        config.symbol,
    )?;

    let started = Instant::now();
    let (show, after_secs) = match args.progress {
        Progress::Auto => (std::io::stderr().is_terminal(), 1.0),
        Progress::Always => (true, 0.0),
        Progress::Never => (false, 0.0),
    };
    let mut drawn = false;
    let mut progress = |records: u64| {
        let elapsed = started.elapsed().as_secs_f64();
        if show && elapsed >= after_secs {
            let done = (read.load(Ordering::Relaxed) as f64 / size as f64).min(1.0);
            eprint!(
                "{}",
                progress_frame(done, &format!("{records} records"), elapsed)
            );
            drawn = true;
        }
    };
    let result = backtest::run(reader, &config, &mut progress);
    match &result {
        // The last frame: the run is complete (a `--to` may have stopped it before the
        // end of the file).
        Ok(report) if drawn || args.progress == Progress::Always => {
            let frame = progress_frame(
                1.0,
                &format!("{} records", report.records),
                started.elapsed().as_secs_f64(),
            );
            eprintln!("{frame}");
        }
        // The error goes on a line of its own.
        Err(_) if drawn => eprintln!(),
        _ => {}
    }
    let report = result?;
    if let Some(dir) = &args.report_dir {
        write_report_dir(dir, &report)?;
    }
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    if args.json {
        writeln!(out, "{}", report.to_json())?;
    } else {
        print_summary(&mut out, &report, &config)?;
        if let Some(dir) = &args.report_dir {
            writeln!(
                out,
                "report: {}  {}",
                dir.join("report.json").display(),
                dir.join("equity.svg").display()
            )?;
        }
    }
    Ok(())
}

fn write_report_dir(dir: &std::path::Path, report: &BacktestReport) -> anyhow::Result<()> {
    std::fs::create_dir_all(dir).with_context(|| format!("{}: cannot create", dir.display()))?;
    let mut doc = report.to_json();
    if let Some(obj) = doc.as_object_mut() {
        obj.insert(
            "round_trips".into(),
            serde_json::to_value(&report.round_trips)?,
        );
    }
    let json_path = dir.join("report.json");
    std::fs::write(&json_path, serde_json::to_string_pretty(&doc)? + "\n")
        .with_context(|| format!("{}: cannot write", json_path.display()))?;
    let title = format!(
        "{} on {} ({})",
        report.strategy, report.symbol, report.timeframe
    );
    let svg = analytics::equity_svg(&report.equity.to_vec(), &report.benchmark.to_vec(), &title);
    let svg_path = dir.join("equity.svg");
    std::fs::write(&svg_path, svg)
        .with_context(|| format!("{}: cannot write", svg_path.display()))?;
    Ok(())
}

fn pct(x: f64) -> String {
    format!("{:.2}%", x * 100.0)
}

fn opt(x: Option<f64>, f: impl Fn(f64) -> String) -> String {
    x.map(f).unwrap_or_else(|| "n/a".into())
}

fn print_summary(
    out: &mut impl Write,
    r: &BacktestReport,
    config: &BacktestConfig,
) -> anyhow::Result<()> {
    let m = &r.metrics;
    let (start, end) = (
        r.equity
            .first()
            .map(|p| p.time.to_string())
            .unwrap_or_default(),
        r.equity
            .last()
            .map(|p| p.time.to_string())
            .unwrap_or_default(),
    );
    let ratio = |x: f64| format!("{x:.2}");
    let rows: Vec<(&str, String)> = vec![
        ("strategy", format!("{} {}", r.strategy, config.params)),
        (
            "symbol / timeframe",
            format!("{} / {}", r.symbol, r.timeframe),
        ),
        ("period", format!("{start} → {end}")),
        ("records read", r.records.to_string()),
        (
            "costs",
            format!(
                "commission {}, slippage {}",
                config.costs.commission, config.costs.slippage
            ),
        ),
        ("starting cash", config.cash.to_string()),
        ("final equity", r.final_equity.to_string()),
        ("final cash", r.final_cash.to_string()),
        ("total return", pct(m.total_return)),
        ("CAGR", opt(m.cagr, pct)),
        ("annual volatility", opt(m.annual_volatility, pct)),
        ("Sharpe", opt(m.sharpe, ratio)),
        ("Sortino", opt(m.sortino, ratio)),
        (
            "max drawdown",
            format!(
                "{} over {} bars",
                pct(m.max_drawdown),
                m.max_drawdown_periods
            ),
        ),
        ("Calmar", opt(m.calmar, ratio)),
        (
            "fills / round trips",
            format!("{} / {}", r.fills.len(), m.trades),
        ),
        ("win rate", opt(m.win_rate, pct)),
        ("profit factor", opt(m.profit_factor, ratio)),
        (
            "expectancy",
            m.expectancy
                .map(|d| d.round_dp(2).to_string())
                .unwrap_or_else(|| "n/a".into()),
        ),
        (
            "average win / loss",
            format!(
                "{} / {}",
                m.average_win
                    .map(|d| d.round_dp(2).to_string())
                    .unwrap_or_else(|| "n/a".into()),
                m.average_loss
                    .map(|d| d.round_dp(2).to_string())
                    .unwrap_or_else(|| "n/a".into())
            ),
        ),
        ("exposure", pct(m.exposure)),
    ];
    for (name, value) in rows {
        writeln!(out, "{name:<22} {value}")?;
    }
    if let Some(b) = &m.benchmark {
        writeln!(out, "{:<22} {}", "buy & hold return", pct(b.total_return))?;
        writeln!(out, "{:<22} {}", "excess return", pct(b.excess_return))?;
        writeln!(out, "{:<22} {}", "alpha (annual)", opt(b.alpha, pct))?;
        writeln!(out, "{:<22} {}", "beta", opt(b.beta, ratio))?;
    }
    Ok(())
}
