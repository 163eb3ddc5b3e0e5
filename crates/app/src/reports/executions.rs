//! Applying the `executions` stream to the reports: every `order.filled` event updates its
//! account's running metrics exactly once. The reports function's Lambda (a Kinesis event
//! source mapping) and the core's embedded consumer both hand their records here.
//!
//! Failure handling follows Lambda's partial batch responses: a record that cannot be
//! processed *now* (a store outage) is reported in `batchItemFailures` and processing
//! stops there, so Lambda retries from that record and order is kept. A record that can
//! *never* be processed (not an event envelope, an unknown type or version, a payload
//! that does not parse, arithmetic that overflows) is set aside in the dead-letter table
//! with the reason, counted and logged, and skipped — never retried forever.

use crate::state::AppState;
use domain::events::{Event, EventEnvelope};
use serde::Serialize;
use store::dead_letters::DeadLetter;
use store::once::{Applied, apply_once};
use store::{ErrorKind, StoreError};

use super::running::RunningMetrics;

/// The consumer name in dead letters and logs.
pub const CONSUMER: &str = "reports.executions";

/// How long an applied event's marker is kept: far beyond Kinesis's retention (24 h by
/// default, 7 days at most), so a redelivered record is always recognised.
const MARKER_SECONDS: i64 = 8 * 86_400;

/// What one batch did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Outcome {
    pub applied: usize,
    /// Fills seen before (redelivery).
    pub duplicates: usize,
    /// Other execution events (accepted, cancelled, …): nothing to do for reports.
    pub ignored: usize,
    /// Set aside as dead letters.
    pub malformed: usize,
    /// Left for Lambda to retry (the first failure and everything after it).
    pub retried: usize,
}

/// What became of a record that was processed.
enum Processed {
    Applied,
    Duplicate,
    Ignored,
}

/// Why a record cannot be processed: never (set it aside) or not now (retry).
enum Failure {
    Poison(String),
    Retry(StoreError),
}

async fn process(state: &AppState, data: &[u8]) -> Result<Processed, Failure> {
    let envelope = EventEnvelope::from_slice(data).map_err(|e| Failure::Poison(e.to_string()))?;
    let event = envelope
        .decode()
        .map_err(|e| Failure::Poison(e.to_string()))?;
    let Event::OrderFilled(fill) = event else {
        return Ok(Processed::Ignored);
    };
    let (pk, sk) = RunningMetrics::key(fill.account_id);
    let expires = state.clock.unix_seconds() + MARKER_SECONDS;
    let result = apply_once(
        &state.read_models,
        envelope.id,
        &pk,
        sk,
        expires,
        |current| {
            let mut metrics: RunningMetrics = match current {
                Some(body) => serde_json::from_value(body.clone())?,
                None => RunningMetrics::default(),
            };
            metrics
                .apply(&fill)
                .map_err(|e| StoreError::invalid(format!("fill {}: {e}", fill.order_id)))?;
            Ok(serde_json::to_value(&metrics)?)
        },
    )
    .await;
    match result {
        Ok(Applied::Now(_)) => Ok(Processed::Applied),
        Ok(Applied::Already) => Ok(Processed::Duplicate),
        Err(e) if e.kind() == ErrorKind::Invalid => Err(Failure::Poison(e.to_string())),
        Err(e) => Err(Failure::Retry(e)),
    }
}

/// One stream record to handle, whatever delivered it.
#[derive(Debug, Clone)]
pub struct RecordIn<'a> {
    /// Unique per record (`shardId:sequence`, or `stream/shard/sequence`).
    pub origin: String,
    pub sequence: String,
    pub data: &'a [u8],
}

/// Handles records in order (see the module docs): the outcome, and the sequence number
/// of the first record left for a retry, if any (everything from it on is unprocessed).
pub async fn handle_records(
    state: &AppState,
    records: &[RecordIn<'_>],
) -> (Outcome, Option<String>) {
    let mut outcome = Outcome::default();
    for (index, record) in records.iter().enumerate() {
        match process(state, record.data).await {
            Ok(Processed::Applied) => outcome.applied += 1,
            Ok(Processed::Duplicate) => outcome.duplicates += 1,
            Ok(Processed::Ignored) => outcome.ignored += 1,
            Err(Failure::Poison(reason)) => {
                let letter = DeadLetter {
                    consumer: CONSUMER.into(),
                    origin: record.origin.clone(),
                    data: String::from_utf8_lossy(record.data)
                        .chars()
                        .take(16_384)
                        .collect(),
                    reason: reason.clone(),
                    at: state.clock.unix_seconds(),
                };
                match state.dead_letters.put(&letter).await {
                    Ok(()) => {
                        tracing::warn!(origin = %letter.origin, reason = %reason, "malformed execution record set aside");
                        outcome.malformed += 1;
                    }
                    Err(e) => {
                        tracing::error!(error = %e, "could not set a malformed record aside; retrying from it");
                        outcome.retried = records.len() - index;
                        return (outcome, Some(record.sequence.clone()));
                    }
                }
            }
            Err(Failure::Retry(e)) => {
                tracing::warn!(error = %e, sequence = %record.sequence, "store unavailable; retrying from this record");
                outcome.retried = records.len() - index;
                return (outcome, Some(record.sequence.clone()));
            }
        }
    }
    (outcome, None)
}
