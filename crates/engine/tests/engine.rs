//! The engine's strategy callbacks and paper fills on tick data: a strategy of the
//! test's own, on two symbols and two timeframes, records every callback (`on_tick`,
//! `on_fill`, `on_candle`, `on_timer`) with what its context showed, and the log is
//! compared line for line with what the engine documents; orders placed on a tick fill
//! on a later tick at that tick's price, with commission charged to the cent.

#![allow(clippy::unwrap_used)] // integration tests: a failed unwrap is a failed test

use std::sync::{Arc, Mutex};

use domain::{
    AccountId, Candle, Currency, Decimal, Fill, Instrument, Money, OrderId, OrderType, Price,
    Quantity, Side, StrategyId, Symbol, Tick, TimeInForce, Timeframe, Timestamp,
};
use engine::engine::{Engine, EngineError, EngineEvent};
use engine::indicators::IndicatorSpec;
use engine::paper::CostModel;
use engine::strategy::{
    Context, IndicatorId, OrderIntent, Setup, Strategy, StrategyConfig, StrategyError,
};
use rust_decimal_macros::dec;

fn sym(s: &str) -> Symbol {
    Symbol::parse(s).unwrap()
}

fn at(hms: &str) -> Timestamp {
    Timestamp::parse(&format!("2026-11-20T{hms}Z")).unwrap()
}

/// The time of day of `t` (every input here is on one day, in whole seconds).
fn hms(t: Timestamp) -> String {
    t.to_string()[11..19].to_owned()
}

fn px(s: &str) -> Price {
    s.parse().unwrap()
}

fn qty(n: u32) -> Quantity {
    Quantity::new(Decimal::from(n)).unwrap()
}

/// A price or amount without trailing zeros.
fn num(d: Decimal) -> String {
    d.normalize().to_string()
}

fn tick(symbol: &str, time: &str, price: &str, size: u32) -> Tick {
    Tick {
        symbol: sym(symbol),
        time: at(time),
        price: px(price),
        size: qty(size),
        bid: None,
        ask: None,
    }
}

const ACCOUNT: AccountId = AccountId::from_u128(1);

fn engine(costs: CostModel, symbols: &[&str]) -> Engine {
    let mut engine = Engine::new(costs);
    for s in symbols {
        engine.add_instrument(
            Instrument::new(
                sym(s),
                Decimal::new(1, 2),
                Decimal::ONE,
                Decimal::ONE,
                Currency::USD,
            )
            .unwrap(),
        );
    }
    engine.open_account(ACCOUNT, Money::new(Decimal::from(100_000)));
    engine
}

fn fills(events: &[EngineEvent]) -> Vec<Fill> {
    events
        .iter()
        .filter_map(|e| match e {
            EngineEvent::Filled(f) => Some(f.clone()),
            _ => None,
        })
        .collect()
}

// ---------------------------------------------------------------------------------------
// Every callback, in order, with the right data
// ---------------------------------------------------------------------------------------

/// Trades a fixed little plan and writes one line per callback into a log shared with
/// the test: on the first AAA tick a market buy of 3; on the first BBB tick a limit buy
/// of 2 at 49.50; when the AAA buy fills, a market sell of 3. On every candle it also
/// reads an SMA(2) registered on that symbol and timeframe.
#[derive(Debug)]
struct Recorder {
    log: Arc<Mutex<Vec<String>>>,
    /// Ids `submit` returned, in order: a fill is logged as `#n`, its index + 1.
    submitted: Vec<OrderId>,
    smas: Vec<(Symbol, Timeframe, IndicatorId)>,
    bought: bool,
    placed_limit: bool,
}

impl Recorder {
    fn new(log: Arc<Mutex<Vec<String>>>) -> Self {
        Recorder {
            log,
            submitted: Vec::new(),
            smas: Vec::new(),
            bought: false,
            placed_limit: false,
        }
    }

    fn write(&self, line: String) {
        self.log.lock().unwrap().push(line);
    }

