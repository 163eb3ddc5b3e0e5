//! A seeded synthetic market: geometric Brownian motion for several symbols at once.
//!
//! Each symbol's trade price follows `dS = μ S dt + σ S dW`, stepped exactly as
//! `S(t+Δt) = S(t) · exp((μ − σ²/2) Δt + σ √Δt Z)`, with μ and σ per year. Trades arrive
//! as a Poisson process (exponential gaps) at `ticks_per_second` per symbol; prices are
//! rounded to the symbol's tick size and sizes are 1–100 lots. Symbols are merged in
//! time order. The same seed gives the same ticks on every machine.

use domain::{Currency, Decimal, DomainError, Instrument, Price, Symbol, Tick, Timestamp};

use crate::rng::SplitMix64;

const SECONDS_PER_YEAR: f64 = 365.25 * 24.0 * 3600.0;

/// One simulated symbol.
#[derive(Debug, Clone)]
pub struct SyntheticSymbol {
    pub instrument: Instrument,
    pub start_price: f64,
}

impl SyntheticSymbol {
    /// A symbol with tick 0.01, lot 1, starting at `start_price`.
    pub fn simple(symbol: &str, start_price: f64) -> Result<Self, DomainError> {
        let instrument = Instrument::new(
            Symbol::parse(symbol)?,
            Decimal::new(1, 2),
            Decimal::ONE,
            Decimal::ONE,
            Currency::USD,
        )?;
        Ok(SyntheticSymbol {
            instrument,
            start_price,
        })
    }
}

/// Parameters of the synthetic feed.
#[derive(Debug, Clone)]
pub struct SyntheticConfig {
    pub symbols: Vec<SyntheticSymbol>,
    /// Annual drift μ (0.05 = 5% a year).
    pub drift: f64,
    /// Annual volatility σ (0.2 = 20% a year).
    pub volatility: f64,
    /// Mean trades per second per symbol.
    pub ticks_per_second: f64,
    pub start: Timestamp,
    pub seed: u64,
}

impl SyntheticConfig {
    fn validate(&self) -> Result<(), DomainError> {
        let bad = |field: &'static str, reason: &str| {
            Err(DomainError::OutOfRange {
                field,
                reason: reason.to_owned(),
            })
        };
        if self.symbols.is_empty() {
            return bad("symbols", "at least one symbol is needed");
        }
        if !self.drift.is_finite() || self.drift.abs() > 10.0 {
            return bad("drift", "must be finite and within ±10 (1000% a year)");
        }
        if !self.volatility.is_finite() || !(0.0..=10.0).contains(&self.volatility) {
            return bad("volatility", "must be between 0 and 10");
        }
        if !self.ticks_per_second.is_finite() || !(1e-6..=1e9).contains(&self.ticks_per_second) {
            return bad("ticks_per_second", "must be between 0.000001 and 1e9");
        }
        for s in &self.symbols {
            if !s.start_price.is_finite() || s.start_price <= 0.0 {
                return bad("start_price", "must be a positive number");
            }
        }
        Ok(())
    }
}

#[derive(Debug, Clone)]
struct Walker {
    instrument: Instrument,
    tick_size: f64,
    price: f64,
    /// The last price shown, the fallback should rounding ever fail to convert.
    last: Price,
    next_time: i64,
}

/// An endless iterator of ticks.
#[derive(Debug, Clone)]
pub struct SyntheticFeed {
    config: SyntheticConfig,
    rng: SplitMix64,
    walkers: Vec<Walker>,
}

impl SyntheticFeed {
    pub fn new(config: SyntheticConfig) -> Result<Self, DomainError> {
        config.validate()?;
        let mut rng = SplitMix64::new(config.seed);
        let mut walkers = Vec::with_capacity(config.symbols.len());
        for s in &config.symbols {
            let tick_size = s.instrument.tick_size().try_into().unwrap_or(0.01);
            let start_ticks = (s.start_price / tick_size).round().max(1.0) as i64;
            let mut w = Walker {
                instrument: s.instrument.clone(),
                tick_size,
                price: s.start_price,
                last: s.instrument.ticks_to_price(start_ticks)?,
                next_time: config.start.nanos(),
            };
            w.next_time += exponential_gap_nanos(&mut rng, config.ticks_per_second);
            walkers.push(w);
        }
        Ok(SyntheticFeed {
            config,
            rng,
            walkers,
        })
    }

