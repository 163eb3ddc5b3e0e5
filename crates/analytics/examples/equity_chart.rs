//! Prints the SVG equity chart and the metrics of a synthetic strategy and benchmark.
//!
//! ```text
//! cargo run -p stratus-analytics --example equity_chart -- [points] [seconds-per-bar] > chart.svg
//! ```
//!
//! Defaults to four years of daily bars. The curves come from a fixed-seed random walk, so
//! the output is the same on every run; the metrics go to stderr as JSON.

use analytics::{AnalyticsConfig, EquityPoint, compute, equity_svg};
use domain::{Decimal, Timestamp};

/// xorshift64*: a few lines of deterministic noise for the example.
struct Noise(u64);

impl Noise {
    /// Roughly normal: the sum of four uniforms, centred and scaled to unit variance.
    fn next(&mut self) -> f64 {
        let mut sum = 0.0;
        for _ in 0..4 {
            self.0 ^= self.0 >> 12;
            self.0 ^= self.0 << 25;
            self.0 ^= self.0 >> 27;
            sum += (self.0.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 11) as f64 / (1u64 << 53) as f64;
        }
        (sum - 2.0) * 3f64.sqrt()
    }
}

fn main() {
    let mut args = std::env::args().skip(1);
    let points: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(1008);
    let bar_seconds: i64 = args.next().and_then(|a| a.parse().ok()).unwrap_or(86_400);
    let start = Timestamp::from_secs(1_577_923_200); // 2020-01-02

    // Daily drift and volatility, scaled to the bar length.
    let days_per_bar = bar_seconds as f64 / 86_400.0;
    let (drift, vol) = (0.0003 * days_per_bar, 0.011 * days_per_bar.sqrt());
    let mut noise = Noise(0x5EED_CAFE_F00D_0001);
    let (mut strategy, mut market) = (100_000.0_f64, 100_000.0_f64);
    let (mut equity, mut benchmark) = (Vec::new(), Vec::new());
    for i in 0..points {
        let time = Timestamp::from_secs(start.nanos() / 1_000_000_000 + i as i64 * bar_seconds);
        if i > 0 {
            let market_return = drift + vol * noise.next();
            market *= 1.0 + market_return;
            strategy *= 1.0 + 0.7 * drift + 0.6 * market_return + 0.55 * vol * noise.next();
        }
        let cents = |v: f64| Decimal::new((v * 100.0).round() as i64, 2);
        equity.push(EquityPoint::new(time, cents(strategy), i % 5 != 0));
        benchmark.push(EquityPoint::new(time, cents(market), true));
    }

    let periods_per_year = 365.25 * 86_400.0 / bar_seconds as f64;
    match compute(
        &equity,
        &[],
        &benchmark,
        &AnalyticsConfig::new(periods_per_year),
    ) {
        Ok(metrics) => eprintln!(
            "{}",
            serde_json::to_string_pretty(&metrics).unwrap_or_default()
        ),
        Err(e) => eprintln!("metrics: {e}"),
    }
    print!(
        "{}",
        equity_svg(&equity, &benchmark, "Momentum 20/50 · SPY daily")
    );
}