    fn submit(&mut self, ctx: &mut Context<'_>, intent: OrderIntent) {
        let id = ctx.submit(intent);
        self.submitted.push(id);
    }
}

impl Strategy for Recorder {
    fn name(&self) -> &'static str {
        "recorder"
    }

    fn init(&mut self, setup: &mut Setup<'_>) -> Result<(), StrategyError> {
        let config = setup.config().clone();
        for &symbol in &config.symbols {
            for &timeframe in &config.timeframes {
                let id = setup.indicator(symbol, timeframe, IndicatorSpec::Sma(2))?;
                self.smas.push((symbol, timeframe, id));
            }
        }
        self.write(format!(
            "init {} symbols × {} timeframes",
            config.symbols.len(),
            config.timeframes.len()
        ));
        Ok(())
    }

    fn on_candle(&mut self, c: &Candle, ctx: &mut Context<'_>) {
        let sma = self
            .smas
            .iter()
            .find(|(s, tf, _)| *s == c.symbol && *tf == c.timeframe)
            .and_then(|(_, _, id)| ctx.value(*id))
            .map_or("-".to_owned(), |v| format!("{v:.3}"));
        self.write(format!(
            "candle {} {} {} {} {} {} {} v{} n{} now {} sma {sma}",
            c.symbol,
            c.timeframe,
            hms(c.start),
            num(c.open.value()),
            num(c.high.value()),
            num(c.low.value()),
            num(c.close.value()),
            c.volume,
            c.trades,
            hms(ctx.now()),
        ));
    }

    fn on_tick(&mut self, t: &Tick, ctx: &mut Context<'_>) {
        self.write(format!(
            "tick {} {} {} now {}",
            t.symbol,
            hms(t.time),
            num(t.price.value()),
            hms(ctx.now())
        ));
        if t.symbol == sym("AAA") && !self.bought {
            self.bought = true;
            self.submit(ctx, OrderIntent::market(t.symbol, Side::Buy, qty(3)));
        }
        if t.symbol == sym("BBB") && !self.placed_limit {
            self.placed_limit = true;
            self.submit(
                ctx,
                OrderIntent {
                    symbol: t.symbol,
                    side: Side::Buy,
                    quantity: qty(2),
                    order_type: OrderType::Limit {
                        limit_price: px("49.50"),
                    },
                    time_in_force: TimeInForce::Gtc,
                },
            );
        }
    }

    fn on_fill(&mut self, f: &Fill, ctx: &mut Context<'_>) {
        let n = self
            .submitted
            .iter()
            .position(|id| *id == f.order_id)
            .map_or("unknown order".to_owned(), |i| format!("#{}", i + 1));
        self.write(format!(
            "fill {n} {:?} {} {} @ {} at {} now {} holds {} cash {}",
            f.side,
            f.quantity,
            f.symbol,
            num(f.price.value()),
            hms(f.time),
            hms(ctx.now()),
            num(ctx.position(f.symbol)),
            num(ctx.cash().value()),
        ));
        if f.order_id == self.submitted[0] {
            self.submit(ctx, OrderIntent::market(f.symbol, Side::Sell, qty(3)));
        }
    }

    fn on_timer(&mut self, now: Timestamp, ctx: &mut Context<'_>) {
        self.write(format!("timer {} now {}", hms(now), hms(ctx.now())));
    }

    fn snapshot(&self) -> serde_json::Value {
        serde_json::Value::Null
    }

    fn restore(&mut self, _state: &serde_json::Value) -> Result<(), StrategyError> {
        Ok(())
    }
}

