//! Who runs the jobs. Embedded: a bounded pool of tasks in the process (`stratus up`),
//! each taking the oldest queued job; at start, the jobs a previous process left running
//! are failed with that reason (with the cloud backend, only those running longer than a
//! Lambda may live: the others may be a worker Lambda's). Cloud: the
//! `stratus-research-worker` Lambda, fed one `research-jobs` record per job, takes that
//! job, fails it itself when the invocation is about to time out, and first fails any job
//! running longer than a Lambda may live. A record it could not act on (the store
//! unavailable) fails the invocation, so Kinesis delivers it again.

use std::time::Duration;

use app::AppState;
use aws_lambda_events::event::kinesis::KinesisEvent;
use domain::JobId;
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// Why a job a stopped process was running failed.
pub const STOPPED: &str = "Stratus stopped while the job ran; submit it again";
/// Why a job that outlived a Lambda failed.
pub const TIMED_OUT: &str =
    "the worker ran out of time (15 minutes); narrow the window or the search";
/// A Lambda's longest life.
const LAMBDA_LIMIT_SECS: i64 = 15 * 60;
/// How long an idle worker waits before looking for a job again.
const IDLE: Duration = Duration::from_millis(250);

/// The in-process pool.
#[derive(Debug)]
pub struct Workers {
    stop: watch::Sender<bool>,
    tasks: Vec<JoinHandle<()>>,
}

/// Starts `workers` tasks (at least one); an optimisation spreads over `threads`.
pub async fn spawn(state: AppState, workers: usize, threads: usize) -> Workers {
    let now = state.clock.now();
    let cut = match state.settings.backend {
        app::settings::Backend::Embedded => now,
        app::settings::Backend::Cloud => lambda_cut(now),
    };
    match state.jobs.fail_running_jobs(cut, STOPPED, now).await {
        Ok(0) => {}
        Ok(n) => tracing::info!(jobs = n, "research jobs of a stopped process marked failed"),
        Err(e) => tracing::warn!(error = %e, "could not fail the jobs a stopped process left"),
    }
    let (stop, stopped) = watch::channel(false);
    let tasks = (0..workers.max(1))
        .map(|_| {
            let state = state.clone();
            let mut stopped = stopped.clone();
            tokio::spawn(async move {
                loop {
                    if *stopped.borrow() {
                        break;
                    }
                    match state.jobs.claim_job(None, state.clock.now()).await {
                        Ok(Some(job)) => crate::run::run_and_finish(&state, &job, threads).await,
                        Ok(None) => {
                            tokio::select! {
                                _ = stopped.changed() => {}
                                () = tokio::time::sleep(IDLE) => {}
                            }
                        }
                        Err(e) => {
                            tracing::warn!(error = %e, "could not take a research job");
                            tokio::time::sleep(IDLE * 4).await;
                        }
                    }
                }
            })
        })
        .collect();
    Workers { stop, tasks }
}

impl Workers {
    /// Stops taking jobs and waits for the tasks; a job still running is left running
    /// and failed by the next start.
    pub async fn stop(self) {
        let _ = self.stop.send(true);
        for task in self.tasks {
            task.abort();
            let _ = task.await;
        }
    }
}

/// What a batch of `research-jobs` records did.
#[derive(Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct Handled {
    pub ran: usize,
    /// Records naming a job that is gone or already taken.
    pub skipped: usize,
    pub malformed: usize,
}

/// Jobs started before this had a Lambda's whole life to finish.
fn lambda_cut(now: domain::Timestamp) -> domain::Timestamp {
    domain::Timestamp::from_nanos(
        now.nanos()
            .saturating_sub(LAMBDA_LIMIT_SECS * 1_000_000_000),
    )
}

/// The worker Lambda: runs each job its records name, each within `budget` (the time the
/// invocation has left, less a margin to record the outcome). A store error taking a job
/// is returned: the invocation fails and Kinesis delivers the records again.
pub async fn handle_kinesis(
    state: &AppState,
    event: &KinesisEvent,
    threads: usize,
    budget: Option<Duration>,
) -> Result<Handled, store::StoreError> {
    let started = tokio::time::Instant::now();
    let now = state.clock.now();
    if let Err(e) = state
        .jobs
        .fail_running_jobs(lambda_cut(now), TIMED_OUT, now)
        .await
    {
        tracing::warn!(error = %e, "could not fail timed-out jobs");
    }
    let mut handled = Handled::default();
    for record in &event.records {
        let id = std::str::from_utf8(&record.kinesis.data.0)
            .ok()
            .and_then(|t| JobId::parse(t.trim()).ok());
        let Some(id) = id else {
            handled.malformed += 1;
            continue;
        };
        match state.jobs.claim_job(Some(id), state.clock.now()).await? {
            Some(job) => {
                match budget.map(|b| b.saturating_sub(started.elapsed())) {
                    None => crate::run::run_and_finish(state, &job, threads).await,
                    Some(left) => {
                        let run = crate::run::run_and_finish(state, &job, threads);
                        if tokio::time::timeout(left, run).await.is_err() {
                            let outcome = store::records::JobOutcome::Failed(TIMED_OUT);
                            state
                                .jobs
                                .finish_job(job.id, outcome, state.clock.now())
                                .await?;
                        }
                    }
                }
                handled.ran += 1;
            }
            None => handled.skipped += 1,
        }
    }
    Ok(handled)
}
