//! Market data sources: CSV files of ticks or bars, and a seeded synthetic feed.

pub mod csv;
pub mod synthetic;

pub use csv::{DataError, DataKind, DataReader, MarketData, Record, read_file};
pub use synthetic::{SyntheticConfig, SyntheticFeed, SyntheticSymbol};
