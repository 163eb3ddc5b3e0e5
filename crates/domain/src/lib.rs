//! The Stratus domain model: the types every other crate speaks.
//!
//! Nothing here does I/O, touches a clock or spawns a task: values are built through
//! constructors that validate (`parse`, `new`, `TryFrom`) and return a typed
//! [`DomainError`], and money arithmetic is checked so that an overflow is an error
//! rather than a wrong number.

pub mod account;
pub mod calendar;
pub mod catalog;
pub mod clock;
pub mod deployment;
pub mod error;
pub mod events;
pub mod fill;
pub mod ids;
pub mod instrument;
pub mod market;
pub mod num;
pub mod order;
pub mod position;
pub mod research;
pub mod symbol;
pub mod time;
pub mod trading_calendar;

pub use account::{Account, AccountKind, LedgerEntry, LedgerKind, PostedEntry, ReportRow};
pub use catalog::InstrumentCatalog;
pub use clock::Clock;
pub use deployment::{StrategyRecord, StrategyStatus};
pub use error::DomainError;
pub use fill::{Fill, Liquidity, Trade, TradeId};
pub use ids::{AccountId, ClientOrderId, EventId, JobId, OrderId, StrategyId, UserId};
pub use instrument::{AssetClass, ClosedMarketPolicy, Instrument};
pub use market::{Candle, Tick};
pub use num::{Money, Price, Quantity};
pub use order::{Order, OrderStatus, OrderType, Side, TimeInForce};
pub use position::Position;
pub use research::{JobKind, JobStatus, ResearchJob};
pub use symbol::{Currency, Symbol};
pub use time::{Timeframe, Timestamp};
pub use trading_calendar::{CalendarCode, Session, TradingCalendar};

/// The calendar day type of the public API (report rows, sessions).
pub use chrono::NaiveDate;
pub use rust_decimal::{Decimal, RoundingStrategy};
