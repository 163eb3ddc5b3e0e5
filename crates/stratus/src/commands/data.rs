//! `stratus data import|export`: the candle history of the system of record — the
//! embedded store of `stratus up` (its data directory), or with `--cloud` the Postgres of
//! the settings — loaded from and written to CSV files.
//!
//! An import reads the whole file first: a bad row stops it with the file and line, and
//! nothing is written. The candles are then written in one transaction, each upserted by
//! symbol, timeframe and start, so importing a file twice changes nothing.

use std::io::Write;
use std::path::PathBuf;

use anyhow::Context;
use app::settings::{Backend, Settings};
use clap::{Args, Subcommand};
use domain::{Clock, Symbol, Timeframe, Timestamp};
use store::records::MarketHistory;

use super::input::parse_bound;

#[derive(Debug, Args)]
pub struct DataArgs {
    #[command(subcommand)]
    command: DataCommand,
}

#[derive(Debug, Subcommand)]
enum DataCommand {
    /// Load a CSV file of bars or ticks into the candle history (ticks become 1m, 5m,
    /// 15m, 1h, 4h and 1d candles). Idempotent.
    Import(ImportArgs),
    /// Write a symbol's candle history of one timeframe as CSV
    /// (`time,open,high,low,close,volume`, which `import` and `backtest` read back).
    Export(ExportArgs),
}

/// Where the history lives.
#[derive(Debug, Args)]
struct StoreArgs {
    /// The embedded store's directory (default: the `data_dir` setting,
    /// `STRATUS_DATA_DIR`, else `stratus-data`).
    #[arg(long)]
    data_dir: Option<PathBuf>,
    /// Use the cloud backend's Postgres (DATABASE_URL) instead.
    #[arg(long)]
    cloud: bool,
}

#[derive(Debug, Args)]
struct ImportArgs {
    /// The CSV file (any format `stratus backtest` reads).
    file: PathBuf,
    /// The symbol the data is of.
    #[arg(long)]
    symbol: String,
    #[command(flatten)]
    store: StoreArgs,
}

#[derive(Debug, Args)]
struct ExportArgs {
    #[arg(long)]
    symbol: String,
    /// The recorded timeframe to write.
    #[arg(long, value_name = "TF")]
    timeframe: String,
    /// First day or instant: `2006-01-15` or `2006-01-15T09:30:00Z`.
    #[arg(long, value_name = "DATE")]
    from: Option<String>,
    /// Last day (inclusive), or an instant to stop before.
    #[arg(long, value_name = "DATE")]
    to: Option<String>,
    /// Write to this file instead of stdout.
    #[arg(long, short, value_name = "FILE")]
    out: Option<PathBuf>,
    #[command(flatten)]
    store: StoreArgs,
}

pub fn run(args: DataArgs) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    match args.command {
        DataCommand::Import(a) => runtime.block_on(import(a)),
        DataCommand::Export(a) => runtime.block_on(export(a)),
    }
}

async fn history(args: &StoreArgs) -> anyhow::Result<std::sync::Arc<dyn MarketHistory>> {
    let mut settings = Settings::load()?;
    if let Some(dir) = &args.data_dir {
        settings.data_dir = dir.clone();
    }
    if args.cloud {
        settings.backend = Backend::Cloud;
    }
    let ports = store::connect(&settings.store_backend(), &Clock::system())
        .await
        .context("opening the store")?;
    Ok(ports.records)
}

fn symbol(text: &str) -> anyhow::Result<Symbol> {
    Symbol::parse(text).with_context(|| format!("--symbol {text:?}"))
}

async fn import(args: ImportArgs) -> anyhow::Result<()> {
    let symbol = symbol(&args.symbol)?;
    // Read and check the whole file before touching the store.
    let data = engine::market_data::read_file(&args.file, symbol)?;
    if data.is_empty() {
        anyhow::bail!("{}: no data rows", args.file.display());
    }
    let history = history(&args.store).await?;
    let summary = market_fn::imports::load(&*history, symbol, &data).await?;
    println!(
        "{}: {} {} rows of {} → {} candles ({}), {} new or changed",
        args.file.display(),
        summary.rows,
        summary.kind,
        summary.symbol,
        summary.candles,
        summary.timeframes.join(", "),
        summary.changed
    );
    Ok(())
}

async fn export(args: ExportArgs) -> anyhow::Result<()> {
    let symbol = symbol(&args.symbol)?;
    let timeframe =
        Timeframe::parse(&args.timeframe).map_err(|e| anyhow::anyhow!("--timeframe: {e}"))?;
    let from = match &args.from {
        Some(t) => parse_bound("--from", t, false)?,
        None => Timestamp::from_nanos(i64::MIN),
    };
    let to = match &args.to {
        Some(t) => parse_bound("--to", t, true)?,
        None => Timestamp::MAX,
    };
    if from >= to {
        anyhow::bail!("--from {from} is not before --to {to}");
    }
    let history = history(&args.store).await?;
    let recorded = history.candle_timeframes(symbol).await?;
    if !recorded.contains(&timeframe) {
        anyhow::bail!(
            "no {timeframe} candles of {symbol}; recorded: {}",
            if recorded.is_empty() {
                "none".to_owned()
            } else {
                recorded
                    .iter()
                    .map(|t| t.to_string())
                    .collect::<Vec<_>>()
                    .join(", ")
            }
        );
    }
    let mut out: Box<dyn Write> = match &args.out {
        Some(path) => Box::new(std::io::BufWriter::new(
            std::fs::File::create(path)
                .with_context(|| format!("{}: cannot create", path.display()))?,
        )),
        None => Box::new(std::io::BufWriter::new(std::io::stdout().lock())),
    };
    // Pages of the oldest first, so memory stays flat however long the history.
    const PAGE: usize = 50_000;
    let mut start = from;
    let mut header = true;
    let mut written = 0usize;
    loop {
        let page = history.candles(symbol, timeframe, start, to, PAGE).await?;
        let Some(last) = page.last() else { break };
        let next = Timestamp::from_nanos(last.start.nanos().saturating_add(1));
        if header {
            super::candles::write_csv(&mut out, &page)?;
            header = false;
        } else {
            super::candles::write_csv_rows(&mut out, &page)?;
        }
        written += page.len();
        if page.len() < PAGE {
            break;
        }
        start = next;
    }
    if header {
        super::candles::write_csv(&mut out, &[])?;
    }
    out.flush()?;
    if let Some(path) = &args.out {
        eprintln!(
            "{}: {written} {timeframe} candles of {symbol}",
            path.display()
        );
    }
    Ok(())
}
