//! The research worker (a Lambda): `research-jobs` records from the Kinesis event source,
//! one job each, run with every vCPU the function has.

use std::time::Duration;

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
            // The invocation's deadline, less 20 seconds to record a job that ran out of it.
            let now_ms = state.clock.now().nanos() / 1_000_000;
            let deadline_ms = i64::try_from(event.context.deadline).unwrap_or(i64::MAX);
            let left_ms = deadline_ms.saturating_sub(now_ms).saturating_sub(20_000);
            let budget = Duration::from_millis(u64::try_from(left_ms).unwrap_or(0));
            let handled =
                research_fn::worker::handle_kinesis(state, &event.payload, threads(), Some(budget))
                    .await?;
            tracing::info!(?handled, "research jobs");
            Ok::<_, lambda_runtime::Error>(serde_json::to_value(handled)?)
        },
    ))
    .await
    .map_err(|e| anyhow::anyhow!("lambda runtime: {e}"))
}