/// What the engine is fed: a trade, or the clock (a heartbeat).
enum Input {
    Trade(Tick),
    Clock(&'static str),
}

#[test]
fn the_engine_calls_every_callback_in_order_with_the_right_data() {
    let mut engine = engine(CostModel::default(), &["AAA", "BBB", "CCC"]);
    let log = Arc::new(Mutex::new(Vec::new()));
    engine
        .deploy_strategy(
            StrategyId::from_u128(7),
            ACCOUNT,
            Box::new(Recorder::new(log.clone())),
            StrategyConfig::new(
                vec![sym("AAA"), sym("BBB")],
                vec![Timeframe::M1, Timeframe::M5],
                serde_json::Value::Null,
            ),
        )
        .unwrap();

    use Input::{Clock, Trade};
    let inputs = [
        Trade(tick("AAA", "10:00:10", "100", 1)),
        Trade(tick("CCC", "10:00:15", "7", 1)), // not subscribed: never seen
        Trade(tick("BBB", "10:00:20", "50", 1)),
        Trade(tick("AAA", "10:00:30", "101", 2)),
        Trade(tick("BBB", "10:01:05", "49.80", 1)),
        Clock("10:01:30"),
        Trade(tick("AAA", "10:02:10", "102", 1)),
        Trade(tick("BBB", "10:02:30", "49.40", 4)),
        Clock("10:05:00"),
        Trade(tick("AAA", "10:06:00", "103", 1)),
        Trade(tick("AAA", "10:07:00", "104", 1)),
        Clock("10:10:00"),
    ];
    let mut events = Vec::new();
    for input in &inputs {
        match input {
            Trade(t) => engine.on_tick(t, &mut events),
            Clock(t) => engine.on_timer(at(t), &mut events),
        }
    }

    let expected = [
        "init 2 symbols × 2 timeframes",
        "tick AAA 10:00:10 100 now 10:00:10",
        "tick BBB 10:00:20 50 now 10:00:20",
        // The market buy placed on the first AAA tick fills at the next AAA trade's
        // price (the BBB tick between does not touch it); the fill comes first, with the
        // position and cash already including it.
        "fill #1 Buy 3 AAA @ 101 at 10:00:30 now 10:00:30 holds 3 cash 99697",
        "tick AAA 10:00:30 101 now 10:00:30",
        // A BBB trade of a new minute closes BBB's 10:00 minute before on_tick; the
        // candle's time is its end.
        "candle BBB 1m 10:00:00 50 50 50 50 v1 n1 now 10:01:00 sma -",
        "tick BBB 10:01:05 49.8 now 10:01:05",
        // The clock closes AAA's quiet minute, then calls on_timer.
        "candle AAA 1m 10:00:00 100 101 100 101 v3 n2 now 10:01:00 sma -",
        "timer 10:01:30 now 10:01:30",
        // The sell placed in on_fill waited for the next AAA tick.
        "fill #3 Sell 3 AAA @ 102 at 10:02:10 now 10:02:10 holds 0 cash 100003",
        "tick AAA 10:02:10 102 now 10:02:10",
        // The BBB limit at 49.50 fills at the tick that traded through it, at its price.
        "fill #2 Buy 2 BBB @ 49.4 at 10:02:30 now 10:02:30 holds 2 cash 99904.2",
        "candle BBB 1m 10:01:00 49.8 49.8 49.8 49.8 v1 n1 now 10:02:00 sma 49.900",
        "tick BBB 10:02:30 49.4 now 10:02:30",
        // At 10:05 both symbols' minutes and five-minute candles close: by symbol, then
        // by end time, finest first; each timeframe has its own SMA.
        "candle AAA 1m 10:02:00 102 102 102 102 v1 n1 now 10:03:00 sma 101.500",
        "candle AAA 5m 10:00:00 100 102 100 102 v4 n3 now 10:05:00 sma -",
        "candle BBB 1m 10:02:00 49.4 49.4 49.4 49.4 v4 n1 now 10:03:00 sma 49.600",
        "candle BBB 5m 10:00:00 50 50 49.4 49.4 v6 n3 now 10:05:00 sma -",
        "timer 10:05:00 now 10:05:00",
        "tick AAA 10:06:00 103 now 10:06:00",
        "candle AAA 1m 10:06:00 103 103 103 103 v1 n1 now 10:07:00 sma 102.500",
        "tick AAA 10:07:00 104 now 10:07:00",
        "candle AAA 1m 10:07:00 104 104 104 104 v1 n1 now 10:08:00 sma 103.500",
        "candle AAA 5m 10:05:00 103 104 103 104 v2 n2 now 10:10:00 sma 103.000",
        "timer 10:10:00 now 10:10:00",
    ];
    let log = log.lock().unwrap().clone();
    assert_eq!(log, expected, "callback log:\n{}", log.join("\n"));

    // The engine's own events agree: three orders submitted and three fills, in the
    // order of the log, with the ids the strategy got back.
    let submitted: Vec<OrderId> = events
        .iter()
        .filter_map(|e| match e {
            EngineEvent::OrderSubmitted { order, .. } => Some(order.id),
            _ => None,
        })
        .collect();
    let filled: Vec<(OrderId, Decimal, Decimal)> = fills(&events)
        .iter()
        .map(|f| (f.order_id, f.quantity.value(), f.price.value()))
        .collect();
    assert_eq!(
        filled,
        [
            (submitted[0], dec!(3), dec!(101)),
            (submitted[2], dec!(3), dec!(102)),
            (submitted[1], dec!(2), dec!(49.40)),
        ]
    );
    let portfolio = engine.portfolio(ACCOUNT).unwrap();
    assert_eq!(portfolio.cash(), Money::new(dec!(99904.2)));
    assert_eq!(portfolio.quantity(sym("BBB")), dec!(2));
}

#[test]
fn a_strategy_of_ones_own_is_checked_like_a_builtin() {
    let mut engine = engine(CostModel::default(), &["AAA"]);
    let deploy = |engine: &mut Engine, symbols: Vec<Symbol>, timeframes: Vec<Timeframe>| {
        engine.deploy_strategy(
            StrategyId::from_u128(1),
            ACCOUNT,
            Box::new(Recorder::new(Arc::default())),
            StrategyConfig::new(symbols, timeframes, serde_json::Value::Null),
        )
    };
    assert_eq!(
        deploy(&mut engine, vec![sym("ZZZ")], vec![Timeframe::M1]),
        Err(EngineError::UnknownSymbol(sym("ZZZ")))
    );
    assert_eq!(
        deploy(&mut engine, vec![], vec![Timeframe::M1]),
        Err(EngineError::Strategy(StrategyError::NoSymbols))
    );
    assert_eq!(
        deploy(&mut engine, vec![sym("AAA")], vec![]),
        Err(EngineError::Strategy(StrategyError::NoTimeframes))
    );
    deploy(&mut engine, vec![sym("AAA")], vec![Timeframe::M1]).unwrap();
    assert_eq!(
        deploy(&mut engine, vec![sym("AAA")], vec![Timeframe::M1]),
        Err(EngineError::DuplicateStrategy(StrategyId::from_u128(1)))
    );
    let names: Vec<&str> = engine.strategies().map(|(_, _, name, ..)| name).collect();
    assert_eq!(names, ["recorder"]);
    // Restoring re-creates strategies by name from the built-ins, as documented.
    assert!(matches!(
        Engine::restore(engine.snapshot()),
        Err(EngineError::Strategy(StrategyError::UnknownStrategy { name })) if name == "recorder"
    ));
}

// ---------------------------------------------------------------------------------------
// Paper fills on ticks
// ---------------------------------------------------------------------------------------

/// Submits given orders when a tick of a given time arrives.
#[derive(Debug)]
struct Scripted {
    plan: Vec<(Timestamp, OrderIntent)>,
}

impl Strategy for Scripted {
    fn name(&self) -> &'static str {
        "scripted"
    }

