//! Strategy deployments: `POST /accounts/{account_id}/strategies` records a deployment
//! (a built-in strategy, its symbols, timeframes and parameters, checked here exactly as
//! the engine will check them), and the streaming core, which reconciles the recorded
//! deployments twice a second, runs it. Pause, resume and stop change what is recorded;
//! the core follows. A strategy's state lives in the core's snapshot, so it survives
//! restarts.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use common::accounts::owned;
use common::auth::Principal;
use common::extract::ApiJson;
use common::{ApiError, ApiResult, AppState, FieldError};
use domain::{StrategyId, Symbol, Timeframe};
use serde::{Deserialize, Serialize};
use store::records::{StrategyRecord, StrategyStatus};
use streaming_core::strategy::{StrategyConfig, StrategyError};

/// Deployments an account may have running or paused.
const MAX_ACTIVE: usize = 20;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeployBody {
    strategy: String,
    symbols: Vec<String>,
    timeframes: Vec<String>,
    #[serde(default)]
    params: serde_json::Value,
}

#[derive(Debug, Serialize)]
pub struct StrategyView {
    id: String,
    account_id: String,
    strategy: String,
    symbols: Vec<String>,
    timeframes: Vec<String>,
    params: serde_json::Value,
    status: StrategyStatus,
    created_at: String,
}

impl From<&StrategyRecord> for StrategyView {
    fn from(r: &StrategyRecord) -> Self {
        StrategyView {
            id: r.id.to_string(),
            account_id: r.account_id.to_string(),
            strategy: r.strategy.clone(),
            symbols: r.symbols.iter().map(|s| s.to_string()).collect(),
            timeframes: r.timeframes.iter().map(|t| t.to_string()).collect(),
            params: r.params.clone(),
            status: r.status,
            created_at: r.created_at.to_string(),
        }
    }
}

#[derive(Debug, Serialize)]
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
        match Symbol::parse(s) {
            Ok(symbol) => match state.instruments.get(symbol) {
                Some(i) if i.currency() == account.base_currency => symbols.push(symbol),
                Some(_) => errors.push(FieldError::new(
                    format!("symbols.{i}"),
                    format!("{symbol} trades in another currency than the account"),
                )),
                None => errors.push(FieldError::new(
                    format!("symbols.{i}"),
                    format!("{symbol} is not a tradable instrument"),
                )),
            },
            Err(e) => errors.push(FieldError::new(format!("symbols.{i}"), e.to_string())),
        }
    }
    if body.timeframes.is_empty() || body.timeframes.len() > 6 {
        errors.push(FieldError::new("timeframes", "give 1 to 6 timeframes"));
    }
    let mut timeframes = Vec::new();
    for (i, t) in body.timeframes.iter().enumerate() {
        match Timeframe::parse(t) {
            Ok(tf) if !timeframes.contains(&tf) => timeframes.push(tf),
            Ok(_) => errors.push(FieldError::new(format!("timeframes.{i}"), "listed twice")),
            Err(e) => errors.push(FieldError::new(format!("timeframes.{i}"), e.to_string())),
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
    streaming_core::strategy::create(&body.strategy, &config).map_err(strategy_error)?;
    let active = state
        .records
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
        strategy: body.strategy,
        symbols,
        timeframes,
        params,
        status: StrategyStatus::Running,
        created_at: state.clock.now(),
    };
    state.records.save_strategy(&record).await?;
    tracing::info!(strategy_id = %record.id, account_id = %account.id, strategy = %record.strategy, "strategy deployed");
    Ok((StatusCode::CREATED, Json(StrategyView::from(&record))))
}

pub async fn list(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
) -> ApiResult<Json<StrategyList>> {
    let account = owned(&state, &principal, &id).await?;
    let all = state.records.strategies(Some(account.id)).await?;
    Ok(Json(StrategyList {
        strategies: all.iter().map(StrategyView::from).collect(),
    }))
}

async fn owned_strategy(
    state: &AppState,
    principal: &Principal,
    id: &str,
) -> ApiResult<StrategyRecord> {
    let not_found = || ApiError::not_found(format!("no strategy {id:?}"));
    let id = StrategyId::parse(id).map_err(|_| not_found())?;
    state
        .records
        .strategy(principal.user_id, id)
        .await?
        .ok_or_else(not_found)
}

pub async fn get(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
) -> ApiResult<Json<StrategyView>> {
    let record = owned_strategy(&state, &principal, &id).await?;
    Ok(Json(StrategyView::from(&record)))
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
    state.records.save_strategy(&record).await?;
    tracing::info!(strategy_id = %record.id, status = to.as_str(), "strategy status set");
    Ok(Json(StrategyView::from(&record)))
}

pub async fn pause(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
) -> ApiResult<Json<StrategyView>> {
    set_status(&state, &principal, &id, StrategyStatus::Paused).await
}

pub async fn resume(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
) -> ApiResult<Json<StrategyView>> {
    set_status(&state, &principal, &id, StrategyStatus::Running).await
}

pub async fn stop(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
) -> ApiResult<Json<StrategyView>> {
    set_status(&state, &principal, &id, StrategyStatus::Stopped).await
}
