//! `GET /admin/traders`: one row per user, valued as the balances endpoint values each
//! account (`app::portfolio`).

use api::extract::ApiQuery;
use api::principal::Principal;
use api::views::Plain;
use api::{ApiError, ApiResult};
use app::AppState;
use axum::Json;
use axum::extract::State;
use domain::{Money, StrategyStatus, Timestamp};
use serde::Serialize;
use store::users::Role;
use utoipa::ToSchema;

use crate::{PageQuery, next_offset};

/// One user and what they hold and do. Sums over the user's accounts (in their own
/// currencies: paper accounts are all in the platform's).
#[derive(Debug, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = Trader)]
pub struct TraderRow {
    #[schema(format = "uuid")]
    id: String,
    email: String,
    /// `trader` or `admin`.
    role: &'static str,
    #[schema(format = DateTime)]
    created_at: String,
    accounts: u64,
    /// Cash plus positions at their marks.
    equity: String,
    cash: String,
    /// Today's P&L (UTC day).
    day_pnl: String,
    /// Before fees.
    realized_pnl: String,
    orders: u64,
    fills: u64,
    strategies_running: u64,
}

/// See the module docs.
#[derive(Debug, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = TraderList)]
pub struct TraderList {
    /// In user id order.
    traders: Vec<TraderRow>,
    /// The `offset` of the next page; null on the last.
    next_offset: Option<usize>,
}

fn overflow(e: domain::DomainError) -> ApiError {
    ApiError::from(app::AppError::Internal(format!(
        "summing a trader's accounts: {e}"
    )))
}

#[utoipa::path(get, path = "/admin/traders", tag = "admin", operation_id = "adminTraders",
    summary = "Every user with their accounts' equity, P&L and activity (admin)",
    params(PageQuery),
    responses(
        (status = 200, description = "A page of users", body = TraderList),
        (status = 403, description = "The caller is not an administrator", body = api::openapi::ProblemSchema, content_type = "application/problem+json"),
    ))]
pub async fn traders(
    State(state): State<AppState>,
    principal: Principal,
    ApiQuery(query): ApiQuery<PageQuery>,
) -> ApiResult<Json<TraderList>> {
    principal.require_admin()?;
    let (offset, limit) = query.bounds()?;
    let users = state.users.list(offset, limit).await?;
    let deployments = state.strategies.strategies(None).await?;
    let mut traders = Vec::with_capacity(users.len());
    for user in &users {
        let accounts = state.accounts.accounts(user.id).await?;
        let ids: Vec<domain::AccountId> = accounts.iter().map(|a| a.id).collect();
        let activity = state.activity.account_activity(&ids).await?;
        let (mut equity, mut cash, mut day, mut realized) =
            (Money::ZERO, Money::ZERO, Money::ZERO, Money::ZERO);
        for account in &accounts {
            let v = app::portfolio::value(&state, account).await?;
            let day_pnl = app::portfolio::daily_pnl(&state, account, &v).await?;
            equity = equity.checked_add(v.equity).map_err(overflow)?;
            cash = cash.checked_add(v.cash).map_err(overflow)?;
            day = day.checked_add(day_pnl).map_err(overflow)?;
            realized = realized.checked_add(v.realized_pnl).map_err(overflow)?;
        }
        traders.push(TraderRow {
            id: user.id.to_string(),
            email: user.email.clone(),
            role: match user.role {
                Role::Admin => "admin",
                Role::Trader => "trader",
            },
            created_at: Timestamp::from_secs(user.created_at).to_string(),
            accounts: accounts.len() as u64,
            equity: equity.plain(),
            cash: cash.plain(),
            day_pnl: day.plain(),
            realized_pnl: realized.plain(),
            orders: activity.iter().map(|a| a.orders).sum(),
            fills: activity.iter().map(|a| a.fills).sum(),
            strategies_running: deployments
                .iter()
                .filter(|d| d.status == StrategyStatus::Running && ids.contains(&d.account_id))
                .count() as u64,
        });
    }
    let next_offset = next_offset(offset, limit, users.len());
    Ok(Json(TraderList {
        traders,
        next_offset,
    }))
}
