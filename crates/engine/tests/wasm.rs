//! Users' modules in the sandbox: the example `sma_cross` trades exactly as the built-in,
//! state survives a restore, the rotation example trades across symbols, and every kind
//! of bad module is refused at upload or stopped with its reason without touching any
//! other strategy.

#![allow(clippy::unwrap_used)] // integration tests: a failed unwrap is a failed test

#[path = "support/wasm_examples.rs"]
mod wasm_examples;

use std::path::PathBuf;
use std::sync::Arc;

use domain::{
    AccountId, Candle, Currency, Decimal, Fill, Instrument, Money, Price, Quantity, StrategyId,
    Symbol, Timeframe, Timestamp,
};
use engine::backtest::{self, BacktestConfig};
use engine::engine::{Engine, EngineEvent, EngineSnapshot};
use engine::paper::CostModel;
use engine::strategy::{StrategyConfig, StrategyError, StrategyFactory};
use engine::wasm::{self, Limits, WasmError, WasmModules};

fn data(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../data")
        .join(name)
}

fn sym(s: &str) -> Symbol {
    Symbol::parse(s).unwrap()
}

fn backtest_config(
    strategies: Arc<dyn StrategyFactory>,
    strategy: &str,
    params: serde_json::Value,
    symbol: Symbol,
) -> BacktestConfig {
    BacktestConfig {
        symbol,
        strategy: strategy.into(),
        params,
        cash: Money::new(Decimal::from(100_000)),
        costs: CostModel::default(),
        timeframe: None,
        from: None,
        to: None,
        tick_size: Decimal::new(1, 6),
        strategies,
    }
}

fn backtest_of(
    config: &BacktestConfig,
    file: &str,
) -> Result<backtest::BacktestReport, backtest::BacktestError> {
    let reader = engine::market_data::csv::DataReader::open(&data(file), config.symbol).unwrap();
    backtest::run(reader, config, &mut |_| {})
}

fn backtest_with(
    strategies: Arc<dyn StrategyFactory>,
    strategy: &str,
    params: serde_json::Value,
    file: &str,
    symbol: Symbol,
) -> backtest::BacktestReport {
    backtest_of(&backtest_config(strategies, strategy, params, symbol), file).unwrap()
}

fn trades(fills: &[Fill]) -> Vec<(domain::Side, Decimal, Decimal, Decimal, Timestamp)> {
    fills
        .iter()
        .map(|f| {
            (
                f.side,
                f.quantity.value(),
                f.price.value(),
                f.fee.value(),
                f.time,
            )
        })
        .collect()
}

#[test]
fn the_sma_cross_module_makes_the_builtins_trades_to_the_cent() {
    let Some(bytes) = wasm_examples::example("sma_cross") else {
        return;
    };
    let modules = WasmModules::default();
    let info = modules.insert("sma", &bytes).unwrap();
    assert_eq!(info.name, "SMA cross (module)");
    // The declaration is the catalog's form: the built-in's schema, property by property.
    let builtin = engine::strategy::builtin::info("sma_cross")
        .unwrap()
        .params_schema();
    assert_eq!(info.params_schema["properties"], builtin["properties"]);
    let modules: Arc<dyn StrategyFactory> = Arc::new(modules);
    for (file, symbol, params) in [
        (
            "orcl-1995-2014.txt",
            "ORCL",
            serde_json::json!({"period": 30, "size": 100}),
        ),
        (
            "nvda-1999-2014.txt",
            "NVDA",
            serde_json::json!({"period": 15, "size": "2.5"}),
        ),
        ("orcl-1995-2014.txt", "ORCL", serde_json::json!({})),
    ] {
        let symbol = sym(symbol);
        let ours = backtest_with(
            Arc::new(engine::strategy::Builtins),
            "sma_cross",
            params.clone(),
            file,
            symbol,
        );
        let theirs = backtest_with(modules.clone(), "wasm:sma", params.clone(), file, symbol);
        assert!(ours.fills.len() > 20, "{file}: {} fills", ours.fills.len());
        assert_eq!(
            trades(&ours.fills),
            trades(&theirs.fills),
            "{file} {params}"
        );
        assert_eq!(ours.final_equity, theirs.final_equity);
        assert_eq!(ours.final_cash, theirs.final_cash);
    }
}

