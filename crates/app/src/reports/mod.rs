//! The reports' application side: running metrics kept from the `executions` stream
//! ([`executions`], [`running`]) and the daily report rows ([`daily`]). The reports
//! function serves them over HTTP and runs them under Lambda; the core can run them in
//! process.

pub mod daily;
pub mod executions;
pub mod running;
