//! Candle history: recorded candles, coarser ones resampled from them, and the candle
//! still forming, newest page first.

use api::extract::ApiQuery;
use api::input::TimeframeInput;
use api::principal::Principal;
use api::views::Plain;
use api::{ApiError, ApiResult};
use app::AppState;
use axum::Json;
use axum::extract::{Path, State};
use domain::{Candle, Symbol, Timeframe, Timestamp};
use engine::candles::Resampler;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

/// The most candles one page holds.
pub const MAX_CANDLES: usize = 5_000;
/// The default page.
const DEFAULT_CANDLES: usize = 500;
/// The most recorded candles one page may be resampled from (a page of 1w candles from
/// 1m ones would read 10,080 a candle).
pub const MAX_BASE_CANDLES: usize = 1_000_000;
/// The most recorded candles read per query while resampling.
const CHUNK: usize = 20_000;

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct CandleQuery {
    /// The candles' period: one recorded for the symbol (the core records 1m, 5m, 15m,
    /// 1h, 4h and 1d; imports add theirs) or any multiple of one, resampled.
    timeframe: TimeframeInput,
    /// Only candles starting at or after this time (RFC 3339).
    #[serde(default)]
    #[param(format = DateTime)]
    from: Option<String>,
    /// Only candles starting before this time (RFC 3339; default: no bound, so the
    /// candle still forming is included).
    #[serde(default)]
    #[param(format = DateTime)]
    to: Option<String>,
    /// Candles in the page (default 500): the newest of the window.
    #[serde(default)]
    #[param(minimum = 1, maximum = 5000)]
    limit: Option<usize>,
    /// `next_cursor` of the previous page: the page of older candles.
    #[serde(default)]
    #[param(value_type = Option<String>, pattern = "^-?[0-9]{1,19}$")]
    cursor: Option<String>,
}

/// One candle.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
#[schema(as = Candle)]
pub struct CandleView {
    #[schema(format = DateTime, value_type = String)]
    pub start: Timestamp,
    #[schema(format = DateTime, value_type = String)]
    pub end: Timestamp,
    pub open: String,
    pub high: String,
    pub low: String,
    pub close: String,
    pub volume: String,
    pub trades: u64,
    /// False for the candle still forming: the newest, made with the candle the core
    /// has open, or one whose period has not ended.
    pub closed: bool,
}

