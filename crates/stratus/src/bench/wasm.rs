//! `stratus bench wasm-backtest` and `stratus bench wasm-core`: users' modules in the
//! sandbox against the built-in they mirror.
//!
//! The module is the example `wasm/examples/sma_cross` (built by
//! `scripts/build-wasm-examples`), which trades exactly as the built-in `sma_cross`.
//!
//! - `wasm-backtest`: the same synthetic one-minute bars (in memory: the engine and the
//!   strategy are timed, not the file) through the built-in and through the module, in
//!   one run; bars/s of each, the time each module callback adds (ns), and whether the
//!   trades are identical.
//! - `wasm-core`: the live core's engine with 100 module deployments over 4 symbols fed
//!   synthetic trades: the trades/s it sustains against the feed's rate.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use anyhow::Context as _;
use clap::Args;
use domain::{AccountId, Decimal, Money, StrategyId, Symbol, Timeframe, Timestamp};
use engine::backtest::{self, BacktestConfig};
use engine::engine::{Engine, EngineEvent};
use engine::market_data::Record;
use engine::paper::CostModel;
use engine::strategy::{Builtins, StrategyConfig, StrategyFactory};
use engine::wasm::WasmModules;

use super::backtest::synthetic_bars;
use super::pipeline::synthetic_market;

const DEFAULT_MODULE: &str = "target/wasm/wasm32-unknown-unknown/release/sma_cross.wasm";

#[derive(Debug, Args)]
pub struct WasmBacktestArgs {
    /// The sma_cross module (`scripts/build-wasm-examples` builds it).
    #[arg(long, value_name = "FILE", default_value = DEFAULT_MODULE)]
    module: PathBuf,
    /// Number of one-minute bars.
    #[arg(long, default_value_t = 1_000_000)]
    bars: usize,
    /// Timed passes of each; the fastest is reported.
    #[arg(long, default_value_t = 3)]
    passes: usize,
    #[arg(long, default_value_t = 30)]
    period: usize,
    #[arg(long, default_value_t = 1)]
    seed: u64,
}

#[derive(Debug, Args)]
pub struct WasmCoreArgs {
    #[arg(long, value_name = "FILE", default_value = DEFAULT_MODULE)]
    module: PathBuf,
    /// Module deployments, spread over the symbols (SMA periods 10, 11, …).
    #[arg(long, default_value_t = 100)]
    strategies: usize,
    #[arg(long, default_value_t = 4)]
    symbols: usize,
    /// Trades generated over all symbols.
    #[arg(long, default_value_t = 1_000_000)]
    ticks: usize,
    /// Mean trades per second per symbol of the synthetic feed (`stratus up`'s is 5).
    #[arg(long, default_value_t = 5.0)]
    ticks_per_second: f64,
    #[arg(long, default_value_t = 1)]
    seed: u64,
}

fn load(path: &Path) -> anyhow::Result<WasmModules> {
    let bytes = std::fs::read(path).with_context(|| {
        format!(
            "{}: cannot read (build the example modules with scripts/build-wasm-examples)",
            path.display()
        )
    })?;
    let modules = WasmModules::default();
    modules
        .insert("sma_cross", &bytes)
        .map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
    Ok(modules)
}

fn backtest_once(
    bars: &[domain::Candle],
    strategy: &str,
    strategies: Arc<dyn StrategyFactory>,
    period: usize,
) -> anyhow::Result<(f64, backtest::BacktestReport)> {
    let config = BacktestConfig {
        symbol: bars[0].symbol,
        strategy: strategy.into(),
        params: serde_json::json!({ "period": period, "size": 10 }),
        cash: Money::new(Decimal::from(100_000)),
        costs: CostModel::default(),
        timeframe: None,
        from: None,
        to: None,
        tick_size: Decimal::new(1, 2),
        strategies,
    };
    let started = Instant::now();
    let report = backtest::run(
        bars.iter().map(|c| Ok(Record::Bar(*c))),
        &config,
        &mut |_| {},
    )?;
    Ok((started.elapsed().as_secs_f64(), report))
}

