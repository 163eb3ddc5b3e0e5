//! Strategy deployments: `POST /accounts/{account_id}/strategies` records a deployment
//! (a built-in strategy or one of the caller's modules, its symbols, timeframes and
//! parameters, checked here by creating it exactly as the engine will), and the streaming
//! core, which reconciles the recorded
//! deployments twice a second, runs it. Pause, resume and stop change what is recorded;
//! the core follows. A strategy's state lives in the core's snapshot, so it survives
//! restarts.

use std::sync::Arc;

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
use engine::strategy::{Builtins, StrategyConfig, StrategyError, StrategyFactory};
use engine::wasm::{Limits, WasmModules};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// Deployments an account may have running or paused.
const MAX_ACTIVE: usize = 20;

/// A deployment: a built-in strategy or one of the caller's modules, the symbols and timeframes it runs on (the first
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

/// A built-in strategy's name, or one of the caller's modules as `wasm:<module id>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StrategyName(String);

/// `wasm:` and a module id (as the store makes them: a lower-case UUID).
const MODULE_PATTERN: &str = "wasm:[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}";

impl StrategyName {
    fn as_str(&self) -> &str {
        &self.0
    }

    /// Whether `text` can name a strategy (the pattern of the schema below).
    fn parse(text: &str) -> Result<Self, String> {
        let module = engine::wasm::module_id(text).is_some_and(|id| {
            id.len() == 36
                && id.char_indices().all(|(i, c)| match i {
                    8 | 13 | 18 | 23 => c == '-',
                    _ => c.is_ascii_digit() || ('a'..='f').contains(&c),
                })
        });
        if module || engine::strategy::builtin::NAMES.contains(&text) {
            Ok(StrategyName(text.to_owned()))
        } else {
            Err(format!(
                "unknown strategy {text:?}: give one of {} or wasm:<module id> (GET /catalog/strategies)",
                engine::strategy::builtin::NAMES.join(", ")
            ))
        }
    }
}

impl<'de> Deserialize<'de> for StrategyName {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        StrategyName::parse(&text).map_err(serde::de::Error::custom)
    }
}

impl utoipa::PartialSchema for StrategyName {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        let pattern = format!(
            "^({}|{MODULE_PATTERN})$",
            engine::strategy::builtin::NAMES.join("|")
        );
        utoipa::openapi::schema::ObjectBuilder::new()
            .schema_type(utoipa::openapi::schema::Type::String)
            .pattern(Some(pattern))
            .description(Some(
                "A built-in strategy (sma_cross, ema_cross, rsi_reversion, macd_trend, bollinger_breakout) or one of the caller's modules as wasm:<module id> (GET /catalog/strategies).",
            ))
            .into()
    }
}

impl ToSchema for StrategyName {
    fn name() -> std::borrow::Cow<'static, str> {
        "Strategy".into()
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
    /// Why the core stopped it, when it did: a module that faulted (trapped, ran out of
    /// its budget, placed a malformed order) or could not be loaded.
    #[schema(nullable = false)]
    #[serde(skip_serializing_if = "Option::is_none")]
    reason: Option<String>,
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
            reason: r.reason.clone(),
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
        StrategyError::UnknownStrategy { .. }
        | StrategyError::Module { .. }
        | StrategyError::UnknownModule { .. } => ApiError::invalid_field("strategy", e.to_string()),
        StrategyError::InvalidParam { ref param, .. } => {
            ApiError::invalid_field(format!("params.{param}"), e.to_string())
        }
        StrategyError::NoSymbols => ApiError::invalid_field("symbols", e.to_string()),
        StrategyError::NoTimeframes => ApiError::invalid_field("timeframes", e.to_string()),
        other => ApiError::invalid_field("params", other.to_string()),
    }
}

/// The caller's module `id` loaded for creating, or a 422 naming `strategy` (another
/// user's module is unknown).
async fn module(state: &AppState, principal: &Principal, id: &str) -> ApiResult<WasmModules> {
    let unknown = || {
        ApiError::invalid_field(
            "strategy",
            format!("you have no strategy module {id:?} (GET /strategy-modules)"),
        )
    };
    let is_gone = |e: &store::StoreError| e.kind() == store::ErrorKind::NotFound;
    let owned = match state.modules.get(principal.user_id, id).await {
        Ok(m) => m,
        Err(e) if is_gone(&e) => return Err(unknown()),
        Err(e) => return Err(e.into()),
    };
    let bytes = match state.modules.bytes(&owned.id).await {
        Ok(b) if b.owner == principal.user_id => b.bytes,
        Ok(_) => return Err(unknown()),
        Err(e) if is_gone(&e) => return Err(unknown()),
        Err(e) => return Err(e.into()),
    };
    let modules = WasmModules::new(Limits::default());
    let loaded = modules.clone();
    // Compiling a module is CPU work: off the request's thread.
    tokio::task::spawn_blocking(move || loaded.insert(&owned.id, &bytes))
        .await
        .map_err(|e| ApiError::internal(e.to_string()))?
        .map_err(|e| ApiError::invalid_field("strategy", e.to_string()))?;
    Ok(modules)
}

#[utoipa::path(post, path = "/accounts/{account_id}/strategies", tag = "strategies", operation_id = "deployStrategy",
    summary = "Deploy a strategy (running in the core within a second)", params(("account_id" = String, Path, description = "An account of the caller (another user's is a 404)")),
    request_body = DeployBody,
    responses(
        (status = 201, description = "Deployed", body = StrategyView),
        (status = 409, description = "Too many active deployments (`too-many-strategies`), a symbol in another currency (`currency-mismatch`), or a broker account (`paper-accounts-only`: strategies trade paper accounts)", body = api::openapi::ProblemSchema, content_type = "application/problem+json"),
    ))]
pub async fn deploy(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<DeployBody>,
) -> ApiResult<(StatusCode, Json<StrategyView>)> {
    let account = owned(&state, &principal, &id).await?;
    if account.kind != domain::AccountKind::Paper {
        // The core runs strategies against its paper broker; routing their orders to an
        // external broker is not built yet.
        return Err(ApiError::rejected(
            "paper-accounts-only",
            "strategies run on paper accounts; this account routes to a broker",
        ));
    }
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
    let factory: Arc<dyn StrategyFactory> = match engine::wasm::module_id(body.strategy.as_str()) {
        Some(id) => Arc::new(module(&state, &principal, id).await?),
        None => Arc::new(Builtins),
    };
    // Created as the core will create it: the parameters checked against the declaration
    // and a module instantiated within its caps. Its `init` runs in the core (which
    // stops the deployment with the reason if it fails there).
    let name = body.strategy.as_str().to_owned();
    tokio::task::spawn_blocking(move || factory.create(&name, &config).map(|_| ()))
        .await
        .map_err(|e| ApiError::internal(e.to_string()))?
        .map_err(strategy_error)?;
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
        reason: None,
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
