//! Backtests and optimisations as jobs of their user: submit (checked, then queued),
//! poll, read, chart, list, delete.

use api::extract::{ApiJson, ApiQuery};
use api::principal::Principal;
use api::{ApiError, ApiResult};
use app::AppState;
use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use domain::{JobId, JobKind, JobStatus, ResearchJob, Timestamp};
use serde::{Deserialize, Serialize};
use store::stream::OutgoingRecord;
use utoipa::{IntoParams, ToSchema};

use crate::spec::{BacktestRequest, OptimizationRequest};

/// The stream the cloud's research worker Lambda consumes (one record per job).
pub const JOBS_STREAM: &str = "research-jobs";

/// A job as the API shows it.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = ResearchJob)]
pub struct JobView {
    #[schema(format = "uuid", value_type = String)]
    id: JobId,
    /// `backtest` or `optimization`.
    #[schema(value_type = String)]
    kind: JobKind,
    /// `queued`, `running`, `succeeded` or `failed`.
    #[schema(value_type = String)]
    status: JobStatus,
    /// Share done, 0 to 1.
    progress: f64,
    #[schema(format = DateTime, value_type = String)]
    created_at: Timestamp,
    #[schema(format = DateTime, value_type = Option<String>)]
    started_at: Option<Timestamp>,
    #[schema(format = DateTime, value_type = Option<String>)]
    finished_at: Option<Timestamp>,
    /// Why it failed.
    error: Option<String>,
    /// What was asked.
    #[schema(value_type = Object)]
    request: serde_json::Value,
    /// What it found (a finished job read alone; lists leave it out). A backtest:
    /// `runs`, one per symbol, each with `report` (what `stratus backtest --json` prints
    /// for the same data), `round_trips` and `series` (equity, benchmark, drawdown). An
    /// optimisation: `best` and `all` runs ranked by `rank_by`, with walk-forward the
    /// best's `out_of_sample` results.
    #[schema(value_type = Option<Object>)]
    result: Option<serde_json::Value>,
}

