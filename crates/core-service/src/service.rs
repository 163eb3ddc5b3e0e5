//! The core's tasks and routes, assembled once for the `stratus-core` container and for
//! `stratus up`: the core loop, the brokers gateway (broker accounts' execution streams
//! and reconciliation), the market feed, the embedded `executions` consumer and
//! the daily report timer (what Lambda and EventBridge do in the cloud), and the HTTP
//! routes `/health` and `/ws`. Shutdown is a broadcast: every task finishes what it is
//! doing — the core its batch, commit included — and [`Service::stop`] waits for them.

use std::sync::Arc;
use std::time::Duration;

use app::AppState;
use axum::Json;
use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::routing::get;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::feed::FeedConfig;
use crate::hub::Hub;
use crate::runner::{Core, CoreConfig, CoreHealth};

/// What to run besides the core loop.
#[derive(Debug, Clone)]
pub struct ServiceConfig {
    pub core: CoreConfig,
    pub feed: FeedConfig,
    /// Consume `executions` for the reports function (in the cloud its Lambda does).
    pub executions_consumer: bool,
    /// Write the daily report rows just after midnight UTC (in the cloud EventBridge does).
    pub daily_reports: bool,
}

/// The running tasks. See the module docs.
#[derive(Debug)]
pub struct Service {
    pub hub: Hub,
    pub health: Arc<CoreHealth>,
    shutdown: watch::Sender<bool>,
    tasks: Vec<(&'static str, JoinHandle<()>)>,
    feed: Option<JoinHandle<anyhow::Result<u64>>>,
}

impl Service {
    /// Starts the tasks (see the module docs).
    pub fn spawn(app: AppState, config: ServiceConfig) -> Service {
        let hub = Hub::default();
        let health = Arc::new(CoreHealth::default());
        let (shutdown, watch) = watch::channel(false);
        let core = Core::new(
            app.clone(),
            hub.clone(),
            health.clone(),
            config.core.clone(),
        );
        let mut tasks = vec![
            ("core", tokio::spawn(core.run(watch.clone()))),
            (
                "status",
                tokio::spawn(publish_status(app.clone(), health.clone(), watch.clone())),
            ),
        ];
        tasks.push((
            "brokers",
            tokio::spawn(crate::gateway::run(
                app.clone(),
                hub.clone(),
                health.clone(),
                watch.clone(),
            )),
        ));
        if config.executions_consumer {
            tasks.push((
                "executions",
                tokio::spawn(crate::executions::run(
                    app.clone(),
                    health.clone(),
                    watch.clone(),
                )),
            ));
        }
        if config.daily_reports {
            tasks.push(("daily", tokio::spawn(daily(app.clone(), watch.clone()))));
        }
        let feed = match config.feed {
            FeedConfig::None => None,
            feed => {
                let app = app.clone();
                let watch = watch.clone();
                let health = health.clone();
                Some(tokio::spawn(async move {
                    let progress = Arc::new(std::sync::atomic::AtomicU64::new(0));
                    let watcher = {
                        let progress = progress.clone();
                        let health = health.clone();
                        tokio::spawn(async move {
                            loop {
                                health.feed_published.store(
                                    progress.load(std::sync::atomic::Ordering::Relaxed),
                                    std::sync::atomic::Ordering::Relaxed,
                                );
                                tokio::time::sleep(Duration::from_millis(100)).await;
                            }
                        })
                    };
                    let result = crate::feed::run(app, feed, watch, progress.clone()).await;
                    watcher.abort();
                    health.feed_published.store(
                        progress.load(std::sync::atomic::Ordering::Relaxed),
                        std::sync::atomic::Ordering::Relaxed,
                    );
                    health
                        .feed_finished
                        .store(true, std::sync::atomic::Ordering::Relaxed);
                    if let Err(e) = &result {
                        tracing::error!(error = %e, "the market feed stopped");
                    }
                    result
                }))
            }
        };
        Service {
            hub,
            health,
            shutdown,
            tasks,
            feed,
        }
    }

    /// `/health` and `/ws`.
    pub fn routes(&self, app: AppState) -> Router {
        let health = self.health.clone();
        Router::new()
            .route("/health", get(health_route))
            .with_state(health)
            .merge(crate::ws::router(app, self.hub.clone()))
    }

