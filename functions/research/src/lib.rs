//! The research function: the strategy catalog, and backtests and optimisations run as
//! jobs over the stored candle history by the same engine as live trading and the CLI.
//!
//! | route | what |
//! |---|---|
//! | `GET /catalog/strategies`, `GET /catalog/strategies/{name}` | strategies with their parameters as JSON Schema |

mod catalog;

use api::Routes;
use app::AppState;
use axum::http::Method;

pub fn routes() -> Routes {
    Routes::new()
        .add(Method::GET, "/catalog/strategies", catalog::list)
        .add(Method::GET, "/catalog/strategies/{name}", catalog::one)
}

/// The function's part of the OpenAPI document.
#[derive(Debug, utoipa::OpenApi)]
#[openapi(paths(catalog::list, catalog::one))]
pub struct Api;

pub fn router(state: AppState) -> axum::Router {
    routes().into_router(state)
}
