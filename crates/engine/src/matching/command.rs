//! What goes into a book and what comes out.

use domain::events::{AmendOrder, CancelOrder, Event, OrderOutcome, OrderRef};
use domain::order::OrderRequest;
use domain::{Symbol, Trade};

/// A request to a book.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    Place(OrderRequest),
    Cancel(CancelOrder),
    Amend(AmendOrder),
    /// The trading day ended: every open DAY order of the symbol expires.
    ExpireDayOrders {
        symbol: Symbol,
    },
}

impl Command {
    pub fn symbol(&self) -> Symbol {
        match self {
            Command::Place(r) => r.symbol,
            Command::Cancel(c) => c.order.symbol,
            Command::Amend(a) => a.order.symbol,
            Command::ExpireDayOrders { symbol } => *symbol,
        }
    }

    /// The order a command is about (none for `ExpireDayOrders`).
    pub fn order_ref(&self) -> Option<OrderRef> {
        match self {
            Command::Place(r) => Some(OrderRef {
                order_id: r.id,
                account_id: r.account_id,
                symbol: r.symbol,
            }),
            Command::Cancel(c) => Some(c.order),
            Command::Amend(a) => Some(a.order),
            Command::ExpireDayOrders { .. } => None,
        }
    }
}

/// What a command did, in the order it happened.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BookEvent {
    /// A valid new order was taken (always before any of its trades).
    Accepted(OrderRef),
    /// A command was refused; the book is unchanged.
    Rejected(OrderOutcome),
    /// A maker and a taker traded at the maker's price.
    Trade(Trade),
    /// An order stopped working before it filled (requested, IOC, FOK, self-trade, …).
    Cancelled(OrderOutcome),
    /// A stop order's condition was met; it now works as a market or limit order.
    Triggered(OrderRef),
    /// A DAY order reached the end of its day.
    Expired(OrderRef),
    /// An amend was applied; carries the order's new total quantity and prices.
    Amended(AmendOrder),
}

impl BookEvent {
    /// The stream events this book event becomes (a trade is two fills, maker first).
    pub fn into_events(self) -> Vec<Event> {
        match self {
            BookEvent::Accepted(o) => vec![Event::OrderAccepted(o)],
            BookEvent::Rejected(o) => vec![Event::OrderRejected(o)],
            BookEvent::Trade(t) => t.fills().into_iter().map(Event::OrderFilled).collect(),
            BookEvent::Cancelled(o) => vec![Event::OrderCancelled(o)],
            BookEvent::Triggered(o) => vec![Event::OrderTriggered(o)],
            BookEvent::Expired(o) => vec![Event::OrderExpired(o)],
            BookEvent::Amended(a) => vec![Event::OrderAmended(a)],
        }
    }
}

/// What happens when an incoming order would trade with a resting order of the same
/// account.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum SelfTradePrevention {
    /// Cancel the resting order and keep matching the incoming one.
    CancelResting,
    /// Cancel what is left of the incoming order.
    #[default]
    CancelIncoming,
}
