//! The fast book against the reference book on long random command streams: the same
//! events, in the same order, and the same book state after every command.

#![allow(clippy::unwrap_used)] // integration tests: a failed unwrap is a failed test

mod support;

use domain::{Side, Timestamp};
use engine::matching::{Command, OrderBook, SelfTradePrevention};
use support::reference::ReferenceBook;
use support::{CommandGenerator, describe, instrument};

fn compare(seed: u64, stp: SelfTradePrevention, commands: usize) -> (usize, usize) {
    let mut fast = OrderBook::new(instrument(), stp);
    let mut reference = ReferenceBook::new(instrument(), stp);
    let mut generator = CommandGenerator::new(seed, 200, 4);
    let (mut events, mut trades) = (0, 0);
    let mut i = 0;
    while i < commands {
        let mut batch = vec![generator.next_command()];
        // Now and then cancel everything still open, so the book stays a realistic size
        // (orders far from the market would otherwise pile up) and mass cancels are tested.
        if i % 2_000 == 1_999 {
            for side in [Side::Buy, Side::Sell] {
                for o in fast.resting_orders(side) {
                    batch.push(support::cancel(
                        o.id.as_uuid().as_u128(),
                        o.account_id.as_uuid().as_u128() - 1000,
                    ));
                }
                for o in fast.stop_orders(side) {
                    batch.push(support::cancel(
                        o.id.as_uuid().as_u128(),
                        o.account_id.as_uuid().as_u128() - 1000,
                    ));
                }
            }
        }
        for command in batch {
            i += 1;
            let now = Timestamp::from_secs(i as i64);
            let got = fast.process(&command, now);
            let want = reference.process(&command, now);
            if got != want {
                panic!(
                    "seed {seed}, command #{i} {command:?}\nfast:      {:?}\nreference: {:?}",
                    got.iter().map(describe).collect::<Vec<_>>(),
                    want.iter().map(describe).collect::<Vec<_>>()
                );
            }
            for side in [Side::Buy, Side::Sell] {
                assert_eq!(
                    fast.resting_orders(side),
                    reference.resting_orders(side),
                    "seed {seed} #{i} {side} book"
                );
                assert_eq!(
                    fast.stop_orders(side),
                    reference.stop_orders(side),
                    "seed {seed} #{i} {side} stops"
                );
            }
            events += got.len();
            trades += got
                .iter()
                .filter(|e| matches!(e, engine::matching::BookEvent::Trade(_)))
                .count();
            let _: &Command = &command;
        }
    }
    (events, trades)
}

#[test]
fn fast_book_matches_reference_on_100k_commands_cancelling_incoming_self_trades() {
    let (events, trades) = compare(20261122, SelfTradePrevention::CancelIncoming, 100_000);
    // The stream must actually exercise matching, not just rejections.
    assert!(trades > 10_000, "only {trades} trades in {events} events");
}

#[test]
fn fast_book_matches_reference_on_100k_commands_cancelling_resting_self_trades() {
    let (events, trades) = compare(7, SelfTradePrevention::CancelResting, 100_000);
    assert!(trades > 10_000, "only {trades} trades in {events} events");
}
