//! The `stratus` subcommands: run the platform (`up`) and look at data.

pub mod backtest;
pub mod candles;
pub mod indicators;
pub mod input;
pub mod up;
