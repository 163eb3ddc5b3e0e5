//! The streaming core container: the core loop, `/health` and `/ws` on `STRATUS_BIND`
//! (default 0.0.0.0:8090). Ticks come from the `ticks` stream (a producer publishes
//! them; `STRATUS_FEED=synthetic` runs the built-in synthetic market instead). Stops
//! gracefully on SIGTERM (ECS) or Ctrl-C: the batch at hand is committed first.

use core_service::feed::FeedConfig;
use core_service::service::{Service, ServiceConfig};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let app = app::AppState::from_env().await?;
    api::serve::init_tracing(&app.settings);
    let feed = match app.settings.feed.as_deref() {
        Some("synthetic") => FeedConfig::default_synthetic(),
        _ => FeedConfig::None,
    };
    let service = Service::spawn(
        app.clone(),
        ServiceConfig {
            core: Default::default(),
            feed,
            executions_consumer: app.settings.consume_executions,
            daily_reports: app.settings.daily_reports,
        },
    );
    let bind = app
        .settings
        .bind
        .clone()
        .unwrap_or_else(|| "0.0.0.0:8090".into());
    let listener = tokio::net::TcpListener::bind(&bind)
        .await
        .map_err(|e| anyhow::anyhow!("cannot listen on {bind}: {e}"))?;
    tracing::info!(address = %listener.local_addr()?, "core listening");
    let router = service.routes(app.clone());
    axum::serve(listener, router)
        .with_graceful_shutdown(api::serve::shutdown_signal())
        .await?;
    service.stop().await;
    Ok(())
}
