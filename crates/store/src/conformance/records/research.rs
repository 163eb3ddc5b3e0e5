//! `ResearchJobs`: jobs scoped to their user, claimed once, finished once, and failed —
//! never left running — when their process is gone.

use domain::{JobId, JobKind, JobStatus, ResearchJob};
use serde_json::json;

use super::*;
use crate::records::JobOutcome;

fn job(n: u128, user: u128, kind: JobKind, created_secs: i64) -> ResearchJob {
    ResearchJob {
        id: JobId::from_u128(n),
        user_id: UserId::from_u128(user),
        kind,
        status: JobStatus::Queued,
        request: json!({"strategy": "sma_cross", "n": n as u64}),
        progress: 0.0,
        created_at: Timestamp::from_secs(created_secs),
        started_at: None,
        finished_at: None,
        error: None,
        result: None,
    }
}

pub async fn jobs_are_scoped_to_their_user_and_listed_newest_first<F, Fut>(factory: F)
where
    F: Fn() -> Fut,
    Fut: Future<Output = Arc<dyn RecordStore>>,
{
    let s = factory().await;
    for j in [
        job(1, 7, JobKind::Backtest, 100),
        job(2, 7, JobKind::Backtest, 300),
        job(3, 7, JobKind::Optimization, 200),
        job(4, 8, JobKind::Backtest, 400),
    ] {
        s.create_job(&j).await.expect("create");
    }
    let e = s
        .create_job(&job(1, 7, JobKind::Backtest, 100))
        .await
        .expect_err("an id is used once");
    assert_eq!(e.kind(), ErrorKind::ConditionFailed, "{e}");
    let ids = |jobs: Vec<ResearchJob>| jobs.iter().map(|j| j.id).collect::<Vec<_>>();
    let user = UserId::from_u128(7);
    assert_eq!(
        ids(s.jobs(user, JobKind::Backtest, 10).await.expect("list")),
        [JobId::from_u128(2), JobId::from_u128(1)]
    );
    assert_eq!(
        ids(s.jobs(user, JobKind::Backtest, 1).await.expect("list")),
        [JobId::from_u128(2)]
    );
    assert_eq!(
        ids(s.jobs(user, JobKind::Optimization, 10).await.expect("list")),
        [JobId::from_u128(3)]
    );
    let got = s.job(user, JobId::from_u128(1)).await.expect("get");
    assert_eq!(got, Some(job(1, 7, JobKind::Backtest, 100)));
    assert_eq!(
        s.job(UserId::from_u128(8), JobId::from_u128(1))
            .await
            .expect("foreign"),
        None,
        "another user's job is not there"
    );
    assert!(
        !s.delete_job(UserId::from_u128(8), JobId::from_u128(1))
            .await
            .expect("foreign delete")
    );
    assert!(
        s.delete_job(user, JobId::from_u128(1))
            .await
            .expect("delete")
    );
    assert!(
        !s.delete_job(user, JobId::from_u128(1))
            .await
            .expect("again")
    );
    assert_eq!(s.job(user, JobId::from_u128(1)).await.expect("gone"), None);
}

pub async fn workers_claim_each_job_once_and_finish_it<F, Fut>(factory: F)
where
    F: Fn() -> Fut,
    Fut: Future<Output = Arc<dyn RecordStore>>,
{
    let s = factory().await;
    let user = UserId::from_u128(7);
    for n in 1..=6 {
        s.create_job(&job(n, 7, JobKind::Backtest, 100 + n as i64))
            .await
            .expect("create");
    }
    // A named job first; then racing workers take the rest, oldest first, each once.
    let now = Timestamp::from_secs(1_000);
    let five = s
        .claim_job(Some(JobId::from_u128(5)), now)
        .await
        .expect("claim")
        .expect("job 5");
    assert_eq!(
        (five.id, five.status),
        (JobId::from_u128(5), JobStatus::Running)
    );
    assert_eq!(five.started_at, Some(now));
    assert_eq!(
        s.claim_job(Some(JobId::from_u128(5)), now)
            .await
            .expect("again"),
        None,
        "a running job is not claimed again"
    );
    let claims = (0..8).map(|_| {
        let s = s.clone();
        tokio::spawn(async move { s.claim_job(None, Timestamp::from_secs(1_001)).await })
    });
    let mut claimed = Vec::new();
    for c in claims {
        if let Some(j) = c.await.expect("task").expect("claim") {
            claimed.push(j.id);
        }
    }
    claimed.sort();
    assert_eq!(
        claimed,
        [1, 2, 3, 4, 6].map(JobId::from_u128),
        "five jobs, each taken once"
    );

    s.job_progress(five.id, 0.25).await.expect("progress");
    assert_eq!(
        s.job(user, five.id)
            .await
            .expect("get")
            .expect("job")
            .progress,
        0.25
    );
    let result = json!({"metrics": {"sharpe": 1.5}});
    s.finish_job(
        five.id,
        JobOutcome::Succeeded(&result),
        Timestamp::from_secs(1_010),
    )
    .await
    .expect("finish");
    let done = s.job(user, five.id).await.expect("get").expect("job");
    assert_eq!(done.status, JobStatus::Succeeded);
    assert_eq!(
        (done.progress, done.finished_at),
        (1.0, Some(Timestamp::from_secs(1_010)))
    );
    assert_eq!(done.result, Some(result.clone()));
    // Finished: later writes change nothing.
    s.job_progress(five.id, 0.5).await.expect("late progress");
    s.finish_job(
        five.id,
        JobOutcome::Failed("late"),
        Timestamp::from_secs(1_020),
    )
    .await
    .expect("late finish");
    let still = s.job(user, five.id).await.expect("get").expect("job");
    assert_eq!(
        (still.status, still.progress, still.result),
        (JobStatus::Succeeded, 1.0, Some(result))
    );
    let listed = s.jobs(user, JobKind::Backtest, 10).await.expect("list");
    assert!(
        listed.iter().all(|j| j.result.is_none()),
        "lists carry no results"
    );

    s.finish_job(
        JobId::from_u128(1),
        JobOutcome::Failed("no data"),
        Timestamp::from_secs(1_011),
    )
    .await
    .expect("fail");
    let failed = s
        .job(user, JobId::from_u128(1))
        .await
        .expect("get")
        .expect("job");
    assert_eq!(
        (failed.status, failed.error.as_deref()),
        (JobStatus::Failed, Some("no data"))
    );
    assert_eq!(failed.result, None);
    // A deleted running job: the worker's last writes find nothing.
    assert!(
        s.delete_job(user, JobId::from_u128(2))
            .await
            .expect("delete")
    );
    s.finish_job(
        JobId::from_u128(2),
        JobOutcome::Succeeded(&json!({})),
        Timestamp::from_secs(1_012),
    )
    .await
    .expect("finish a deleted job");
    assert_eq!(s.job(user, JobId::from_u128(2)).await.expect("get"), None);
}

