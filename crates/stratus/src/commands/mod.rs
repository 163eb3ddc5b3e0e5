//! The `stratus` subcommands that look at data.

pub mod backtest;
pub mod candles;
pub mod indicators;
pub mod input;
