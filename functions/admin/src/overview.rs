//! `GET /admin/overview`: the platform at a glance.

use api::ApiResult;
use api::principal::Principal;
use api::views::{CommitLatencyView, StreamLagView};
use app::AppState;
use axum::Json;
use axum::extract::State;
use domain::{JobStatus, StrategyStatus, Timestamp};
use serde::Serialize;
use store::core_status::CoreStatus;
use store::records::minute_of;
use utoipa::ToSchema;

/// Minutes in the per-minute series.
const MINUTES: i64 = 60;
/// Counts stop here (a dashboard's figure, not an inventory).
const COUNTED: usize = 100_000;

/// The streaming core's status as it last published it.
#[derive(Debug, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = CoreStatus)]
pub struct CoreView {
    /// `ok`, `degraded` (commits are failing), `stopped` (it said so when it stopped) or
    /// `silent` (it has not published for more than 10 seconds: down, or cut off).
    status: String,
    /// Seconds since the core published this.
    age_seconds: f64,
    batches: u64,
    inputs: u64,
    fills: u64,
    commit_failures: u64,
    malformed_records: u64,
    working_orders: u64,
    feed_published: u64,
    /// Unix milliseconds of the last commit; null before the first.
    last_commit_unix_ms: Option<u64>,
    /// When the core published this.
    #[schema(format = DateTime)]
    updated_at: String,
    commit_latency_ms: CommitLatencyView,
    /// Ticks applied per second over the last minute; null in the core's first second.
    feed_ticks_per_second: Option<f64>,
    streams: Vec<StreamLagView>,
    /// Records the consumers set aside (null until first counted).
    dead_letters: Option<u64>,
}

/// A core that has not published for this long is reported `silent`: it publishes once a
/// second while it runs.
const SILENT_AFTER_MS: u64 = 10_000;

impl CoreView {
    /// The status `s` as seen at `now`.
    fn at(s: CoreStatus, now: Timestamp) -> Self {
        let updated = i64::try_from(s.updated_unix_ms)
            .ok()
            .and_then(|ms| ms.checked_mul(1_000_000))
            .map_or(Timestamp::from_nanos(0), Timestamp::from_nanos);
        let now_ms = u64::try_from(now.nanos() / 1_000_000).unwrap_or(0);
        let age_ms = now_ms.saturating_sub(s.updated_unix_ms);
        let status = if age_ms > SILENT_AFTER_MS && s.status != "stopped" {
            "silent".to_owned()
        } else {
            s.status
        };
        CoreView {
            status,
            age_seconds: age_ms as f64 / 1000.0,
            batches: s.batches,
            inputs: s.inputs,
            fills: s.fills,
            commit_failures: s.commit_failures,
            malformed_records: s.malformed_records,
            working_orders: s.working_orders,
            feed_published: s.feed_published,
            last_commit_unix_ms: (s.last_commit_unix_ms > 0).then_some(s.last_commit_unix_ms),
            updated_at: updated.to_string(),
            commit_latency_ms: s.commit_latency_ms.into(),
            feed_ticks_per_second: s.feed_ticks_per_second,
            streams: s.streams.iter().map(StreamLagView::from).collect(),
            dead_letters: s.dead_letters,
        }
    }
}

/// Research jobs waiting and being run.
#[derive(Debug, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = JobCounts)]
pub struct JobCounts {
    queued: u64,
    running: u64,
}

/// See the module docs.
#[derive(Debug, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = AdminOverview)]
pub struct Overview {
    /// Null until a core has published its status.
    core: Option<CoreView>,
    users: u64,
    accounts: u64,
    /// Orders created in the last 60 seconds.
    orders_last_minute: u64,
    /// Fills traded in the last 60 seconds (at their trade time).
    fills_last_minute: u64,
    /// The start of the first minute of the series below.
    #[schema(format = DateTime)]
    per_minute_from: String,
    /// Orders created in each of the last 60 minutes, oldest first (the last is the
    /// minute now running).
    orders_per_minute: Vec<u64>,
    /// Fills in each of the last 60 minutes, oldest first.
    fills_per_minute: Vec<u64>,
    strategies_running: u64,
    strategies_paused: u64,
    jobs: JobCounts,
    #[schema(format = DateTime)]
    as_of: String,
}

#[utoipa::path(get, path = "/admin/overview", tag = "admin", operation_id = "adminOverview",
    summary = "The platform at a glance: the core's status, users, activity, strategies, jobs (admin)",
    responses(
        (status = 200, description = "The overview", body = Overview),
        (status = 403, description = "The caller is not an administrator", body = api::openapi::ProblemSchema, content_type = "application/problem+json"),
    ))]
pub async fn overview(
    State(state): State<AppState>,
    principal: Principal,
) -> ApiResult<Json<Overview>> {
    principal.require_admin()?;
    let now = state.clock.now();
    let core = state
        .core_status
        .latest()
        .await?
        .map(|status| CoreView::at(status, now));
    let users = state.users.count(COUNTED).await?;
    let accounts = state.activity.account_count().await?;
    let last_minute = Timestamp::from_nanos(now.nanos().saturating_sub(60_000_000_000));
    let recent = state.activity.activity(last_minute).await?;
    let first = Timestamp::from_nanos(
        minute_of(now)
            .nanos()
            .saturating_sub((MINUTES - 1) * 60_000_000_000),
    );
    let mut orders_per_minute = vec![0u64; MINUTES as usize];
    let mut fills_per_minute = vec![0u64; MINUTES as usize];
    for m in state.activity.activity(first).await? {
        let i = (m.minute.nanos() - first.nanos()) / 60_000_000_000;
        if let Ok(i) = usize::try_from(i) {
            if let (Some(o), Some(f)) = (orders_per_minute.get_mut(i), fills_per_minute.get_mut(i))
            {
                *o = m.orders;
                *f = m.fills;
            }
        }
    }
    let deployments = state.strategies.strategies(None).await?;
    let count = |status| deployments.iter().filter(|d| d.status == status).count() as u64;
    let jobs = state.jobs.active_jobs(COUNTED).await?;
    let jobs_in = |status| jobs.iter().filter(|j| j.status == status).count() as u64;
    Ok(Json(Overview {
        core,
        users,
        accounts,
        orders_last_minute: recent.iter().map(|m| m.orders).sum(),
        fills_last_minute: recent.iter().map(|m| m.fills).sum(),
        per_minute_from: first.to_string(),
        orders_per_minute,
        fills_per_minute,
        strategies_running: count(StrategyStatus::Running),
        strategies_paused: count(StrategyStatus::Paused),
        jobs: JobCounts {
            queued: jobs_in(JobStatus::Queued),
            running: jobs_in(JobStatus::Running),
        },
        as_of: now.to_string(),
    }))
}
