//! The market function: what is traded and when, and what it traded at — public market
//! data, the same for every signed-in user.
//!
//! | route | what |
//! |---|---|
//! | `GET /instruments` | every instrument: grid, asset class, calendar, closed-market policy, open now, last price |
//! | `GET /instruments/{symbol}` | one instrument, with its current or next session |
//! | `GET /instruments/{symbol}/candles?timeframe&from&to&limit&cursor` | candle history, newest page first |
//! | `POST /instruments/{symbol}/candles` | load bars or ticks into the history (admin; idempotent) |
//! | `GET /instruments/{symbol}/ticker` | last trade, the session's open/high/low/volume, change |
//! | `GET /instruments/{symbol}/trades?limit` | the most recent trades |
//! | `GET /calendars/{code}?from&to` | a trading calendar's sessions and holidays |
//!
//! Candles come from the system of record (`MarketHistory`: what the core closed and
//! what `stratus data import` loaded) and, for the newest, from the market tape the
//! core keeps (`store::market_tape`), so the last candle of a chart is the one still
//! forming. A timeframe nobody recorded is resampled from the coarsest recorded one that
//! divides it, by the engine's `Resampler` (the same candles as the CLI's `--timeframe`).

mod calendars;
mod candles;
pub mod imports;
mod instruments;
mod tape;

use api::Routes;
use app::AppState;
use axum::http::Method;

pub use candles::{MAX_BASE_CANDLES, MAX_CANDLES};

pub fn routes() -> Routes {
    Routes::new()
        .add(Method::GET, "/instruments", instruments::list)
        .add(Method::GET, "/instruments/{symbol}", instruments::one)
        .add(
            Method::GET,
            "/instruments/{symbol}/candles",
            candles::candles,
        )
        .add_with_body_limit(
            Method::POST,
            "/instruments/{symbol}/candles",
            imports::import,
            imports::IMPORT_BODY_LIMIT,
        )
        .add(Method::GET, "/instruments/{symbol}/ticker", tape::ticker)
        .add(Method::GET, "/instruments/{symbol}/trades", tape::trades)
        .add(Method::GET, "/calendars/{code}", calendars::calendar)
}

/// The function's part of the OpenAPI document.
#[derive(Debug, utoipa::OpenApi)]
#[openapi(paths(
    instruments::list,
    instruments::one,
    candles::candles,
    imports::import,
    tape::ticker,
    tape::trades,
    calendars::calendar
))]
pub struct Api;

pub fn router(state: AppState) -> axum::Router {
    routes().into_router(state)
}

/// The instrument `text` names (any case), or a 404 naming it.
fn instrument<'a>(state: &'a AppState, text: &str) -> api::ApiResult<&'a domain::Instrument> {
    domain::Symbol::parse(text)
        .ok()
        .and_then(|s| state.instruments.get(s))
        .ok_or_else(|| api::ApiError::not_found(format!("no instrument {text:?}")))
}
