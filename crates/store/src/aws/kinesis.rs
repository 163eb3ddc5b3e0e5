//! [`StreamLog`] on Kinesis.
//!
//! Publishing uses PutRecords (500 records a call) and retries **only the records that
//! failed** (Kinesis answers per record, e.g. `ProvisionedThroughputExceededException` for
//! some and sequence numbers for the rest), with exponential backoff. Reading is
//! GetShardIterator + GetRecords polling, backing off on throttling; a closed shard (after
//! a reshard) reports its end with `next: None`, and `ShardOrder` has consumers finish
//! parents before children. Subscriptions (SubscribeToShard) are not used: the
//! emulators lack them and polling is enough for the core's batching.
//!
//! A caveat Kinesis imposes: when a PutRecords call fails part-way, the retried records
//! land after later records of the same partition key that succeeded. Producers that need
//! strict per-partition order (the outbox relay) publish one record per partition key per
//! call, so a retry can only follow its own predecessors.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_kinesis::Client;
use aws_sdk_kinesis::primitives::Blob;
use aws_sdk_kinesis::types::{PutRecordsRequestEntry, ShardIteratorType};

use super::errors::from_sdk;
use crate::error::{ErrorKind, StoreError, StoreResult};
use crate::resources::physical_name;
use crate::stream::{
    OutgoingRecord, Published, ReadBatch, SequenceNumber, Shard, ShardId, StartAt, StreamLog,
    StreamRecord, validate_publish,
};

/// Attempts at publishing the records that keep failing before giving up.
const MAX_PUBLISH_ATTEMPTS: u32 = 8;
/// Attempts at a throttled read.
const MAX_READ_ATTEMPTS: u32 = 6;
const FIRST_BACKOFF: Duration = Duration::from_millis(50);
const MAX_BACKOFF: Duration = Duration::from_secs(2);
/// GetRecords returns at most 10,000 records.
const MAX_READ_LIMIT: usize = 10_000;

/// The outcome of one record of a PutRecords call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PutOutcome {
    Stored(Published),
    Failed { code: String, message: String },
}

/// The PutRecords call, behind a trait so the retry logic can be exercised against the
/// real emulator with some records made to fail (see the store's emulator tests).
#[async_trait]
pub trait RecordsApi: Send + Sync + fmt::Debug {
    async fn put_records(
        &self,
        stream: &str,
        records: &[OutgoingRecord],
    ) -> StoreResult<Vec<PutOutcome>>;
}

/// [`RecordsApi`] through the SDK.
#[derive(Debug, Clone)]
pub struct SdkRecords {
    client: Client,
}

impl SdkRecords {
    pub fn new(client: Client) -> Self {
        SdkRecords { client }
    }
}

#[async_trait]
impl RecordsApi for SdkRecords {
    async fn put_records(
        &self,
        stream: &str,
        records: &[OutgoingRecord],
    ) -> StoreResult<Vec<PutOutcome>> {
        let entries = records
            .iter()
            .map(|r| {
                PutRecordsRequestEntry::builder()
                    .partition_key(&r.partition_key)
                    .data(Blob::new(r.data.clone()))
                    .build()
                    .map_err(|e| StoreError::invalid(e.to_string()))
            })
            .collect::<StoreResult<Vec<_>>>()?;
        let out = self
            .client
            .put_records()
            .stream_name(stream)
            .set_records(Some(entries))
            .send()
            .await
            .map_err(|e| from_sdk("PutRecords", e))?;
        if out.records().len() != records.len() {
            return Err(StoreError::internal(
                "PutRecords answered for a different number of records",
            ));
        }
        Ok(out
            .records()
            .iter()
            .map(|r| match (&r.error_code, &r.sequence_number, &r.shard_id) {
                (None, Some(seq), Some(shard)) => PutOutcome::Stored(Published {
                    shard: ShardId(shard.clone()),
                    sequence: SequenceNumber(seq.clone()),
                }),
                _ => PutOutcome::Failed {
                    code: r.error_code.clone().unwrap_or_else(|| "Unknown".into()),
                    message: r.error_message.clone().unwrap_or_default(),
                },
            })
            .collect())
    }
}

#[derive(Debug, Clone)]
pub struct KinesisStream {
    client: Client,
    records: Arc<dyn RecordsApi>,
    prefix: String,
}

impl KinesisStream {
    /// Streams are named `<prefix>-<name>`.
    pub fn new(client: Client, prefix: impl Into<String>) -> Self {
        let records = Arc::new(SdkRecords::new(client.clone()));
        KinesisStream {
            client,
            records,
            prefix: prefix.into(),
        }
    }

    /// The same adapter with another PutRecords implementation (fault injection in tests).
    pub fn with_records_api(mut self, records: Arc<dyn RecordsApi>) -> Self {
        self.records = records;
        self
    }

    fn name(&self, stream: &str) -> String {
        physical_name(&self.prefix, stream)
    }
}

fn next_backoff(current: Duration) -> Duration {
    (current * 2).min(MAX_BACKOFF)
}

