//! Strategies through the engine: parameter validation, what the built-ins trade and
//! when, paper fill timing, determinism, and snapshot/restore continuing exactly.

#![allow(clippy::unwrap_used)] // integration tests: a failed unwrap is a failed test

use std::path::PathBuf;

use domain::{
    AccountId, Candle, Currency, Decimal, Instrument, Money, Quantity, Side, StrategyId, Symbol,
    Timeframe, Timestamp,
};
use streaming_core::backtest::{self, BacktestConfig};
use streaming_core::engine::{Engine, EngineEvent};
use streaming_core::market_data::{MarketData, read_file};
use streaming_core::paper::CostModel;
use streaming_core::strategy::{self, StrategyConfig, StrategyError, builtin};

fn sym() -> Symbol {
    Symbol::parse("ORCL").unwrap()
}

fn data(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../data")
        .join(name)
}

fn orcl() -> Vec<Candle> {
    match read_file(&data("orcl-1995-2014.txt"), sym()).unwrap() {
        MarketData::Bars { candles, .. } => candles,
        MarketData::Ticks(_) => panic!("bars expected"),
    }
}

fn config(params: serde_json::Value) -> StrategyConfig {
    StrategyConfig::new(vec![sym()], vec![Timeframe::D1], params)
}

#[test]
fn parameters_are_validated_with_a_list_of_what_is_valid() {
    let err = strategy::create("sma_cross", &config(serde_json::json!({"perod": 30}))).unwrap_err();
    let text = err.to_string();
    assert!(
        text.contains("\"perod\"") && text.contains("period (") && text.contains("size ("),
        "{text}"
    );
    let err =
        strategy::create("sma_cross", &config(serde_json::json!({"period": "abc"}))).unwrap_err();
    assert!(err.to_string().contains("must be a whole number"), "{err}");
    let err = strategy::create("sma_cross", &config(serde_json::json!({"period": 0}))).unwrap_err();
    assert!(err.to_string().contains("between 1 and 10000"), "{err}");
    let err = strategy::create("sma_cross", &config(serde_json::json!({"size": -1}))).unwrap_err();
    assert!(err.to_string().contains("greater than zero"), "{err}");
    let err = strategy::create(
        "ema_cross",
        &config(serde_json::json!({"fast": 30, "slow": 10})),
    )
    .unwrap_err();
    assert!(err.to_string().contains("below slow"), "{err}");
    let err = strategy::create(
        "rsi_reversion",
        &config(serde_json::json!({"lower": 80, "upper": 20})),
    )
    .unwrap_err();
    assert!(err.to_string().contains("below upper"), "{err}");
    let err =
        strategy::create("bollinger_breakout", &config(serde_json::json!([1, 2]))).unwrap_err();
    assert!(err.to_string().contains("must be a JSON object"), "{err}");
    let err = strategy::create("teleport", &config(serde_json::Value::Null)).unwrap_err();
    assert!(matches!(err, StrategyError::UnknownStrategy { .. }));
    assert!(err.to_string().contains("sma_cross, ema_cross"), "{err}");
    // Numbers given as strings (as the CLI's --param passes them) are accepted.
    assert!(
        strategy::create(
            "sma_cross",
            &config(serde_json::json!({"period": "20", "size": "2.5"}))
        )
        .is_ok()
    );
    for name in builtin::NAMES {
        assert!(
            strategy::create(name, &config(serde_json::Value::Null)).is_ok(),
            "{name} with defaults"
        );
    }
}

fn engine_with(name: &str, params: serde_json::Value) -> (Engine, AccountId, StrategyId) {
    let mut engine = Engine::new(CostModel::default());
    engine.add_instrument(
        Instrument::new(
            sym(),
            Decimal::new(1, 6),
            Decimal::ONE,
            Decimal::ONE,
            Currency::USD,
        )
        .unwrap(),
    );
    let account = AccountId::from_u128(1);
    engine.open_account(account, Money::new(Decimal::from(100_000)));
    let id = StrategyId::from_u128(9);
    engine.deploy(id, account, name, config(params)).unwrap();
    (engine, account, id)
}

fn run(engine: &mut Engine, bars: &[Candle]) -> Vec<EngineEvent> {
    let mut out = Vec::new();
    for bar in bars {
        engine.on_bar(bar, &mut out);
    }
    out
}

fn fills(events: &[EngineEvent]) -> Vec<domain::Fill> {
    events
        .iter()
        .filter_map(|e| match e {
            EngineEvent::Filled(f) => Some(f.clone()),
            _ => None,
        })
        .collect()
}