    /// Signals every task to stop and waits for them (the core commits its batch first).
    pub async fn stop(self) {
        let _ = self.shutdown.send(true);
        if let Some(feed) = self.feed {
            let _ = feed.await;
        }
        for (name, task) in self.tasks {
            if tokio::time::timeout(Duration::from_secs(30), task)
                .await
                .is_err()
            {
                tracing::warn!(task = name, "did not stop in 30 s");
            }
        }
    }
}

#[utoipa::path(get, path = "/health", tag = "meta", operation_id = "health",
    summary = "The streaming core's health (stratus up and the core container)",
    security(()),
    responses(
        (status = 200, description = "Healthy (or not started yet)", body = crate::runner::HealthView),
        (status = 503, description = "The core cannot commit", body = crate::runner::HealthView),
    ))]
async fn health_route(State(health): State<Arc<CoreHealth>>) -> impl IntoResponse {
    let view = health.view();
    let status = if view.status == "ok" || view.batches == 0 {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (status, Json(view))
}

/// How often the core's status is published.
const STATUS_EVERY: Duration = Duration::from_secs(1);
/// Dead letters are counted every this many publications.
const COUNT_DEAD_LETTERS_EVERY: u32 = 10;
/// The consumers whose dead letters are counted, and how many each at most.
const DEAD_LETTER_CONSUMERS: [&str; 3] = ["core.commands", "core.ticks", "reports.executions"];
const DEAD_LETTERS_COUNTED: usize = 10_000;

/// Publishes the core's status to `store::core_status` once a second (and counts the
/// dead letters every ten), so functions that cannot reach this process can read it.
/// A failed write is retried at the next second; the last one is written at shutdown.
async fn publish_status(
    app: AppState,
    health: Arc<CoreHealth>,
    mut shutdown: watch::Receiver<bool>,
) {
    let mut round: u32 = 0;
    loop {
        if round % COUNT_DEAD_LETTERS_EVERY == 0 {
            match app
                .dead_letters
                .count(&DEAD_LETTER_CONSUMERS, DEAD_LETTERS_COUNTED)
                .await
            {
                Ok(n) => {
                    *health
                        .dead_letters
                        .lock()
                        .unwrap_or_else(std::sync::PoisonError::into_inner) = Some(n)
                }
                Err(e) => tracing::warn!(error = %e, "dead letters not counted"),
            }
        }
        round = round.wrapping_add(1);
        let now_ms = u64::try_from(app.clock.now().nanos() / 1_000_000).unwrap_or(0);
        if let Err(e) = app.core_status.publish(&health.status_record(now_ms)).await {
            tracing::warn!(error = %e, "core status not published; retrying in a second");
        }
        if *shutdown.borrow() {
            return;
        }
        tokio::select! {
            _ = tokio::time::sleep(STATUS_EVERY) => {}
            _ = shutdown.changed() => {
                // One last status once the core has stopped (it says `stopped`).
                for _ in 0..300 {
                    if health.stopped.load(std::sync::atomic::Ordering::Relaxed) {
                        break;
                    }
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
                let now_ms = u64::try_from(app.clock.now().nanos() / 1_000_000).unwrap_or(0);
                if let Err(e) = app.core_status.publish(&health.status_record(now_ms)).await {
                    tracing::warn!(error = %e, "last core status not published");
                }
                return;
            }
        }
    }
}

/// The daily report job at 00:05 UTC every day.
async fn daily(app: AppState, mut shutdown: watch::Receiver<bool>) {
    loop {
        let now = app.clock.now();
        let today = now.to_datetime().date_naive();
        let next = today
            .succ_opt()
            .and_then(|d| d.and_hms_opt(0, 5, 0))
            .map(|t| t.and_utc().timestamp_nanos_opt().unwrap_or(i64::MAX))
            .unwrap_or(i64::MAX);
        let wait = Duration::from_nanos(u64::try_from(next - now.nanos()).unwrap_or(0));
        tokio::select! {
            _ = tokio::time::sleep(wait) => {}
            _ = shutdown.changed() => return,
        }
        if *shutdown.borrow() {
            return;
        }
        match app::reports::daily::run(&app, app.clock.now()).await {
            Ok(outcome) => tracing::info!(?outcome, "daily reports"),
            Err(e) => tracing::error!(error = %e, "daily reports failed"),
        }
    }
}
