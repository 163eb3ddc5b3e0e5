//! Table-driven cases, one table per order type and operation: a book set up by some
//! commands, one more command, and the events it must produce (in the compact form of
//! `support::describe`).

#![allow(clippy::unwrap_used)] // integration tests: a failed unwrap is a failed test

mod support;

use domain::Side::{Buy, Sell};
use domain::TimeInForce::{Day, Fok, Gtc, Ioc};
use domain::{OrderType, Side, Timestamp};
use engine::matching::{BookEvent, Command, MatchingEngine, OrderBook, SelfTradePrevention};
use support::*;

struct Case {
    name: &'static str,
    setup: Vec<Command>,
    command: Command,
    expect: &'static [&'static str],
}

fn run_cases(stp: SelfTradePrevention, cases: Vec<Case>) {
    for case in cases {
        let mut book = OrderBook::new(instrument(), stp);
        for (i, c) in case.setup.iter().enumerate() {
            book.process(c, Timestamp::from_secs(i as i64));
        }
        let got: Vec<String> = book
            .process(&case.command, Timestamp::from_secs(1000))
            .iter()
            .map(describe)
            .collect();
        assert_eq!(got, case.expect, "case: {}", case.name);
        if let (Some(bid), Some(ask)) = (book.best_bid(), book.best_ask()) {
            assert!(bid < ask, "case {}: crossed after the command", case.name);
        }
    }
}

fn stop(id: u128, account: u128, side: Side, quantity: u64, stop: &str) -> Command {
    place(
        id,
        account,
        side,
        OrderType::Stop {
            stop_price: px(stop),
        },
        Gtc,
        quantity,
    )
}

fn stop_limit(
    id: u128,
    account: u128,
    side: Side,
    quantity: u64,
    stop: &str,
    limit: &str,
) -> Command {
    place(
        id,
        account,
        side,
        OrderType::StopLimit {
            stop_price: px(stop),
            limit_price: px(limit),
        },
        Gtc,
        quantity,
    )
}

#[test]
fn limit_orders() {
    run_cases(
        SelfTradePrevention::CancelIncoming,
        vec![
            Case {
                name: "rests on an empty book",
                setup: vec![],
                command: limit(1, 1, Buy, 5, "100"),
                expect: &["accepted 1"],
            },
            Case {
                name: "crossing buy trades at the maker's price",
                setup: vec![limit(1, 1, Sell, 5, "100")],
                command: limit(2, 2, Buy, 3, "101"),
                expect: &["accepted 2", "trade 3@100 maker=1 taker=2"],
            },
            Case {
                name: "sweeps levels best price first, then rests the remainder",
                setup: vec![
                    limit(1, 1, Sell, 2, "101"),
                    limit(2, 1, Sell, 2, "100"),
                    limit(3, 1, Sell, 2, "102"),
                ],
                command: limit(4, 2, Buy, 5, "101"),
                expect: &[
                    "accepted 4",
                    "trade 2@100 maker=2 taker=4",
                    "trade 2@101 maker=1 taker=4",
                ],
            },
            Case {
                name: "time priority within a level",
                setup: vec![limit(1, 1, Buy, 2, "99"), limit(2, 3, Buy, 2, "99")],
                command: limit(3, 2, Sell, 3, "99"),
                expect: &[
                    "accepted 3",
                    "trade 2@99 maker=1 taker=3",
                    "trade 1@99 maker=2 taker=3",
                ],
            },
            Case {
                name: "non-crossing sell rests",
                setup: vec![limit(1, 1, Buy, 2, "99")],
                command: limit(2, 2, Sell, 1, "99.5"),
                expect: &["accepted 2"],
            },
            Case {
                name: "price off the tick grid is rejected",
                setup: vec![],
                command: limit(1, 1, Buy, 1, "100.25"),
                expect: &["rejected 1 invalid_order"],
            },
            Case {
                name: "zero quantity is rejected",
                setup: vec![],
                command: place(
                    1,
                    1,
                    Buy,
                    OrderType::Limit {
                        limit_price: px("100"),
                    },
                    Gtc,
                    0,
                ),
                expect: &["rejected 1 invalid_order"],
            },
            Case {
                name: "duplicate open id is rejected",
                setup: vec![limit(1, 1, Buy, 1, "99")],
                command: limit(1, 2, Sell, 1, "105"),
                expect: &["rejected 1 duplicate_order_id"],
            },
        ],
    );
}

