//! The `stratus` subcommands: run the platform (`up`), look at data, and load it.

pub mod backtest;
pub mod candles;
pub mod data;
pub mod indicators;
pub mod input;
pub mod optimize;
pub mod up;