fn bars(symbol: Symbol, closes: &[f64], start: usize) -> Vec<Candle> {
    closes
        .iter()
        .enumerate()
        .map(|(i, c)| {
            let t = Timestamp::from_secs(86_400 * (start + i) as i64);
            let p = Price::new(Decimal::try_from(*c).unwrap().round_dp(2)).unwrap();
            Candle {
                symbol,
                timeframe: Timeframe::D1,
                start: t,
                end: Timestamp::from_secs(86_400 * (start + i + 1) as i64),
                open: p,
                high: p,
                low: p,
                close: p,
                volume: Quantity::new(Decimal::from(1_000)).unwrap(),
                trades: 1,
            }
        })
        .collect()
}

fn instrument(symbol: Symbol) -> Instrument {
    Instrument::new(
        symbol,
        Decimal::new(1, 2),
        Decimal::new(1, 8),
        Decimal::new(1, 8),
        Currency::USD,
    )
    .unwrap()
}

/// An engine with `symbols`, one account with 100,000, and the factory.
fn engine(symbols: &[Symbol], strategies: Arc<dyn StrategyFactory>) -> (Engine, AccountId) {
    let mut e = Engine::new(CostModel::default());
    e.set_strategies(strategies);
    for s in symbols {
        e.add_instrument(instrument(*s));
    }
    let account = AccountId::from_u128(1);
    e.open_account(account, Money::new(Decimal::from(100_000)));
    (e, account)
}

/// A wave per symbol, phase-shifted, so that leadership changes.
fn waves(symbols: &[Symbol], n: usize) -> Vec<Candle> {
    let mut all = Vec::new();
    for i in 0..n {
        for (k, s) in symbols.iter().enumerate() {
            let x = i as f64 / 9.0 + k as f64 * 2.1;
            let close = 100.0 + 20.0 * x.sin() + i as f64 * 0.05;
            all.extend(bars(*s, &[close], i));
        }
    }
    all
}

fn fills_of(events: &[EngineEvent]) -> Vec<Fill> {
    events
        .iter()
        .filter_map(|e| match e {
            EngineEvent::Filled(f) => Some(f.clone()),
            _ => None,
        })
        .collect()
}

#[test]
fn the_rotation_module_holds_one_leader_across_symbols_and_survives_a_restore() {
    let Some(bytes) = wasm_examples::example("rotation") else {
        return;
    };
    let modules = WasmModules::default();
    modules.insert("rot", &bytes).unwrap();
    let modules: Arc<dyn StrategyFactory> = Arc::new(modules);
    let symbols = [sym("AAA"), sym("BBB"), sym("CCC")];
    let config = StrategyConfig::new(
        symbols.to_vec(),
        vec![Timeframe::D1],
        serde_json::json!({"lookback": 10, "margin": 0.0, "precision": 2}),
    );
    let candles = waves(&symbols, 300);
    let run = |cut: Option<usize>| {
        let (mut e, account) = engine(&symbols, modules.clone());
        let id = StrategyId::from_u128(7);
        e.deploy(id, account, "wasm:rot", config.clone()).unwrap();
        let mut events = Vec::new();
        for (i, c) in candles.iter().enumerate() {
            if Some(i) == cut {
                let snapshot: EngineSnapshot =
                    serde_json::from_str(&serde_json::to_string(&e.snapshot()).unwrap()).unwrap();
                e = Engine::restore_with(snapshot, modules.clone()).unwrap();
                assert!(e.take_restore_failures().is_empty());
            }
            e.on_bar(c, &mut events);
        }
        (fills_of(&events), e)
    };
    let (whole, e) = run(None);
    let traded: std::collections::BTreeSet<Symbol> = whole.iter().map(|f| f.symbol).collect();
    assert_eq!(traded.len(), 3, "rotated through every symbol: {traded:?}");
    let held = symbols
        .iter()
        .filter(|s| {
            !e.portfolio(AccountId::from_u128(1))
                .unwrap()
                .quantity(**s)
                .is_zero()
        })
        .count();
    assert!(held <= 1, "holds only the leader");
    // Deterministic, and a restore in the middle changes nothing.
    assert_eq!(trades(&whole), trades(&run(None).0));
    assert_eq!(trades(&whole), trades(&run(Some(451)).0));
}