#[test]
fn market_orders() {
    run_cases(
        SelfTradePrevention::CancelIncoming,
        vec![
            Case {
                name: "market buy walks the book",
                setup: vec![limit(1, 1, Sell, 1, "100"), limit(2, 1, Sell, 1, "100.5")],
                command: market(3, 2, Buy, 2),
                expect: &[
                    "accepted 3",
                    "trade 1@100 maker=1 taker=3",
                    "trade 1@100.5 maker=2 taker=3",
                ],
            },
            Case {
                name: "market remainder is cancelled for lack of liquidity",
                setup: vec![limit(1, 1, Buy, 1, "99")],
                command: market(2, 2, Sell, 3),
                expect: &[
                    "accepted 2",
                    "trade 1@99 maker=1 taker=2",
                    "cancelled 2 no_liquidity",
                ],
            },
            Case {
                name: "market order on an empty book",
                setup: vec![],
                command: market(1, 1, Buy, 1),
                expect: &["accepted 1", "cancelled 1 no_liquidity"],
            },
            Case {
                name: "market FOK without enough liquidity does not trade",
                setup: vec![limit(1, 1, Sell, 1, "100")],
                command: place(2, 2, Buy, OrderType::Market, Fok, 2),
                expect: &["accepted 2", "cancelled 2 fill_or_kill"],
            },
        ],
    );
}

#[test]
fn ioc_and_fok() {
    run_cases(
        SelfTradePrevention::CancelIncoming,
        vec![
            Case {
                name: "IOC fills what it can and cancels the rest",
                setup: vec![limit(1, 1, Sell, 2, "100")],
                command: limit_tif(2, 2, Buy, 5, "100", Ioc),
                expect: &[
                    "accepted 2",
                    "trade 2@100 maker=1 taker=2",
                    "cancelled 2 immediate_or_cancel",
                ],
            },
            Case {
                name: "IOC that does not cross never rests",
                setup: vec![limit(1, 1, Sell, 2, "101")],
                command: limit_tif(2, 2, Buy, 1, "100", Ioc),
                expect: &["accepted 2", "cancelled 2 immediate_or_cancel"],
            },
            Case {
                name: "FOK fills completely across levels",
                setup: vec![limit(1, 1, Sell, 2, "100"), limit(2, 3, Sell, 2, "100.5")],
                command: limit_tif(3, 2, Buy, 4, "100.5", Fok),
                expect: &[
                    "accepted 3",
                    "trade 2@100 maker=1 taker=3",
                    "trade 2@100.5 maker=2 taker=3",
                ],
            },
            Case {
                name: "FOK that cannot fill within its limit does nothing",
                setup: vec![limit(1, 1, Sell, 2, "100"), limit(2, 3, Sell, 2, "101")],
                command: limit_tif(3, 2, Buy, 4, "100.5", Fok),
                expect: &["accepted 3", "cancelled 3 fill_or_kill"],
            },
            Case {
                name: "FOK counts own orders as unavailable under cancel-incoming",
                setup: vec![
                    limit(1, 1, Sell, 2, "100"),
                    limit(2, 2, Sell, 2, "100"),
                    limit(3, 1, Sell, 2, "100"),
                ],
                command: limit_tif(4, 2, Buy, 4, "100", Fok),
                expect: &["accepted 4", "cancelled 4 fill_or_kill"],
            },
        ],
    );
}

