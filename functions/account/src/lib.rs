//! The account function: paper accounts, their cash (deposits and withdrawals through the
//! ledger), balances, positions, risk limits and broker connections.
//!
//! | route | what |
//! |---|---|
//! | `POST /accounts`, `GET /accounts`, `GET /accounts/{account_id}` | accounts |
//! | `GET /accounts/{account_id}/balances` | cash, reserved, buying power, equity, P&L |
//! | `GET /accounts/{account_id}/positions` | positions at their marks |
//! | `GET /accounts/{account_id}/ledger` | cash movements, newest first |
//! | `POST /accounts/{account_id}/deposits`, `…/withdrawals` | paper cash (`Idempotency-Key` honoured) |
//! | `GET/PUT /accounts/{account_id}/risk-limits` | limits, today's P&L and any halt |
//! | `GET/POST /accounts/{account_id}/broker-connections`, `DELETE …/{connection_id}` | sealed credentials |
//!
//! Every route resolves the account through `api::accounts::owned`: another user's
//! account is a 404, exactly like an unknown one.

mod accounts;
mod cash;
mod connections;
mod risk;

use api::Routes;
use app::AppState;
use axum::http::Method;

pub fn routes() -> Routes {
    Routes::new()
        .add(Method::POST, "/accounts", accounts::create)
        .add(Method::GET, "/accounts", accounts::list)
        .add(Method::GET, "/accounts/{account_id}", accounts::get)
        .add(
            Method::GET,
            "/accounts/{account_id}/balances",
            accounts::balances,
        )
        .add(
            Method::GET,
            "/accounts/{account_id}/positions",
            accounts::positions,
        )
        .add(Method::GET, "/accounts/{account_id}/ledger", cash::ledger)
        .add(
            Method::POST,
            "/accounts/{account_id}/deposits",
            cash::deposit,
        )
        .add(
            Method::POST,
            "/accounts/{account_id}/withdrawals",
            cash::withdraw,
        )
        .add(Method::GET, "/accounts/{account_id}/risk-limits", risk::get)
        .add(Method::PUT, "/accounts/{account_id}/risk-limits", risk::put)
        .add(
            Method::GET,
            "/accounts/{account_id}/broker-connections",
            connections::list,
        )
        .add(
            Method::POST,
            "/accounts/{account_id}/broker-connections",
            connections::create,
        )
        .add(
            Method::DELETE,
            "/accounts/{account_id}/broker-connections/{connection_id}",
            connections::remove,
        )
        .add(
            Method::POST,
            "/accounts/{account_id}/broker-connections/{connection_id}/verify",
            connections::verify,
        )
        .add(
            Method::POST,
            "/accounts/{account_id}/broker-connections/{connection_id}/reconcile",
            connections::reconcile,
        )
}

/// The function's part of the OpenAPI document.
#[derive(Debug, utoipa::OpenApi)]
#[openapi(paths(
    accounts::create,
    accounts::list,
    accounts::get,
    accounts::balances,
    accounts::positions,
    cash::ledger,
    cash::deposit,
    cash::withdraw,
    risk::get,
    risk::put,
    connections::list,
    connections::create,
    connections::remove,
    connections::verify,
    connections::reconcile,
))]
pub struct Api;

pub fn router(state: AppState) -> axum::Router {
    routes().into_router(state)
}
