//! Paper cash: deposits and withdrawals are ledger entries. With an `Idempotency-Key`
//! header the entry's id is derived from the account and the key, so a retried request
//! posts once (the same key with a different amount is a 409). A withdrawal may take
//! only buying power: cash that working buy orders reserve stays.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use common::accounts::owned;
use common::auth::Principal;
use common::extract::{ApiJson, ApiQuery};
use common::input::DecimalInput;
use common::portfolio;
use common::views::LedgerEntryView;
use common::{ApiError, ApiResult, AppState};
use domain::{Decimal, EventId, Money};
use serde::{Deserialize, Serialize};
use store::records::{Account, LedgerEntry};

/// The most one deposit may add (paper money, but bounded so sums stay far from overflow).
const MAX_AMOUNT: i64 = 1_000_000_000_000;
/// Decimal places an amount may have.
const MAX_SCALE: u32 = 8;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CashBody {
    amount: DecimalInput,
    #[serde(default)]
    reference: Option<String>,
}

fn amount(input: DecimalInput) -> ApiResult<Decimal> {
    let value = input.value().normalize();
    if value <= Decimal::ZERO {
        return Err(ApiError::invalid_field(
            "amount",
            "must be greater than zero",
        ));
    }
    if value > Decimal::from(MAX_AMOUNT) {
        return Err(ApiError::invalid_field(
            "amount",
            format!("must be at most {MAX_AMOUNT}"),
        ));
    }
    if value.scale() > MAX_SCALE {
        return Err(ApiError::invalid_field(
            "amount",
            format!("at most {MAX_SCALE} decimal places"),
        ));
    }
    Ok(value)
}

fn reference(input: Option<String>) -> ApiResult<String> {
    let text = input.unwrap_or_default();
    if text.chars().count() > 200 || text.chars().any(char::is_control) {
        return Err(ApiError::invalid_field(
            "reference",
            "at most 200 printable characters",
        ));
    }
    Ok(text)
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
    fn kind(self) -> &'static str {
        match self {
            Movement::Deposit => "deposit",
            Movement::Withdrawal => "withdrawal",
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
        kind: kind.into(),
        amount: Money::new(signed),
        reference,
        time: state.clock.now(),
    };
    let posted = match movement {
        Movement::Deposit => state.records.post(&entry).await,
        Movement::Withdrawal => state.records.withdraw(&entry).await,
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
    tracing::info!(account_id = %account.id, kind, amount = %entry.amount, "cash posted");
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
        amount: amount(body.amount)?,
        reference: reference(body.reference)?,
        key: idempotency_key(headers)?,
    })
}

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

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LedgerQuery {
    #[serde(default)]
    limit: Option<usize>,
}

#[derive(Debug, Serialize)]
pub struct LedgerPage {
    entries: Vec<LedgerEntryView>,
}

pub async fn ledger(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
    ApiQuery(query): ApiQuery<LedgerQuery>,
) -> ApiResult<Json<LedgerPage>> {
    let account = owned(&state, &principal, &id).await?;
    let limit = common::extract::page_limit(query.limit, 100, 1000)?;
    let entries = state.records.ledger(account.id, limit).await?;
    Ok(Json(LedgerPage {
        entries: entries.iter().map(LedgerEntryView::from).collect(),
    }))
}
