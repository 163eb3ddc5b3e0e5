//! Instruments and their reference data.

use api::ApiResult;
use api::principal::Principal;
use api::views::Plain;
use app::AppState;
use axum::Json;
use axum::extract::{Path, State};
use domain::trading_calendar::Session;
use domain::{AssetClass, CalendarCode, ClosedMarketPolicy, Instrument};
use serde::Serialize;
use utoipa::ToSchema;

/// A session as the API shows it.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[schema(as = TradingSession)]
pub struct SessionView {
    /// The exchange's local date.
    #[schema(format = Date, value_type = String)]
    pub date: domain::NaiveDate,
    /// Opens (UTC).
    #[schema(format = DateTime, value_type = String)]
    pub open: domain::Timestamp,
    /// Closes (UTC); `DAY` orders of the session expire then.
    #[schema(format = DateTime, value_type = String)]
    pub close: domain::Timestamp,
    pub early_close: bool,
    pub late_open: bool,
}

impl From<Session> for SessionView {
    fn from(s: Session) -> Self {
        SessionView {
            date: s.date,
            open: s.open,
            close: s.close,
            early_close: s.early_close,
            late_open: s.late_open,
        }
    }
}

/// An instrument and its market.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = Instrument)]
pub struct InstrumentView {
    symbol: String,
    tick_size: String,
    lot_size: String,
    min_quantity: String,
    currency: String,
    #[schema(value_type = String, example = "equity")]
    asset_class: AssetClass,
    /// The trading calendar (`GET /calendars/{code}`).
    #[schema(value_type = String, example = "XNYS")]
    calendar: CalendarCode,
    /// What an order placed while the market is closed does: `queue` (accepted; it works
    /// from the next trade — with a real feed, the next open — and a `DAY` order lives
    /// until that session's close) or `refuse` (409 `market-closed`).
    #[schema(value_type = String, example = "queue")]
    closed_market: ClosedMarketPolicy,
    /// Whether the market is open now (`null`: a date the calendar's data does not
    /// cover).
    market_open: Option<bool>,
    /// The session open now, else the next one.
    next_session: Option<SessionView>,
    /// The last trade's price, if anything has traded.
    last_price: Option<String>,
}

impl InstrumentView {
    async fn new(state: &AppState, i: &Instrument) -> ApiResult<Self> {
        let now = state.clock.now();
        let calendar = i.calendar().calendar();
        Ok(InstrumentView {
            symbol: i.symbol().to_string(),
            tick_size: i.tick_size().plain(),
            lot_size: i.lot_size().plain(),
            min_quantity: i.min_quantity().plain(),
            currency: i.currency().to_string(),
            asset_class: i.asset_class(),
            calendar: i.calendar(),
            closed_market: i.closed_market(),
            market_open: calendar.is_open(now),
            next_session: calendar.next_session(now).map(SessionView::from),
            last_price: state
                .prices
                .last(i.symbol())
                .await?
                .map(|p| p.price.plain()),
        })
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct InstrumentList {
    instruments: Vec<InstrumentView>,
}

#[utoipa::path(get, path = "/instruments", tag = "market", operation_id = "listInstruments",
    summary = "Tradable instruments: grid, asset class, calendar, whether open now, last price",
    responses((status = 200, description = "The instruments", body = InstrumentList)))]
pub async fn list(
    State(state): State<AppState>,
    _principal: Principal,
) -> ApiResult<Json<InstrumentList>> {
    let mut instruments = Vec::new();
    for i in state.instruments.iter() {
        instruments.push(InstrumentView::new(&state, i).await?);
    }
    Ok(Json(InstrumentList { instruments }))
}

#[utoipa::path(get, path = "/instruments/{symbol}", tag = "market", operation_id = "getInstrument",
    summary = "One instrument and its market",
    params(("symbol" = String, Path, description = "A symbol traded here, in either case")),
    responses((status = 200, description = "The instrument", body = InstrumentView)))]
pub async fn one(
    State(state): State<AppState>,
    _principal: Principal,
    Path(symbol): Path<String>,
) -> ApiResult<Json<InstrumentView>> {
    let instrument = crate::instrument(&state, &symbol)?;
    Ok(Json(InstrumentView::new(&state, instrument).await?))
}
