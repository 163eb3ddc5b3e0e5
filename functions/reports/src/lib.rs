//! The reports function: an account's performance (the analytics metrics over its daily
//! equity curve and its round trips) and its equity chart, kept current by events.
//!
//! | entry | what |
//! |---|---|
//! | `GET /accounts/{account_id}/reports/performance?from&to` | metrics, equity curve, running totals |
//! | `GET /accounts/{account_id}/reports/equity.svg?from&to` | the chart |
//! | [`executions::handle`] | `executions` records (Kinesis event source) → running account metrics |
//! | [`daily::run`] | the daily schedule (EventBridge) → one report row per account and day |
//!
//! The equity curve is the daily rows (each account's equity when the schedule ran after
//! the day ended) plus the account valued now; round trips are rebuilt from the fills.

pub mod executions;
mod performance;

use api::Routes;
use app::AppState;
use axum::http::Method;

pub fn routes() -> Routes {
    Routes::new()
        .add(
            Method::GET,
            "/accounts/{account_id}/reports/performance",
            performance::performance,
        )
        .add(
            Method::GET,
            "/accounts/{account_id}/reports/equity.svg",
            performance::equity_svg,
        )
}

/// The function's part of the OpenAPI document.
#[derive(Debug, utoipa::OpenApi)]
#[openapi(paths(performance::performance, performance::equity_svg))]
pub struct Api;

pub fn router(state: AppState) -> axum::Router {
    routes().into_router(state)
}
