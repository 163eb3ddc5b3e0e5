//! The research worker (a Lambda): `research-jobs` records from the Kinesis event source,
//! one job each, run with every vCPU the function has.

use aws_lambda_events::event::kinesis::KinesisEvent;
use lambda_runtime::{LambdaEvent, service_fn};

fn threads() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let state = app::AppState::from_env().await?;
    api::serve::init_tracing(&state.settings);
    if !api::serve::in_lambda() {
        anyhow::bail!(
            "stratus-research-worker runs under Lambda; `stratus up` runs jobs in process"
        );
    }
    let state = &state;
    lambda_runtime::run(service_fn(
        move |event: LambdaEvent<KinesisEvent>| async move {
            let handled =
                research_fn::worker::handle_kinesis(state, &event.payload, threads()).await;
            tracing::info!(?handled, "research jobs");
            Ok::<_, lambda_runtime::Error>(serde_json::to_value(handled)?)
        },
    ))
    .await
    .map_err(|e| anyhow::anyhow!("lambda runtime: {e}"))
}
