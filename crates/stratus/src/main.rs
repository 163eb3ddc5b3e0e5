//! `stratus`: the command-line entry point of the platform.

mod bench;
mod commands;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(
    name = "stratus",
    version,
    about = "Stratus: an algorithmic trading platform"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the whole platform in one process: HTTP API, WebSocket, streaming core, feed.
    Up(commands::up::UpArgs),
    /// Run a strategy over a data file and report its performance.
    Backtest(commands::backtest::BacktestArgs),
    /// Search a strategy's parameters over a data file (grid or random, walk-forward).
    Optimize(commands::optimize::OptimizeArgs),
    /// Print the candles a data file aggregates or resamples to.
    Candles(commands::candles::CandlesArgs),
    /// Print indicator series over a data file.
    Indicators(commands::indicators::IndicatorsArgs),
    /// Load bars or ticks into the candle history, or write it out as CSV.
    Data(commands::data::DataArgs),
    /// Run a benchmark and print one JSON line of results.
    Bench(bench::BenchArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Up(args) => commands::up::run(args),
        Command::Backtest(args) => commands::backtest::run(args),
        Command::Optimize(args) => commands::optimize::run(args),
        Command::Candles(args) => commands::candles::run(args),
        Command::Indicators(args) => commands::indicators::run(args),
        Command::Data(args) => commands::data::run(args),
        Command::Bench(args) => bench::run(args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        // `stratus candles … | head` closing the pipe early is not an error.
        Err(e) if is_broken_pipe(&e) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn is_broken_pipe(e: &anyhow::Error) -> bool {
    e.chain().any(|cause| {
        cause
            .downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
    })
}
