//! The `executions` consumer of the embedded shape: what the reports function's Kinesis
//! event source mapping does in the cloud — read `executions` from a checkpoint, hand the
//! records to `app::reports::executions::handle_records`, and advance the checkpoint past
//! what it processed (up to, not including, the first record it left for a retry).

use std::time::Duration;

use app::AppState;
use store::connect::streams;
use store::records::{Checkpoint, CommitBatch};
use tokio::sync::watch;

use crate::inputs::StreamCursor;

/// The consumer name of its checkpoints.
pub const CONSUMER: &str = app::reports::executions::CONSUMER;

/// Runs until `shutdown`.
pub async fn run(
    app: AppState,
    health: std::sync::Arc<crate::runner::CoreHealth>,
    mut shutdown: watch::Receiver<bool>,
) {
    let mut cursor = StreamCursor::new(CONSUMER, streams::EXECUTIONS);
    let mut backoff = Duration::from_millis(50);
    while !*shutdown.borrow() {
        let step = async {
            let inputs = cursor.read(&*app.commits, &*app.streams, 500).await?;
            health
                .recent
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .lag(cursor.stream(), cursor.behind());
            if inputs.is_empty() {
                return anyhow::Ok(false);
            }
            let records: Vec<app::reports::executions::RecordIn<'_>> = inputs
                .iter()
                .map(|i| app::reports::executions::RecordIn {
                    origin: i.origin(),
                    sequence: i.sequence.0.clone(),
                    data: &i.data,
                })
                .collect();
            let (_, failed) = app::reports::executions::handle_records(&app, &records).await;
            // Checkpoint each shard at its last record before the first failure.
            let mut checkpoints: Vec<Checkpoint> = Vec::new();
            let mut stop = false;
            for input in &inputs {
                if failed.as_deref() == Some(input.sequence.0.as_str()) {
                    stop = true;
                }
                if stop {
                    break;
                }
                checkpoints.retain(|c| c.shard != input.shard.0);
                checkpoints.push(Checkpoint {
                    consumer: CONSUMER.into(),
                    stream: streams::EXECUTIONS.into(),
                    shard: input.shard.0.clone(),
                    sequence: input.sequence.clone(),
                });
            }
            if !checkpoints.is_empty() {
                app.commits
                    .commit(&CommitBatch {
                        checkpoints: checkpoints.clone(),
                        ..CommitBatch::default()
                    })
                    .await?;
            }
            // Whatever was not processed is read again after the new checkpoints.
            cursor.advance_to(&checkpoints);
            if failed.is_some() {
                cursor.rollback();
            }
            Ok(failed.is_none())
        };
        match step.await {
            Ok(true) => backoff = Duration::from_millis(50),
            Ok(false) => {
                tokio::select! {
                    _ = tokio::time::sleep(backoff) => {}
                    _ = shutdown.changed() => {}
                }
                backoff = (backoff * 2).min(Duration::from_millis(200));
            }
            Err(e) => {
                tracing::warn!(error = %e, "executions consumer failed; retrying");
                cursor.rollback();
                tokio::select! {
                    _ = tokio::time::sleep(backoff) => {}
                    _ = shutdown.changed() => {}
                }
                backoff = (backoff * 2).min(Duration::from_secs(5));
            }
        }
    }
}
