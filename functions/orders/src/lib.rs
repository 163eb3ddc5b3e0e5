//! The orders function: placing, listing, reading, cancelling and amending orders, the
//! account's fills, and strategy deployments (the instruments are the market function's).
//!
//! | route | what |
//! |---|---|
//! | `POST /accounts/{account_id}/orders` | place (market, limit, stop, stop-limit; GTC, IOC, FOK, DAY) |
//! | `GET /accounts/{account_id}/orders` | filters `status`, `symbol`; cursor pages (`limit`, `cursor`) |
//! | `GET /accounts/{account_id}/fills` | the latest fills |
//! | `GET /orders/{order_id}`, `DELETE …` (cancel), `PATCH …` (amend) | one order |
//! | `POST/GET /accounts/{account_id}/strategies`, `GET /strategies/{strategy_id}` | strategy deployments |
//! | `POST /strategies/{strategy_id}/pause`, `…/resume`, `…/stop` | what the core runs |
//!
//! A new order passes, in order: the body's shape, the instrument and its grid, the
//! `client_order_id` check (the same body again → 200 and the original order; another
//! body → 409), then the pre-trade checks (account not halted, order notional, position
//! limit, buying power, what is held for sells) — and only then is it recorded and its
//! command published, together, through the account's `Broker`. Fills come back from the
//! streaming core.

mod amend;
mod place;
mod pretrade;
mod read;
mod strategies;

use api::Routes;
use app::AppState;
use axum::http::Method;

pub use pretrade::Rejection;

/// The function's part of the OpenAPI document.
#[derive(Debug, utoipa::OpenApi)]
#[openapi(
    paths(
        place::place,
        read::list,
        read::fills,
        read::get,
        amend::cancel,
        amend::amend,
        strategies::deploy,
        strategies::list,
        strategies::get,
        strategies::pause,
        strategies::resume,
        strategies::stop,
    ),
    components(schemas(
        api::input::ClientOrderIdInput,
        api::input::SymbolInput,
        read::OrderStatusName
    ))
)]
pub struct Api;

pub fn routes() -> Routes {
    Routes::new()
        .add(Method::POST, "/accounts/{account_id}/orders", place::place)
        .add(Method::GET, "/accounts/{account_id}/orders", read::list)
        .add(Method::GET, "/accounts/{account_id}/fills", read::fills)
        .add(Method::GET, "/orders/{order_id}", read::get)
        .add(Method::DELETE, "/orders/{order_id}", amend::cancel)
        .add(Method::PATCH, "/orders/{order_id}", amend::amend)
        .add(
            Method::POST,
            "/accounts/{account_id}/strategies",
            strategies::deploy,
        )
        .add(
            Method::GET,
            "/accounts/{account_id}/strategies",
            strategies::list,
        )
        .add(Method::GET, "/strategies/{strategy_id}", strategies::get)
        .add(
            Method::POST,
            "/strategies/{strategy_id}/pause",
            strategies::pause,
        )
        .add(
            Method::POST,
            "/strategies/{strategy_id}/resume",
            strategies::resume,
        )
        .add(
            Method::POST,
            "/strategies/{strategy_id}/stop",
            strategies::stop,
        )
}

pub fn router(state: AppState) -> axum::Router {
    routes().into_router(state)
}
