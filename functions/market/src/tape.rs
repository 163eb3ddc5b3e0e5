//! The live end of a market: its ticker and its recent trades, from the tape the core
//! keeps (`store::market_tape`) and the day candles of the history.

use api::extract::ApiQuery;
use api::principal::Principal;
use api::views::Plain;
use api::{ApiError, ApiResult};
use app::AppState;
use axum::Json;
use axum::extract::{Path, State};
use domain::{Decimal, RoundingStrategy, Timeframe, Timestamp};
use serde::{Deserialize, Serialize};
use store::market_tape::{RECENT_TRADES, TradePrint};
use utoipa::{IntoParams, ToSchema};

/// One trade.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = TradePrint)]
pub struct TradeView {
    #[schema(format = DateTime, value_type = String)]
    time: Timestamp,
    price: String,
    size: String,
}

impl From<&TradePrint> for TradeView {
    fn from(t: &TradePrint) -> Self {
        TradeView {
            time: t.time,
            price: t.price.plain(),
            size: t.size.plain(),
        }
    }
}

/// The latest day the symbol traded (UTC), so far.
#[derive(Debug, Serialize, ToSchema)]
pub struct SessionStats {
    /// The day's start (UTC: the day candle's period).
    #[schema(format = DateTime, value_type = String)]
    start: Timestamp,
    open: String,
    high: String,
    low: String,
    volume: String,
    trades: u64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Ticker {
    symbol: String,
    /// The last trade (`null` before the first).
    last: Option<TradeView>,
    /// The day of the last trade, so far (its 1d candle).
    session: Option<SessionStats>,
    /// The close of the last day before that one.
    previous_close: Option<String>,
    /// `last − previous_close`.
    change: Option<String>,
    /// `change / previous_close × 100`, two decimals.
    change_percent: Option<String>,
    /// Whether the market is open now by its calendar (`null`: not covered).
    market_open: Option<bool>,
}

#[utoipa::path(get, path = "/instruments/{symbol}/ticker", tag = "market", operation_id = "getTicker",
    summary = "Last trade, the day's open, high, low and volume, change from the previous close",
    params(("symbol" = String, Path, description = "A symbol traded here, in either case")),
    responses((status = 200, description = "The ticker", body = Ticker)))]
pub async fn ticker(
    State(state): State<AppState>,
    _principal: Principal,
    Path(symbol): Path<String>,
) -> ApiResult<Json<Ticker>> {
    let instrument = crate::instrument(&state, &symbol)?;
    let symbol = instrument.symbol();
    let tape = state.tape.tape(symbol).await?;
    let last = tape.trades.last().copied();
    let day = tape.open_candle(Timeframe::D1).copied();
    // The newest closed day before the open one (or before now, when none is open).
    let before = day.map_or(state.clock.now(), |d| d.start);
    let previous = state
        .history
        .latest_candles(
            symbol,
            Timeframe::D1,
            Timestamp::from_nanos(i64::MIN),
            before,
            1,
        )
        .await?
        .pop();
    let previous_close = previous.map(|c| c.close.value());
    let change = match (last, previous_close) {
        (Some(l), Some(p)) => l.price.value().checked_sub(p),
        _ => None,
    };
    let change_percent = match (change, previous_close) {
        (Some(c), Some(p)) if !p.is_zero() => c
            .checked_mul(Decimal::ONE_HUNDRED)
            .and_then(|x| x.checked_div(p))
            .map(|x| x.round_dp_with_strategy(2, RoundingStrategy::MidpointNearestEven)),
        _ => None,
    };
    Ok(Json(Ticker {
        symbol: symbol.to_string(),
        last: last.as_ref().map(TradeView::from),
        session: day.map(|d| SessionStats {
            start: d.start,
            open: d.open.plain(),
            high: d.high.plain(),
            low: d.low.plain(),
            volume: d.volume.plain(),
            trades: d.trades,
        }),
        previous_close: previous_close.map(|p| p.normalize().to_string()),
        change: change.map(|c| c.normalize().to_string()),
        change_percent: change_percent.map(|c| c.to_string()),
        market_open: instrument.calendar().calendar().is_open(state.clock.now()),
    }))
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct TradesQuery {
    /// Trades to show (default 50), newest first.
    #[serde(default)]
    #[param(minimum = 1, maximum = 100)]
    limit: Option<usize>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TradeList {
    symbol: String,
    /// Newest first.
    trades: Vec<TradeView>,
}

#[utoipa::path(get, path = "/instruments/{symbol}/trades", tag = "market", operation_id = "listTrades",
    summary = "The most recent trades (up to 100)",
    params(("symbol" = String, Path, description = "A symbol traded here, in either case"), TradesQuery),
    responses((status = 200, description = "Recent trades", body = TradeList)))]
pub async fn trades(
    State(state): State<AppState>,
    _principal: Principal,
    Path(symbol): Path<String>,
    ApiQuery(query): ApiQuery<TradesQuery>,
) -> ApiResult<Json<TradeList>> {
    let limit = query.limit.unwrap_or(50);
    if !(1..=RECENT_TRADES).contains(&limit) {
        return Err(ApiError::bad_query(
            "limit",
            format!("from 1 to {RECENT_TRADES}"),
        ));
    }
    let instrument = crate::instrument(&state, &symbol)?;
    let tape = state.tape.tape(instrument.symbol()).await?;
    Ok(Json(TradeList {
        symbol: instrument.symbol().to_string(),
        trades: tape
            .trades
            .iter()
            .rev()
            .take(limit)
            .map(TradeView::from)
            .collect(),
    }))
}