#[test]
fn sma_cross_buys_on_the_cross_above_and_fills_at_the_next_open() {
    let bars = orcl();
    let (mut engine, account, _) =
        engine_with("sma_cross", serde_json::json!({"period": 20, "size": 100}));
    let events = run(&mut engine, &bars);
    let fills = fills(&events);
    assert!(
        fills.len() > 20,
        "expected plenty of trades, got {}",
        fills.len()
    );
    // Alternating buy/sell, each 100 units; every fill at the open of a bar, the bar after
    // the one whose close crossed the SMA.
    for (i, f) in fills.iter().enumerate() {
        assert_eq!(f.side, if i % 2 == 0 { Side::Buy } else { Side::Sell });
        assert_eq!(f.quantity, Quantity::new(Decimal::from(100)).unwrap());
        let bar = bars.iter().position(|b| b.start == f.time).unwrap();
        assert_eq!(f.price, bars[bar].open, "fill {i} at the bar's open");
        let closes: Vec<f64> = bars[..bar]
            .iter()
            .map(|b| b.close.value().try_into().unwrap())
            .collect();
        let sma = |end: usize| closes[end - 20..end].iter().sum::<f64>() / 20.0;
        let (prev, last) = (closes.len() - 1, closes.len());
        let (c_prev, c_last) = (closes[prev - 1], closes[last - 1]);
        if f.side == Side::Buy {
            assert!(
                c_prev <= sma(prev) && c_last > sma(last),
                "buy {i} without a cross above"
            );
        } else {
            assert!(
                c_prev >= sma(prev) && c_last < sma(last),
                "sell {i} without a cross below: {c_prev} vs {}, {c_last} vs {} (fill at {})",
                sma(prev),
                sma(last),
                f.time
            );
        }
    }
    let portfolio = engine.portfolio(account).unwrap();
    assert!(portfolio.cash().value() != Decimal::from(100_000));
}

#[test]
fn every_builtin_trades_on_real_data_and_keeps_one_order_at_most() {
    let bars = orcl();
    for name in builtin::NAMES {
        let (mut engine, _, _) = engine_with(name, serde_json::json!({"size": 10}));
        let mut out = Vec::new();
        let mut trades = 0;
        for bar in &bars {
            out.clear();
            engine.on_bar(bar, &mut out);
            trades += fills(&out).len();
            assert!(
                engine.broker().pending().len() <= 1,
                "{name}: more than one working order"
            );
        }
        assert!(
            trades >= 4,
            "{name} traded only {trades} times over 20 years"
        );
    }
}

#[test]
fn snapshot_and_restore_continue_exactly() {
    let bars = orcl();
    let half = bars.len() / 2;
    for name in builtin::NAMES {
        let (mut whole, account, _) = engine_with(name, serde_json::json!({"size": 10}));
        let all = fills(&run(&mut whole, &bars));

        let (mut first, _, _) = engine_with(name, serde_json::json!({"size": 10}));
        let mut before = fills(&run(&mut first, &bars[..half]));
        // Through JSON, as it is stored.
        let json = serde_json::to_string(&first.snapshot()).unwrap();
        let mut second = Engine::restore(serde_json::from_str(&json).unwrap()).unwrap();
        before.extend(fills(&run(&mut second, &bars[half..])));

        assert_eq!(before, all, "{name}: fills differ after restore");
        assert_eq!(
            second.portfolio(account).unwrap().equity().unwrap(),
            whole.portfolio(account).unwrap().equity().unwrap(),
            "{name}"
        );
    }
}

#[test]
fn pause_stops_trading_but_indicators_keep_warming_and_stop_cancels() {
    let bars = orcl();
    let (mut engine, _, id) = engine_with("sma_cross", serde_json::json!({"period": 5}));
    engine.set_paused(id, true).unwrap();
    assert!(fills(&run(&mut engine, &bars[..300])).is_empty());
    engine.set_paused(id, false).unwrap();
    assert!(!fills(&run(&mut engine, &bars[300..600])).is_empty());
    let mut out = Vec::new();
    engine.stop(id, &mut out).unwrap();
    assert_eq!(engine.strategies().count(), 0);
    assert!(engine.broker().pending().is_empty());
}