pub async fn jobs_of_a_stopped_process_are_failed_not_left_running<F, Fut>(factory: F)
where
    F: Fn() -> Fut,
    Fut: Future<Output = Arc<dyn RecordStore>>,
{
    let s = factory().await;
    let user = UserId::from_u128(7);
    for n in 1..=3 {
        s.create_job(&job(n, 7, JobKind::Optimization, n as i64))
            .await
            .expect("create");
    }
    s.claim_job(Some(JobId::from_u128(1)), Timestamp::from_secs(10))
        .await
        .expect("claim")
        .expect("job 1");
    s.claim_job(Some(JobId::from_u128(2)), Timestamp::from_secs(50))
        .await
        .expect("claim")
        .expect("job 2");
    let failed = s
        .fail_running_jobs(
            Timestamp::from_secs(20),
            "the worker stopped",
            Timestamp::from_secs(60),
        )
        .await
        .expect("fail");
    assert_eq!(failed, 1, "only the one running since before the cut-off");
    let one = s
        .job(user, JobId::from_u128(1))
        .await
        .expect("get")
        .expect("job");
    assert_eq!(
        (one.status, one.error.as_deref(), one.finished_at),
        (
            JobStatus::Failed,
            Some("the worker stopped"),
            Some(Timestamp::from_secs(60))
        )
    );
    let two = s
        .job(user, JobId::from_u128(2))
        .await
        .expect("get")
        .expect("job");
    assert_eq!(two.status, JobStatus::Running);
    let three = s
        .job(user, JobId::from_u128(3))
        .await
        .expect("get")
        .expect("job");
    assert_eq!(
        three.status,
        JobStatus::Queued,
        "queued jobs wait for a worker"
    );
}

pub async fn active_jobs_of_every_user_are_listed_oldest_first<F, Fut>(factory: F)
where
    F: Fn() -> Fut,
    Fut: Future<Output = Arc<dyn RecordStore>>,
{
    let s = factory().await;
    for j in [
        job(1, 7, JobKind::Backtest, 300),
        job(2, 8, JobKind::Optimization, 100),
        job(3, 9, JobKind::Backtest, 200),
        job(4, 7, JobKind::Backtest, 400),
    ] {
        s.create_job(&j).await.expect("create");
    }
    // The oldest (job 2) runs; job 3 runs and finishes.
    let running = s
        .claim_job(None, Timestamp::from_secs(500))
        .await
        .expect("claim")
        .expect("a job");
    assert_eq!(running.id, JobId::from_u128(2));
    s.claim_job(Some(JobId::from_u128(3)), Timestamp::from_secs(501))
        .await
        .expect("claim")
        .expect("job 3");
    s.finish_job(
        JobId::from_u128(3),
        JobOutcome::Succeeded(&json!({"ok": true})),
        Timestamp::from_secs(502),
    )
    .await
    .expect("finish");
    let active = s.active_jobs(10).await.expect("active");
    assert_eq!(
        active.iter().map(|j| (j.id, j.status)).collect::<Vec<_>>(),
        [
            (JobId::from_u128(2), JobStatus::Running),
            (JobId::from_u128(1), JobStatus::Queued),
            (JobId::from_u128(4), JobStatus::Queued),
        ]
    );
    assert!(active.iter().all(|j| j.result.is_none()));
    assert_eq!(s.active_jobs(1).await.expect("active").len(), 1);
}
