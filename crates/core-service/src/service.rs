//! The core's tasks and routes, assembled once for the `stratus-core` container and for
//! `stratus up`: the core loop, the market feed, the embedded `executions` consumer and
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
        let mut tasks = vec![("core", tokio::spawn(core.run(watch.clone())))];
        if config.executions_consumer {
            tasks.push((
                "executions",
                tokio::spawn(crate::executions::run(app.clone(), watch.clone())),
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
