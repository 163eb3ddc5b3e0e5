//! Order matching: one price-time-priority limit order book per symbol.
//!
//! [`OrderBook`] is a synchronous state machine: feed it a [`Command`] and the time, get
//! back the [`BookEvent`]s it produced. It keeps prices as integer ticks and quantities as
//! integer lots of its [`Instrument`](domain::Instrument) (converted once at the edge of
//! the book), so matching does integer comparisons only. [`MatchingEngine`] routes
//! commands to the book of their symbol.
//!
//! Rules, all of them tested against a deliberately simple reference book:
//! - Price-time priority: the best price trades first; at one price, the earliest order.
//!   Trades happen at the resting (maker) order's price.
//! - Market orders never rest: what does not fill at once is cancelled (`no_liquidity`).
//! - IOC remainders are cancelled; FOK orders fill completely at once or are cancelled
//!   without trading (`fill_or_kill`); GTC and DAY remainders rest. DAY orders expire on
//!   [`Command::ExpireDayOrders`].
//! - Stop and stop-limit orders wait off the book until the last trade price reaches the
//!   stop (buy: last ≥ stop, sell: last ≤ stop), then enter as market or limit orders. A
//!   stop whose condition already holds when it arrives triggers at once. When several
//!   stops trigger, the one accepted first goes first.
//! - Amend: lowering the quantity at the same price keeps the order's place in the queue;
//!   a price change or a larger quantity sends it to the back (and it may trade at once
//!   if the new price crosses). The quantity in an amend is the new total, filled part
//!   included, and must exceed the filled part.
//! - Self-trade prevention, by account: [`SelfTradePrevention::CancelResting`] cancels the
//!   resting order and matching goes on; [`SelfTradePrevention::CancelIncoming`] cancels
//!   the rest of the incoming order. FOK's all-or-nothing check takes this into account.
//! - Every refusal is an event with a reason code, never a panic: unknown symbol, unknown
//!   or foreign order, duplicate open order id, prices off the tick grid, quantities off
//!   the lot grid or below the minimum.

mod book;
mod command;
mod engine;
mod ladder;

pub use book::{OrderBook, RestingOrderView, StopOrderView};
pub use command::{BookEvent, Command, SelfTradePrevention};
pub use engine::MatchingEngine;