impl CandleView {
    pub fn new(c: &Candle, forming: Option<Timestamp>, now: Timestamp) -> Self {
        CandleView {
            start: c.start,
            end: c.end,
            open: c.open.plain(),
            high: c.high.plain(),
            low: c.low.plain(),
            close: c.close.plain(),
            volume: c.volume.plain(),
            trades: c.trades,
            closed: forming != Some(c.start) && c.end <= now,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CandlePage {
    symbol: String,
    timeframe: String,
    /// The recorded timeframe the candles were made from (`timeframe` itself when it was
    /// recorded; `null` when the symbol has no candles yet).
    source_timeframe: Option<String>,
    /// Oldest first.
    candles: Vec<CandleView>,
    /// Give it as `cursor` for the page of older candles; absent on the oldest page.
    next_cursor: Option<String>,
}

fn time(field: &str, text: &str) -> ApiResult<Timestamp> {
    Timestamp::parse(text).map_err(|e| ApiError::bad_query(field, e.to_string()))
}

#[utoipa::path(get, path = "/instruments/{symbol}/candles", tag = "market", operation_id = "getCandles",
    summary = "Candle history, newest page first, up to the candle still forming",
    params(("symbol" = String, Path, description = "A symbol traded here or imported (`stratus data import`), in either case"), CandleQuery),
    responses((status = 200, description = "A page of candles", body = CandlePage)))]
pub async fn candles(
    State(state): State<AppState>,
    _principal: Principal,
    Path(symbol_text): Path<String>,
    ApiQuery(query): ApiQuery<CandleQuery>,
) -> ApiResult<Json<CandlePage>> {
    let timeframe = query.timeframe.0;
    let limit = query.limit.unwrap_or(DEFAULT_CANDLES);
    if !(1..=MAX_CANDLES).contains(&limit) {
        return Err(ApiError::bad_query(
            "limit",
            format!("from 1 to {MAX_CANDLES}"),
        ));
    }
    let from = match &query.from {
        Some(text) => time("from", text)?,
        None => Timestamp::from_nanos(i64::MIN),
    };
    let mut to = match &query.to {
        Some(text) => time("to", text)?,
        None => Timestamp::MAX,
    };
    if let Some(cursor) = &query.cursor {
        let at = cursor
            .parse::<i64>()
            .map_err(|_| ApiError::bad_query("cursor", "not a cursor this API gave"))?;
        to = to.min(Timestamp::from_nanos(at));
    }
    if query.from.is_some() && query.to.is_some() && from >= to {
        return Err(ApiError::bad_query("from", "from is not before to"));
    }
    let not_found = || ApiError::not_found(format!("no market data for {symbol_text:?}"));
    let symbol = Symbol::parse(&symbol_text).map_err(|_| not_found())?;
    let mut recorded = state.history.candle_timeframes(symbol).await?;
    let traded = state.instruments.get(symbol).is_some();
    if recorded.is_empty() && !traded {
        return Err(not_found());
    }
    let tape = state.tape.tape(symbol).await?;
    recorded.extend(tape.open_candles.iter().map(|c| c.timeframe));
    recorded.sort();
    recorded.dedup();
    // The coarsest recorded timeframe that makes this one.
    let Some(source) = recorded
        .iter()
        .rev()
        .copied()
        .find(|r| r.divides(timeframe))
    else {
        return if recorded.is_empty() {
            Ok(Json(CandlePage {
                symbol: symbol.to_string(),
                timeframe: timeframe.to_string(),
                source_timeframe: None,
                candles: Vec::new(),
                next_cursor: None,
            }))
        } else {
            Err(ApiError::invalid_field(
                "timeframe",
                format!(
                    "{symbol} has {} candles; {timeframe} is not a multiple of any of them",
                    recorded
                        .iter()
                        .map(|t| t.to_string())
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            ))
        };
    };
    let ratio = (timeframe.seconds() / source.seconds()) as usize;
    if ratio.saturating_mul(limit) > MAX_BASE_CANDLES {
        return Err(ApiError::invalid_field(
            "limit",
            format!(
                "{timeframe} candles are made of {ratio} {source} candles each: ask for at most {} at a time",
                MAX_BASE_CANDLES / ratio
            ),
        ));
    }
    let live = tape.open_candle(source).copied();
    let (page, forming) = if source == timeframe {
        recorded_page(&state, symbol, timeframe, from, to, limit, live).await?
    } else {
        resampled_page(&state, symbol, source, timeframe, from, to, limit, live).await?
    };
    // Older candles exist if the page is full and the window goes back further.
    let next_cursor = match page.first() {
        Some(oldest) if page.len() == limit && oldest.start > from => {
            Some(oldest.start.nanos().to_string())
        }
        _ => None,
    };
    Ok(Json(CandlePage {
        symbol: symbol.to_string(),
        timeframe: timeframe.to_string(),
        source_timeframe: Some(source.to_string()),
        candles: page
            .iter()
            .map(|c| CandleView::new(c, forming, state.clock.now()))
            .collect(),
        next_cursor,
    }))
}

/// The open candle appended to stored ones when it is newer and inside the window;
/// its start if it was.
fn with_live(
    candles: &mut Vec<Candle>,
    live: Option<Candle>,
    from: Timestamp,
    to: Timestamp,
) -> Option<Timestamp> {
    let open = live?;
    let newer = candles.last().is_none_or(|c| c.start < open.start);
    (newer && open.start >= from && open.start < to).then(|| {
        candles.push(open);
        open.start
    })
}

/// A page, and the start of its candle still forming (if it holds it).
type Page = (Vec<Candle>, Option<Timestamp>);

async fn recorded_page(
    state: &AppState,
    symbol: Symbol,
    timeframe: Timeframe,
    from: Timestamp,
    to: Timestamp,
    limit: usize,
    live: Option<Candle>,
) -> ApiResult<Page> {
    let mut page = state
        .history
        .latest_candles(symbol, timeframe, from, to, limit)
        .await?;
    let forming = with_live(&mut page, live, from, to);
    if page.len() > limit {
        page.drain(..page.len() - limit);
    }
    Ok((page, forming))
}

/// The newest `limit` candles of `timeframe` starting in `[from, to)`, each made of all
/// the `source` candles of its period.
#[allow(clippy::too_many_arguments)]
async fn resampled_page(
    state: &AppState,
    symbol: Symbol,
    source: Timeframe,
    timeframe: Timeframe,
    from: Timestamp,
    to: Timestamp,
    limit: usize,
    live: Option<Candle>,
) -> ApiResult<Page> {
    // Target periods start in [from, to): their source candles lie in [first, last).
    // Bounds far from any data (before 1823, after 2115) are no bound — or, a `to` that
    // early, an empty window: aligning them could leave the range of a timestamp.
    let first = if from.nanos() < i64::MIN / 2 {
        Timestamp::from_nanos(i64::MIN)
    } else {
        let start = timeframe.period_start(from);
        if start < from {
            timeframe.period_end(start)
        } else {
            start
        }
    };
    let last = if to.nanos() > i64::MAX / 2 {
        Timestamp::MAX
    } else {
        let before = Timestamp::from_nanos(to.nanos().saturating_sub(1));
        timeframe.period_end(timeframe.period_start(before))
    };
    if first >= last || to.nanos() < i64::MIN / 2 {
        return Ok((Vec::new(), None));
    }
    // Read back from the newest until `limit` whole periods are in hand: the oldest
    // period read may be cut by the chunk's edge, so one more is read and dropped.
    // A whole page, and the one candle that shows the oldest period is complete, in the
    // first read when the data has no gaps.
    let per_candle = (timeframe.seconds() / source.seconds()) as usize;
    let chunk_size = per_candle
        .saturating_mul(limit)
        .saturating_add(1)
        .clamp(1, CHUNK);
    let mut newest_first: Vec<Candle> = Vec::new();
    let mut upper = last;
    let mut periods = 0usize;
    let mut current: Option<Timestamp> = None;
    loop {
        let chunk = state
            .history
            .latest_candles(symbol, source, first, upper, chunk_size)
            .await?;
        let exhausted = chunk.len() < chunk_size;
        let Some(oldest) = chunk.first().map(|c| c.start) else {
            break;
        };
        for c in chunk.into_iter().rev() {
            let period = timeframe.period_start(c.start);
            if current != Some(period) {
                current = Some(period);
                periods += 1;
            }
            if periods > limit {
                break;
            }
            newest_first.push(c);
        }
        if periods > limit || exhausted {
            break;
        }
        upper = oldest;
    }
    newest_first.reverse();
    let mut base = newest_first;
    let forming =
        with_live(&mut base, live, first, last).map(|start| timeframe.period_start(start));
    let mut resampler = Resampler::new(symbol, source, timeframe, false)
        .map_err(|e| ApiError::internal(e.to_string()))?;
    let mut out = Vec::new();
    for c in &base {
        resampler
            .on_candle(c, &mut out)
            .map_err(|e| ApiError::internal(e.to_string()))?;
    }
    resampler.flush(&mut out);
    if out.len() > limit {
        out.drain(..out.len() - limit);
    }
    Ok((out, forming))
}
