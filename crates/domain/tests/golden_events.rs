//! Golden-file tests: the JSON of every event type is pinned in `tests/golden/`.
//!
//! A change to any payload's wire form fails here. If the change is intended, bump that
//! type's version in `events.rs`, then re-bless with
//! `STRATUS_BLESS=1 cargo test -p stratus-domain --test golden_events` and review the diff.

#![allow(clippy::unwrap_used)] // integration tests: a failed unwrap is a failed test

use std::path::PathBuf;

use domain::events::{
    AccountHalted, AmendOrder, BrokerExecution, CancelOrder, Event, EventEnvelope, EventError,
    ExecutionKind, OrderOutcome, OrderRef, ReasonCode, VenueFill,
};
use domain::order::OrderRequest;
use domain::{
    AccountId, Candle, ClientOrderId, EventId, Fill, Liquidity, Money, OrderId, OrderType, Price,
    Quantity, Side, Symbol, Tick, TimeInForce, Timeframe, Timestamp, TradeId,
};

fn price(s: &str) -> Price {
    s.parse().unwrap()
}
fn qty(s: &str) -> Quantity {
    s.parse().unwrap()
}

fn samples() -> Vec<Event> {
    let symbol = Symbol::parse("ES").unwrap();
    let order = OrderRef {
        order_id: OrderId::parse("0191e0a4-8b8c-7d53-9b1e-3c1f6c9a2b10").unwrap(),
        account_id: AccountId::parse("0191e0a4-0000-7000-8000-00000000a11c").unwrap(),
        symbol,
    };
    let time = Timestamp::parse("2026-11-22T14:30:00.125Z").unwrap();
    vec![
        Event::PlaceOrder(OrderRequest {
            id: order.order_id,
            client_order_id: Some(ClientOrderId::parse("bot-1:0001").unwrap()),
            account_id: order.account_id,
            symbol,
            side: Side::Buy,
            order_type: OrderType::StopLimit {
                stop_price: price("4501.25"),
                limit_price: price("4502"),
            },
            time_in_force: TimeInForce::Day,
            quantity: qty("3"),
        }),
        Event::CancelOrder(CancelOrder { order }),
        Event::AmendOrder(AmendOrder {
            order,
            quantity: Some(qty("2")),
            limit_price: Some(price("4500.5")),
            stop_price: None,
        }),
        Event::BrokerExecution(BrokerExecution {
            order,
            broker: "alpaca".into(),
            broker_event_id: "7f1c2b8e-8f3a-4e36-a0a4-2d3f9f1c7d10".into(),
            kind: ExecutionKind::PartialFill,
            quantity: qty("3"),
            limit_price: Some(price("4502")),
            stop_price: None,
            filled_quantity: qty("1.5"),
            average_price: Some(price("4501.5")),
            fill: Some(VenueFill {
                execution_id: "7f1c2b8e-8f3a-4e36-a0a4-2d3f9f1c7d10".into(),
                quantity: qty("1.5"),
                price: price("4501.5"),
                fee: Money::new("0.12".parse().unwrap()),
                time,
            }),
            reason: None,
        }),
        Event::AccountHalted(AccountHalted {
            account_id: order.account_id,
            reason: "the broker holds 5 ES, Stratus 3".into(),
        }),
        Event::OrderAccepted(order),
        Event::OrderRejected(OrderOutcome {
            order,
            code: ReasonCode::InvalidOrder,
            message: "limit_price 4500.1 is not a multiple of the tick size 0.25".into(),
        }),
        Event::OrderFilled(Fill {
            trade_id: TradeId(42),
            order_id: order.order_id,
            account_id: order.account_id,
            symbol,
            side: Side::Sell,
            price: price("4500.75"),
            quantity: qty("1.5"),
            fee: Money::new("0.37".parse().unwrap()),
            liquidity: Liquidity::Taker,
            time,
        }),
        Event::OrderCancelled(OrderOutcome {
            order,
            code: ReasonCode::ImmediateOrCancel,
            message: "unfilled remainder of an IOC order".into(),
        }),
        Event::OrderExpired(order),
        Event::OrderTriggered(order),
        Event::OrderAmended(AmendOrder {
            order,
            quantity: None,
            limit_price: None,
            stop_price: Some(price("4499")),
        }),
        Event::TickReceived(Tick {
            symbol,
            time,
            price: price("4500.75"),
            size: qty("2"),
            bid: Some(price("4500.5")),
            ask: None,
        }),
        Event::CandleClosed(Candle {
            symbol,
            timeframe: Timeframe::M5,
            start: Timestamp::parse("2026-11-22T14:25:00Z").unwrap(),
            end: Timestamp::parse("2026-11-22T14:30:00Z").unwrap(),
            open: price("4498"),
            high: price("4501.25"),
            low: price("4497.5"),
            close: price("4500.75"),
            volume: qty("1234"),
            trades: 87,
        }),
    ]
}