impl From<ResearchJob> for JobView {
    fn from(j: ResearchJob) -> Self {
        JobView {
            id: j.id,
            kind: j.kind,
            status: j.status,
            progress: j.progress,
            created_at: j.created_at,
            started_at: j.started_at,
            finished_at: j.finished_at,
            error: j.error,
            request: j.request,
            result: j.result,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct JobList {
    /// Newest first.
    jobs: Vec<JobView>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ListQuery {
    /// Jobs to list (default 20), newest first.
    #[serde(default)]
    #[param(minimum = 1, maximum = 100)]
    limit: Option<usize>,
}

fn path_of(kind: JobKind) -> &'static str {
    match kind {
        JobKind::Backtest => "backtests",
        JobKind::Optimization => "optimizations",
    }
}

/// Queues a checked request as a job of `principal`.
async fn submit(
    state: &AppState,
    principal: &Principal,
    kind: JobKind,
    request: serde_json::Value,
) -> ApiResult<(StatusCode, HeaderMap, Json<JobView>)> {
    let job = ResearchJob {
        id: JobId::random(),
        user_id: principal.user_id,
        kind,
        status: JobStatus::Queued,
        request,
        progress: 0.0,
        created_at: state.clock.now(),
        started_at: None,
        finished_at: None,
        error: None,
        result: None,
    };
    state.jobs.create_job(&job).await?;
    if state.settings.backend == app::settings::Backend::Cloud {
        // The worker Lambda's queue. Without it the job would wait forever: take it back.
        let record = OutgoingRecord::new(job.id.to_string(), job.id.to_string().into_bytes());
        if let Err(e) = state.streams.publish(JOBS_STREAM, vec![record]).await {
            let _ = state.jobs.delete_job(principal.user_id, job.id).await;
            return Err(e.into());
        }
    }
    let mut headers = HeaderMap::new();
    if let Ok(location) = HeaderValue::from_str(&format!("/{}/{}", path_of(kind), job.id)) {
        headers.insert(header::LOCATION, location);
    }
    Ok((StatusCode::ACCEPTED, headers, Json(JobView::from(job))))
}

/// The caller's job `id` of `kind`, or a 404 (unknown, malformed, another user's and
/// another kind's alike).
async fn owned(
    state: &AppState,
    principal: &Principal,
    kind: JobKind,
    id: &str,
) -> ApiResult<ResearchJob> {
    let not_found = || ApiError::not_found(format!("no {} {id:?}", kind.as_str()));
    let id = JobId::parse(id).map_err(|_| not_found())?;
    state
        .jobs
        .job(principal.user_id, id)
        .await?
        .filter(|j| j.kind == kind)
        .ok_or_else(not_found)
}

async fn list(
    state: &AppState,
    principal: &Principal,
    kind: JobKind,
    query: &ListQuery,
) -> ApiResult<Json<JobList>> {
    let limit = query.limit.unwrap_or(20);
    if !(1..=100).contains(&limit) {
        return Err(ApiError::bad_query("limit", "from 1 to 100"));
    }
    let jobs = state.jobs.jobs(principal.user_id, kind, limit).await?;
    Ok(Json(JobList {
        jobs: jobs.into_iter().map(JobView::from).collect(),
    }))
}

async fn delete(
    state: &AppState,
    principal: &Principal,
    kind: JobKind,
    id: &str,
) -> ApiResult<StatusCode> {
    let job = owned(state, principal, kind, id).await?;
    state.jobs.delete_job(principal.user_id, job.id).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(post, path = "/backtests", tag = "research", operation_id = "submitBacktest",
    summary = "Queue a backtest over the stored candle history",
    request_body = BacktestRequest,
    responses((status = 202, description = "Queued; poll the job", body = JobView)))]
pub async fn submit_backtest(
    State(state): State<AppState>,
    principal: Principal,
    ApiJson(request): ApiJson<BacktestRequest>,
) -> ApiResult<(StatusCode, HeaderMap, Json<JobView>)> {
    request.check(&state, principal.user_id).await?;
    let document = serde_json::to_value(&request).map_err(|e| ApiError::internal(e.to_string()))?;
    submit(&state, &principal, JobKind::Backtest, document).await
}

#[utoipa::path(get, path = "/backtests", tag = "research", operation_id = "listBacktests",
    summary = "The caller's backtests, newest first (without results)",
    params(ListQuery),
    responses((status = 200, description = "Backtests", body = JobList)))]
pub async fn list_backtests(
    State(state): State<AppState>,
    principal: Principal,
    ApiQuery(query): ApiQuery<ListQuery>,
) -> ApiResult<Json<JobList>> {
    list(&state, &principal, JobKind::Backtest, &query).await
}

#[utoipa::path(get, path = "/backtests/{job_id}", tag = "research", operation_id = "getBacktest",
    summary = "A backtest: status, progress, and its result when done",
    params(("job_id" = String, Path, description = "A backtest of the caller (another user's is a 404)")),
    responses((status = 200, description = "The job", body = JobView)))]
pub async fn get_backtest(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
) -> ApiResult<Json<JobView>> {
    Ok(Json(JobView::from(
        owned(&state, &principal, JobKind::Backtest, &id).await?,
    )))
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ChartQuery {
    /// Which symbol's run (default: the first).
    #[serde(default)]
    symbol: Option<api::input::SymbolInput>,
}

#[utoipa::path(get, path = "/backtests/{job_id}/chart.svg", tag = "research", operation_id = "getBacktestChart",
    summary = "A finished backtest's equity, benchmark and drawdown chart",
    params(("job_id" = String, Path, description = "A backtest of the caller"), ChartQuery),
    responses(
        (status = 200, description = "SVG", body = String, content_type = "image/svg+xml"),
        (status = 409, description = "The backtest has not succeeded", body = api::openapi::ProblemSchema, content_type = "application/problem+json"),
    ))]
