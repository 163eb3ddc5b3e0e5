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

/// What a new account is. Its schema is written by hand ([`create_schema`]): a broker
/// connection comes with `kind: broker` (or no kind) for the brokers Stratus routes to,
/// or with `kind: paper` for any broker (attached, not routing).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateBody {
    name: Name,
    /// Three letters (default USD).
    #[serde(default)]
    base_currency: Option<String>,
    /// `paper` (the default without a connection: the core fills its orders against the
    /// market) or `broker` (the default with one: its orders go to its broker).
    #[serde(default)]
    kind: Option<AccountKindName>,
    /// The account's broker connection.
    #[serde(default)]
    broker_connection: Option<connections::CreateBody>,
}

/// The schema of [`CreateBody`] (see its docs).
fn create_schema() -> serde_json::Value {
    let common = |kind: serde_json::Value, connection: serde_json::Value| {
        serde_json::json!({
            "type": "object",
            "additionalProperties": false,
            "properties": {
                "name": {"$ref": "#/components/schemas/Name"},
                "base_currency": {"type": ["string", "null"], "pattern": "^[A-Za-z]{3}$",
                    "description": "Three letters (default USD)."},
                "kind": kind,
                "broker_connection": connection,
            },
        })
    };
    let mut paper = common(
        serde_json::json!({"type": ["string", "null"], "enum": ["paper", null]}),
        serde_json::json!({"type": "null"}),
    );
    paper["required"] = serde_json::json!(["name"]);
    let mut broker = common(
        serde_json::json!({"type": ["string", "null"], "enum": ["broker", null]}),
        connections::connection_schema(true),
    );
    broker["required"] = serde_json::json!(["name", "broker_connection"]);
    let mut attached = common(
        serde_json::json!({"type": "string", "enum": ["paper"]}),
        connections::connection_schema(false),
    );
    attached["required"] = serde_json::json!(["name", "kind", "broker_connection"]);
    serde_json::json!({
        "description": "A paper account; a broker account on its connection (Alpaca or Binance), whose orders go to the broker; or a paper account with a connection attached (not routing).",
        "oneOf": [paper, broker, attached],
    })
}

impl utoipa::PartialSchema for CreateBody {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        connections::schema_of(create_schema())
    }
}

impl utoipa::ToSchema for CreateBody {
    fn name() -> std::borrow::Cow<'static, str> {
        std::borrow::Cow::Borrowed("CreateAccount")
    }

    fn schemas(
        schemas: &mut Vec<(
            String,
            utoipa::openapi::RefOr<utoipa::openapi::schema::Schema>,
        )>,
    ) {
        <connections::CreateBody as utoipa::ToSchema>::schemas(schemas);
    }
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
    id: String,
    name: String,
    kind: &'static str,
    base_currency: String,
    cash: String,
    #[schema(format = DateTime)]
    created_at: String,
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
    let kind = body.kind.unwrap_or(if body.broker_connection.is_some() {
        AccountKindName::Broker
    } else {
        AccountKindName::Paper
    });
    let connection = match (kind, body.broker_connection) {
        (AccountKindName::Paper, None) => None,
        (AccountKindName::Paper, Some(c)) => {
            // Attached to a paper account: stored (and checked), not routing.
            let checked = connections::check(&c, "broker_connection.")?;
            Some((c, checked))
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
        kind: match kind {
            AccountKindName::Broker => AccountKind::Broker,
            AccountKindName::Paper => AccountKind::Paper,
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
            id: account.id.to_string(),
            name: account.name.clone(),
            kind: account.kind.as_str(),
            base_currency: account.base_currency.to_string(),
            cash: account.cash.plain(),
            created_at: account.created_at.to_string(),
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
