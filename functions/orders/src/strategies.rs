//! Strategy deployments: `POST /accounts/{account_id}/strategies` records a deployment
//! (a built-in strategy, its symbols, timeframes and parameters, checked here exactly as
//! the engine will check them), and the streaming core, which reconciles the recorded
//! deployments twice a second, runs it. Pause, resume and stop change what is recorded;
//! the core follows. A strategy's state lives in the core's snapshot, so it survives
//! restarts.

use api::accounts::owned;
use api::extract::ApiJson;
use api::input::{InstrumentSymbol, TimeframeInput};
use api::principal::Principal;
use api::views::PerformanceView;
use api::{ApiError, ApiResult, FieldError};
use app::AppState;
use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use domain::{StrategyId, StrategyRecord, StrategyStatus};
use engine::strategy::{StrategyConfig, StrategyError};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// Deployments an account may have running or paused.
const MAX_ACTIVE: usize = 20;

/// A deployment: a built-in strategy, the symbols and timeframes it runs on (the first
/// timeframe is the one it trades on; a timeframe listed twice counts once), and its
/// parameters (see README: each strategy checks its own, ranges and relations included).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = DeployStrategy)]
pub struct DeployBody {
    strategy: StrategyName,
    #[schema(min_items = 1, max_items = 20)]
    symbols: Vec<InstrumentSymbol>,
    #[schema(min_items = 1, max_items = 6)]
    timeframes: Vec<TimeframeInput>,
    #[serde(default)]
    #[schema(value_type = Option<Object>, nullable)]
    params: serde_json::Value,
}

/// The built-in strategies.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
#[schema(as = Strategy)]
pub enum StrategyName {
    SmaCross,
    EmaCross,
    RsiReversion,
    MacdTrend,
    BollingerBreakout,
}

impl StrategyName {
    fn as_str(self) -> &'static str {
        match self {
            StrategyName::SmaCross => "sma_cross",
            StrategyName::EmaCross => "ema_cross",
            StrategyName::RsiReversion => "rsi_reversion",
            StrategyName::MacdTrend => "macd_trend",
            StrategyName::BollingerBreakout => "bollinger_breakout",
        }
    }
}

#[derive(Debug, Clone, Copy, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
#[schema(as = StrategyStatus)]
pub enum StrategyStatusName {
    Running,
    Paused,
    Stopped,
}

impl From<StrategyStatus> for StrategyStatusName {
    fn from(s: StrategyStatus) -> Self {
        match s {
            StrategyStatus::Running => StrategyStatusName::Running,
            StrategyStatus::Paused => StrategyStatusName::Paused,
            StrategyStatus::Stopped => StrategyStatusName::Stopped,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = StrategyDeployment)]
pub struct StrategyView {
    #[schema(format = "uuid")]
    id: String,
    #[schema(format = "uuid")]
    account_id: String,
    strategy: String,
    symbols: Vec<String>,
    timeframes: Vec<String>,
    #[schema(value_type = Object)]
    params: serde_json::Value,
    status: StrategyStatusName,
    #[schema(format = DateTime)]
    created_at: String,
    /// Its P&L from its own fills, marked at the last trade.
    performance: PerformanceView,
}

impl StrategyView {
    /// The deployment with its performance now.
    pub async fn read(state: &AppState, r: &StrategyRecord) -> ApiResult<Self> {
        let performance = app::performance::deployment(state, r).await?;
        Ok(StrategyView::new(
            r,
            PerformanceView::new(&performance, &state.instruments),
        ))
    }

