//! `GET …/reports/performance` and `GET …/reports/equity.svg`.

use analytics::{AnalyticsConfig, EquityPoint, RoundTrip, RoundTripBook};
use api::accounts::owned;
use api::extract::ApiQuery;
use api::input::query_date as date;
use api::principal::Principal;
use api::{ApiError, ApiResult};
use app::AppState;
use app::portfolio;
use axum::Json;
use axum::extract::{Path, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use chrono::NaiveDate;
use domain::{Account, Decimal, Fill, Symbol, Timestamp};
use serde::Deserialize;
use std::collections::BTreeMap;
use utoipa::{IntoParams, ToSchema};

use app::reports::running::RunningMetrics;

/// Fills read to rebuild round trips.
const MAX_FILLS: usize = 100_000;
/// The longest window a report covers.
const MAX_DAYS: i64 = 3_660;

/// The days a report covers, both included. `to` defaults to today (UTC) and `from` to
/// a year before `to`; a window longer than ten years starts ten years before `to`; one
/// whose `from` is after its `to` is empty.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct Window {
    /// The first day.
    #[serde(default)]
    #[param(format = Date, pattern = "^[0-9]{4}-[0-9]{2}-[0-9]{2}$")]
    from: Option<String>,
    /// The last day.
    #[serde(default)]
    #[param(format = Date, pattern = "^[0-9]{4}-[0-9]{2}-[0-9]{2}$")]
    to: Option<String>,
}

/// The performance report, as [`performance`] writes it.
#[derive(Debug, ToSchema)]
#[schema(as = PerformanceReport)]
#[allow(dead_code)] // a schema only: the handler builds the body
pub struct ReportSchema {
    #[schema(format = "uuid")]
    account_id: String,
    currency: String,
    #[schema(format = Date)]
    from: String,
    #[schema(format = Date)]
    to: String,
    #[schema(format = DateTime)]
    as_of: String,
    equity_curve: Vec<CurvePointSchema>,
    round_trips: u64,
    /// The analytics metrics (total_return, cagr, volatility, sharpe, sortino,
    /// max_drawdown, calmar, win_rate, profit_factor, expectancy, …; a ratio that is
    /// undefined is null), or null when there is nothing to measure.
    #[schema(value_type = Option<Object>)]
    metrics: Option<serde_json::Value>,
    /// Why `metrics` is null.
    #[schema(nullable = false)]
    metrics_unavailable: Option<String>,
    /// Totals kept from the executions stream: fills, volume, notional, fees,
    /// realized_pnl, round_trips, wins, losses, win_rate, profit_factor, …
    #[schema(value_type = Object)]
    running: serde_json::Value,
}

/// One point of the equity curve.
#[derive(Debug, ToSchema)]
#[schema(as = EquityPoint)]
#[allow(dead_code)]
pub struct CurvePointSchema {
    #[schema(format = DateTime)]
    time: String,
    equity: String,
    exposed: bool,
}

/// The window's first and last day (inclusive): `to` defaults to today, `from` to a year
/// before `to`.
fn window(state: &AppState, query: &Window) -> ApiResult<(NaiveDate, NaiveDate)> {
    let today = state.clock.now().to_datetime().date_naive();
    let to = match &query.to {
        Some(t) => date("to", t)?,
        None => today,
    };
    let from = match &query.from {
        Some(f) => date("from", f)?,
        None => to
            .checked_sub_signed(chrono::Duration::days(365))
            .unwrap_or(NaiveDate::MIN),
    };
    let earliest = to
        .checked_sub_signed(chrono::Duration::days(MAX_DAYS))
        .unwrap_or(NaiveDate::MIN);
    Ok((from.max(earliest), to))
}

fn end_of(day: NaiveDate) -> Timestamp {
    let next = day.succ_opt().unwrap_or(day);
    Timestamp::from_nanos(
        next.and_hms_opt(0, 0, 0)
            .and_then(|t| t.and_utc().timestamp_nanos_opt())
            .unwrap_or(i64::MAX),
    )
}

fn decimal(v: &serde_json::Value) -> Option<Decimal> {
    v.as_str().and_then(|s| s.parse().ok())
}

/// The equity curve of the window: one point per reported day, then now.
async fn curve(
    state: &AppState,
    account: &Account,
    from: NaiveDate,
    to: NaiveDate,
) -> ApiResult<Vec<EquityPoint>> {
    let rows = state.reports.reports(account.id, from, to).await?;
    let mut points: Vec<EquityPoint> = Vec::new();
    for row in rows {
        let Some(equity) = decimal(&row.body["equity"]) else {
            continue;
        };
        let time = end_of(row.day);
        if points.last().is_some_and(|p| p.time >= time) {
            continue;
        }
        points.push(EquityPoint {
            time,
            equity,
            exposed: row.body["exposed"].as_bool().unwrap_or(false),
        });
    }
    let now = state.clock.now();
    if now < end_of(to) && points.last().is_none_or(|p| p.time < now) {
        let v = portfolio::value(state, account).await?;
        points.push(EquityPoint {
            time: now,
            equity: v.equity.value(),
            exposed: !v.positions.is_empty(),
        });
    }
    Ok(points)
}

