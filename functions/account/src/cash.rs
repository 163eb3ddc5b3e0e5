//! Paper cash: deposits and withdrawals are ledger entries. With an `Idempotency-Key`
//! header the entry's id is derived from the account and the key, so a retried request
//! posts once (the same key with a different amount is a 409). A withdrawal may take
//! only buying power: cash that working buy orders reserve stays.

use api::accounts::owned;
use api::extract::{ApiJson, ApiQuery};
use api::input::{Amount, Note};
use api::principal::Principal;
use api::views::LedgerEntryView;
use api::{ApiError, ApiResult};
use app::AppState;
use app::portfolio;
use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use domain::{Account, Decimal, EventId, LedgerEntry, LedgerKind, Money};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = CashMovement)]
pub struct CashBody {
    amount: Amount,
    #[serde(default)]
    #[schema(nullable)]
    reference: Option<Note>,
}

fn idempotency_key(headers: &HeaderMap) -> ApiResult<Option<String>> {
    let Some(value) = headers.get("idempotency-key") else {
        return Ok(None);
    };
    let key = value
        .to_str()
        .ok()
        .map(str::trim)
        .filter(|k| !k.is_empty() && k.len() <= 128 && k.bytes().all(|b| b.is_ascii_graphic()))
        .ok_or_else(|| {
            ApiError::invalid_field("Idempotency-Key", "1 to 128 visible ASCII characters")
        })?;
    Ok(Some(key.to_owned()))
}

/// Deposits and withdrawals: how a posting is made and what a refusal says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Movement {
    Deposit,
    /// Takes only buying power: the store keeps what working buys reserve, in the
    /// transaction that posts the withdrawal.
    Withdrawal,
}

impl Movement {
    fn kind(self) -> LedgerKind {
        match self {
            Movement::Deposit => LedgerKind::Deposit,
            Movement::Withdrawal => LedgerKind::Withdrawal,
        }
    }
}

async fn post(
    state: &AppState,
    account: &Account,
    movement: Movement,
    amount: Decimal,
    reference: String,
    key: Option<String>,
) -> ApiResult<(StatusCode, Json<LedgerEntryView>)> {
    if account.kind == domain::AccountKind::Broker {
        // The money is at the broker: moving it here would make the ledger disagree
        // with the broker, which reconciliation reports.
        return Err(ApiError::rejected(
            "broker-account",
            "a broker account's cash moves at its broker; reconciliation brings the change in",
        ));
    }
    let kind = movement.kind();
    let id = match &key {
        Some(k) => EventId::derived(&format!("{kind}:{}:{k}", account.id)),
        None => EventId::random(),
    };
    let signed = match movement {
        Movement::Deposit => amount,
        Movement::Withdrawal => -amount,
    };
    let entry = LedgerEntry {
        id,
        account_id: account.id,
        kind,
        amount: Money::new(signed),
        reference,
        time: state.clock.now(),
    };
    let posted = match movement {
        Movement::Deposit => state.accounts.post(&entry).await,
        Movement::Withdrawal => state.accounts.withdraw(&entry).await,
    };
    let posted = match posted {
        Ok(p) => p,
        Err(e) if e.kind() == store::ErrorKind::ConditionFailed => {
            let valuation = portfolio::value(state, account).await?;
            return Err(ApiError::rejected(
                "insufficient-funds",
                format!(
                    "the withdrawal of {amount} exceeds the buying power of {} (cash {} less {} reserved by working orders)",
                    valuation.buying_power, valuation.cash, valuation.reserved
                ),
            ));
        }
        Err(e) => return Err(e.into()),
    };
    if posted.entry.amount != entry.amount || posted.entry.kind != entry.kind {
        return Err(ApiError::conflict(
            "this Idempotency-Key was used for a different request",
        ));
    }
    tracing::info!(account_id = %account.id, kind = %kind, amount = %entry.amount, "cash posted");
    // A replay answers as the original did.
    Ok((StatusCode::CREATED, Json(LedgerEntryView::from(&posted))))
}