// ---- hand-written modules (WAT) for the refusals and the faults ----

/// A module implementing the ABI whose `on_candle` body is `on_candle` and whose init
/// body is `init`, with extra `imports` and `items`.
fn module(imports: &str, init: &str, on_candle: &str, items: &str) -> Vec<u8> {
    wat(&format!(
        r#"(module
  {imports}
  (memory (export "memory") 1)
  (global $heap (mut i32) (i32.const 4096))
  (func (export "stratus_alloc") (param $n i32) (result i32)
    (local $p i32)
    (local.set $p (global.get $heap))
    (global.set $heap (i32.add (global.get $heap) (local.get $n)))
    (local.get $p))
  (func (export "stratus_init") {init})
  (func (export "stratus_on_candle") (param i32 i64 i64 f64 f64 f64 f64 f64) {on_candle})
  (func (export "stratus_snapshot") (result i64) (i64.const 0))
  (func (export "stratus_restore") (param i32 i32))
  {items}
  (@custom "stratus.strategy" "{{\"abi\": 1, \"name\": \"test\", \"summary\": \"a test module\", \"params\": {{}}}}")
)"#
    ))
}

fn wat(text: &str) -> Vec<u8> {
    wat::parse_str(text).unwrap_or_else(|e| panic!("{e}\n{text}"))
}

fn inspect(bytes: &[u8]) -> Result<wasm::ModuleInfo, WasmError> {
    wasm::inspect(bytes, &Limits::default())
}

#[test]
fn a_minimal_module_passes_the_upload_check() {
    let info = inspect(&module("", "", "", "")).unwrap();
    assert_eq!(info.name, "test");
    assert_eq!(info.abi_version, 1);
    assert_eq!(info.params_schema["type"], "object");
}

