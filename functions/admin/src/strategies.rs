//! `GET /admin/strategies`: the running and paused deployments of every user, with their
//! owner and their performance (`app::performance`, as the owner sees it).

use api::ApiResult;
use api::extract::ApiQuery;
use api::principal::Principal;
use api::views::PerformanceView;
use app::AppState;
use axum::Json;
use axum::extract::State;
use domain::StrategyStatus;
use serde::Serialize;
use utoipa::ToSchema;

use crate::{PageQuery, emails, next_offset};

/// A deployment with its owner.
#[derive(Debug, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = AdminStrategy)]
pub struct AdminStrategyView {
    #[schema(format = "uuid")]
    id: String,
    #[schema(format = "uuid")]
    account_id: String,
    #[schema(format = "uuid")]
    owner_id: Option<String>,
    owner_email: Option<String>,
    strategy: String,
    symbols: Vec<String>,
    timeframes: Vec<String>,
    /// `running` or `paused`.
    status: &'static str,
    #[schema(format = DateTime)]
    created_at: String,
    performance: PerformanceView,
}

/// See the module docs.
#[derive(Debug, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = AdminStrategyList)]
pub struct AdminStrategyList {
    /// Oldest first.
    strategies: Vec<AdminStrategyView>,
    /// The `offset` of the next page; null on the last.
    next_offset: Option<usize>,
}

#[utoipa::path(get, path = "/admin/strategies", tag = "admin", operation_id = "adminStrategies",
    summary = "Running and paused deployments of every user, with owner and performance (admin)",
    params(PageQuery),
    responses(
        (status = 200, description = "A page of deployments", body = AdminStrategyList),
        (status = 403, description = "The caller is not an administrator", body = api::openapi::ProblemSchema, content_type = "application/problem+json"),
    ))]
pub async fn strategies(
    State(state): State<AppState>,
    principal: Principal,
    ApiQuery(query): ApiQuery<PageQuery>,
) -> ApiResult<Json<AdminStrategyList>> {
    principal.require_admin()?;
    let (offset, limit) = query.bounds()?;
    let mut active = state.strategies.strategies(None).await?;
    active.retain(|d| d.status != StrategyStatus::Stopped);
    active.sort_by_key(|d| (d.created_at, d.id));
    let page: Vec<_> = active.into_iter().skip(offset).take(limit).collect();
    let mut owners = std::collections::BTreeMap::new();
    for d in &page {
        if let std::collections::btree_map::Entry::Vacant(e) = owners.entry(d.account_id) {
            e.insert(
                state
                    .accounts
                    .account_by_id(d.account_id)
                    .await?
                    .map(|a| a.user_id),
            );
        }
    }
    let emails = emails(&state, owners.values().flatten().copied().collect()).await?;
    let mut strategies = Vec::with_capacity(page.len());
    for d in &page {
        let owner = owners.get(&d.account_id).copied().flatten();
        let performance = app::performance::deployment(&state, d).await?;
        strategies.push(AdminStrategyView {
            id: d.id.to_string(),
            account_id: d.account_id.to_string(),
            owner_id: owner.map(|u| u.to_string()),
            owner_email: owner.and_then(|u| emails.get(&u).cloned()),
            strategy: d.strategy.clone(),
            symbols: d.symbols.iter().map(|s| s.to_string()).collect(),
            timeframes: d.timeframes.iter().map(|t| t.to_string()).collect(),
            status: d.status.as_str(),
            created_at: d.created_at.to_string(),
            performance: PerformanceView::new(&performance, &state.instruments),
        });
    }
    let next_offset = next_offset(offset, limit, page.len());
    Ok(Json(AdminStrategyList {
        strategies,
        next_offset,
    }))
}
