//! The Stratus streaming core as a library: everything between market data and fills,
//! with no I/O. The service binary and the backtester are runners around it.

pub mod backtest;
pub mod candles;
pub mod engine;
pub mod indicators;
pub mod market_data;
pub mod matching;
pub mod optimize;
pub mod paper;
pub mod portfolio;
pub mod rng;
pub mod strategy;
mod vec_map;
pub mod wasm;