    pub fn new(r: &StrategyRecord, performance: PerformanceView) -> Self {
        StrategyView {
            id: r.id.to_string(),
            account_id: r.account_id.to_string(),
            strategy: r.strategy.clone(),
            symbols: r.symbols.iter().map(|s| s.to_string()).collect(),
            timeframes: r.timeframes.iter().map(|t| t.to_string()).collect(),
            params: r.params.clone(),
            status: r.status.into(),
            created_at: r.created_at.to_string(),
            performance,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StrategyList {
    strategies: Vec<StrategyView>,
}

fn strategy_error(e: StrategyError) -> ApiError {
    match e {
        StrategyError::UnknownStrategy { .. } => ApiError::invalid_field("strategy", e.to_string()),
        StrategyError::InvalidParam { ref param, .. } => {
            ApiError::invalid_field(format!("params.{param}"), e.to_string())
        }
        StrategyError::NoSymbols => ApiError::invalid_field("symbols", e.to_string()),
        StrategyError::NoTimeframes => ApiError::invalid_field("timeframes", e.to_string()),
        other => ApiError::invalid_field("params", other.to_string()),
    }
}

#[utoipa::path(post, path = "/accounts/{account_id}/strategies", tag = "strategies", operation_id = "deployStrategy",
    summary = "Deploy a strategy (running in the core within a second)", params(("account_id" = String, Path, description = "An account of the caller (another user's is a 404)")),
    request_body = DeployBody,
    responses(
        (status = 201, description = "Deployed", body = StrategyView),
        (status = 409, description = "Too many active deployments (`too-many-strategies`), or a symbol in another currency (`currency-mismatch`)", body = api::openapi::ProblemSchema, content_type = "application/problem+json"),
    ))]
pub async fn deploy(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<DeployBody>,
) -> ApiResult<(StatusCode, Json<StrategyView>)> {
    let account = owned(&state, &principal, &id).await?;
    let mut errors = Vec::new();
    if body.symbols.is_empty() || body.symbols.len() > 20 {
        errors.push(FieldError::new("symbols", "give 1 to 20 symbols"));
    }
    let mut symbols = Vec::new();
    for (i, s) in body.symbols.iter().enumerate() {
        let symbol = s.0;
        match state.instruments.get(symbol) {
            Some(i) if i.currency() == account.base_currency => {
                if !symbols.contains(&symbol) {
                    symbols.push(symbol);
                }
            }
            Some(_) => {
                return Err(ApiError::rejected(
                    "currency-mismatch",
                    format!("{symbol} trades in another currency than the account"),
                ));
            }
            None => errors.push(FieldError::new(
                format!("symbols.{i}"),
                format!("{symbol} is not a tradable instrument"),
            )),
        }
    }
    if body.timeframes.is_empty() || body.timeframes.len() > 6 {
        errors.push(FieldError::new("timeframes", "give 1 to 6 timeframes"));
    }
    // A timeframe listed twice (`60s` and `1m` are one) counts once, in its first place.
    let mut timeframes = Vec::new();
    for t in &body.timeframes {
        if !timeframes.contains(&t.0) {
            timeframes.push(t.0);
        }
    }
    let params = match body.params {
        serde_json::Value::Null => serde_json::json!({}),
        p @ serde_json::Value::Object(_) => p,
        _ => {
            errors.push(FieldError::new("params", "must be an object"));
            serde_json::json!({})
        }
    };
    if !errors.is_empty() {
        return Err(ApiError::invalid(errors));
    }
    let config = StrategyConfig::new(symbols.clone(), timeframes.clone(), params.clone());
    engine::strategy::create(body.strategy.as_str(), &config).map_err(strategy_error)?;
    let active = state
        .strategies
        .strategies(Some(account.id))
        .await?
        .iter()
        .filter(|s| s.status != StrategyStatus::Stopped)
        .count();
    if active >= MAX_ACTIVE {
        return Err(ApiError::rejected(
            "too-many-strategies",
            format!("at most {MAX_ACTIVE} running or paused strategies per account"),
        ));
    }
    let record = StrategyRecord {
        id: StrategyId::random(),
        account_id: account.id,
        strategy: body.strategy.as_str().to_owned(),
        symbols,
        timeframes,
        params,
        status: StrategyStatus::Running,
        created_at: state.clock.now(),
    };
    state.strategies.save_strategy(&record).await?;
    tracing::info!(strategy_id = %record.id, account_id = %account.id, strategy = %record.strategy, "strategy deployed");
    Ok((
        StatusCode::CREATED,
        Json(StrategyView::read(&state, &record).await?),
    ))
}

#[utoipa::path(get, path = "/accounts/{account_id}/strategies", tag = "strategies", operation_id = "listStrategies",
    summary = "The account's deployments", params(("account_id" = String, Path, description = "An account of the caller (another user's is a 404)")),
    responses((status = 200, description = "The deployments", body = StrategyList)))]
