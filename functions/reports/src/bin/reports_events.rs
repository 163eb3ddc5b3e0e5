//! The reports function's event binary (a Lambda): `executions` records from the Kinesis
//! event source (answered with partial batch failures) and the daily EventBridge
//! schedule. Outside Lambda, `stratus-reports-events daily` runs the daily job once.

use aws_lambda_events::event::eventbridge::EventBridgeEvent;
use aws_lambda_events::event::kinesis::KinesisEvent;
use lambda_runtime::{LambdaEvent, service_fn};
use serde_json::Value;

async fn dispatch(
    state: &app::AppState,
    event: LambdaEvent<Value>,
) -> Result<Value, lambda_runtime::Error> {
    let payload = event.payload;
    if payload.get("Records").is_some() {
        let kinesis: KinesisEvent = serde_json::from_value(payload)?;
        let (response, outcome) = reports_fn::executions::handle(state, &kinesis).await;
        tracing::info!(?outcome, "executions batch");
        return Ok(serde_json::to_value(response)?);
    }
    if payload.get("detail-type").is_some() {
        let schedule: EventBridgeEvent<Value> = serde_json::from_value(payload)?;
        let now = match schedule.time {
            Some(t) => domain::Timestamp::from_datetime(t)?,
            None => state.clock.now(),
        };
        let outcome = app::reports::daily::run(state, now).await?;
        tracing::info!(?outcome, "daily reports");
        return Ok(serde_json::to_value(outcome)?);
    }
    Err("unrecognised event: expected Kinesis records or an EventBridge event".into())
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let state = app::AppState::from_env().await?;
    api::serve::init_tracing(&state.settings);
    if api::serve::in_lambda() {
        let state = &state;
        return lambda_runtime::run(service_fn(move |event| dispatch(state, event)))
            .await
            .map_err(|e| anyhow::anyhow!("lambda runtime: {e}"));
    }
    match std::env::args().nth(1).as_deref() {
        Some("daily") => {
            let outcome = app::reports::daily::run(&state, state.clock.now()).await?;
            println!("{}", serde_json::to_string(&outcome)?);
            Ok(())
        }
        _ => anyhow::bail!("usage: stratus-reports-events daily (under Lambda it handles events)"),
    }
}
