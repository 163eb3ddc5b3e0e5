//! Routes commands to the book of their symbol.

use domain::events::{OrderOutcome, ReasonCode};
use domain::{Instrument, Symbol, Timestamp};
use rustc_hash::FxHashMap;

use super::book::OrderBook;
use super::command::{BookEvent, Command, SelfTradePrevention};

/// One [`OrderBook`] per instrument.
#[derive(Debug, Clone, Default)]
pub struct MatchingEngine {
    books: FxHashMap<Symbol, OrderBook>,
    stp: SelfTradePrevention,
}

impl MatchingEngine {
    pub fn new(stp: SelfTradePrevention) -> Self {
        MatchingEngine {
            books: FxHashMap::default(),
            stp,
        }
    }

    /// Adds a book for `instrument`; an existing book of that symbol is kept.
    pub fn add_instrument(&mut self, instrument: Instrument) {
        let stp = self.stp;
        self.books
            .entry(instrument.symbol())
            .or_insert_with(|| OrderBook::new(instrument, stp));
    }

    pub fn book(&self, symbol: Symbol) -> Option<&OrderBook> {
        self.books.get(&symbol)
    }

    pub fn symbols(&self) -> impl Iterator<Item = Symbol> + '_ {
        self.books.keys().copied()
    }

    /// Runs `command` on its symbol's book; a command for a symbol without a book is
    /// rejected with `unknown_symbol`.
    pub fn execute(&mut self, command: &Command, now: Timestamp, out: &mut Vec<BookEvent>) {
        let symbol = command.symbol();
        match self.books.get_mut(&symbol) {
            Some(book) => book.execute(command, now, out),
            None => {
                let Some(order) = command.order_ref() else {
                    return;
                };
                out.push(BookEvent::Rejected(OrderOutcome {
                    order,
                    code: ReasonCode::UnknownSymbol,
                    message: format!("no instrument {symbol} is traded here"),
                }));
            }
        }
    }
}
