//! Risk limits per account: the largest order notional, the largest position per symbol
//! (a default and per-symbol overrides, counting working orders), and the largest daily
//! loss, past which new orders are refused for the rest of the UTC day.

use std::collections::BTreeMap;

use api::accounts::owned;
use api::extract::ApiJson;
use api::input::{InstrumentSymbol, Positive};
use api::principal::Principal;
use api::views::Plain;
use api::{ApiError, ApiResult};
use app::AppState;
use app::portfolio;
use axum::Json;
use axum::extract::{Path, State};
use domain::Money;
use serde::{Deserialize, Serialize};
use store::risk::RiskLimits;
use utoipa::ToSchema;

/// Replaces every limit; an absent or null limit is no limit.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = RiskLimitsInput)]
pub struct LimitsBody {
    #[serde(default)]
    #[schema(nullable)]
    max_order_notional: Option<Positive>,
    #[serde(default)]
    #[schema(nullable)]
    max_position: Option<Positive>,
    /// Per-symbol position limits (at most 200 symbols), over `max_position`.
    #[serde(default)]
    #[schema(schema_with = by_symbol_schema)]
    max_position_by_symbol: BTreeMap<InstrumentSymbol, Positive>,
    #[serde(default)]
    #[schema(nullable)]
    max_daily_loss: Option<Positive>,
}

/// `max_position_by_symbol`: instrument symbols to positive decimals.
fn by_symbol_schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
    use utoipa::PartialSchema;
    utoipa::openapi::ObjectBuilder::new()
        .schema_type(utoipa::openapi::schema::Type::Object)
        .property_names(Some(
            utoipa::openapi::schema::AllOfBuilder::new()
                .item(utoipa::openapi::Ref::from_schema_name("InstrumentSymbol")),
        ))
        .additional_properties(Some(Positive::schema()))
        .max_properties(Some(200))
        .into()
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = Halt)]
pub struct HaltView {
    reason: String,
    #[schema(format = DateTime)]
    since: String,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = RiskLimits)]
pub struct LimitsView {
    max_order_notional: Option<String>,
    max_position: Option<String>,
    max_position_by_symbol: BTreeMap<String, String>,
    max_daily_loss: Option<String>,
    day_pnl: String,
    halted: bool,
    halt: Option<HaltView>,
}

fn parse(state: &AppState, body: LimitsBody) -> ApiResult<RiskLimits> {
    let mut by_symbol = BTreeMap::new();
    if body.max_position_by_symbol.len() > 200 {
        return Err(ApiError::invalid_field(
            "max_position_by_symbol",
            "at most 200 symbols",
        ));
    }
    for (symbol, value) in body.max_position_by_symbol {
        if state.instruments.get(symbol.0).is_none() {
            return Err(ApiError::invalid_field(
                format!("max_position_by_symbol.{}", symbol.0),
                "not a tradable symbol (see GET /instruments)",
            ));
        }
        by_symbol.insert(symbol.0, value.0.normalize());
    }
    Ok(RiskLimits {
        max_order_notional: body.max_order_notional.map(|v| Money::new(v.0.normalize())),
        max_position: body.max_position.map(|v| v.0.normalize()),
        max_position_by_symbol: by_symbol,
        max_daily_loss: body.max_daily_loss.map(|v| Money::new(v.0.normalize())),
    })
}

async fn view(
    state: &AppState,
    account: &domain::Account,
    limits: &RiskLimits,
) -> ApiResult<LimitsView> {
    let valuation = portfolio::value(state, account).await?;
    let (day_pnl, halt) = portfolio::daily_halt(state, account, &valuation, limits).await?;
    Ok(LimitsView {
        max_order_notional: limits.max_order_notional.map(|m| m.plain()),
        max_position: limits.max_position.map(|d| d.plain()),
        max_position_by_symbol: limits
            .max_position_by_symbol
            .iter()
            .map(|(s, d)| (s.to_string(), d.plain()))
            .collect(),
        max_daily_loss: limits.max_daily_loss.map(|m| m.plain()),
        day_pnl: day_pnl.plain(),
        halted: halt.is_some(),
        halt: halt.map(|h| HaltView {
            reason: h.reason,
            since: domain::Timestamp::from_secs(h.at).to_string(),
        }),
    })
}

#[utoipa::path(get, path = "/accounts/{account_id}/risk-limits", tag = "account", operation_id = "getRiskLimits",
    summary = "Risk limits, today's P&L and any halt", params(("account_id" = String, Path, description = "An account of the caller (another user's is a 404)")),
    responses((status = 200, description = "The limits", body = LimitsView)))]
pub async fn get(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
) -> ApiResult<Json<LimitsView>> {
    let account = owned(&state, &principal, &id).await?;
    let limits = state.risk.limits(account.id).await?;
    Ok(Json(view(&state, &account, &limits).await?))
}

#[utoipa::path(put, path = "/accounts/{account_id}/risk-limits", tag = "account", operation_id = "setRiskLimits",
    summary = "Replace the risk limits", params(("account_id" = String, Path, description = "An account of the caller (another user's is a 404)")),
    request_body = LimitsBody,
    responses((status = 200, description = "The limits now", body = LimitsView)))]
pub async fn put(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<LimitsBody>,
) -> ApiResult<Json<LimitsView>> {
    let account = owned(&state, &principal, &id).await?;
    let limits = parse(&state, body)?;
    state.risk.set_limits(account.id, &limits).await?;
    tracing::info!(account_id = %account.id, "risk limits set");
    Ok(Json(view(&state, &account, &limits).await?))
}
