//! Running a function: under AWS Lambda when `AWS_LAMBDA_RUNTIME_API` is set (the router
//! behind `lambda_http`, logs as JSON for CloudWatch), otherwise as an HTTP server
//! (`axum::serve` on `STRATUS_BIND` or the function's default address, with graceful
//! shutdown on Ctrl-C or SIGTERM).

use std::net::SocketAddr;

use axum::Router;
use tracing_subscriber::EnvFilter;

use app::settings::{LogFormat, Settings};

/// Whether this process runs inside Lambda.
pub fn in_lambda() -> bool {
    std::env::var_os("AWS_LAMBDA_RUNTIME_API").is_some()
}

/// Installs the tracing subscriber: JSON under Lambda (or when asked), text otherwise;
/// the level from `RUST_LOG` (default `info`). Calling it twice is harmless.
pub fn init_tracing(settings: &Settings) {
    let format = settings.log_format.unwrap_or(if in_lambda() {
        LogFormat::Json
    } else {
        LogFormat::Text
    });
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt().with_env_filter(filter);
    let _ = match format {
        LogFormat::Json => builder
            .json()
            .with_current_span(true)
            .without_time()
            .try_init(),
        LogFormat::Text => builder.with_target(false).try_init(),
    };
}

/// Resolves when the process is asked to stop (Ctrl-C, or SIGTERM on Unix).
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
}

/// Runs `router` under Lambda or as an HTTP server on `settings.bind` (else
/// `default_bind`) until shutdown.
pub async fn run(router: Router, settings: &Settings, default_bind: &str) -> anyhow::Result<()> {
    if in_lambda() {
        return lambda_http::run(router)
            .await
            .map_err(|e| anyhow::anyhow!("lambda runtime: {e}"));
    }
    let bind = settings.bind.as_deref().unwrap_or(default_bind);
    let listener = tokio::net::TcpListener::bind(bind)
        .await
        .map_err(|e| anyhow::anyhow!("cannot listen on {bind}: {e}"))?;
    tracing::info!(address = %listener.local_addr()?, "listening");
    axum::serve(
        listener,
        router.into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(shutdown_signal())
    .await?;
    Ok(())
}
