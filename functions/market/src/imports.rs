//! Loading candle history (admin): bars as they are, ticks aggregated into the history's
//! timeframes — the same as `stratus data import` does with a file.

use api::extract::ApiJson;
use api::principal::Principal;
use api::{ApiError, ApiResult};
use app::AppState;
use axum::Json;
use axum::extract::{Path, State};
use domain::{Symbol, Timeframe};
use engine::market_data::{MarketData, csv};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// The largest import body `stratus up` takes: a CSV of about 200,000 bars. Behind API
/// Gateway and Lambda the limit is theirs (6 MB a request). Larger files go through
/// `stratus data import` (with `--cloud` for the cloud's Postgres), which has none.
pub const IMPORT_BODY_LIMIT: usize = 16 * 1024 * 1024;

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ImportRequest {
    /// The data as CSV, in any format `stratus backtest` reads (bars: `Date,Open,High,Low,Close,Volume`,
    /// `Date,Time,…`, `Time,Open,…`; ticks: `Time,Price,Size` or `Datetime,…`).
    #[schema(min_length = 1)]
    csv: String,
}

/// What an import did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct ImportSummary {
    pub symbol: String,
    /// `bars` or `ticks`.
    pub kind: String,
    /// Data rows read.
    pub rows: usize,
    /// The timeframes of the candles written.
    pub timeframes: Vec<String>,
    /// Candles in the data.
    pub candles: usize,
    /// Candles added or changed (0 when the same data is loaded again).
    pub changed: u64,
}

/// Loads `data` into the candle history of `symbol` in one transaction.
pub async fn load(
    history: &dyn store::records::MarketHistory,
    symbol: Symbol,
    data: &MarketData,
) -> store::StoreResult<ImportSummary> {
    let candles = engine::candles::history_candles(data, symbol);
    let changed = history.save_candles(&candles).await?;
    let mut timeframes: Vec<Timeframe> = candles.iter().map(|c| c.timeframe).collect();
    timeframes.sort();
    timeframes.dedup();
    Ok(ImportSummary {
        symbol: symbol.to_string(),
        kind: match data {
            MarketData::Bars { .. } => "bars".into(),
            MarketData::Ticks(_) => "ticks".into(),
        },
        rows: data.len(),
        timeframes: timeframes.iter().map(|t| t.to_string()).collect(),
        candles: candles.len(),
        changed,
    })
}

#[utoipa::path(post, path = "/instruments/{symbol}/candles", tag = "market", operation_id = "importCandles",
    summary = "Load bars or ticks into the candle history (admin)",
    description = "Idempotent: loading the same data again changes nothing (`changed` is 0). A bad row is a 422 naming its line, and nothing is written. Bodies up to 16 MiB in `stratus up` (6 MB behind API Gateway and Lambda); larger files go through `stratus data import`.",
    params(("symbol" = String, Path, description = "The symbol the data is of (any symbol: research data need not be traded here)")),
    request_body = ImportRequest,
    responses((status = 200, description = "What was loaded", body = ImportSummary)))]
pub async fn import(
    State(state): State<AppState>,
    principal: Principal,
    Path(symbol_text): Path<String>,
    ApiJson(request): ApiJson<ImportRequest>,
) -> ApiResult<Json<ImportSummary>> {
    principal.require_admin()?;
    let symbol = Symbol::parse(&symbol_text)
        .map_err(|e| ApiError::not_found(format!("{symbol_text:?}: {e}")))?;
    let data = csv::parse(std::path::Path::new("csv"), &request.csv, symbol).map_err(|e| {
        let message = if e.line == 0 {
            e.message
        } else {
            format!("line {}: {}", e.line, e.message)
        };
        ApiError::invalid_field("csv", message)
    })?;
    if data.is_empty() {
        return Err(ApiError::invalid_field("csv", "no data rows"));
    }
    Ok(Json(load(&*state.history, symbol, &data).await?))
}