#[test]
fn bad_modules_are_refused_at_upload_with_the_reason() {
    let cases: Vec<(Vec<u8>, &str)> = vec![
        (b"hello world".to_vec(), "not a WebAssembly module"),
        (vec![0; 2 << 20], "the limit is 1048576"),
        (b"\0asm\x01\0\0\0\x99".to_vec(), "invalid WebAssembly"),
        (
            module(r#"(import "env" "foo" (func))"#, "", "", ""),
            "imports env.foo, which is not part of the Stratus ABI",
        ),
        (
            module(
                r#"(import "wasi_snapshot_preview1" "clock_time_get" (func (param i32 i64 i32) (result i32)))"#,
                "",
                "",
                "",
            ),
            "wasi_snapshot_preview1.clock_time_get",
        ),
        (
            module(
                r#"(import "stratus" "now" (func (result i32)))"#,
                "",
                "",
                "",
            ),
            "imports stratus.now as () -> (i32); the ABI's is () -> (i64)",
        ),
        (
            wat(r#"(module (memory (export "memory") 1)
                 (func (export "stratus_init"))
                 (@custom "stratus.strategy" "{\"abi\":1,\"name\":\"x\",\"summary\":\"y\"}"))"#),
            "does not export `stratus_alloc`",
        ),
        (
            module("", "", "", r#"(func $s) (start $s)"#),
            "start function",
        ),
    ];
    for (bytes, reason) in cases {
        let err = inspect(&bytes).expect_err(reason).to_string();
        assert!(err.contains(reason), "{err:?} should say {reason:?}");
    }
    // Memory declared past the cap.
    let big = wat(r#"(module (memory (export "memory") 1000)
        (func (export "stratus_alloc") (param i32) (result i32) (i32.const 0))
        (func (export "stratus_init"))
        (func (export "stratus_on_candle") (param i32 i64 i64 f64 f64 f64 f64 f64))
        (func (export "stratus_snapshot") (result i64) (i64.const 0))
        (func (export "stratus_restore") (param i32 i32))
        (@custom "stratus.strategy" "{\"abi\":1,\"name\":\"x\",\"summary\":\"y\"}"))"#);
    let err = inspect(&big).unwrap_err().to_string();
    assert!(err.contains("declares 65536000 bytes of memory"), "{err}");
    // Declarations: missing, not JSON, another ABI, a parameter kind it cannot take.
    let without = wat(r#"(module (memory (export "memory") 1)
        (func (export "stratus_alloc") (param i32) (result i32) (i32.const 0))
        (func (export "stratus_init"))
        (func (export "stratus_on_candle") (param i32 i64 i64 f64 f64 f64 f64 f64))
        (func (export "stratus_snapshot") (result i64) (i64.const 0))
        (func (export "stratus_restore") (param i32 i32)))"#);
    assert!(
        inspect(&without)
            .unwrap_err()
            .to_string()
            .contains("missing")
    );
    for (declaration, reason) in [
        ("not json", "not JSON"),
        (
            r#"{\"abi\": 2, \"name\": \"x\", \"summary\": \"y\"}"#,
            "this host implements ABI 1",
        ),
        (
            r#"{\"abi\": 1, \"summary\": \"y\"}"#,
            "`name` must be a string",
        ),
        (
            r#"{\"abi\": 1, \"name\": \"x\", \"summary\": \"y\", \"params\": {\"properties\": {\"on\": {\"type\": \"boolean\", \"default\": true}}}}"#,
            "parameter \"on\"",
        ),
    ] {
        let bytes = wat(&format!(
            r#"(module (memory (export "memory") 1)
            (func (export "stratus_alloc") (param i32) (result i32) (i32.const 0))
            (func (export "stratus_init"))
            (func (export "stratus_on_candle") (param i32 i64 i64 f64 f64 f64 f64 f64))
            (func (export "stratus_snapshot") (result i64) (i64.const 0))
            (func (export "stratus_restore") (param i32 i32))
            (@custom "stratus.strategy" "{declaration}"))"#
        ));
        let err = inspect(&bytes).unwrap_err().to_string();
        assert!(err.contains(reason), "{err:?} should say {reason:?}");
    }
}

/// Deploys `bytes` as module "m" and the built-in `sma_cross` on another account, feeds
/// both the same bars: returns the module's fault events, and the built-in's fills.
fn run_next_to_a_builtin(bytes: &[u8], limits: Limits) -> (Vec<String>, Vec<Fill>) {
    let modules = WasmModules::new(limits);
    modules.insert("m", bytes).unwrap();
    let symbol = sym("ORCL");
    let (mut e, account) = engine(&[symbol], Arc::new(modules));
    let other = AccountId::from_u128(2);
    e.open_account(other, Money::new(Decimal::from(100_000)));
    let config = StrategyConfig::new(vec![symbol], vec![Timeframe::D1], serde_json::json!({}));
    e.deploy(StrategyId::from_u128(1), account, "wasm:m", config.clone())
        .unwrap();
    e.deploy(StrategyId::from_u128(2), other, "sma_cross", config)
        .unwrap();
    let mut events = Vec::new();
    let closes: Vec<f64> = (0..200)
        .map(|i| 100.0 + 10.0 * (i as f64 / 7.0).sin())
        .collect();
    for c in bars(symbol, &closes, 0) {
        e.on_bar(&c, &mut events);
    }
    let faults = events
        .iter()
        .filter_map(|e| match e {
            EngineEvent::StrategyFaulted {
                strategy, reason, ..
            } => {
                assert_eq!(*strategy, StrategyId::from_u128(1));
                Some(reason.clone())
            }
            _ => None,
        })
        .collect();
    let theirs = fills_of(&events)
        .into_iter()
        .filter(|f| f.account_id == other)
        .collect();
    // The module's deployment is paused for good: it stays listed, and resuming it
    // does not run it again.
    assert!(e.set_paused(StrategyId::from_u128(1), false).is_ok());
    (faults, theirs)
}

/// The built-in's fills when it runs alone.
fn builtin_alone() -> Vec<Fill> {
    run_next_to_a_builtin(&module("", "", "", ""), Limits::default()).1
}

#[test]
fn a_module_that_misbehaves_is_stopped_with_the_reason_and_nothing_else_changes() {
    let alone = builtin_alone();
    assert!(!alone.is_empty());
    let submit = r#"(import "stratus" "submit" (func $submit (param i32)))"#;
    let cases = [
        (
            module("", "", "(loop $l (br $l))", ""),
            "on_candle: ran out of fuel (20000000 per call)",
        ),
        (
            module("", "", "(call $deep)", "(func $deep (call $deep))"),
            "on_candle: call stack exhausted",
        ),
        (
            module("", "", "(drop (memory.grow (i32.const 1000)))", ""),
            "grew its memory past the limit of 33554432 bytes",
        ),
        (module("", "", "unreachable", ""), "on_candle: trapped"),
        (
            // side 7 at offset 4 of an order record at address 0.
            module(
                submit,
                "",
                "(i32.store (i32.const 4) (i32.const 7)) (call $submit (i32.const 0))",
                "",
            ),
            "malformed order: an order with side 7",
        ),
        (
            // quantity 0.
            module(submit, "", "(call $submit (i32.const 0))", ""),
            "malformed order: an order for quantity 0",
        ),
        (
            module(submit, "", "(call $submit (i32.const 65530))", ""),
            "outside its memory",
        ),
        (
            module(
                r#"(import "stratus" "fail" (func $fail (param i32 i32)))"#,
                "",
                "(call $fail (i32.const 100) (i32.const 4)) ",
                r#"(data (i32.const 100) "boom")"#,
            ),
            "on_candle: failed: boom",
        ),
        (
            module(
                r#"(import "stratus" "indicator_value" (func $v (param i32 i32) (result f64)))"#,
                "",
                "(drop (call $v (i32.const 3) (i32.const 0)))",
                "",
            ),
            "indicator id 3, which it did not register",
        ),
    ];
    for (bytes, reason) in cases {
        let (faults, theirs) = run_next_to_a_builtin(&bytes, Limits::default());
        assert_eq!(faults.len(), 1, "{reason}: reported once: {faults:?}");
        assert!(
            faults[0].contains(reason),
            "{:?} should say {reason:?}",
            faults[0]
        );
        assert_eq!(
            trades(&theirs),
            trades(&alone),
            "{reason}: the other strategy is unaffected"
        );
    }
}

#[test]
fn a_module_that_fails_in_init_is_refused_at_deployment() {
    let deploy = |bytes: &[u8]| {
        let modules = WasmModules::default();
        modules.insert("m", bytes).unwrap();
        let symbol = sym("ORCL");
        let (mut e, account) = engine(&[symbol], Arc::new(modules));
        let config = StrategyConfig::new(vec![symbol], vec![Timeframe::D1], serde_json::json!({}));
        e.deploy(StrategyId::from_u128(1), account, "wasm:m", config)
            .unwrap_err()
            .to_string()
    };
    let err = deploy(&module("", "(loop $l (br $l))", "", ""));
    assert!(
        err.contains("init: ran out of fuel (100000000 per call)"),
        "{err}"
    );
    let indicator =
        r#"(import "stratus" "indicator" (func $i (param i32 i64 i32 i32) (result i32)))"#;
    let err = deploy(&module(
        indicator,
        "(drop (call $i (i32.const 0) (i64.const 86400) (i32.const 100) (i32.const 6)))",
        "",
        r#"(data (i32.const 100) "sma:-1")"#,
    ));
    assert!(err.contains("indicator \"sma:-1\""), "{err}");
    let err = deploy(&module(
        indicator,
        "(drop (call $i (i32.const 0) (i64.const 60) (i32.const 100) (i32.const 6)))",
        "",
        r#"(data (i32.const 100) "sma:10")"#,
    ));
    assert!(
        err.contains("timeframe 60 s, which is not one of the deployment's"),
        "{err}"
    );
    // Parameters are checked against the declaration like a built-in's.
    let modules = WasmModules::default();
    modules.insert("m", &module("", "", "", "")).unwrap();
    let config = StrategyConfig::new(
        vec![sym("ORCL")],
        vec![Timeframe::D1],
        serde_json::json!({"period": 3}),
    );
    match modules.create("wasm:m", &config).unwrap_err() {
        StrategyError::InvalidParam { param, .. } => assert_eq!(param, "period"),
        other => panic!("{other}"),
    }
    assert!(matches!(
        modules.create("wasm:other", &config).unwrap_err(),
        StrategyError::UnknownModule { .. }
    ));
}

#[test]
fn a_module_whose_state_cannot_be_restored_is_reported_and_the_rest_restores() {
    let modules = WasmModules::default();
    modules.insert("m", &module("", "", "", "")).unwrap();
    let modules: Arc<dyn StrategyFactory> = Arc::new(modules);
    let symbol = sym("ORCL");
    let (mut e, account) = engine(&[symbol], modules.clone());
    let config = StrategyConfig::new(vec![symbol], vec![Timeframe::D1], serde_json::json!({}));
    e.deploy(StrategyId::from_u128(1), account, "wasm:m", config.clone())
        .unwrap();
    e.deploy(StrategyId::from_u128(2), account, "sma_cross", config)
        .unwrap();
    let mut snapshot = e.snapshot();
    snapshot.strategies[0].state = serde_json::json!({"bytes": "not base64!"});
    let mut restored = Engine::restore_with(snapshot.clone(), modules).unwrap();
    let failures = restored.take_restore_failures();
    assert_eq!(failures.len(), 1);
    assert_eq!(failures[0].0, StrategyId::from_u128(1));
    // Restored with the built-ins only, the module cannot be created: it is reported and
    // kept as a paused deployment that runs nothing (its orders stay its own, so
    // stopping it cancels them).
    let mut builtins = Engine::restore(snapshot).unwrap();
    let failures = builtins.take_restore_failures();
    assert_eq!(failures.len(), 1);
    assert!(
        failures[0].2.contains("no strategy module \"m\""),
        "{}",
        failures[0].2
    );
    let paused: Vec<(StrategyId, bool)> = builtins
        .strategies()
        .map(|(id, _, _, _, paused)| (id, paused))
        .collect();
    assert_eq!(
        paused,
        [
            (StrategyId::from_u128(1), true),
            (StrategyId::from_u128(2), false)
        ]
    );
    let mut events = Vec::new();
    builtins
        .stop(StrategyId::from_u128(1), &mut events)
        .unwrap();
}

/// `init` registering each of `specs` on symbol 0 of the daily timeframe.
fn registering(specs: &[&str]) -> Vec<u8> {
    let mut data = String::new();
    let mut calls = String::new();
    let mut at = 100;
    for spec in specs {
        data.push_str(&format!(r#"(data (i32.const {at}) "{spec}")"#));
        calls.push_str(&format!(
            "(drop (call $i (i32.const 0) (i64.const 86400) (i32.const {at}) (i32.const {})))",
            spec.len()
        ));
        at += spec.len() + 1;
    }
    module(
        r#"(import "stratus" "indicator" (func $i (param i32 i64 i32 i32) (result i32)))"#,
        &calls,
        "",
        &data,
    )
}

fn deploy_error(bytes: &[u8], limits: Limits) -> String {
    let modules = WasmModules::new(limits);
    modules.insert("m", bytes).unwrap();
    let symbol = sym("ORCL");
    let (mut e, account) = engine(&[symbol], Arc::new(modules));
    let config = StrategyConfig::new(vec![symbol], vec![Timeframe::D1], serde_json::json!({}));
    e.deploy(StrategyId::from_u128(1), account, "wasm:m", config)
        .unwrap_err()
        .to_string()
}

#[test]
fn indicators_are_capped_in_number_and_in_periods() {
    let many: Vec<String> = (1..=65).map(|n| format!("sma:{n}")).collect();
    let many: Vec<&str> = many.iter().map(String::as_str).collect();
    let err = deploy_error(&registering(&many), Limits::default());
    assert!(err.contains("registers more than 64 indicators"), "{err}");
    let err = deploy_error(&registering(&["sma:60000", "ema:60000"]), Limits::default());
    assert!(err.contains("over 100000 bars of periods"), "{err}");
    // The same registration twice is one indicator.
    let modules = WasmModules::default();
    modules
        .insert("m", &registering(&["sma:30", "sma:30", "rsi:14"]))
        .unwrap();
    let symbol = sym("ORCL");
    let (mut e, account) = engine(&[symbol], Arc::new(modules));
    let config = StrategyConfig::new(vec![symbol], vec![Timeframe::D1], serde_json::json!({}));
    e.deploy(StrategyId::from_u128(1), account, "wasm:m", config)
        .unwrap();
}

#[test]
fn a_module_that_spends_its_budget_on_every_callback_is_stopped() {
    // About 200,000 fuel a candle against a bucket of 1,000,000 that earns 1 fuel per
    // second of market time (86,400 a daily bar): drained within a few bars.
    let busy = module(
        "",
        "",
        "(local $n i32) (local.set $n (i32.const 50000)) (loop $l (local.set $n (i32.sub (local.get $n) (i32.const 1))) (br_if $l (local.get $n)))",
        "",
    );
    let limits = Limits {
        fuel_per_callback: 500_000,
        fuel_init: 1_000_000,
        fuel_per_second: 1,
        ..Limits::default()
    };
    let alone = builtin_alone();
    let (faults, theirs) = run_next_to_a_builtin(&busy, limits);
    assert_eq!(faults.len(), 1, "{faults:?}");
    assert!(
        faults[0].contains("used up its fuel budget (1 a second"),
        "{}",
        faults[0]
    );
    assert_eq!(trades(&theirs), trades(&alone));
    // With the default budget the same module runs to the end.
    let (faults, _) = run_next_to_a_builtin(&busy, Limits::default());
    assert!(faults.is_empty(), "{faults:?}");
}

#[test]
fn a_snapshot_that_fails_stops_the_module_at_its_next_callback() {
    let looping = wat(r#"(module (memory (export "memory") 1)
        (func (export "stratus_alloc") (param i32) (result i32) (i32.const 0))
        (func (export "stratus_init"))
        (func (export "stratus_on_candle") (param i32 i64 i64 f64 f64 f64 f64 f64))
        (func (export "stratus_snapshot") (result i64) (loop $l (br $l)) (i64.const 0))
        (func (export "stratus_restore") (param i32 i32))
        (@custom "stratus.strategy" "{\"abi\":1,\"name\":\"x\",\"summary\":\"y\"}"))"#);
    let modules = WasmModules::default();
    modules.insert("m", &looping).unwrap();
    let symbol = sym("ORCL");
    let (mut e, account) = engine(&[symbol], Arc::new(modules));
    let config = StrategyConfig::new(vec![symbol], vec![Timeframe::D1], serde_json::json!({}));
    e.deploy(StrategyId::from_u128(1), account, "wasm:m", config)
        .unwrap();
    let snapshot = e.snapshot();
    let error = snapshot.strategies[0].state["error"].as_str().unwrap();
    assert!(
        error.contains("snapshot: ran out of fuel (20000000 per call)"),
        "{error}"
    );
    let mut events = Vec::new();
    for c in bars(symbol, &[100.0, 101.0], 0) {
        e.on_bar(&c, &mut events);
    }
    let faults: Vec<&String> = events
        .iter()
        .filter_map(|e| match e {
            EngineEvent::StrategyFaulted { reason, .. } => Some(reason),
            _ => None,
        })
        .collect();
    assert_eq!(faults.len(), 1);
    assert!(
        faults[0].starts_with("snapshot: ran out of fuel"),
        "{}",
        faults[0]
    );
}

#[test]
fn a_backtest_of_a_module_that_faults_fails_with_the_reason() {
    let modules = WasmModules::default();
    modules
        .insert("m", &module("", "", "unreachable", ""))
        .unwrap();
    let config = backtest_config(
        Arc::new(modules),
        "wasm:m",
        serde_json::json!({}),
        sym("ORCL"),
    );
    let err = backtest_of(&config, "orcl-1995-2014.txt").unwrap_err();
    assert!(
        err.to_string()
            .starts_with("the strategy stopped: on_candle: trapped"),
        "{err}"
    );
}