fn golden_path(event_type: &str, version: u16) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/golden")
        .join(format!("{event_type}.v{version}.json"))
}

#[test]
fn every_event_type_has_a_sample() {
    let sampled: Vec<&str> = samples().iter().map(Event::event_type).collect();
    for (event_type, _) in Event::TYPES {
        assert!(
            sampled.contains(event_type),
            "no golden sample for {event_type}"
        );
    }
}

#[test]
fn wire_format_matches_the_golden_files() {
    let bless = std::env::var_os("STRATUS_BLESS").is_some();
    for (i, event) in samples().into_iter().enumerate() {
        let id = EventId::derived(&format!("golden-{i}"));
        let envelope = event.to_envelope(id, Timestamp::parse("2026-11-22T14:30:00.125Z").unwrap());
        let json = serde_json::to_string_pretty(&envelope).unwrap() + "\n";
        let path = golden_path(event.event_type(), event.version());
        if bless {
            std::fs::write(&path, &json).unwrap();
            continue;
        }
        let expected = std::fs::read_to_string(&path)
            .unwrap_or_else(|e| panic!("{}: {e} (bless with STRATUS_BLESS=1)", path.display()));
        assert_eq!(
            json,
            expected,
            "wire format of {} changed",
            event.event_type()
        );

        // And the file reads back into the same event.
        let parsed = EventEnvelope::from_slice(expected.as_bytes()).unwrap();
        assert_eq!(parsed.decode().unwrap(), event);
        assert_eq!(parsed, envelope);
    }
}

#[test]
fn unknown_types_and_versions_are_refused() {
    let envelope = samples()[3].to_envelope(EventId::derived("x"), Timestamp::EPOCH);
    let mut newer = envelope.clone();
    newer.version = 2;
    assert!(matches!(
        newer.decode(),
        Err(EventError::UnsupportedVersion { version: 2, .. })
    ));
    let mut unknown = envelope.clone();
    unknown.event_type = "order.teleported".into();
    assert_eq!(
        unknown.decode(),
        Err(EventError::UnknownType("order.teleported".into()))
    );
    let mut bad = envelope;
    bad.payload = serde_json::json!({"order_id": "nope"});
    assert!(matches!(bad.decode(), Err(EventError::Payload { .. })));
    assert!(matches!(
        EventEnvelope::from_slice(b"{not json"),
        Err(EventError::Malformed(_))
    ));
}

#[test]
fn partition_keys_follow_the_stream_rules() {
    let events = samples();
    let symbol_keyed = [
        "order.place",
        "order.cancel",
        "order.amend",
        "broker.execution",
        "market.tick",
        "candle.closed",
    ];
    for e in &events {
        let expected = if symbol_keyed.contains(&e.event_type()) {
            "ES".to_owned()
        } else {
            "0191e0a4-0000-7000-8000-00000000a11c".to_owned()
        };
        assert_eq!(e.partition_key(), expected, "{}", e.event_type());
    }
}