/// Round trips closed in the window, rebuilt from the account's fills.
async fn trips(
    state: &AppState,
    account: &Account,
    from: Timestamp,
    to: Timestamp,
) -> ApiResult<Vec<RoundTrip>> {
    let mut fills: Vec<Fill> = state.orders.fills(account.id, MAX_FILLS).await?;
    fills.reverse();
    let mut books: BTreeMap<Symbol, RoundTripBook> = BTreeMap::new();
    let mut out = Vec::new();
    for fill in &fills {
        let book = books
            .entry(fill.symbol)
            .or_insert_with(|| RoundTripBook::new(fill.symbol));
        if let Some(trip) = book.on_fill(fill).map_err(ApiError::from)? {
            if trip.exit_time >= from && trip.exit_time < to {
                out.push(trip);
            }
        }
    }
    Ok(out)
}

#[utoipa::path(get, path = "/accounts/{account_id}/reports/performance", tag = "reports", operation_id = "getPerformance",
    summary = "Performance metrics and the daily equity curve",
    params(("account_id" = String, Path, description = "An account of the caller (another user's is a 404)"), Window),
    responses(
        (status = 200, description = "The report", body = ReportSchema),
        (status = 400, description = "A date that is not YYYY-MM-DD (named)", body = api::openapi::ProblemSchema, content_type = "application/problem+json"),
    ))]
pub async fn performance(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
    ApiQuery(query): ApiQuery<Window>,
) -> ApiResult<Json<serde_json::Value>> {
    let account = owned(&state, &principal, &id).await?;
    let (from, to) = window(&state, &query)?;
    let start = end_of(from.pred_opt().unwrap_or(from));
    let points = curve(&state, &account, from, to).await?;
    let trips = trips(&state, &account, start, end_of(to)).await?;
    let metrics = if points.is_empty() {
        Err("no equity recorded in the window".to_owned())
    } else {
        analytics::compute(&points, &trips, &[], &AnalyticsConfig::new(365.0))
            .map_err(|e| e.to_string())
    };
    let (pk, sk) = RunningMetrics::key(account.id);
    let running = match state.read_models.get(&pk, sk).await? {
        Some(item) => serde_json::from_value::<RunningMetrics>(item.body)
            .map_err(|e| ApiError::internal(format!("running metrics of {}: {e}", account.id)))?,
        None => RunningMetrics::default(),
    };
    let curve: Vec<serde_json::Value> = points
        .iter()
        .map(|p| serde_json::json!({ "time": p.time, "equity": p.equity.normalize().to_string(), "exposed": p.exposed }))
        .collect();
    let mut body = serde_json::json!({
        "account_id": account.id,
        "currency": account.base_currency.to_string(),
        "from": from.to_string(),
        "to": to.to_string(),
        "as_of": state.clock.now(),
        "equity_curve": curve,
        "round_trips": trips.len(),
        "running": running.view(account.base_currency),
    });
    match metrics {
        Ok(m) => body["metrics"] = serde_json::to_value(m).unwrap_or_default(),
        Err(reason) => {
            body["metrics"] = serde_json::Value::Null;
            body["metrics_unavailable"] = serde_json::Value::String(reason);
        }
    }
    Ok(Json(body))
}

#[utoipa::path(get, path = "/accounts/{account_id}/reports/equity.svg", tag = "reports", operation_id = "getEquitySvg",
    summary = "The equity and drawdown chart",
    params(("account_id" = String, Path, description = "An account of the caller (another user's is a 404)"), Window),
    responses(
        (status = 200, description = "SVG", body = String, content_type = "image/svg+xml"),
        (status = 400, description = "A date that is not YYYY-MM-DD (named)", body = api::openapi::ProblemSchema, content_type = "application/problem+json"),
    ))]
pub async fn equity_svg(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
    ApiQuery(query): ApiQuery<Window>,
) -> ApiResult<Response> {
    let account = owned(&state, &principal, &id).await?;
    let (from, to) = window(&state, &query)?;
    let points = curve(&state, &account, from, to).await?;
    let title = format!("{} — equity {} to {}", account.name, from, to);
    let svg = analytics::equity_svg(&points, &[], &title);
    Ok((
        [(header::CONTENT_TYPE, "image/svg+xml; charset=utf-8")],
        svg,
    )
        .into_response())
}
