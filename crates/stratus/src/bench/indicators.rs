//! `stratus bench indicators`: updates per second of the incremental indicators.
//!
//! A seeded random walk of closes (and bars around them) is generated once; each
//! indicator consumes it, best of three passes, its outputs summed so nothing is
//! optimised away.

use std::hint::black_box;
use std::time::Instant;

use clap::Args;
use engine::indicators::{Atr, Bar, BollingerBands, Ema, Macd, Rsi, Sma};
use engine::rng::SplitMix64;

#[derive(Debug, Args)]
pub struct IndicatorsArgs {
    /// Updates per indicator.
    #[arg(long, default_value_t = 10_000_000)]
    updates: usize,
    #[arg(long, default_value_t = 1)]
    seed: u64,
}

fn best_rate(n: usize, mut pass: impl FnMut() -> f64) -> f64 {
    let mut best = 0.0f64;
    for _ in 0..3 {
        let started = Instant::now();
        black_box(pass());
        best = best.max(n as f64 / started.elapsed().as_secs_f64());
    }
    best.round()
}

pub fn run(args: IndicatorsArgs) -> anyhow::Result<()> {
    anyhow::ensure!(args.updates > 0, "--updates must be at least 1");
    let mut rng = SplitMix64::new(args.seed);
    let mut price = 100.0f64;
    let bars: Vec<Bar> = (0..args.updates)
        .map(|_| {
            let open = price;
            price = (price * (1.0 + 0.001 * rng.normal())).max(0.01);
            let (hi, lo) = (
                open.max(price) * (1.0 + 0.0005 * rng.next_f64()),
                open.min(price) * (1.0 - 0.0005 * rng.next_f64()),
            );
            Bar {
                open,
                high: hi,
                low: lo,
                close: price,
                volume: 1.0 + rng.below(100) as f64,
            }
        })
        .collect();
    let closes: Vec<f64> = bars.iter().map(|b| b.close).collect();
    let n = closes.len();

    let sma = best_rate(n, || {
        let mut ind = Sma::new(30).expect("constant period is valid");
        closes.iter().filter_map(|&c| ind.update(c)).sum()
    });
    let ema = best_rate(n, || {
        let mut ind = Ema::new(30).expect("constant period is valid");
        closes.iter().filter_map(|&c| ind.update(c)).sum()
    });
    let rsi = best_rate(n, || {
        let mut ind = Rsi::new(14).expect("constant period is valid");
        closes.iter().filter_map(|&c| ind.update(c)).sum()
    });
    let macd = best_rate(n, || {
        let mut ind = Macd::new(12, 26, 9).expect("constant periods are valid");
        closes
            .iter()
            .filter_map(|&c| ind.update(c))
            .map(|m| m.histogram)
            .sum()
    });
    let bbands = best_rate(n, || {
        let mut ind = BollingerBands::new(20, 2.0).expect("constant parameters are valid");
        closes
            .iter()
            .filter_map(|&c| ind.update(c))
            .map(|b| b.upper)
            .sum()
    });
    let atr = best_rate(n, || {
        let mut ind = Atr::new(14).expect("constant period is valid");
        bars.iter().filter_map(|b| ind.update(b)).sum()
    });
    let line = serde_json::json!({
        "bench": "indicators",
        "updates": n,
        "sma_updates_per_sec": sma,
        "ema_updates_per_sec": ema,
        "rsi_updates_per_sec": rsi,
        "macd_updates_per_sec": macd,
        "bbands_updates_per_sec": bbands,
        "atr_updates_per_sec": atr,
    });
    println!("{line}");
    Ok(())
}