#[async_trait]
impl StreamLog for KinesisStream {
    async fn publish(
        &self,
        stream: &str,
        records: Vec<OutgoingRecord>,
    ) -> StoreResult<Vec<Published>> {
        validate_publish(&records)?;
        let name = self.name(stream);
        let mut placed: Vec<Option<Published>> = vec![None; records.len()];
        let mut pending: Vec<usize> = (0..records.len()).collect();
        let mut backoff = FIRST_BACKOFF;
        let mut last_failure = String::new();
        for _ in 0..MAX_PUBLISH_ATTEMPTS {
            if pending.is_empty() {
                break;
            }
            let batch: Vec<OutgoingRecord> = pending.iter().map(|&i| records[i].clone()).collect();
            match self.records.put_records(&name, &batch).await {
                Ok(outcomes) => {
                    let mut still = Vec::new();
                    for (&i, outcome) in pending.iter().zip(outcomes) {
                        match outcome {
                            PutOutcome::Stored(p) => placed[i] = Some(p),
                            PutOutcome::Failed { code, message } => {
                                last_failure = format!("{code}: {message}");
                                still.push(i);
                            }
                        }
                    }
                    pending = still;
                }
                // A throttled or unreachable call: nothing of it was stored; resend it all.
                Err(e) if e.is_retryable() => last_failure = e.to_string(),
                Err(e) => return Err(e),
            }
            if !pending.is_empty() {
                tokio::time::sleep(backoff).await;
                backoff = next_backoff(backoff);
            }
        }
        if !pending.is_empty() {
            return Err(StoreError::new(
                ErrorKind::Throttled,
                format!(
                    "{} records of {name} still failing after {MAX_PUBLISH_ATTEMPTS} attempts ({last_failure})",
                    pending.len()
                ),
            ));
        }
        Ok(placed.into_iter().flatten().collect())
    }

    async fn shards(&self, stream: &str) -> StoreResult<Vec<Shard>> {
        let name = self.name(stream);
        let mut shards = Vec::new();
        let mut token: Option<String> = None;
        loop {
            // With a NextToken, the stream name must not be given again.
            let request = match &token {
                Some(t) => self.client.list_shards().next_token(t),
                None => self.client.list_shards().stream_name(&name),
            };
            let out = request
                .send()
                .await
                .map_err(|e| from_sdk("ListShards", e))?;
            for s in out.shards() {
                let parents = [s.parent_shard_id(), s.adjacent_parent_shard_id()]
                    .into_iter()
                    .flatten()
                    .map(|p| ShardId(p.to_owned()))
                    .collect();
                shards.push(Shard {
                    id: ShardId(s.shard_id().to_owned()),
                    parents,
                });
            }
            match out.next_token {
                Some(t) if !t.is_empty() => token = Some(t),
                _ => return Ok(shards),
            }
        }
    }

    async fn read(
        &self,
        stream: &str,
        shard: &ShardId,
        from: &StartAt,
        limit: usize,
    ) -> StoreResult<ReadBatch> {
        let name = self.name(stream);
        let mut backoff = FIRST_BACKOFF;
        let mut attempt = 0;
        loop {
            attempt += 1;
            match self
                .read_once(&name, shard, from, limit.clamp(1, MAX_READ_LIMIT))
                .await
            {
                Err(e) if e.kind() == ErrorKind::Throttled && attempt < MAX_READ_ATTEMPTS => {
                    tokio::time::sleep(backoff).await;
                    backoff = next_backoff(backoff);
                }
                other => return other,
            }
        }
    }
}

impl KinesisStream {
    async fn read_once(
        &self,
        name: &str,
        shard: &ShardId,
        from: &StartAt,
        limit: usize,
    ) -> StoreResult<ReadBatch> {
        let request = self
            .client
            .get_shard_iterator()
            .stream_name(name)
            .shard_id(&shard.0);
        let request = match from {
            StartAt::TrimHorizon => request.shard_iterator_type(ShardIteratorType::TrimHorizon),
            StartAt::After(seq) => request
                .shard_iterator_type(ShardIteratorType::AfterSequenceNumber)
                .starting_sequence_number(&seq.0),
            StartAt::At(seq) => request
                .shard_iterator_type(ShardIteratorType::AtSequenceNumber)
                .starting_sequence_number(&seq.0),
        };
        let iterator = request
            .send()
            .await
            .map_err(|e| from_sdk("GetShardIterator", e))?
            .shard_iterator
            .ok_or_else(|| StoreError::internal("GetShardIterator returned no iterator"))?;
        let out = self
            .client
            .get_records()
            .shard_iterator(iterator)
            .limit(i32::try_from(limit).unwrap_or(10_000))
            .send()
            .await
            .map_err(|e| from_sdk("GetRecords", e))?;
        let records: Vec<StreamRecord> = out
            .records()
            .iter()
            .map(|r| StreamRecord {
                shard: shard.clone(),
                sequence: SequenceNumber(r.sequence_number().to_owned()),
                partition_key: r.partition_key().unwrap_or_default().to_owned(),
                data: r.data().as_ref().to_vec(),
            })
            .collect();
        let next = match (out.next_shard_iterator.is_some(), records.last()) {
            // No next iterator: the shard is closed and read to its end.
            (false, _) => None,
            (true, Some(last)) => Some(StartAt::After(last.sequence.clone())),
            (true, None) => Some(from.clone()),
        };
        Ok(ReadBatch { records, next })
    }
}