/// A cash request, checked: the amount, the reference and the idempotency key.
struct CashRequest {
    amount: Decimal,
    reference: String,
    key: Option<String>,
}

fn cash_request(body: CashBody, headers: &HeaderMap) -> ApiResult<CashRequest> {
    Ok(CashRequest {
        amount: body.amount.0.normalize(),
        reference: body.reference.map(|n| n.0).unwrap_or_default(),
        key: idempotency_key(headers)?,
    })
}

#[utoipa::path(post, path = "/accounts/{account_id}/deposits", tag = "account", operation_id = "deposit",
    summary = "Deposit paper cash",
    params(("account_id" = String, Path, description = "An account of the caller"), ("Idempotency-Key" = Option<String>, Header, description = "Makes the request idempotent: the same key again answers as the first time (1 to 128 visible ASCII characters)", pattern = "^[!-~]{1,128}$")),
    request_body = CashBody,
    responses(
        (status = 201, description = "Posted (or, with a used Idempotency-Key, the first posting)", body = LedgerEntryView),
        (status = 409, description = "The Idempotency-Key was used for a different request", body = api::openapi::ProblemSchema, content_type = "application/problem+json"),
    ))]
pub async fn deposit(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
    headers: HeaderMap,
    ApiJson(body): ApiJson<CashBody>,
) -> ApiResult<(StatusCode, Json<LedgerEntryView>)> {
    let account = owned(&state, &principal, &id).await?;
    let CashRequest {
        amount,
        reference,
        key,
    } = cash_request(body, &headers)?;
    post(&state, &account, Movement::Deposit, amount, reference, key).await
}

#[utoipa::path(post, path = "/accounts/{account_id}/withdrawals", tag = "account", operation_id = "withdraw",
    summary = "Withdraw paper cash: at most the buying power (cash less what working buys reserve)",
    params(("account_id" = String, Path, description = "An account of the caller"), ("Idempotency-Key" = Option<String>, Header, description = "Makes the request idempotent: the same key again answers as the first time (1 to 128 visible ASCII characters)", pattern = "^[!-~]{1,128}$")),
    request_body = CashBody,
    responses(
        (status = 201, description = "Posted (or, with a used Idempotency-Key, the first posting)", body = LedgerEntryView),
        (status = 409, description = "More than the buying power (`insufficient-funds`), or the Idempotency-Key was used for a different request", body = api::openapi::ProblemSchema, content_type = "application/problem+json"),
    ))]
pub async fn withdraw(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
    headers: HeaderMap,
    ApiJson(body): ApiJson<CashBody>,
) -> ApiResult<(StatusCode, Json<LedgerEntryView>)> {
    let account = owned(&state, &principal, &id).await?;
    let CashRequest {
        amount: value,
        reference,
        key,
    } = cash_request(body, &headers)?;
    post(
        &state,
        &account,
        Movement::Withdrawal,
        value,
        reference,
        key,
    )
    .await
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct LedgerQuery {
    /// Entries in the page (default 100).
    #[serde(default)]
    #[param(minimum = 1, maximum = 1000)]
    limit: Option<usize>,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LedgerPage {
    entries: Vec<LedgerEntryView>,
}

#[utoipa::path(get, path = "/accounts/{account_id}/ledger", tag = "account", operation_id = "getLedger",
    summary = "Cash movements, newest first",
    params(("account_id" = String, Path, description = "An account of the caller"), LedgerQuery),
    responses(
        (status = 200, description = "The entries", body = LedgerPage),
        (status = 400, description = "A bad query parameter (named)", body = api::openapi::ProblemSchema, content_type = "application/problem+json"),
    ))]
pub async fn ledger(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
    ApiQuery(query): ApiQuery<LedgerQuery>,
) -> ApiResult<Json<LedgerPage>> {
    let account = owned(&state, &principal, &id).await?;
    let limit = api::extract::page_limit(query.limit, 100, 1000)?;
    let entries = state.accounts.ledger(account.id, limit).await?;
    Ok(Json(LedgerPage {
        entries: entries.iter().map(LedgerEntryView::from).collect(),
    }))
}
