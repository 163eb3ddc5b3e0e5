//! Who runs the jobs. Embedded: a bounded pool of tasks in the process (`stratus up`),
//! each taking the oldest queued job; at start, the jobs a previous process left running
//! are failed with that reason. Cloud: the `stratus-research-worker` Lambda, fed one
//! `research-jobs` record per job, takes that job (and first fails any job running longer
//! than a Lambda may live).

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
    match state.jobs.fail_running_jobs(now, STOPPED, now).await {
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

/// The worker Lambda: runs each job its records name.
pub async fn handle_kinesis(state: &AppState, event: &KinesisEvent, threads: usize) -> Handled {
    let now = state.clock.now();
    let cut = domain::Timestamp::from_nanos(
        now.nanos()
            .saturating_sub(LAMBDA_LIMIT_SECS * 1_000_000_000),
    );
    if let Err(e) = state.jobs.fail_running_jobs(cut, TIMED_OUT, now).await {
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
        match state.jobs.claim_job(Some(id), state.clock.now()).await {
            Ok(Some(job)) => {
                crate::run::run_and_finish(state, &job, threads).await;
                handled.ran += 1;
            }
            Ok(None) => handled.skipped += 1,
            Err(e) => {
                tracing::warn!(job = %id, error = %e, "could not take a research job");
                handled.skipped += 1;
            }
        }
    }
    handled
}