#[test]
fn stop_orders() {
    run_cases(
        SelfTradePrevention::CancelIncoming,
        vec![
            Case {
                name: "stop waits off the book",
                setup: vec![limit(1, 1, Sell, 1, "100"), limit(2, 2, Buy, 1, "100")],
                command: stop(3, 3, Buy, 1, "101"),
                expect: &["accepted 3"],
            },
            Case {
                name: "buy stop triggers when a trade reaches it, then trades as market",
                setup: vec![
                    limit(1, 1, Sell, 1, "101"),
                    limit(2, 1, Sell, 2, "102"),
                    stop(3, 3, Buy, 2, "101"),
                ],
                command: limit(4, 2, Buy, 1, "101"),
                expect: &[
                    "accepted 4",
                    "trade 1@101 maker=1 taker=4",
                    "triggered 3",
                    "trade 2@102 maker=2 taker=3",
                ],
            },
            Case {
                name: "sell stop-limit triggers and rests at its limit",
                setup: vec![
                    limit(1, 1, Buy, 1, "99"),
                    stop_limit(2, 3, Sell, 2, "99", "98.5"),
                ],
                command: limit(3, 2, Sell, 1, "99"),
                expect: &["accepted 3", "trade 1@99 maker=1 taker=3", "triggered 2"],
            },
            Case {
                name: "stop whose condition already holds triggers at once",
                setup: vec![
                    limit(1, 1, Sell, 1, "100"),
                    limit(2, 2, Buy, 1, "100"),
                    limit(3, 1, Sell, 1, "100.5"),
                ],
                command: stop(4, 3, Buy, 1, "99"),
                expect: &["accepted 4", "triggered 4", "trade 1@100.5 maker=3 taker=4"],
            },
            Case {
                name: "triggered stops cascade",
                setup: vec![
                    limit(1, 1, Sell, 1, "100"),
                    limit(2, 1, Sell, 1, "101"),
                    limit(3, 1, Sell, 1, "102"),
                    stop(4, 2, Buy, 1, "100"),
                    stop(5, 3, Buy, 1, "101"),
                ],
                command: market(6, 4, Buy, 1),
                expect: &[
                    "accepted 6",
                    "trade 1@100 maker=1 taker=6",
                    "triggered 4",
                    "trade 1@101 maker=2 taker=4",
                    "triggered 5",
                    "trade 1@102 maker=3 taker=5",
                ],
            },
            Case {
                name: "stop can be cancelled before it triggers",
                setup: vec![stop(1, 1, Sell, 1, "95")],
                command: cancel(1, 1),
                expect: &["cancelled 1 requested"],
            },
        ],
    );
}

#[test]
fn cancel_and_amend() {
    run_cases(
        SelfTradePrevention::CancelIncoming,
        vec![
            Case {
                name: "cancel a resting order",
                setup: vec![limit(1, 1, Buy, 1, "99")],
                command: cancel(1, 1),
                expect: &["cancelled 1 requested"],
            },
            Case {
                name: "cancel an unknown order",
                setup: vec![],
                command: cancel(9, 1),
                expect: &["rejected 9 unknown_order"],
            },
            Case {
                name: "cancel someone else's order is as unknown",
                setup: vec![limit(1, 1, Buy, 1, "99")],
                command: cancel(1, 2),
                expect: &["rejected 1 unknown_order"],
            },
            Case {
                name: "amend an unknown order",
                setup: vec![],
                command: amend(9, 1, Some(1), None),
                expect: &["rejected 9 unknown_order"],
            },
            Case {
                name: "amend below the filled quantity is refused",
                setup: vec![limit(1, 1, Buy, 5, "99"), limit(2, 2, Sell, 3, "99")],
                command: amend(1, 1, Some(3), None),
                expect: &["rejected 1 quantity_below_filled"],
            },
            Case {
                name: "amend to an off-tick price is refused",
                setup: vec![limit(1, 1, Buy, 5, "99")],
                command: amend(1, 1, None, Some("99.25")),
                expect: &["rejected 1 invalid_order"],
            },
            Case {
                name: "amend across the spread trades at once",
                setup: vec![limit(1, 1, Buy, 2, "99"), limit(2, 2, Sell, 1, "100")],
                command: amend(1, 1, None, Some("100")),
                expect: &[
                    "amended 1 qty=2 limit=100 stop=",
                    "trade 1@100 maker=2 taker=1",
                ],
            },
        ],
    );
}

#[test]
fn amend_priority() {
    let mut book = OrderBook::new(instrument(), SelfTradePrevention::CancelIncoming);
    let t = Timestamp::EPOCH;
    for c in [
        limit(1, 1, Buy, 5, "99"),
        limit(2, 2, Buy, 5, "99"),
        limit(3, 3, Buy, 5, "99"),
    ] {
        book.process(&c, t);
    }
    let ids = |b: &OrderBook| {
        b.resting_orders(Buy)
            .iter()
            .map(|o| o.id.as_uuid().as_u128())
            .collect::<Vec<_>>()
    };
    book.process(&amend(1, 1, Some(4), None), t);
    assert_eq!(ids(&book), [1, 2, 3], "quantity down keeps priority");
    book.process(&amend(1, 1, Some(6), None), t);
    assert_eq!(ids(&book), [2, 3, 1], "quantity up loses priority");
    book.process(&amend(2, 2, None, Some("98.5")), t);
    book.process(&amend(2, 2, None, Some("99")), t);
    assert_eq!(
        ids(&book),
        [3, 1, 2],
        "a price change loses priority even when moved back"
    );
    assert_eq!(book.depth(Buy), vec![(px("99"), qty(16), 3)]);
}

