//! Creating, listing and reading accounts, their balances and positions.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use common::accounts::owned;
use common::auth::Principal;
use common::extract::ApiJson;
use common::portfolio;
use common::views::{AccountView, Plain, PositionView, derived_money};
use common::{ApiError, ApiResult, AppState};
use domain::{AccountId, Currency, Money};
use serde::{Deserialize, Serialize};
use store::records::{Account, AccountKind};

/// Accounts a user may open.
const MAX_ACCOUNTS: usize = 50;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateBody {
    name: String,
    #[serde(default)]
    base_currency: Option<String>,
    #[serde(default)]
    kind: Option<String>,
}

pub async fn create(
    State(state): State<AppState>,
    principal: Principal,
    ApiJson(body): ApiJson<CreateBody>,
) -> ApiResult<(StatusCode, HeaderMap, Json<AccountView>)> {
    let name = body.name.trim();
    if name.is_empty() || name.chars().count() > 64 || name.chars().any(char::is_control) {
        return Err(ApiError::invalid_field(
            "name",
            "must be 1 to 64 printable characters",
        ));
    }
    let base_currency = match body.base_currency.as_deref() {
        None => Currency::USD,
        Some(code) => Currency::parse(code)
            .map_err(|e| ApiError::invalid_field("base_currency", e.to_string()))?,
    };
    match body.kind.as_deref() {
        None | Some("paper") => {}
        Some(other) => {
            return Err(ApiError::invalid_field(
                "kind",
                format!(
                    "{other:?} is not available: accounts are \"paper\" (broker connections attach external brokers' credentials to an account)"
                ),
            ));
        }
    }
    if state.records.accounts(principal.user_id).await?.len() >= MAX_ACCOUNTS {
        return Err(ApiError::rejected(
            "too-many-accounts",
            format!("at most {MAX_ACCOUNTS} accounts per user"),
        ));
    }
    let account = Account {
        id: AccountId::random(),
        user_id: principal.user_id,
        name: name.to_owned(),
        kind: AccountKind::Paper,
        base_currency,
        cash: Money::ZERO,
        created_at: state.clock.now(),
    };
    state.records.create_account(&account).await?;
    tracing::info!(account_id = %account.id, user_id = %principal.user_id, "account opened");
    let mut headers = HeaderMap::new();
    if let Ok(location) = HeaderValue::from_str(&format!("/accounts/{}", account.id)) {
        headers.insert(header::LOCATION, location);
    }
    Ok((
        StatusCode::CREATED,
        headers,
        Json(AccountView::from(&account)),
    ))
}

#[derive(Debug, Serialize)]
pub struct AccountList {
    accounts: Vec<AccountView>,
}

pub async fn list(
    State(state): State<AppState>,
    principal: Principal,
) -> ApiResult<Json<AccountList>> {
    let accounts = state.records.accounts(principal.user_id).await?;
    Ok(Json(AccountList {
        accounts: accounts.iter().map(AccountView::from).collect(),
    }))
}

pub async fn get(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
) -> ApiResult<Json<AccountView>> {
    let account = owned(&state, &principal, &id).await?;
    Ok(Json(AccountView::from(&account)))
}

#[derive(Debug, Serialize)]
pub struct Balances {
    account_id: String,
    currency: String,
    cash: String,
    reserved: String,
    buying_power: String,
    positions_value: String,
    equity: String,
    unrealized_pnl: String,
    realized_pnl: String,
    fees: String,
    day_pnl: String,
    as_of: String,
}

pub async fn balances(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
) -> ApiResult<Json<Balances>> {
    let account = owned(&state, &principal, &id).await?;
    let v = portfolio::value(&state, &account).await?;
    let day = portfolio::daily_pnl(&state, &account, &v).await?;
    Ok(Json(Balances {
        account_id: account.id.to_string(),
        currency: account.base_currency.to_string(),
        cash: v.cash.plain(),
        reserved: v.reserved.plain(),
        buying_power: v.buying_power.plain(),
        positions_value: derived_money(v.positions_value, account.base_currency),
        equity: derived_money(v.equity, account.base_currency),
        unrealized_pnl: derived_money(v.unrealized_pnl, account.base_currency),
        realized_pnl: derived_money(v.realized_pnl, account.base_currency),
        fees: v.fees.plain(),
        day_pnl: derived_money(day, account.base_currency),
        as_of: state.clock.now().to_string(),
    }))
}

#[derive(Debug, Serialize)]
pub struct PositionList {
    positions: Vec<PositionView>,
}

pub async fn positions(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
) -> ApiResult<Json<PositionList>> {
    let account = owned(&state, &principal, &id).await?;
    let v = portfolio::value(&state, &account).await?;
    Ok(Json(PositionList {
        positions: v
            .positions
            .iter()
            .map(|p| {
                PositionView::new(
                    &p.position,
                    &p.mark,
                    p.market_value,
                    p.unrealized,
                    state
                        .instruments
                        .get(p.position.symbol)
                        .map(|i| i.tick_size()),
                    account.base_currency,
                )
            })
            .collect(),
    }))
}
