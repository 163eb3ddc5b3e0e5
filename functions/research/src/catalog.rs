//! The strategy catalog: every strategy a user can deploy or backtest — the built-ins,
//! then the caller's own modules (`wasm:<id>`) — with its parameters as JSON Schema so
//! that a client can draw a form without knowing it.

use api::principal::Principal;
use api::{ApiError, ApiResult};
use app::AppState;
use axum::Json;
use axum::extract::{Path, State};
use engine::strategy::builtin::{CATALOG, StrategyInfo};
use serde::Serialize;
use store::strategy_modules::StrategyModule;
use utoipa::ToSchema;

/// Where a strategy comes from.
#[derive(Debug, Clone, Copy, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
#[schema(as = CatalogStrategyKind)]
pub enum Kind {
    /// Ships with Stratus.
    Builtin,
    /// One of the caller's modules (`POST /strategy-modules`).
    Module,
}

/// A strategy.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = CatalogStrategy)]
pub struct StrategyView {
    /// What deployments and research jobs name it: `sma_cross`, or `wasm:<module id>`.
    name: String,
    /// What to show: the built-in's name, or the name a module declares.
    display_name: String,
    kind: Kind,
    /// What it does.
    summary: String,
    /// Its parameters: a JSON Schema (2020-12) object with one property per parameter
    /// (type, bounds, default, description); every parameter is optional.
    #[schema(value_type = Object)]
    params_schema: serde_json::Value,
    /// Rules between parameters (`fast < slow`), also in the schema's description.
    rules: Vec<String>,
}

impl From<&StrategyInfo> for StrategyView {
    fn from(info: &StrategyInfo) -> Self {
        StrategyView {
            name: info.name.to_owned(),
            display_name: info.name.to_owned(),
            kind: Kind::Builtin,
            summary: info.summary.to_owned(),
            params_schema: info.params_schema(),
            rules: info.rules.iter().map(|r| (*r).to_owned()).collect(),
        }
    }
}

impl From<StrategyModule> for StrategyView {
    fn from(m: StrategyModule) -> Self {
        StrategyView {
            name: format!("{}{}", engine::wasm::PREFIX, m.id),
            display_name: m.name,
            kind: Kind::Module,
            summary: m.summary,
            params_schema: m.params_schema,
            rules: Vec::new(),
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct StrategyCatalog {
    strategies: Vec<StrategyView>,
}

#[utoipa::path(get, path = "/catalog/strategies", tag = "research", operation_id = "listCatalogStrategies",
    summary = "Every strategy the caller can deploy or backtest — the built-ins, then the caller's modules — with its parameters as JSON Schema",
    responses((status = 200, description = "The catalog", body = StrategyCatalog)))]
pub async fn list(
    State(state): State<AppState>,
    principal: Principal,
) -> ApiResult<Json<StrategyCatalog>> {
    let mut strategies: Vec<StrategyView> = CATALOG.iter().map(StrategyView::from).collect();
    strategies.extend(
        crate::modules::of(&state, &principal)
            .await?
            .into_iter()
            .map(StrategyView::from),
    );
    Ok(Json(StrategyCatalog { strategies }))
}

#[utoipa::path(get, path = "/catalog/strategies/{name}", tag = "research", operation_id = "getCatalogStrategy",
    summary = "One strategy of the catalog",
    params(("name" = String, Path, description = "A strategy's name (`sma_cross`, …, or `wasm:<id>` for one of the caller's modules)")),
    responses((status = 200, description = "The strategy", body = StrategyView)))]
pub async fn one(
    State(state): State<AppState>,
    principal: Principal,
    Path(name): Path<String>,
) -> ApiResult<Json<StrategyView>> {
    let not_found = || ApiError::not_found(format!("no strategy {name:?}"));
    if let Some(id) = engine::wasm::module_id(&name) {
        return match state.modules.get(principal.user_id, id).await {
            Ok(m) => Ok(Json(StrategyView::from(m))),
            Err(e) if e.kind() == store::ErrorKind::NotFound => Err(not_found()),
            Err(e) => Err(e.into()),
        };
    }
    engine::strategy::builtin::info(&name)
        .map(|info| Json(StrategyView::from(info)))
        .ok_or_else(not_found)
}
