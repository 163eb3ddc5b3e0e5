//! The research function: the strategy catalog, and backtests and optimisations run as
//! jobs over the stored candle history by the same engine as live trading and the CLI.
//!
//! | route | what |
//! |---|---|
//! | `GET /catalog/strategies`, `GET /catalog/strategies/{name}` | strategies with their parameters as JSON Schema (the built-ins, then the caller's modules) |
//! | `POST /strategy-modules`, `GET /strategy-modules`, `GET/DELETE /strategy-modules/{module_id}` | the caller's strategy modules (WebAssembly) |
//! | `POST /backtests`, `GET /backtests`, `GET/DELETE /backtests/{job_id}`, `GET …/chart.svg` | backtest jobs |
//! | `POST /optimizations`, `GET /optimizations`, `GET/DELETE /optimizations/{job_id}` | parameter searches |
//!
//! A request is checked whole before it is queued (a 422 names the field); the job then
//! runs on a worker ([`worker`]: a pool in `stratus up`, a Lambda in the cloud) that reads
//! the bars from the candle history and runs the engine's backtest — the very code
//! `stratus backtest` runs on a file, so a job's `report` equals the CLI's JSON on the same
//! data — or its optimiser ([`engine::optimize`]) over every core.

mod catalog;
mod jobs;
pub mod modules;
pub mod run;
pub mod spec;
pub mod worker;

pub use jobs::JOBS_STREAM;

use api::Routes;
use app::AppState;
use axum::http::Method;

pub fn routes() -> Routes {
    Routes::new()
        .add(Method::GET, "/catalog/strategies", catalog::list)
        .add(Method::GET, "/catalog/strategies/{name}", catalog::one)
        .add_with_body_limit(
            Method::POST,
            "/strategy-modules",
            modules::upload,
            modules::body_limit(),
        )
        .add(Method::GET, "/strategy-modules", modules::list)
        .add(Method::GET, "/strategy-modules/{module_id}", modules::get)
        .add(
            Method::DELETE,
            "/strategy-modules/{module_id}",
            modules::delete,
        )
        .add(Method::POST, "/backtests", jobs::submit_backtest)
        .add(Method::GET, "/backtests", jobs::list_backtests)
        .add(Method::GET, "/backtests/{job_id}", jobs::get_backtest)
        .add(Method::DELETE, "/backtests/{job_id}", jobs::delete_backtest)
        .add(
            Method::GET,
            "/backtests/{job_id}/chart.svg",
            jobs::backtest_chart,
        )
        .add(Method::POST, "/optimizations", jobs::submit_optimization)
        .add(Method::GET, "/optimizations", jobs::list_optimizations)
        .add(
            Method::GET,
            "/optimizations/{job_id}",
            jobs::get_optimization,
        )
        .add(
            Method::DELETE,
            "/optimizations/{job_id}",
            jobs::delete_optimization,
        )
}

/// The function's part of the OpenAPI document.
#[derive(Debug, utoipa::OpenApi)]
#[openapi(paths(
    catalog::list,
    catalog::one,
    modules::upload,
    modules::list,
    modules::get,
    modules::delete,
    jobs::submit_backtest,
    jobs::list_backtests,
    jobs::get_backtest,
    jobs::delete_backtest,
    jobs::backtest_chart,
    jobs::submit_optimization,
    jobs::list_optimizations,
    jobs::get_optimization,
    jobs::delete_optimization
))]
pub struct Api;

pub fn router(state: AppState) -> axum::Router {
    routes().into_router(state)
}
