//! The `executions` Kinesis event source mapping of the reports Lambda: the batch goes to
//! `app::reports::executions` (running metrics, exactly once; poison records set aside),
//! and what is left to retry becomes Lambda's partial batch response.

use app::AppState;
use app::reports::executions::{Outcome, RecordIn, handle_records};
use aws_lambda_events::event::kinesis::{KinesisEvent, KinesisEventRecord};
use aws_lambda_events::event::streams::{KinesisBatchItemFailure, KinesisEventResponse};

pub use app::reports::executions::CONSUMER;

fn origin(record: &KinesisEventRecord) -> String {
    record
        .event_id
        .clone()
        .unwrap_or_else(|| record.kinesis.sequence_number.clone())
}

/// Handles one Kinesis batch (see the module docs): Lambda's partial batch response.
pub async fn handle(state: &AppState, event: &KinesisEvent) -> (KinesisEventResponse, Outcome) {
    let records: Vec<RecordIn<'_>> = event
        .records
        .iter()
        .map(|r| RecordIn {
            origin: origin(r),
            sequence: r.kinesis.sequence_number.clone(),
            data: &r.kinesis.data.0,
        })
        .collect();
    let (outcome, failed) = handle_records(state, &records).await;
    let mut response = KinesisEventResponse::default();
    response.batch_item_failures = failed
        .into_iter()
        .map(|seq| {
            let mut f = KinesisBatchItemFailure::default();
            f.item_identifier = Some(seq);
            f
        })
        .collect();
    (response, outcome)
}
