//! `GET …/reports/performance` and `GET …/reports/equity.svg`.

use analytics::{AnalyticsConfig, EquityPoint, RoundTrip, RoundTripBook};
use axum::Json;
use axum::extract::{Path, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use chrono::NaiveDate;
use common::accounts::owned;
use common::auth::Principal;
use common::extract::ApiQuery;
use common::portfolio;
use common::{ApiError, ApiResult, AppState};
use domain::{Decimal, Fill, Symbol, Timestamp};
use serde::Deserialize;
use std::collections::BTreeMap;
use store::records::Account;

use crate::running::RunningMetrics;

/// Fills read to rebuild round trips.
const MAX_FILLS: usize = 100_000;
/// The longest window a report covers.
const MAX_DAYS: i64 = 3_660;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Window {
    #[serde(default)]
    from: Option<String>,
    #[serde(default)]
    to: Option<String>,
}

fn date(field: &str, text: &str) -> ApiResult<NaiveDate> {
    NaiveDate::parse_from_str(text, "%Y-%m-%d")
        .map_err(|_| ApiError::bad_query(field, format!("{text:?} is not a date like 2026-12-01")))
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
        None => to - chrono::Duration::days(365),
    };
    if from > to {
        return Err(ApiError::bad_query(
            "from",
            format!("{from} is after to ({to})"),
        ));
    }
    if (to - from).num_days() > MAX_DAYS {
        return Err(ApiError::bad_query(
            "from",
            format!("the window is at most {MAX_DAYS} days"),
        ));
    }
    Ok((from, to))
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
    let rows = state
        .records
        .reports(account.id, &from.to_string(), &to.to_string())
        .await?;
    let mut points: Vec<EquityPoint> = Vec::new();
    for row in rows {
        let Some(equity) = decimal(&row.body["equity"]) else {
            continue;
        };
        let Ok(day) = NaiveDate::parse_from_str(&row.day, "%Y-%m-%d") else {
            continue;
        };
        let time = end_of(day);
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
    let mut fills: Vec<Fill> = state.records.fills(account.id, MAX_FILLS).await?;
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
