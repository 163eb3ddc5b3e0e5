//! The portal's binary: a Lambda under `AWS_LAMBDA_RUNTIME_API` (behind the HTTP API, on
//! the same origin as every function, so the pages call the API without CORS), else an
//! HTTP server (default 127.0.0.1:8088).

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let settings = app::settings::Settings::load()?;
    api::serve::init_tracing(&settings);
    let router = api::http::finish(portal_fn::router(), &settings);
    api::serve::run(router, &settings, "127.0.0.1:8088").await
}