pub async fn backtest_chart(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
    ApiQuery(query): ApiQuery<ChartQuery>,
) -> ApiResult<Response> {
    let job = owned(&state, &principal, JobKind::Backtest, &id).await?;
    let Some(result) = job.result.filter(|_| job.status == JobStatus::Succeeded) else {
        return Err(ApiError::rejected(
            "job-not-finished",
            format!("the backtest is {}", job.status.as_str()),
        ));
    };
    let runs = result["runs"].as_array().cloned().unwrap_or_default();
    let run = match &query.symbol {
        None => runs.first(),
        Some(s) => runs.iter().find(|r| r["symbol"] == s.0.as_str()),
    }
    .ok_or_else(|| ApiError::bad_query("symbol", "not a symbol of this backtest"))?;
    let points = |key: &str| -> Vec<analytics::EquityPoint> {
        run["series"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|p| {
                Some(analytics::EquityPoint {
                    time: serde_json::from_value(p["time"].clone()).ok()?,
                    equity: p[key].as_str()?.parse().ok()?,
                    exposed: false,
                })
            })
            .collect()
    };
    let title = format!(
        "{} on {} ({}) vs {}",
        run["report"]["strategy"].as_str().unwrap_or(""),
        run["symbol"].as_str().unwrap_or(""),
        run["report"]["timeframe"].as_str().unwrap_or(""),
        run["benchmark_symbol"].as_str().unwrap_or(""),
    );
    let svg = analytics::equity_svg(&points("equity"), &points("benchmark"), &title);
    Ok((
        [(header::CONTENT_TYPE, "image/svg+xml; charset=utf-8")],
        svg,
    )
        .into_response())
}

#[utoipa::path(delete, path = "/backtests/{job_id}", tag = "research", operation_id = "deleteBacktest",
    summary = "Delete a backtest (a running one stops being recorded)",
    params(("job_id" = String, Path, description = "A backtest of the caller")),
    responses((status = 204, description = "Deleted")))]
pub async fn delete_backtest(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    delete(&state, &principal, JobKind::Backtest, &id).await
}

#[utoipa::path(post, path = "/optimizations", tag = "research", operation_id = "submitOptimization",
    summary = "Queue a parameter search (grid or random, optional walk-forward)",
    request_body = OptimizationRequest,
    responses((status = 202, description = "Queued; poll the job", body = JobView)))]
pub async fn submit_optimization(
    State(state): State<AppState>,
    principal: Principal,
    ApiJson(request): ApiJson<OptimizationRequest>,
) -> ApiResult<(StatusCode, HeaderMap, Json<JobView>)> {
    request.check(&state, principal.user_id).await?;
    let document = serde_json::to_value(&request).map_err(|e| ApiError::internal(e.to_string()))?;
    submit(&state, &principal, JobKind::Optimization, document).await
}

#[utoipa::path(get, path = "/optimizations", tag = "research", operation_id = "listOptimizations",
    summary = "The caller's optimisations, newest first (without results)",
    params(ListQuery),
    responses((status = 200, description = "Optimisations", body = JobList)))]
pub async fn list_optimizations(
    State(state): State<AppState>,
    principal: Principal,
    ApiQuery(query): ApiQuery<ListQuery>,
) -> ApiResult<Json<JobList>> {
    list(&state, &principal, JobKind::Optimization, &query).await
}

#[utoipa::path(get, path = "/optimizations/{job_id}", tag = "research", operation_id = "getOptimization",
    summary = "An optimisation: status, progress, and its ranked runs when done",
    params(("job_id" = String, Path, description = "An optimisation of the caller (another user's is a 404)")),
    responses((status = 200, description = "The job", body = JobView)))]
pub async fn get_optimization(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
) -> ApiResult<Json<JobView>> {
    Ok(Json(JobView::from(
        owned(&state, &principal, JobKind::Optimization, &id).await?,
    )))
}

#[utoipa::path(delete, path = "/optimizations/{job_id}", tag = "research", operation_id = "deleteOptimization",
    summary = "Delete an optimisation",
    params(("job_id" = String, Path, description = "An optimisation of the caller")),
    responses((status = 204, description = "Deleted")))]
pub async fn delete_optimization(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    delete(&state, &principal, JobKind::Optimization, &id).await
}