pub async fn list(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
) -> ApiResult<Json<StrategyList>> {
    let account = owned(&state, &principal, &id).await?;
    let all = state.strategies.strategies(Some(account.id)).await?;
    let mut strategies = Vec::with_capacity(all.len());
    for record in &all {
        strategies.push(StrategyView::read(&state, record).await?);
    }
    Ok(Json(StrategyList { strategies }))
}

async fn owned_strategy(
    state: &AppState,
    principal: &Principal,
    id: &str,
) -> ApiResult<StrategyRecord> {
    let not_found = || ApiError::not_found(format!("no strategy {id:?}"));
    let id = StrategyId::parse(id).map_err(|_| not_found())?;
    state
        .strategies
        .strategy(principal.user_id, id)
        .await?
        .ok_or_else(not_found)
}

#[utoipa::path(get, path = "/strategies/{strategy_id}", tag = "strategies", operation_id = "getStrategy",
    summary = "One deployment", params(("strategy_id" = String, Path, description = "A deployment of the caller")),
    responses((status = 200, description = "The deployment", body = StrategyView)))]
pub async fn get(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
) -> ApiResult<Json<StrategyView>> {
    let record = owned_strategy(&state, &principal, &id).await?;
    Ok(Json(StrategyView::read(&state, &record).await?))
}

async fn set_status(
    state: &AppState,
    principal: &Principal,
    id: &str,
    to: StrategyStatus,
) -> ApiResult<Json<StrategyView>> {
    let mut record = owned_strategy(state, principal, id).await?;
    if record.status == StrategyStatus::Stopped && to != StrategyStatus::Stopped {
        return Err(ApiError::conflict(
            "the strategy is stopped; deploy it again to run it",
        ));
    }
    record.status = to;
    state.strategies.save_strategy(&record).await?;
    tracing::info!(strategy_id = %record.id, status = to.as_str(), "strategy status set");
    Ok(Json(StrategyView::read(state, &record).await?))
}

#[utoipa::path(post, path = "/strategies/{strategy_id}/pause", tag = "strategies", operation_id = "pauseStrategy",
    summary = "Pause (indicators keep updating; no orders)", params(("strategy_id" = String, Path, description = "A deployment of the caller")),
    responses((status = 200, description = "The deployment", body = StrategyView), (status = 409, description = "The strategy is stopped", body = api::openapi::ProblemSchema, content_type = "application/problem+json")))]
pub async fn pause(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
) -> ApiResult<Json<StrategyView>> {
    set_status(&state, &principal, &id, StrategyStatus::Paused).await
}

#[utoipa::path(post, path = "/strategies/{strategy_id}/resume", tag = "strategies", operation_id = "resumeStrategy",
    summary = "Resume", params(("strategy_id" = String, Path, description = "A deployment of the caller")),
    responses((status = 200, description = "The deployment", body = StrategyView), (status = 409, description = "The strategy is stopped", body = api::openapi::ProblemSchema, content_type = "application/problem+json")))]
pub async fn resume(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
) -> ApiResult<Json<StrategyView>> {
    set_status(&state, &principal, &id, StrategyStatus::Running).await
}

#[utoipa::path(post, path = "/strategies/{strategy_id}/stop", tag = "strategies", operation_id = "stopStrategy",
    summary = "Stop for good (its working orders are cancelled)", params(("strategy_id" = String, Path, description = "A deployment of the caller")),
    responses((status = 200, description = "The deployment", body = StrategyView)))]
pub async fn stop(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
) -> ApiResult<Json<StrategyView>> {
    set_status(&state, &principal, &id, StrategyStatus::Stopped).await
}
