//! What the live core asks of the engine beyond backtests: users' orders through the same
//! paper broker, cancels, cash synced from the ledger with overdrafts refused, and a
//! snapshot taken mid-candle that continues exactly.

#![allow(clippy::unwrap_used)] // integration tests: a failed unwrap is a failed test

use domain::{
    AccountId, Currency, Decimal, Instrument, Money, OrderId, OrderType, Quantity, Side,
    StrategyId, Symbol, Tick, TimeInForce, Timeframe, Timestamp,
};
use engine::engine::{Engine, EngineEvent};
use engine::paper::{CostModel, PaperOrder};
use engine::strategy::StrategyConfig;

const ACCOUNT: AccountId = AccountId::from_u128(7);

fn sym() -> Symbol {
    Symbol::parse("AAPL").unwrap()
}

fn engine() -> Engine {
    let mut e = Engine::new(CostModel::default());
    e.add_instrument(
        Instrument::new(
            sym(),
            Decimal::new(1, 2),
            Decimal::ONE,
            Decimal::ONE,
            Currency::USD,
        )
        .unwrap(),
    );
    e.refuse_overdraft(true);
    e
}

fn tick(secs: i64, price: &str) -> Tick {
    Tick {
        symbol: sym(),
        time: Timestamp::from_secs(1_800_000_000 + secs),
        price: price.parse().unwrap(),
        size: Quantity::new(Decimal::ONE).unwrap(),
        bid: None,
        ask: None,
    }
}

fn order(n: u128, side: Side, order_type: OrderType, qty: u32) -> PaperOrder {
    PaperOrder {
        id: OrderId::from_u128(n),
        account_id: ACCOUNT,
        symbol: sym(),
        side,
        order_type,
        time_in_force: TimeInForce::Gtc,
        quantity: Quantity::new(Decimal::from(qty)).unwrap(),
        placed_at: Timestamp::from_secs(1_800_000_000),
        triggered: false,
    }
}

#[test]
fn users_orders_fill_cancel_and_never_overdraw() {
    let mut e = engine();
    e.sync_cash(ACCOUNT, Money::new(Decimal::from(1_000)));
    e.submit(order(1, Side::Buy, OrderType::Market, 5)).unwrap();
    e.submit(order(
        2,
        Side::Buy,
        OrderType::Limit {
            limit_price: "90".parse().unwrap(),
        },
        1,
    ))
    .unwrap();
    let mut out = Vec::new();
    e.on_tick(&tick(1, "100"), &mut out);
    let filled: Vec<_> = out
        .iter()
        .filter_map(|ev| match ev {
            EngineEvent::Filled(f) => Some(f.order_id),
            _ => None,
        })
        .collect();
    assert_eq!(
        filled,
        [OrderId::from_u128(1)],
        "the market order at the next tick"
    );
    assert_eq!(
        e.portfolio(ACCOUNT).unwrap().cash(),
        Money::new(Decimal::from(500))
    );
    assert_eq!(
        e.cancel(OrderId::from_u128(2)).map(|o| o.id),
        Some(OrderId::from_u128(2))
    );
    assert!(e.cancel(OrderId::from_u128(2)).is_none(), "cancelled once");

    // More than the cash can pay for is refused at the fill, and nothing is applied.
    e.submit(order(3, Side::Buy, OrderType::Market, 6)).unwrap();
    out.clear();
    e.on_tick(&tick(2, "100"), &mut out);
    assert!(
        out.iter().any(|ev| matches!(ev, EngineEvent::OrderRejected { reason, .. } if reason == "insufficient cash")),
        "{out:?}"
    );
    assert_eq!(
        e.portfolio(ACCOUNT).unwrap().cash(),
        Money::new(Decimal::from(500))
    );
    // A deposit synced from the ledger makes it affordable.
    e.sync_cash(ACCOUNT, Money::new(Decimal::from(5_000)));
    e.submit(order(4, Side::Buy, OrderType::Market, 6)).unwrap();
    out.clear();
    e.on_tick(&tick(3, "100"), &mut out);
    assert!(
        out.iter()
            .any(|ev| matches!(ev, EngineEvent::Filled(f) if f.order_id == OrderId::from_u128(4)))
    );
    assert_eq!(
        e.portfolio(ACCOUNT).unwrap().quantity(sym()),
        Decimal::from(11)
    );
}

/// A strategy on tick input, snapshotted in the middle of a 1m candle: the restored
/// engine produces exactly what the uninterrupted one does.
#[test]
fn a_snapshot_mid_candle_continues_exactly() {
    let run = |split: Option<usize>| {
        let mut e = engine();
        e.sync_cash(ACCOUNT, Money::new(Decimal::from(100_000)));
        e.deploy(
            StrategyId::from_u128(1),
            ACCOUNT,
            "sma_cross",
            StrategyConfig::new(
                vec![sym()],
                vec![Timeframe::M1],
                serde_json::json!({"period": 3, "size": 1}),
            ),
        )
        .unwrap();
        let mut events = Vec::new();
        for i in 0..600i64 {
            if Some(i as usize) == split {
                let snapshot = serde_json::to_string(&e.snapshot()).unwrap();
                e = Engine::restore(serde_json::from_str(&snapshot).unwrap()).unwrap();
            }
            // A wave, every 7 s: many candles, several crosses.
            let price = 100.0 + 5.0 * ((i as f64) / 40.0).sin();
            let mut out = Vec::new();
            e.on_tick(&tick(i * 7, &format!("{price:.2}")), &mut out);
            events.extend(out.into_iter().map(|ev| format!("{ev:?}")));
        }
        (events, format!("{:?}", e.portfolio(ACCOUNT)))
    };
    let whole = run(None);
    assert!(
        whole.0.iter().filter(|e| e.starts_with("Filled")).count() >= 4,
        "the strategy trades"
    );
    for split in [1, 5, 300, 301, 599] {
        assert_eq!(run(Some(split)), whole, "split at tick {split}");
    }
}
