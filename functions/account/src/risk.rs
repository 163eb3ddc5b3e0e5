//! Risk limits per account: the largest order notional, the largest position per symbol
//! (a default and per-symbol overrides, counting working orders), and the largest daily
//! loss, past which new orders are refused for the rest of the UTC day.

use std::collections::BTreeMap;

use axum::Json;
use axum::extract::{Path, State};
use common::accounts::owned;
use common::auth::Principal;
use common::extract::ApiJson;
use common::input::DecimalInput;
use common::portfolio;
use common::views::Plain;
use common::{ApiError, ApiResult, AppState, FieldError};
use domain::{Decimal, Money, Symbol};
use serde::{Deserialize, Serialize};
use store::risk::RiskLimits;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LimitsBody {
    #[serde(default)]
    max_order_notional: Option<DecimalInput>,
    #[serde(default)]
    max_position: Option<DecimalInput>,
    #[serde(default)]
    max_position_by_symbol: BTreeMap<String, DecimalInput>,
    #[serde(default)]
    max_daily_loss: Option<DecimalInput>,
}

#[derive(Debug, Serialize)]
pub struct HaltView {
    reason: String,
    since: String,
}

#[derive(Debug, Serialize)]
pub struct LimitsView {
    max_order_notional: Option<String>,
    max_position: Option<String>,
    max_position_by_symbol: BTreeMap<String, String>,
    max_daily_loss: Option<String>,
    day_pnl: String,
    halted: bool,
    halt: Option<HaltView>,
}

fn positive(field: &str, value: DecimalInput, errors: &mut Vec<FieldError>) -> Option<Decimal> {
    let v = value.value().normalize();
    if v <= Decimal::ZERO {
        errors.push(FieldError::new(field, "must be greater than zero"));
        return None;
    }
    Some(v)
}

fn parse(state: &AppState, body: LimitsBody) -> ApiResult<RiskLimits> {
    let mut errors = Vec::new();
    let max_order_notional = body
        .max_order_notional
        .and_then(|v| positive("max_order_notional", v, &mut errors))
        .map(Money::new);
    let max_position = body
        .max_position
        .and_then(|v| positive("max_position", v, &mut errors));
    let max_daily_loss = body
        .max_daily_loss
        .and_then(|v| positive("max_daily_loss", v, &mut errors))
        .map(Money::new);
    let mut by_symbol = BTreeMap::new();
    if body.max_position_by_symbol.len() > 200 {
        errors.push(FieldError::new(
            "max_position_by_symbol",
            "at most 200 symbols",
        ));
    }
    for (name, value) in body.max_position_by_symbol {
        let field = format!("max_position_by_symbol.{name}");
        match Symbol::parse(&name) {
            Ok(symbol) if state.instruments.get(symbol).is_some() => {
                if let Some(v) = positive(&field, value, &mut errors) {
                    by_symbol.insert(symbol, v);
                }
            }
            _ => errors.push(FieldError::new(field, "not a tradable symbol")),
        }
    }
    if !errors.is_empty() {
        return Err(ApiError::invalid(errors));
    }
    Ok(RiskLimits {
        max_order_notional,
        max_position,
        max_position_by_symbol: by_symbol,
        max_daily_loss,
    })
}

async fn view(
    state: &AppState,
    account: &store::records::Account,
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

pub async fn get(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
) -> ApiResult<Json<LimitsView>> {
    let account = owned(&state, &principal, &id).await?;
    let limits = state.risk.limits(account.id).await?;
    Ok(Json(view(&state, &account, &limits).await?))
}

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
