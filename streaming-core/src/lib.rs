//! The Stratus streaming core as a library: everything between market data and fills,
//! with no I/O. The service binary and the backtester are runners around it.

pub mod candles;
pub mod market_data;
pub mod matching;
pub mod rng;
