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
mod research;
mod wasm;

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
    /// The candles route's latency for 1,000 candles, recorded and resampled.
    CandlesRoute(research::CandlesRouteArgs),
    /// 100 parameter sets × 100,000 bars in one optimisation, one thread vs every core.
    Sweep(research::SweepArgs),
    /// A backtest job over HTTP, its report against the CLI's on the same bars.
    BacktestJob(research::ResearchArgs),
    /// The sma_cross module against the built-in on a million bars, in one run.
    WasmBacktest(wasm::WasmBacktestArgs),
    /// 100 module deployments on 4 symbols in the live engine against the feed.
    WasmCore(wasm::WasmCoreArgs),
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
        Bench::CandlesRoute(a) => research::candles_route(a),
        Bench::Sweep(a) => research::sweep(a),
        Bench::BacktestJob(a) => research::backtest_job(a),
        Bench::WasmBacktest(a) => wasm::backtest(a),
        Bench::WasmCore(a) => wasm::core(a),
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
