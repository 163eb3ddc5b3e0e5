//! The admin function's HTTP binary: a Lambda under `AWS_LAMBDA_RUNTIME_API`, else an
//! HTTP server (default 127.0.0.1:8087).

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let state = app::AppState::from_env().await?;
    api::serve::init_tracing(&state.settings);
    let settings = state.settings.clone();
    api::serve::run(admin_fn::router(state), &settings, "127.0.0.1:8087").await
}
