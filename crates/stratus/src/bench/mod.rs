//! `stratus bench …`: reproducible benchmarks that print one JSON line each.
//!
//! Speed is measured here and only here (never by timed assertions in tests). Build with
//! `--release`: a debug build is 10–50× slower and its figures mean nothing.

mod backtest;
mod candles;
mod http;
mod indicators;
mod matching;
mod pipeline;

use clap::{Args, Subcommand};

#[derive(Debug, Args)]
pub struct BenchArgs {
    #[command(subcommand)]
    which: Bench,
}

#[derive(Debug, Subcommand)]
enum Bench {
    /// The order book under an exchange-core-shaped command mix.
    Matching(matching::MatchingArgs),
    /// sma_cross over a million synthetic one-minute bars streamed from a file.
    Backtest(backtest::BacktestArgs),
    /// Ticks into candles on one and on six timeframes.
    Candles(candles::CandlesArgs),
    /// Incremental indicator updates.
    Indicators(indicators::IndicatorsArgs),
    /// Order placement through a running Stratus HTTP API (register, log in, open and
    /// fund an account, then place limit orders over keep-alive connections).
    Http(http::HttpArgs),
    /// Synthetic ticks of several symbols through the engine: candles, sma_cross, paper
    /// fills, marking.
    Pipeline(pipeline::PipelineArgs),
}

pub fn run(args: BenchArgs) -> anyhow::Result<()> {
    if cfg!(debug_assertions) {
        eprintln!("warning: this is a debug build; run with --release for meaningful figures");
    }
    match args.which {
        Bench::Matching(a) => matching::run(a),
        Bench::Backtest(a) => backtest::run(a),
        Bench::Candles(a) => candles::run(a),
        Bench::Indicators(a) => indicators::run(a),
        Bench::Http(a) => http::run(a),
        Bench::Pipeline(a) => pipeline::run(a),
    }
}

/// Percentile of sorted nanosecond samples (nearest rank).
pub fn percentile(sorted: &[u64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1] as f64
}