    fn step(&mut self, i: usize) -> Tick {
        let gap = exponential_gap_nanos(&mut self.rng, self.config.ticks_per_second);
        let (mu, sigma) = (self.config.drift, self.config.volatility);
        let z = self.rng.normal();
        let size_lots = 1 + self.rng.below(100);
        let w = &mut self.walkers[i];
        let time = w.next_time;
        let dt = gap as f64 / 1e9 / SECONDS_PER_YEAR;
        w.price *= ((mu - 0.5 * sigma * sigma) * dt + sigma * dt.sqrt() * z).exp();
        // Keep the walk inside what a tick grid can show.
        w.price = w.price.clamp(w.tick_size, 1e12);
        w.next_time = time.saturating_add(gap);
        let ticks = (w.price / w.tick_size).round().max(1.0) as i64;
        // Both conversions are of small positive integers and cannot fail; the fallbacks
        // keep this total.
        let price = w.instrument.ticks_to_price(ticks).unwrap_or(w.last);
        w.last = price;
        let size = w
            .instrument
            .lots_to_quantity(size_lots)
            .unwrap_or(w.instrument.min_quantity());
        Tick {
            symbol: w.instrument.symbol(),
            time: Timestamp::from_nanos(time),
            price,
            size,
            bid: None,
            ask: None,
        }
    }
}

fn exponential_gap_nanos(rng: &mut SplitMix64, rate: f64) -> i64 {
    let u = 1.0 - rng.next_f64(); // (0, 1]
    let seconds = -u.ln() / rate;
    (seconds * 1e9).round().max(1.0) as i64
}

impl Iterator for SyntheticFeed {
    type Item = Tick;

