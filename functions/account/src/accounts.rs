//! Creating, listing and reading accounts, their balances and positions.

use api::accounts::owned;
use api::extract::ApiJson;
use api::input::Name;
use api::principal::Principal;
use api::views::{AccountView, Plain, PositionView, derived_money};

use crate::connections;
use api::{ApiError, ApiResult};
use app::AppState;
use app::portfolio;
use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use domain::{Account, AccountId, AccountKind, Currency, Money};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// Accounts a user may open.
const MAX_ACCOUNTS: usize = 50;

/// What a new account is.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = CreateAccount)]
pub struct CreateBody {
    name: Name,
    /// Three letters (default USD).
    #[serde(default)]
    #[schema(pattern = "^[A-Za-z]{3}$", nullable)]
    base_currency: Option<String>,
    /// `paper` (the default: the core fills its orders against the market) or `broker`
    /// (its orders go to an external broker through `broker_connection`).
    #[serde(default)]
    kind: Option<AccountKindName>,
    /// A broker account's connection (required with `kind: broker`, refused otherwise).
    #[serde(default)]
    #[schema(nullable)]
    broker_connection: Option<connections::CreateBody>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
#[schema(as = AccountKind)]
pub enum AccountKindName {
    Paper,
    Broker,
}

/// A new account, with its broker connection when it has one.
#[derive(Debug, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = CreatedAccount)]
pub struct CreatedView {
    #[serde(flatten)]
    account: AccountView,
    /// A broker account's connection: whether the broker took the credentials.
    #[serde(skip_serializing_if = "Option::is_none")]
    broker_connection: Option<connections::ConnectionView>,
}

#[utoipa::path(post, path = "/accounts", tag = "account", operation_id = "createAccount",
    summary = "Open a paper account, or a broker account on a broker connection",
    request_body = CreateBody,
    responses(
        (status = 201, description = "Opened (a broker account with its connection's status: `invalid` if the broker refused the credentials)", body = CreatedView),
        (status = 409, description = "At most 50 accounts per user (`too-many-accounts`)", body = api::openapi::ProblemSchema, content_type = "application/problem+json"),
    ))]
pub async fn create(
    State(state): State<AppState>,
    principal: Principal,
    ApiJson(body): ApiJson<CreateBody>,
) -> ApiResult<(StatusCode, HeaderMap, Json<CreatedView>)> {
    let name = body.name.0.as_str();
    let base_currency = match body.base_currency.as_deref() {
        None => Currency::USD,
        Some(code) => Currency::parse(code)
            .map_err(|e| ApiError::invalid_field("base_currency", e.to_string()))?,
    };
    let kind = body.kind.unwrap_or(AccountKindName::Paper);
    let connection = match (kind, body.broker_connection) {
        (AccountKindName::Paper, None) => None,
        (AccountKindName::Paper, Some(_)) => {
            return Err(ApiError::invalid_field(
                "broker_connection",
                "only a broker account (kind: broker) has a broker connection",
            ));
        }
        (AccountKindName::Broker, None) => {
            return Err(ApiError::invalid_field(
                "broker_connection",
                "a broker account needs its broker connection",
            ));
        }
        (AccountKindName::Broker, Some(c)) => {
            if !brokers::registry::BROKERS.contains(&c.broker_name()) {
                return Err(ApiError::invalid_field(
                    "broker_connection.broker",
                    format!(
                        "Stratus routes orders to {}",
                        brokers::registry::BROKERS.join(", ")
                    ),
                ));
            }
            let checked = connections::check(&c, "broker_connection.")?;
            Some((c, checked))
        }
    };
    if state.accounts.accounts(principal.user_id).await?.len() >= MAX_ACCOUNTS {
        return Err(ApiError::rejected(
            "too-many-accounts",
            format!("at most {MAX_ACCOUNTS} accounts per user"),
        ));
    }
    let account = Account {
        id: AccountId::random(),
        user_id: principal.user_id,
        name: name.to_owned(),
        kind: if connection.is_some() {
            AccountKind::Broker
        } else {
            AccountKind::Paper
        },
        base_currency,
        cash: Money::ZERO,
        created_at: state.clock.now(),
    };
    state.accounts.create_account(&account).await?;
    tracing::info!(account_id = %account.id, user_id = %principal.user_id, kind = account.kind.as_str(), "account opened");
    let connection = match connection {
        Some((body, checked)) => Some(connections::attach(&state, &account, body, checked).await?),
        None => None,
    };
    // The opening balance may have moved the cash.
    let account = state
        .accounts
        .account(principal.user_id, account.id)
        .await?
        .unwrap_or(account);
    let mut headers = HeaderMap::new();
    if let Ok(location) = HeaderValue::from_str(&format!("/accounts/{}", account.id)) {
        headers.insert(header::LOCATION, location);
    }
    Ok((
        StatusCode::CREATED,
        headers,
        Json(CreatedView {
            account: AccountView::from(&account),
            broker_connection: connection.as_ref().map(connections::ConnectionView::from),
        }),
    ))
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AccountList {
    accounts: Vec<AccountView>,
}

#[utoipa::path(get, path = "/accounts", tag = "account", operation_id = "listAccounts",
    summary = "The caller's accounts",
    responses((status = 200, description = "The accounts", body = AccountList)))]
pub async fn list(
    State(state): State<AppState>,
    principal: Principal,
) -> ApiResult<Json<AccountList>> {
    let accounts = state.accounts.accounts(principal.user_id).await?;
    Ok(Json(AccountList {
        accounts: accounts.iter().map(AccountView::from).collect(),
    }))
}

#[utoipa::path(get, path = "/accounts/{account_id}", tag = "account", operation_id = "getAccount",
    summary = "One account", params(("account_id" = String, Path, description = "An account of the caller (another user's is a 404)")),
    responses((status = 200, description = "The account", body = AccountView)))]
pub async fn get(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
) -> ApiResult<Json<AccountView>> {
    let account = owned(&state, &principal, &id).await?;
    Ok(Json(AccountView::from(&account)))
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
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

#[utoipa::path(get, path = "/accounts/{account_id}/balances", tag = "account", operation_id = "getBalances",
    summary = "Cash, reserved cash, buying power, equity and P&L", params(("account_id" = String, Path, description = "An account of the caller (another user's is a 404)")),
    responses((status = 200, description = "The balances", body = Balances)))]
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

#[derive(Debug, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PositionList {
    positions: Vec<PositionView>,
}

#[utoipa::path(get, path = "/accounts/{account_id}/positions", tag = "account", operation_id = "getPositions",
    summary = "Positions at their marks", params(("account_id" = String, Path, description = "An account of the caller (another user's is a 404)")),
    responses((status = 200, description = "The positions", body = PositionList)))]
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
