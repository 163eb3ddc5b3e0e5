//! The orders function: placing, listing, reading, cancelling and amending orders, the
//! account's fills, and the tradable instruments.
//!
//! | route | what |
//! |---|---|
//! | `POST /accounts/{account_id}/orders` | place (market, limit, stop, stop-limit; GTC, IOC, FOK, DAY) |
//! | `GET /accounts/{account_id}/orders` | filters `status`, `symbol`; cursor pages (`limit`, `cursor`) |
//! | `GET /accounts/{account_id}/fills` | the latest fills |
//! | `GET /orders/{order_id}`, `DELETE …` (cancel), `PATCH …` (amend) | one order |
//! | `GET /instruments` | symbols, tick and lot sizes |
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

use axum::http::Method;
use common::{AppState, Routes};

pub use pretrade::Rejection;

pub fn routes() -> Routes {
    Routes::new()
        .add(Method::POST, "/accounts/{account_id}/orders", place::place)
        .add(Method::GET, "/accounts/{account_id}/orders", read::list)
        .add(Method::GET, "/accounts/{account_id}/fills", read::fills)
        .add(Method::GET, "/orders/{order_id}", read::get)
        .add(Method::DELETE, "/orders/{order_id}", amend::cancel)
        .add(Method::PATCH, "/orders/{order_id}", amend::amend)
        .add(Method::GET, "/instruments", read::instruments)
}

pub fn router(state: AppState) -> axum::Router {
    routes().into_router(state)
}
