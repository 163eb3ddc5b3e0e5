//! Stratus storage: ports (traits) for everything the platform keeps and streams, their
//! adapters, and one conformance suite per port that every adapter passes.
//!
//! | port | cloud adapter | embedded adapter | tests |
//! |---|---|---|---|
//! | [`kv::KvTable`] | DynamoDB | SQLite | memory |
//! | [`stream::StreamLog`] | Kinesis | SQLite log | memory |
//! | [`records::AccountLedger`] | Postgres | SQLite | memory |
//! | [`records::OrderRecords`] | Postgres | SQLite | memory |
//! | [`records::StrategyRecords`] | Postgres | SQLite | memory |
//! | [`records::MarketHistory`] | Postgres | SQLite | memory |
//! | [`records::ReportRecords`] | Postgres | SQLite | memory |
//! | [`records::CoreCommit`] | Postgres | SQLite | memory |
//! | [`records::OutboxQueue`] | Postgres | SQLite | memory |
//!
//! The system-of-record ports are implemented by one adapter per database (one
//! transaction can span them: an order's insert reserves cash the ledger holds), and
//! [`records::RecordStore`] names them together.
//!
//! Only this crate knows sqlx and the AWS SDK.

pub mod aws;
pub mod brokers;
/// Built for tests only (feature `conformance`, which this crate's own tests turn on):
/// never part of a production binary.
#[cfg(feature = "conformance")]
pub mod conformance;
pub mod connect;
pub mod core_status;
pub mod dead_letters;
pub mod error;
pub mod kv;
pub mod leases;
pub mod market_prices;
pub mod market_tape;
pub mod memory;
pub mod once;
pub mod postgres;
pub mod records;
pub mod resources;
pub mod risk;
pub mod sqlite;
pub mod strategy_modules;
pub mod stream;
pub mod users;

pub use connect::{Backend, Ports, connect};
pub use error::{ErrorKind, StoreError, StoreResult};
