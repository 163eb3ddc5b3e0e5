//! The streaming core service — a long-running container in the cloud, a task inside
//! `stratus up`.
//!
//! It consumes `commands` (orders from the orders function) and `ticks` (the market
//! feed), runs them through [`state::CoreState`] — the same deterministic
//! `engine::engine::Engine` and paper broker the backtests use, plus candle
//! history on the standard timeframes — and commits what each batch produced (orders,
//! fills, positions, ledger entries, candles, outbox events) **with the batch's input
//! checkpoints and the engine snapshot in one transaction** ([`runner`]). After a commit
//! it relays the outbox to `executions` and `candles`, keeps the read models (last
//! prices, order status, balances), and fans events out to WebSocket clients ([`hub`],
//! [`ws`]). A crash loses only the uncommitted batch, which is read again from the
//! checkpoints.
//!
//! This is its own crate rather than a binary of `engine` so that the engine library
//! stays free of I/O dependencies (only `store` knows sqlx and the AWS SDK).

pub mod executions;
pub mod feed;
pub mod gateway;
pub mod hub;
pub mod inputs;
pub mod read_models;
pub mod runner;
pub mod service;
pub mod state;
pub mod ws;

pub use runner::{Core, CoreHealth};
pub use state::CoreState;

/// The core's part of the OpenAPI document: `/health` and `/ws`.
#[derive(Debug, utoipa::OpenApi)]
#[openapi(paths(service::health_route, ws::upgrade))]
pub struct Api;