#[test]
fn self_trade_prevention() {
    run_cases(
        SelfTradePrevention::CancelIncoming,
        vec![Case {
            name: "cancel incoming: trades up to the own order, then stops",
            setup: vec![
                limit(1, 2, Sell, 1, "100"),
                limit(2, 1, Sell, 1, "100"),
                limit(3, 2, Sell, 1, "100"),
            ],
            command: limit(4, 1, Buy, 3, "100"),
            expect: &[
                "accepted 4",
                "trade 1@100 maker=1 taker=4",
                "cancelled 4 self_trade",
            ],
        }],
    );
    run_cases(
        SelfTradePrevention::CancelResting,
        vec![Case {
            name: "cancel resting: removes the own order and keeps matching",
            setup: vec![
                limit(1, 2, Sell, 1, "100"),
                limit(2, 1, Sell, 1, "100"),
                limit(3, 2, Sell, 1, "100"),
            ],
            command: limit(4, 1, Buy, 3, "100"),
            expect: &[
                "accepted 4",
                "trade 1@100 maker=1 taker=4",
                "cancelled 2 self_trade",
                "trade 1@100 maker=3 taker=4",
            ],
        }],
    );
}

#[test]
fn day_orders_expire_at_end_of_day() {
    run_cases(
        SelfTradePrevention::CancelIncoming,
        vec![Case {
            name: "DAY orders and DAY stops expire in acceptance order; GTC stays",
            setup: vec![
                limit_tif(1, 1, Buy, 1, "99", Day),
                limit(2, 1, Buy, 1, "98"),
                place(
                    3,
                    2,
                    Sell,
                    OrderType::Stop {
                        stop_price: px("97"),
                    },
                    Day,
                    1,
                ),
                limit_tif(4, 2, Sell, 1, "101", Day),
            ],
            command: Command::ExpireDayOrders { symbol: symbol() },
            expect: &["expired 1", "expired 3", "expired 4"],
        }],
    );
}

#[test]
fn engine_routes_by_symbol_and_rejects_unknown_symbols() {
    let mut engine = MatchingEngine::new(SelfTradePrevention::CancelIncoming);
    engine.add_instrument(instrument());
    let mut out = Vec::new();
    engine.execute(&limit(1, 1, Buy, 1, "99"), Timestamp::EPOCH, &mut out);
    assert!(matches!(out[..], [BookEvent::Accepted(_)]));
    let mut unknown = limit(2, 1, Buy, 1, "99");
    if let Command::Place(r) = &mut unknown {
        r.symbol = domain::Symbol::parse("NQ").unwrap();
    }
    out.clear();
    engine.execute(&unknown, Timestamp::EPOCH, &mut out);
    assert_eq!(
        out.iter().map(describe).collect::<Vec<_>>(),
        ["rejected 2 unknown_symbol"]
    );
    assert_eq!(engine.book(symbol()).unwrap().open_orders(), 1);
}

#[test]
fn book_events_become_stream_events() {
    let mut book = OrderBook::new(instrument(), SelfTradePrevention::CancelIncoming);
    book.process(&limit(1, 1, Sell, 1, "100"), Timestamp::EPOCH);
    let events: Vec<_> = book
        .process(&limit(2, 2, Buy, 1, "100"), Timestamp::EPOCH)
        .into_iter()
        .flat_map(BookEvent::into_events)
        .collect();
    let types: Vec<_> = events.iter().map(|e| e.event_type()).collect();
    assert_eq!(types, ["order.accepted", "order.filled", "order.filled"]);
    assert_eq!(
        events[1].partition_key(),
        acct(1).to_string(),
        "maker's fill is keyed by the maker's account"
    );
    assert_eq!(events[2].partition_key(), acct(2).to_string());
}
