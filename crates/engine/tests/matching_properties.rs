//! Invariants of the order book over random command streams (proptest):
//! the book is never crossed; quantity is conserved (every order's fills, cancels and
//! remainder add up, checked by replaying the events through the domain `Order` state
//! machine, which also refuses any illegal transition); trades follow price-time priority;
//! FOK orders fill completely or not at all.

#![allow(clippy::unwrap_used)] // integration tests: a failed unwrap is a failed test

mod support;

use std::collections::HashMap;

use domain::order::OrderRequest;
use domain::{Order, OrderId, OrderStatus, Quantity, Side, TimeInForce, Timestamp};
use engine::matching::{BookEvent, Command, OrderBook, SelfTradePrevention};
use proptest::prelude::*;
use support::{CommandGenerator, instrument};

/// Replays book events into domain orders.
#[derive(Default)]
struct Tracker {
    orders: HashMap<OrderId, Order>,
}

impl Tracker {
    fn apply(&mut self, command: &Command, events: &[BookEvent], now: Timestamp) {
        for event in events {
            match event {
                BookEvent::Accepted(o) => {
                    let Command::Place(request) = command else {
                        panic!("accepted without place")
                    };
                    assert_eq!(request.id, o.order_id);
                    let mut order = Order::new(request.clone(), &instrument(), now).unwrap();
                    order.accept(now).unwrap();
                    self.orders.insert(order.id, order);
                }
                BookEvent::Trade(t) => {
                    for id in [t.maker_order_id, t.taker_order_id] {
                        self.orders
                            .get_mut(&id)
                            .unwrap()
                            .fill(t.quantity, t.price, now)
                            .unwrap();
                    }
                }
                BookEvent::Cancelled(o) => self
                    .orders
                    .get_mut(&o.order.order_id)
                    .unwrap()
                    .cancel(o.message.clone(), now)
                    .unwrap(),
                BookEvent::Expired(o) => self
                    .orders
                    .get_mut(&o.order_id)
                    .unwrap()
                    .expire(now)
                    .unwrap(),
                BookEvent::Amended(a) => self
                    .orders
                    .get_mut(&a.order.order_id)
                    .unwrap()
                    .amend(a.quantity, a.limit_price, a.stop_price, now)
                    .unwrap(),
                BookEvent::Rejected(_) | BookEvent::Triggered(_) => {}
            }
        }
    }

    /// Every open domain order is in the book with the same filled and remaining
    /// quantities, and nothing else is.
    fn check_against(&self, book: &OrderBook) {
        let mut open_in_book = 0;
        for side in [Side::Buy, Side::Sell] {
            for view in book.resting_orders(side) {
                let order = &self.orders[&view.id];
                assert!(
                    order.status().is_open(),
                    "{:?} rests but is {}",
                    view.id,
                    order.status()
                );
                assert_eq!(order.filled_quantity(), view.filled);
                assert_eq!(order.remaining_quantity(), view.remaining);
                assert_eq!(
                    order.filled_quantity().checked_add(view.remaining).unwrap(),
                    order.quantity()
                );
                open_in_book += 1;
            }
            for view in book.stop_orders(side) {
                let order = &self.orders[&view.id];
                assert_eq!(order.status(), OrderStatus::Accepted);
                assert_eq!(order.quantity(), view.quantity);
                open_in_book += 1;
            }
        }
        let open_tracked = self
            .orders
            .values()
            .filter(|o| o.status().is_open())
            .count();
        assert_eq!(
            open_tracked, open_in_book,
            "an open order went missing from the book"
        );
        assert_eq!(book.open_orders(), open_in_book);
    }
}

fn check_not_crossed(book: &OrderBook) {
    if let (Some(bid), Some(ask)) = (book.best_bid(), book.best_ask()) {
        assert!(bid < ask, "crossed book: bid {bid} ask {ask}");
    }
}

/// The makers an incoming order may trade with, in the order it must meet them.
fn expected_makers(
    book: &OrderBook,
    request: &OrderRequest,
    stp: SelfTradePrevention,
) -> Vec<(OrderId, Quantity)> {
    let mut makers = Vec::new();
    for view in book.resting_orders(request.side.opposite()) {
        let crosses = match (request.side, request.order_type.limit_price()) {
            (_, None) => true,
            (Side::Buy, Some(l)) => view.price <= l,
            (Side::Sell, Some(l)) => view.price >= l,
        };
        if !crosses {
            break;
        }
        if view.account_id == request.account_id {
            match stp {
                SelfTradePrevention::CancelIncoming => break,
                SelfTradePrevention::CancelResting => continue,
            }
        }
        makers.push((view.id, view.remaining));
    }
    makers
}

fn run(seed: u64, len: usize, stp: SelfTradePrevention) {
    let mut book = OrderBook::new(instrument(), stp);
    let mut tracker = Tracker::default();
    let mut generator = CommandGenerator::new(seed, 30, 3);
    for i in 0..len {
        let now = Timestamp::from_secs(i as i64);
        let command = generator.next_command();
        let before = match &command {
            Command::Place(r) if r.order_type.stop_price().is_none() => {
                Some(expected_makers(&book, r, stp))
            }
            _ => None,
        };
        let events = book.process(&command, now);
        tracker.apply(&command, &events, now);
        check_not_crossed(&book);
        tracker.check_against(&book);

        if let (Command::Place(request), Some(makers)) = (&command, before) {
            // The incoming order's own trades come before any stop it triggers.
            let own: Vec<_> = events
                .iter()
                .take_while(|e| !matches!(e, BookEvent::Triggered(_)))
                .filter_map(|e| match e {
                    BookEvent::Trade(t) if t.taker_order_id == request.id => Some(t),
                    _ => None,
                })
                .collect();
            // Price-time priority: the makers met are a prefix of the priority list, each
            // filled completely except possibly the last.
            for (k, trade) in own.iter().enumerate() {
                let (id, remaining) = makers[k];
                assert_eq!(
                    trade.maker_order_id, id,
                    "trade #{k} broke price-time priority"
                );
                if k + 1 < own.len() {
                    assert_eq!(
                        trade.quantity, remaining,
                        "skipped the rest of a better maker"
                    );
                }
            }
            let traded = own
                .iter()
                .fold(Quantity::ZERO, |a, t| a.checked_add(t.quantity).unwrap());
            if request.time_in_force == TimeInForce::Fok {
                assert!(
                    traded.is_zero() || traded == request.quantity,
                    "FOK order traded {traded} of {}",
                    request.quantity
                );
            }
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 200, .. ProptestConfig::default() })]

    #[test]
    fn invariants_hold_when_incoming_self_trades_are_cancelled(seed in any::<u64>(), len in 1usize..400) {
        run(seed, len, SelfTradePrevention::CancelIncoming);
    }

    #[test]
    fn invariants_hold_when_resting_self_trades_are_cancelled(seed in any::<u64>(), len in 1usize..400) {
        run(seed, len, SelfTradePrevention::CancelResting);
    }
}