    fn init(&mut self, _setup: &mut Setup<'_>) -> Result<(), StrategyError> {
        Ok(())
    }

    fn on_candle(&mut self, _candle: &Candle, _ctx: &mut Context<'_>) {}

    fn on_tick(&mut self, tick: &Tick, ctx: &mut Context<'_>) {
        for (time, intent) in &self.plan {
            if *time == tick.time {
                ctx.submit(intent.clone());
            }
        }
    }

    fn snapshot(&self) -> serde_json::Value {
        serde_json::Value::Null
    }

    fn restore(&mut self, _state: &serde_json::Value) -> Result<(), StrategyError> {
        Ok(())
    }
}

fn intent(side: Side, quantity: u32, order_type: OrderType) -> OrderIntent {
    OrderIntent {
        symbol: sym("AAA"),
        side,
        quantity: qty(quantity),
        order_type,
        time_in_force: TimeInForce::Gtc,
    }
}

/// Market, limit and stop orders placed on a tick are first checked on the next tick of
/// their symbol and fill at that tick's price; a per-unit commission is charged on each
/// fill's quantity, and cash is exactly the trades' notional and fees.
#[test]
fn orders_on_ticks_fill_at_a_later_ticks_price_and_per_unit_commission_is_exact() {
    let costs = CostModel {
        commission: "per_unit:0.005".parse().unwrap(),
        slippage: "0".parse().unwrap(),
    };
    let mut engine = engine(costs, &["AAA", "BBB"]);
    let plan = vec![
        (at("10:00:00"), intent(Side::Buy, 10, OrderType::Market)),
        (
            at("10:00:00"),
            intent(
                Side::Buy,
                5,
                OrderType::Limit {
                    limit_price: px("99.00"),
                },
            ),
        ),
        (
            at("10:00:00"),
            intent(
                Side::Buy,
                5,
                OrderType::Stop {
                    stop_price: px("100.50"),
                },
            ),
        ),
        (
            at("10:00:04"),
            intent(
                Side::Sell,
                20,
                OrderType::Stop {
                    stop_price: px("98.50"),
                },
            ),
        ),
    ];
    engine
        .deploy_strategy(
            StrategyId::from_u128(2),
            ACCOUNT,
            Box::new(Scripted { plan }),
            StrategyConfig::new(
                vec![sym("AAA")],
                vec![Timeframe::M1],
                serde_json::Value::Null,
            ),
        )
        .unwrap();
    let ticks = [
        tick("AAA", "10:00:00", "100.00", 1), // the first three orders are placed
        tick("BBB", "10:00:01", "55.00", 1),  // another symbol: nothing fills
        tick("AAA", "10:00:02", "100.20", 1), // the market buy, at this price
        tick("AAA", "10:00:03", "100.70", 1), // the stop buy, passed: at this price
        tick("AAA", "10:00:04", "98.90", 1), // the limit buy, traded through; the stop sell is placed
        tick("AAA", "10:00:05", "98.80", 1), // above the stop
        tick("AAA", "10:00:06", "98.10", 1), // the stop sell, passed: at this price
    ];
    let mut events = Vec::new();
    for t in &ticks {
        engine.on_tick(t, &mut events);
    }
    let got: Vec<(String, Side, Decimal, Decimal, Decimal)> = fills(&events)
        .iter()
        .map(|f| {
            (
                hms(f.time),
                f.side,
                f.quantity.value(),
                f.price.value(),
                f.fee.value(),
            )
        })
        .collect();
    let expected = [
        ("10:00:02", Side::Buy, dec!(10), dec!(100.20), dec!(0.05)),
        ("10:00:03", Side::Buy, dec!(5), dec!(100.70), dec!(0.025)),
        ("10:00:04", Side::Buy, dec!(5), dec!(98.90), dec!(0.025)),
        ("10:00:06", Side::Sell, dec!(20), dec!(98.10), dec!(0.10)),
    ]
    .map(|(t, side, q, p, fee)| (t.to_owned(), side, q, p, fee));
    assert_eq!(got, expected);
    // 100,000 − 1,002 − 503.50 − 494.50 + 1,962 − 0.20 of commission.
    let portfolio = engine.portfolio(ACCOUNT).unwrap();
    assert_eq!(portfolio.cash(), Money::new(dec!(99961.80)));
    assert_eq!(portfolio.fees(), Money::new(dec!(0.20)));
    assert!(portfolio.quantity(sym("AAA")).is_zero());
    assert!(engine.broker().pending().is_empty());
}
