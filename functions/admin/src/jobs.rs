//! `GET /admin/jobs`: queued and running research jobs of every user, oldest first.

use api::ApiResult;
use api::extract::ApiQuery;
use api::principal::Principal;
use app::AppState;
use axum::Json;
use axum::extract::State;
use serde::Serialize;
use utoipa::ToSchema;

use crate::{PageQuery, emails, next_offset};

/// One job and whose it is.
#[derive(Debug, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = AdminJob)]
pub struct AdminJobView {
    #[schema(format = "uuid")]
    id: String,
    #[schema(format = "uuid")]
    owner_id: String,
    owner_email: Option<String>,
    /// `backtest` or `optimization`.
    kind: &'static str,
    /// `queued` or `running`.
    status: &'static str,
    /// Share done, 0 to 1.
    progress: f64,
    #[schema(format = DateTime)]
    created_at: String,
    #[schema(format = DateTime)]
    started_at: Option<String>,
}

/// See the module docs.
#[derive(Debug, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = AdminJobList)]
pub struct AdminJobList {
    jobs: Vec<AdminJobView>,
    /// The `offset` of the next page; null on the last.
    next_offset: Option<usize>,
}

#[utoipa::path(get, path = "/admin/jobs", tag = "admin", operation_id = "adminJobs",
    summary = "Queued and running research jobs of every user (admin)",
    params(PageQuery),
    responses(
        (status = 200, description = "A page of jobs, oldest first", body = AdminJobList),
        (status = 403, description = "The caller is not an administrator", body = api::openapi::ProblemSchema, content_type = "application/problem+json"),
    ))]
pub async fn jobs(
    State(state): State<AppState>,
    principal: Principal,
    ApiQuery(query): ApiQuery<PageQuery>,
) -> ApiResult<Json<AdminJobList>> {
    principal.require_admin()?;
    let (offset, limit) = query.bounds()?;
    let active = state.jobs.active_jobs(offset + limit).await?;
    let page: Vec<_> = active.into_iter().skip(offset).collect();
    let emails = emails(&state, page.iter().map(|j| j.user_id).collect()).await?;
    let jobs = page
        .iter()
        .map(|j| AdminJobView {
            id: j.id.to_string(),
            owner_id: j.user_id.to_string(),
            owner_email: emails.get(&j.user_id).cloned(),
            kind: j.kind.as_str(),
            status: j.status.as_str(),
            progress: j.progress,
            created_at: j.created_at.to_string(),
            started_at: j.started_at.map(|t| t.to_string()),
        })
        .collect();
    let next_offset = next_offset(offset, limit, page.len());
    Ok(Json(AdminJobList { jobs, next_offset }))
}