    fn next(&mut self) -> Option<Tick> {
        let (i, _) = self
            .walkers
            .iter()
            .enumerate()
            .min_by_key(|(_, w)| w.next_time)?;
        Some(self.step(i))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(seed: u64) -> SyntheticConfig {
        SyntheticConfig {
            symbols: vec![
                SyntheticSymbol::simple("AAA", 100.0).unwrap(),
                SyntheticSymbol::simple("BBB", 20.0).unwrap(),
            ],
            drift: 0.05,
            volatility: 0.3,
            ticks_per_second: 10.0,
            start: Timestamp::parse("2026-01-05T00:00:00Z").unwrap(),
            seed,
        }
    }

    #[test]
    fn same_seed_same_ticks_in_time_order() {
        let a: Vec<Tick> = SyntheticFeed::new(config(1)).unwrap().take(1000).collect();
        let b: Vec<Tick> = SyntheticFeed::new(config(1)).unwrap().take(1000).collect();
        assert_eq!(a, b);
        assert!(a.windows(2).all(|w| w[0].time <= w[1].time));
        assert!(
            a.iter().any(|t| t.symbol.as_str() == "AAA")
                && a.iter().any(|t| t.symbol.as_str() == "BBB")
        );
        let c: Vec<Tick> = SyntheticFeed::new(config(2)).unwrap().take(1000).collect();
        assert_ne!(a, c);
    }

    #[test]
    fn rate_and_volatility_are_roughly_as_configured() {
        let mut cfg = config(7);
        cfg.symbols = vec![SyntheticSymbol::simple("AAA", 10_000.0).unwrap()];
        cfg.ticks_per_second = 100.0;
        let ticks: Vec<Tick> = SyntheticFeed::new(cfg.clone())
            .unwrap()
            .take(100_000)
            .collect();
        let span = (ticks.last().unwrap().time.nanos() - ticks[0].time.nanos()) as f64 / 1e9;
        let rate = ticks.len() as f64 / span;
        assert!((rate - 100.0).abs() < 3.0, "rate {rate}");
        // Annualized volatility of log returns sampled every 100 ticks (about a second),
        // coarse enough that rounding to the tick size does not add noise.
        let prices: Vec<f64> = ticks
            .iter()
            .step_by(100)
            .map(|t| t.price.value().try_into().unwrap())
            .collect();
        let returns: Vec<f64> = prices.windows(2).map(|w| (w[1] / w[0]).ln()).collect();
        let mean = returns.iter().sum::<f64>() / returns.len() as f64;
        let var = returns.iter().map(|r| (r - mean).powi(2)).sum::<f64>() / returns.len() as f64;
        let annual = (var / (100.0 / rate) * SECONDS_PER_YEAR).sqrt();
        assert!(
            (annual - 0.3).abs() < 0.05,
            "annualized volatility {annual}"
        );
    }

    /// The drift estimate: per-tick log returns summed over many independent paths,
    /// divided by the time they span, plus the Itô term σ²/2 (the log price drifts at
    /// μ − σ²/2).
    ///
    /// Tolerance: the steps are exact GBM, so given the (independent) gaps the summed log
    /// return is `(μ − σ²/2)·T + σ·W(T)` and the estimate is `μ + σ·W(T)/T`, normal with
    /// standard deviation `σ/√T` whatever the tick rate. 400 paths of 25 years give
    /// T = 10,000 years: σ = 0.2 → SD 0.002, and the bound of 0.008 is 4 SD (a seed
    /// failing it by chance: p ≈ 6e-5). It is 6 SD away from ignoring μ = 0.05, and the Itô
    /// term itself (0.02) is 10 SD, so a missing or doubled correction fails too. Paths are
    /// kept short (log SD σ√25 = 1 from 10,000) so no price nears the clamps or rounds by
    /// more than 1e-3 of itself; the rate is the slowest allowed (one tick per 11.6 days on
    /// average, ~790 per path), since it does not affect the precision.
    #[test]
    fn realized_mean_log_return_matches_the_drift() {
        const PATHS: u64 = 400;
        const YEARS: f64 = 25.0;
        let sigma = 0.2;
        let start = Timestamp::parse("2026-01-05T00:00:00Z").unwrap();
        let end = start.nanos() + (YEARS * SECONDS_PER_YEAR * 1e9) as i64;
        for mu in [0.05, -0.10] {
            let (mut log_return, mut years, mut steps) = (0.0f64, 0.0f64, 0u64);
            for seed in 0..PATHS {
                let feed = SyntheticFeed::new(SyntheticConfig {
                    symbols: vec![SyntheticSymbol::simple("AAA", 10_000.0).unwrap()],
                    drift: mu,
                    volatility: sigma,
                    ticks_per_second: 1e-6,
                    start,
                    seed,
                })
                .unwrap();
                let mut previous: Option<(f64, i64)> = None;
                for tick in feed.take_while(|t| t.time.nanos() < end) {
                    let price: f64 = tick.price.value().try_into().unwrap();
                    if let Some((p, t)) = previous {
                        log_return += (price / p).ln();
                        years += (tick.time.nanos() - t) as f64 / 1e9 / SECONDS_PER_YEAR;
                        steps += 1;
                    }
                    previous = Some((price, tick.time.nanos()));
                }
            }
            assert!(
                // First to last tick of each path: a gap or two short of 25 years.
                (years / (PATHS as f64 * YEARS) - 1.0).abs() < 0.01 && steps > 300_000,
                "{years} years in {steps} steps"
            );
            let estimate = log_return / years + sigma * sigma / 2.0;
            assert!(
                (estimate - mu).abs() < 0.008,
                "drift {mu}: estimated {estimate}"
            );
        }
    }

    #[test]
    fn bad_parameters_are_refused() {
        let mut c = config(1);
        c.volatility = f64::NAN;
        assert!(SyntheticFeed::new(c).is_err());
        let mut c = config(1);
        c.ticks_per_second = 0.0;
        assert!(SyntheticFeed::new(c).is_err());
        let mut c = config(1);
        c.symbols.clear();
        assert!(SyntheticFeed::new(c).is_err());
    }
}