pub fn backtest(args: WasmBacktestArgs) -> anyhow::Result<()> {
    anyhow::ensure!(args.bars >= 100, "--bars must be at least 100");
    anyhow::ensure!(args.passes >= 1, "--passes must be at least 1");
    let modules: Arc<dyn StrategyFactory> = Arc::new(load(&args.module)?);
    let bars = synthetic_bars(Symbol::parse("BENCH")?, args.bars, args.seed)?;
    let (mut builtin, mut module) = (f64::MAX, f64::MAX);
    let mut reports = None;
    for pass in 0..args.passes {
        let (b, ours) = backtest_once(&bars, "sma_cross", Arc::new(Builtins), args.period)?;
        let (m, theirs) = backtest_once(&bars, "wasm:sma_cross", modules.clone(), args.period)?;
        eprintln!(
            "wasm-backtest: pass {}: built-in {:.0} bars/s, module {:.0} bars/s",
            pass + 1,
            args.bars as f64 / b,
            args.bars as f64 / m
        );
        builtin = builtin.min(b);
        module = module.min(m);
        reports = Some((ours, theirs));
    }
    let Some((ours, theirs)) = reports else {
        anyhow::bail!("no pass ran");
    };
    let same = ours.fills.len() == theirs.fills.len()
        && ours.fills.iter().zip(&theirs.fills).all(|(a, b)| {
            (a.side, a.quantity, a.price, a.fee, a.time)
                == (b.side, b.quantity, b.price, b.fee, b.time)
        })
        && ours.final_equity == theirs.final_equity;
    anyhow::ensure!(same, "the module's trades differ from the built-in's");
    let line = serde_json::json!({
        "bench": "wasm-backtest",
        "bars": args.bars,
        "builtin_bars_per_sec": (args.bars as f64 / builtin).round(),
        "wasm_bars_per_sec": (args.bars as f64 / module).round(),
        // Each bar is one on_candle callback: what the sandbox adds to it.
        "callback_overhead_ns": (((module - builtin) / args.bars as f64) * 1e9).round(),
        "fills": ours.fills.len(),
        "same_trades": same,
    });
    println!("{line}");
    Ok(())
}

pub fn core(args: WasmCoreArgs) -> anyhow::Result<()> {
    anyhow::ensure!(
        (1..=10_000).contains(&args.strategies),
        "--strategies must be between 1 and 10000"
    );
    let modules: Arc<dyn StrategyFactory> = Arc::new(load(&args.module)?);
    let (symbols, ticks) =
        synthetic_market(args.symbols, args.ticks_per_second, args.ticks, args.seed)?;
    let mut engine = Engine::new(CostModel::default());
    engine.set_strategies(modules);
    engine.refuse_overdraft(true);
    for s in &symbols {
        engine.add_instrument(s.instrument.clone());
    }
    for i in 0..args.strategies {
        // One account per deployment, as users' deployments are.
        let account = AccountId::derived(&format!("bench-wasm-core-{i}"));
        engine.open_account(account, Money::new(Decimal::from(1_000_000)));
        let symbol = symbols[i % symbols.len()].instrument.symbol();
        let config = StrategyConfig::new(
            vec![symbol],
            vec![Timeframe::M1],
            serde_json::json!({ "period": 10 + i % 40, "size": 1 }),
        );
        engine.deploy(
            StrategyId::derived(&format!("bench-wasm-core-{i}")),
            account,
            "wasm:sma_cross",
            config,
        )?;
    }
    let mut out: Vec<EngineEvent> = Vec::with_capacity(256);
    let (mut fills, mut candles, mut faults) = (0u64, 0u64, 0u64);
    let started = Instant::now();
    let mut last_second = ticks.first().map_or(0, |t| t.time.nanos() / 1_000_000_000);
    for tick in &ticks {
        out.clear();
        // The live core's timer: once a second of feed time.
        let second = tick.time.nanos() / 1_000_000_000;
        if second != last_second {
            last_second = second;
            engine.on_timer(Timestamp::from_secs(second), &mut out);
        }
        engine.on_tick(tick, &mut out);
        for event in &out {
            match event {
                EngineEvent::Filled(_) => fills += 1,
                EngineEvent::Candle(_) => candles += 1,
                EngineEvent::StrategyFaulted { .. } => faults += 1,
                _ => {}
            }
        }
    }
    let elapsed = started.elapsed().as_secs_f64();
    anyhow::ensure!(faults == 0, "{faults} modules faulted");
    let rate = ticks.len() as f64 / elapsed;
    let feed_rate = args.ticks_per_second * args.symbols as f64;
    let feed_seconds = ticks
        .last()
        .zip(ticks.first())
        .map_or(0.0, |(l, f)| (l.time.nanos() - f.time.nanos()) as f64 / 1e9);
    eprintln!(
        "wasm-core: {} trades ({feed_seconds:.0} s of feed) in {elapsed:.2}s, {candles} candles, {fills} fills",
        ticks.len()
    );
    let line = serde_json::json!({
        "bench": "wasm-core",
        "modules": args.strategies,
        "symbols": args.symbols,
        "ticks": ticks.len(),
        "ticks_per_sec": rate.round(),
        "feed_ticks_per_sec": feed_rate,
        // How many times faster than the feed the engine runs with every module in it.
        "headroom": (rate / feed_rate * 10.0).round() / 10.0,
        "keeps_up": rate >= feed_rate,
        "candles": candles,
        "fills": fills,
    });
    println!("{line}");
    Ok(())
}
