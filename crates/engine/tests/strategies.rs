//! Strategies through the engine: parameter validation, what the built-ins trade and
//! when, paper fill timing, determinism, and snapshot/restore continuing exactly.

#![allow(clippy::unwrap_used)] // integration tests: a failed unwrap is a failed test

use std::path::PathBuf;

use domain::{
    AccountId, Candle, Currency, Decimal, Instrument, Money, Quantity, Side, StrategyId, Symbol,
    Timeframe, Timestamp,
};
use engine::backtest::{self, BacktestConfig};
use engine::engine::{Engine, EngineEvent};
use engine::market_data::{MarketData, read_file};
use engine::paper::CostModel;
use engine::strategy::{self, StrategyConfig, StrategyError, builtin};

fn sym() -> Symbol {
    Symbol::parse("ORCL").unwrap()
}

fn data(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../data")
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
        strategies: std::sync::Arc::new(engine::strategy::Builtins),
    }
}

fn backtest(config: &BacktestConfig, file: &str) -> backtest::BacktestReport {
    let reader = engine::market_data::csv::DataReader::open(&data(file), config.symbol).unwrap();
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
        engine::market_data::csv::DataReader::open(&data("orcl-1995-2014.txt"), sym()).unwrap();
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

// ---------------------------------------------------------------------------------------
// The built-ins' signals on hand-built series
// ---------------------------------------------------------------------------------------

/// Daily bars with the given closes from 2024-01-01. Each bar opens a quarter below its
/// close, so a fill at "the next bar's open" is told apart from any close.
fn bars_of(closes: &[f64]) -> Vec<Candle> {
    let start = Timestamp::parse("2024-01-01T00:00:00Z").unwrap();
    closes
        .iter()
        .enumerate()
        .map(|(i, &close)| {
            let open = close - 0.25;
            let price = |x: f64| x.to_string().parse().unwrap();
            let day = Timestamp::from_nanos(start.nanos() + i as i64 * Timeframe::D1.nanos());
            Candle {
                symbol: sym(),
                timeframe: Timeframe::D1,
                start: day,
                end: Timeframe::D1.period_end(day),
                open: price(open),
                high: price(close.max(open) + 0.5),
                low: price(close.min(open) - 0.5),
                close: price(close),
                volume: Quantity::new(Decimal::from(1000)).unwrap(),
                trades: 0,
            }
        })
        .collect()
}

/// Runs a built-in over `closes` with `size` 10 and checks its fills: one per expected
/// (signal bar, side), at the open of the bar after the signal, and nothing else; and
/// cash is what those fills paid and received.
fn assert_trades(name: &str, params: serde_json::Value, closes: &[f64], signals: &[(usize, Side)]) {
    let bars = bars_of(closes);
    let mut params = params;
    params["size"] = serde_json::json!(10);
    let (mut engine, account, _) = engine_with(name, params);
    let got: Vec<(Timestamp, Side, Decimal, domain::Price)> = fills(&run(&mut engine, &bars))
        .iter()
        .map(|f| (f.time, f.side, f.quantity.value(), f.price))
        .collect();
    let expected: Vec<(Timestamp, Side, Decimal, domain::Price)> = signals
        .iter()
        .map(|&(bar, side)| {
            (
                bars[bar + 1].start,
                side,
                Decimal::from(10),
                bars[bar + 1].open,
            )
        })
        .collect();
    assert_eq!(got, expected, "{name}: fills (time, side, qty, price)");
    let mut cash = Decimal::from(100_000);
    for (_, side, q, p) in &got {
        let notional = q * p.value();
        cash += if *side == Side::Buy {
            -notional
        } else {
            notional
        };
    }
    assert_eq!(
        engine.portfolio(account).unwrap().cash().value(),
        cash,
        "{name}"
    );
}

/// TA-Lib's EMA: the first value the mean of the first `n` inputs from `start`, then
/// `(x − ema) · 2/(n+1) + ema`.
fn reference_ema(xs: &[f64], n: usize, start: usize) -> Vec<Option<f64>> {
    let k = 2.0 / (n as f64 + 1.0);
    let mut out = vec![None; xs.len()];
    let mut ema: Option<f64> = None;
    for i in start + n - 1..xs.len() {
        let next = match ema {
            None => xs[i + 1 - n..=i].iter().sum::<f64>() / n as f64,
            Some(e) => (xs[i] - e) * k + e,
        };
        ema = Some(next);
        out[i] = ema;
    }
    out
}

/// The bars where `a` crosses `b` (previous bar `a ≤ b`, this one `a > b`, or the mirror),
/// counted from the first bar where both exist.
fn reference_crossings(a: &[Option<f64>], b: &[Option<f64>]) -> Vec<(usize, Side)> {
    let mut out = Vec::new();
    let mut previous: Option<(f64, f64)> = None;
    for (i, pair) in a.iter().zip(b).enumerate() {
        let (Some(x), Some(y)) = (*pair.0, *pair.1) else {
            continue;
        };
        if let Some((px, py)) = previous {
            if px <= py && x > y {
                out.push((i, Side::Buy));
            } else if px >= py && x < y {
                out.push((i, Side::Sell));
            }
        }
        previous = Some((x, y));
    }
    out
}

#[test]
fn ema_cross_enters_on_the_cross_above_and_exits_on_the_cross_below() {
    // Flat, a rise, a fall. EMA(2) and EMA(4) are both 10 through bar 4; at bar 5 (close
    // 11) EMA(2) = 10.667 > EMA(4) = 10.4: crossed above. They stay apart until bar 9
    // (close 10): EMA(2) = 10.724 < EMA(4) = 11.137, crossed below; then both fall
    // towards 8, the fast one ahead, no new cross.
    let closes = [
        10.0, 10.0, 10.0, 10.0, 10.0, 11.0, 12.0, 13.0, 12.0, 10.0, 8.0, 8.0, 8.0, 8.0,
    ];
    let (fast, slow) = (reference_ema(&closes, 2, 0), reference_ema(&closes, 4, 0));
    assert!((fast[5].unwrap() - 32.0 / 3.0).abs() < 1e-12);
    assert!((slow[5].unwrap() - 10.4).abs() < 1e-12);
    assert!(fast[9].unwrap() < 10.73 && slow[9].unwrap() > 11.13);
    let signals = [(5, Side::Buy), (9, Side::Sell)];
    assert_eq!(reference_crossings(&fast, &slow), signals);
    assert_trades(
        "ema_cross",
        serde_json::json!({"fast": 2, "slow": 4}),
        &closes,
        &signals,
    );
}

#[test]
fn macd_trend_trades_the_macd_line_crossing_its_signal() {
    // MACD(2, 3, 2) as TA-Lib seeds it: both EMAs start at bar 2 (the fast one from the
    // mean of bars 1–2), the signal EMA(2) of the line at bar 3. Flat until bar 4 (line =
    // signal = 0); the rise at bar 5 puts the line (0.333) above the signal (0.222); the
    // top at bar 8 turns it below (0.415 < 0.468); the flat tail at 8 lets the line
    // climb back over its lagging signal at bar 12 (−0.606 > −0.638): a second entry.
    let closes = [
        10.0, 10.0, 10.0, 10.0, 10.0, 12.0, 14.0, 15.0, 15.0, 13.0, 10.0, 8.0, 8.0, 8.0,
    ];
    let fast = reference_ema(&closes, 2, 1);
    let slow = reference_ema(&closes, 3, 0);
    let line: Vec<Option<f64>> = fast
        .iter()
        .zip(&slow)
        .map(|(f, s)| Some((*f)? - (*s)?))
        .collect();
    let first = line.iter().position(Option::is_some).unwrap();
    let values: Vec<f64> = line[first..].iter().map(|v| v.unwrap()).collect();
    let mut signal = vec![None; first];
    signal.extend(reference_ema(&values, 2, 0));
    assert_eq!(
        (first, signal.iter().position(Option::is_some)),
        (2, Some(3))
    );
    assert!((line[5].unwrap() - 1.0 / 3.0).abs() < 1e-12);
    assert!((signal[5].unwrap() - 2.0 / 9.0).abs() < 1e-12);
    let signals = [(5, Side::Buy), (8, Side::Sell), (12, Side::Buy)];
    assert_eq!(reference_crossings(&line, &signal), signals);
    // The entry at bar 12 fills at bar 13's open; the position is still held at the end.
    assert_trades(
        "macd_trend",
        serde_json::json!({"fast": 2, "slow": 3, "signal": 2}),
        &closes,
        &signals,
    );
}

/// Wilder's RSI: the first `n` changes averaged plainly, then `(avg·(n−1) + change)/n`.
fn reference_rsi(xs: &[f64], n: usize) -> Vec<Option<f64>> {
    let mut out = vec![None; xs.len()];
    let (mut gain, mut loss) = (0.0, 0.0);
    for i in 1..xs.len() {
        let change = xs[i] - xs[i - 1];
        let (g, l) = (change.max(0.0), (-change).max(0.0));
        if i <= n {
            gain += g / n as f64;
            loss += l / n as f64;
            if i < n {
                continue;
            }
        } else {
            gain = (gain * (n as f64 - 1.0) + g) / n as f64;
            loss = (loss * (n as f64 - 1.0) + l) / n as f64;
        }
        out[i] = Some(100.0 * gain / (gain + loss));
    }
    out
}

#[test]
fn rsi_reversion_buys_below_lower_and_sells_above_upper_only_when_long() {
    // RSI(3): 100 at bar 3 after three rises, but flat then, so no sale. Falling, it is
    // 66.7, 44.4 and at bar 6 29.63 < 30: buy. At bar 7 (19.75) it is held, no second
    // order. The rebound gives 59.9, then 77.07 > 70 at bar 9: sell. Bars 10–11 stay
    // above 70 with nothing held: nothing happens.
    let closes = [
        10.0, 11.0, 12.0, 13.0, 12.0, 11.0, 10.0, 9.0, 11.0, 13.0, 14.0, 14.0,
    ];
    let rsi = reference_rsi(&closes, 3);
    let rounded: Vec<Option<f64>> = rsi
        .iter()
        .map(|v| v.map(|x| (x * 100.0).round() / 100.0))
        .collect();
    assert_eq!(
        rounded[3..10],
        [
            Some(100.0),
            Some(66.67),
            Some(44.44),
            Some(29.63),
            Some(19.75),
            Some(59.88),
            Some(77.07)
        ]
    );
    assert_trades(
        "rsi_reversion",
        serde_json::json!({"period": 3, "lower": 30, "upper": 70}),
        &closes,
        &[(6, Side::Buy), (9, Side::Sell)],
    );
}

#[test]
fn bollinger_breakout_buys_above_the_upper_band_and_sells_below_the_middle() {
    // Bands(5, 1.5), population σ. Bars 0–4 are flat: the bands sit on the middle (10),
    // and a close of 10 is not above it. Bar 5 closes at 12 over [10, 10, 10, 10, 12]:
    // middle 10.4, σ 0.8, upper 11.6 < 12: buy. The close stays over the middle (10.9,
    // 11.5, 12.0) until bar 9: 12 < 12.4, sell. The slide after that never closes above
    // the upper band.
    let closes = [
        10.0, 10.0, 10.0, 10.0, 10.0, 12.0, 12.5, 13.0, 12.5, 12.0, 11.5, 11.0, 11.0, 11.0,
    ];
    let bands: Vec<Option<(f64, f64)>> = (0..closes.len())
        .map(|i| {
            let window = closes.get((i + 1).checked_sub(5)?..=i)?;
            let mean = window.iter().sum::<f64>() / 5.0;
            let sd = (window.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / 5.0).sqrt();
            Some((mean + 1.5 * sd, mean))
        })
        .collect();
    let (upper5, middle5) = bands[5].unwrap();
    assert!((upper5 - 11.6).abs() < 1e-12 && (middle5 - 10.4).abs() < 1e-12);
    let mut expected = Vec::new();
    let mut long = false;
    for (i, band) in bands.iter().enumerate() {
        let Some((upper, middle)) = band else {
            continue;
        };
        if !long && closes[i] > *upper {
            expected.push((i, Side::Buy));
            long = true;
        } else if long && closes[i] < *middle {
            expected.push((i, Side::Sell));
            long = false;
        }
    }
    let signals = [(5, Side::Buy), (9, Side::Sell)];
    assert_eq!(expected, signals);
    assert_trades(
        "bollinger_breakout",
        serde_json::json!({"period": 5, "k": 1.5}),
        &closes,
        &signals,
    );
}

/// The catalog's schemas state what `create` accepts: every built-in is listed, its
/// defaults and bounds are accepted, one step past a bound is refused, and nothing but
/// the declared parameters is allowed.
#[test]
fn the_catalog_schemas_are_what_the_strategies_accept() {
    use engine::strategy::builtin::{CATALOG, NAMES};
    use engine::strategy::params::ParamKind;
    let listed: Vec<&str> = CATALOG.iter().map(|s| s.name).collect();
    assert_eq!(listed, NAMES);
    let create = |name: &str, params: serde_json::Value| {
        let config = StrategyConfig::new(
            vec![Symbol::parse("ES").unwrap()],
            vec![Timeframe::D1],
            params,
        );
        engine::strategy::create(name, &config)
    };
    for info in CATALOG {
        let schema = info.params_schema();
        assert_eq!(schema["type"], "object");
        assert_eq!(schema["additionalProperties"], false);
        assert!(
            create(info.name, serde_json::json!({})).is_ok(),
            "{} defaults",
            info.name
        );
        for doc in info.params {
            let property = &schema["properties"][doc.name];
            assert!(
                property["description"].is_string(),
                "{}.{}",
                info.name,
                doc.name
            );
            let default = property["default"].clone();
            assert!(
                create(info.name, serde_json::json!({ doc.name: default })).is_ok(),
                "{}.{} default",
                info.name,
                doc.name
            );
            match doc.kind {
                ParamKind::Integer { min, max } => {
                    assert_eq!(
                        (property["minimum"].as_i64(), property["maximum"].as_i64()),
                        (Some(min), Some(max))
                    );
                    assert!(create(info.name, serde_json::json!({ doc.name: max + 1 })).is_err());
                    assert!(create(info.name, serde_json::json!({ doc.name: min - 1 })).is_err());
                }
                ParamKind::Number { min, max } => {
                    assert_eq!(
                        (property["minimum"].as_f64(), property["maximum"].as_f64()),
                        (Some(min), Some(max))
                    );
                    assert!(create(info.name, serde_json::json!({ doc.name: max + 0.5 })).is_err());
                    assert!(create(info.name, serde_json::json!({ doc.name: min - 0.5 })).is_err());
                }
                ParamKind::PositiveDecimal => {
                    assert_eq!(property["type"], "string");
                    assert!(create(info.name, serde_json::json!({ doc.name: "0" })).is_err());
                    assert!(create(info.name, serde_json::json!({ doc.name: "2.5" })).is_ok());
                }
            }
        }
        assert!(create(info.name, serde_json::json!({ "nope": 1 })).is_err());
    }
    assert!(engine::strategy::builtin::info("nope").is_none());
}

/// A grid search runs every set as a plain backtest would, ranks them stably, gives the
/// same answer on one thread and on several, and walk-forward tests the best sets on the
/// bars it left out.
#[test]
fn optimisation_runs_are_backtests_ranked_the_same_on_any_number_of_threads() {
    use engine::optimize::{OptimizeConfig, OptimizeError, RankBy, Search, optimize};
    let data = read_file(&data("orcl-1995-2014.txt"), Symbol::parse("ORCL").unwrap()).unwrap();
    let MarketData::Bars { candles, .. } = data else {
        panic!("bars")
    };
    let base = BacktestConfig {
        symbol: Symbol::parse("ORCL").unwrap(),
        strategy: "sma_cross".into(),
        params: serde_json::json!({"size": 100}),
        cash: Money::new(Decimal::from(100_000)),
        costs: CostModel::default(),
        timeframe: None,
        from: None,
        to: None,
        tick_size: Decimal::new(1, 2),
        strategies: std::sync::Arc::new(engine::strategy::Builtins),
    };
    let grid: std::collections::BTreeMap<String, Vec<serde_json::Value>> = [(
        "period".to_owned(),
        (10..=40).step_by(5).map(serde_json::Value::from).collect(),
    )]
    .into();
    let config = |threads| OptimizeConfig {
        backtest: base.clone(),
        search: Search::Grid(grid.clone()),
        rank_by: RankBy::Sharpe,
        threads,
        walk_forward: None,
        top: 3,
        max_runs: 100,
    };
    let one = optimize(&candles, &config(1), &|_, _| {}).unwrap();
    let two = optimize(&candles, &config(2), &|_, _| {}).unwrap();
    assert_eq!(one.runs, 7);
    let ranks = |r: &engine::optimize::OptimizeReport| {
        r.all
            .iter()
            .map(|x| (x.rank, x.params.clone(), x.score))
            .collect::<Vec<_>>()
    };
    assert_eq!(ranks(&one), ranks(&two));
    // Every run is the backtest of its parameters.
    for ranked in &one.all {
        let single = backtest::run(
            candles
                .iter()
                .map(|c| Ok(engine::market_data::Record::Bar(*c))),
            &BacktestConfig {
                params: ranked.params.clone(),
                ..base.clone()
            },
            &mut |_| {},
        )
        .unwrap();
        assert_eq!(ranked.in_sample.final_equity, single.final_equity);
        assert_eq!(ranked.in_sample.fills, single.fills.len());
    }
    // Best first.
    let scores: Vec<f64> = one.best.iter().map(|b| b.score.unwrap()).collect();
    assert!(scores.windows(2).all(|w| w[0] >= w[1]), "{scores:?}");
    assert_eq!(one.best[0].rank, 1);

    let walk = optimize(
        &candles,
        &OptimizeConfig {
            walk_forward: Some(0.7),
            ..config(2)
        },
        &|_, _| {},
    )
    .unwrap();
    assert_eq!(walk.bars, candles.len() * 7 / 10);
    assert_eq!(walk.split_at, Some(candles[walk.bars].start));
    assert!(walk.best.iter().all(|b| b.out_of_sample.is_some()));
    assert!(walk.all.iter().all(|b| b.out_of_sample.is_none()));

    // Random search: seeded, so the same draws every time; and the run limit holds.
    let random = |seed| OptimizeConfig {
        search: Search::Random {
            ranges: [(
                "period".to_owned(),
                engine::optimize::ParamRange::Integer { min: 5, max: 60 },
            )]
            .into(),
            samples: 5,
            seed,
        },
        ..config(2)
    };
    let a = optimize(&candles, &random(7), &|_, _| {}).unwrap();
    let b = optimize(&candles, &random(7), &|_, _| {}).unwrap();
    assert_eq!(ranks(&a), ranks(&b));
    let too_many = OptimizeConfig {
        max_runs: 5,
        ..config(1)
    };
    assert!(matches!(
        optimize(&candles, &too_many, &|_, _| {}),
        Err(OptimizeError::TooManyRuns { runs: 7, max: 5 })
    ));
    // Sets the strategy refuses are skipped, with why; a search of none it accepts fails.
    let some = OptimizeConfig {
        search: Search::Grid(
            [(
                "period".to_owned(),
                vec![serde_json::json!(0), serde_json::json!(10)],
            )]
            .into(),
        ),
        ..config(1)
    };
    let report = optimize(&candles, &some, &|_, _| {}).unwrap();
    assert_eq!((report.runs, report.skipped.len()), (1, 1));
    assert!(
        report.skipped[0].reason.contains("period"),
        "{}",
        report.skipped[0].reason
    );
    let bad = OptimizeConfig {
        search: Search::Grid([("period".to_owned(), vec![serde_json::json!(0)])].into()),
        ..config(1)
    };
    assert!(matches!(
        optimize(&candles, &bad, &|_, _| {}),
        Err(OptimizeError::NoValidSet(_))
    ));
}