#[test]
fn a_strategy_on_a_higher_timeframe_gets_resampled_bars() {
    let bars = orcl();
    let mut engine = Engine::new(CostModel::default());
    engine.add_instrument(
        Instrument::new(
            sym(),
            Decimal::new(1, 6),
            Decimal::ONE,
            Decimal::ONE,
            Currency::USD,
        )
        .unwrap(),
    );
    let account = AccountId::from_u128(1);
    engine.open_account(account, Money::new(Decimal::from(100_000)));
    let weekly = StrategyConfig::new(
        vec![sym()],
        vec![Timeframe::W1],
        serde_json::json!({"period": 10}),
    );
    engine
        .deploy(StrategyId::from_u128(1), account, "sma_cross", weekly)
        .unwrap();
    let events = run(&mut engine, &bars[..500]);
    let weeks = events
        .iter()
        .filter(|e| matches!(e, EngineEvent::Candle(c) if c.timeframe == Timeframe::W1))
        .count();
    assert!(
        (95..=105).contains(&weeks),
        "{weeks} weekly candles from 500 daily bars"
    );
    assert!(!fills(&events).is_empty());
}

fn backtest_config(strategy: &str) -> BacktestConfig {
    BacktestConfig {
        symbol: sym(),
        strategy: strategy.into(),
        params: serde_json::json!({"period": 30, "size": 100}),
        cash: Money::new(Decimal::from(10_000)),
        costs: CostModel::default(),
        timeframe: None,
        from: None,
        to: None,
        tick_size: Decimal::new(1, 6),
    }
}

fn backtest(config: &BacktestConfig, file: &str) -> backtest::BacktestReport {
    let reader =
        streaming_core::market_data::csv::DataReader::open(&data(file), config.symbol).unwrap();
    backtest::run(reader, config, &mut |_| {}).unwrap()
}

#[test]
fn backtests_are_deterministic_and_account_for_every_fill() {
    let config = backtest_config("sma_cross");
    let a = backtest(&config, "orcl-1995-2014.txt");
    let b = backtest(&config, "orcl-1995-2014.txt");
    assert_eq!(a.to_json(), b.to_json());
    assert_eq!(a.equity.len(), 5036);
    // Cash = start − Σ buys + Σ sells (no costs configured).
    let mut cash = Decimal::from(10_000);
    for f in &a.fills {
        let notional = f.price.value() * f.quantity.value();
        cash += if f.side == Side::Buy {
            -notional
        } else {
            notional
        };
    }
    assert_eq!(a.final_cash.value(), cash);
    assert_eq!(a.metrics.trades, a.fills.len() / 2);
    let json = a.to_json();
    assert!(json["final_equity"].is_string() && json["trades"][0]["price"].is_string());
    assert!(json["trades"][0]["side"].is_string() && json["trades"][0]["time"].is_string());
}

#[test]
fn costs_reduce_the_result() {
    let free = backtest(&backtest_config("sma_cross"), "orcl-1995-2014.txt");
    let mut costly = backtest_config("sma_cross");
    costly.costs = CostModel {
        commission: "fixed:1".parse().unwrap(),
        slippage: "ticks:1000".parse().unwrap(),
    };
    let costly = backtest(&costly, "orcl-1995-2014.txt");
    assert_eq!(free.fills.len(), costly.fills.len());
    let fees: Decimal = costly.fills.iter().map(|f| f.fee.value()).sum();
    assert_eq!(fees, Decimal::from(costly.fills.len() as i64));
    assert!(costly.final_equity < free.final_equity);
}

#[test]
fn backtest_window_and_tick_files() {
    let mut config = backtest_config("sma_cross");
    config.from = Some(Timestamp::parse("2000-01-01T00:00:00Z").unwrap());
    config.to = Some(Timestamp::parse("2001-01-01T00:00:00Z").unwrap());
    let year = backtest(&config, "orcl-1995-2014.txt");
    assert!(
        (240..=260).contains(&year.equity.len()),
        "{}",
        year.equity.len()
    );
    config.from = Some(Timestamp::parse("2030-01-01T00:00:00Z").unwrap());
    config.to = None;
    let reader =
        streaming_core::market_data::csv::DataReader::open(&data("orcl-1995-2014.txt"), sym())
            .unwrap();
    assert!(matches!(
        backtest::run(reader, &config, &mut |_| {}),
        Err(backtest::BacktestError::NoData)
    ));

    let mut ticks = backtest_config("sma_cross");
    ticks.params = serde_json::json!({"period": 3, "size": 1});
    ticks.tick_size = Decimal::ONE;
    let report = backtest(&ticks, "ticksample.csv");
    assert_eq!(report.timeframe, Timeframe::M1);
    // The sample runs from 20:57:42 to 21:00:00.238: minutes 20:57, 20:58, 20:59, 21:00.
    let ends: Vec<String> = report.equity.iter().map(|p| p.time.to_string()).collect();
    assert_eq!(
        ends,
        [
            "2015-09-23T20:58:00Z",
            "2015-09-23T20:59:00Z",
            "2015-09-23T21:00:00Z",
            "2015-09-23T21:01:00Z"
        ]
    );
}
