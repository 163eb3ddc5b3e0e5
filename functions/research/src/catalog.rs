//! The strategy catalog: every strategy a user can deploy or backtest, with its
//! parameters as JSON Schema so that a client can draw a form without knowing it.

use api::principal::Principal;
use api::{ApiError, ApiResult};
use axum::Json;
use axum::extract::Path;
use engine::strategy::builtin::{CATALOG, StrategyInfo};
use serde::Serialize;
use utoipa::ToSchema;

/// A strategy.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = CatalogStrategy)]
pub struct StrategyView {
    name: String,
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
            summary: info.summary.to_owned(),
            params_schema: info.params_schema(),
            rules: info.rules.iter().map(|r| (*r).to_owned()).collect(),
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct StrategyCatalog {
    strategies: Vec<StrategyView>,
}

#[utoipa::path(get, path = "/catalog/strategies", tag = "research", operation_id = "listCatalogStrategies",
    summary = "Every strategy a user can deploy or backtest, with its parameters as JSON Schema",
    responses((status = 200, description = "The catalog", body = StrategyCatalog)))]
pub async fn list(_principal: Principal) -> ApiResult<Json<StrategyCatalog>> {
    Ok(Json(StrategyCatalog {
        strategies: CATALOG.iter().map(StrategyView::from).collect(),
    }))
}

#[utoipa::path(get, path = "/catalog/strategies/{name}", tag = "research", operation_id = "getCatalogStrategy",
    summary = "One strategy of the catalog",
    params(("name" = String, Path, description = "A strategy's name (`sma_cross`, …)")),
    responses((status = 200, description = "The strategy", body = StrategyView)))]
pub async fn one(_principal: Principal, Path(name): Path<String>) -> ApiResult<Json<StrategyView>> {
    engine::strategy::builtin::info(&name)
        .map(|info| Json(StrategyView::from(info)))
        .ok_or_else(|| ApiError::not_found(format!("no strategy {name:?}")))
}
