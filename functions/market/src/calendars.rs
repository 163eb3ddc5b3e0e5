//! Trading calendars: sessions and holidays between two dates.

use api::extract::ApiQuery;
use api::input::query_date as date;
use api::principal::Principal;
use api::{ApiError, ApiResult};
use app::AppState;
use axum::Json;
use axum::extract::{Path, State};
use domain::{CalendarCode, NaiveDate};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::instruments::SessionView;

/// The most days one answer covers.
pub const MAX_DAYS: i64 = 400;

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct Window {
    /// The first date (default: today, UTC).
    #[serde(default)]
    #[param(format = Date, pattern = "^[0-9]{4}-[0-9]{2}-[0-9]{2}$")]
    from: Option<String>,
    /// The last date, included (default: 30 days after `from`); at most 400 days after
    /// `from`.
    #[serde(default)]
    #[param(format = Date, pattern = "^[0-9]{4}-[0-9]{2}-[0-9]{2}$")]
    to: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct HolidayView {
    #[schema(format = Date, value_type = String)]
    date: NaiveDate,
    name: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Coverage {
    #[schema(format = Date, value_type = String)]
    from: NaiveDate,
    #[schema(format = Date, value_type = String)]
    to: NaiveDate,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CalendarView {
    code: String,
    name: String,
    /// The zone of the local dates (IANA).
    timezone: String,
    /// The dates the calendar's data covers (`null`: every date). Outside them it lists
    /// no session, and orders are never refused for a closed market.
    coverage: Option<Coverage>,
    /// Where the data comes from.
    source: String,
    sessions: Vec<SessionView>,
    /// Weekdays the market is closed.
    holidays: Vec<HolidayView>,
}

#[utoipa::path(get, path = "/calendars/{code}", tag = "market", operation_id = "getCalendar",
    summary = "A trading calendar's sessions and holidays",
    params(("code" = String, Path, description = "`XNYS` (New York Stock Exchange) or `24x7` (always open)"), Window),
    responses((status = 200, description = "Sessions and holidays between the dates", body = CalendarView)))]
pub async fn calendar(
    State(state): State<AppState>,
    _principal: Principal,
    Path(code): Path<String>,
    ApiQuery(window): ApiQuery<Window>,
) -> ApiResult<Json<CalendarView>> {
    let code = CalendarCode::parse(&code)
        .ok_or_else(|| ApiError::not_found(format!("no calendar {code:?}")))?;
    let today = state.clock.now().to_datetime().date_naive();
    let from = match &window.from {
        Some(text) => date("from", text)?,
        None => today,
    };
    let to = match &window.to {
        Some(text) => date("to", text)?,
        None => from + chrono::Days::new(30),
    };
    if from > to {
        return Err(ApiError::bad_query("from", "from is after to"));
    }
    if (to - from).num_days() > MAX_DAYS {
        return Err(ApiError::bad_query(
            "to",
            format!("at most {MAX_DAYS} days after from"),
        ));
    }
    let calendar = code.calendar();
    let (sessions, holidays) = calendar.schedule(from, to);
    Ok(Json(CalendarView {
        code: code.to_string(),
        name: calendar.name().to_owned(),
        timezone: calendar.timezone().to_owned(),
        coverage: calendar.coverage().map(|(from, to)| Coverage { from, to }),
        source: calendar.source().to_owned(),
        sessions: sessions.into_iter().map(SessionView::from).collect(),
        holidays: holidays
            .into_iter()
            .map(|h| HolidayView {
                date: h.date,
                name: h.name,
            })
            .collect(),
    }))
}
