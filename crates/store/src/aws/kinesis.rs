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
//! GetRecords may answer with no records in the middle of a shard (it reads a slice of
//! the shard, and a slice can hold nothing, e.g. past expired data), so an empty answer
//! does not mean "caught up": only `MillisBehindLatest == 0` does. A read therefore
//! follows `NextShardIterator` past empty answers (a few pages per call), and keeps the
//! last iterator it got, per shard: the next read from the position it returned resumes
//! there instead of asking GetShardIterator again, which would start before the empty
//! stretch once more (and GetShardIterator is limited to 5 calls a second per shard).
//! An iterator lives five minutes; one older than [`ITERATOR_REUSE`], or one Kinesis
//! refuses, is replaced by a fresh one for the same position.
//!
//! A caveat Kinesis imposes: when a PutRecords call fails part-way, the retried records
//! land after later records of the same partition key that succeeded. Producers that need
//! strict per-partition order (the outbox relay) publish one record per partition key per
//! call, so a retry can only follow its own predecessors.

use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use aws_sdk_kinesis::Client;
use aws_sdk_kinesis::primitives::Blob;
use aws_sdk_kinesis::types::{PutRecordsRequestEntry, ShardIteratorType};
use tokio::sync::Mutex;

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
/// Empty pages of a shard that is behind its tip one read follows before it returns
/// (empty, resuming there next time): with the first GetRecords, five calls — Kinesis's
/// GetRecords limit per shard and second.
const MAX_EMPTY_PAGES: u32 = 4;
/// How long a kept shard iterator is reused (Kinesis expires them after five minutes).
const ITERATOR_REUSE: Duration = Duration::from_secs(240);

/// The outcome of one record of a PutRecords call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PutOutcome {
    Stored(Published),
    Failed { code: String, message: String },
}

/// One GetRecords answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordsPage {
    pub records: Vec<StreamRecord>,
    /// Where the shard goes on; `None` once a closed shard is read to its end.
    pub next_iterator: Option<String>,
    /// How far the end of this page is behind the newest record of the shard; `0` (or
    /// not reported) means caught up.
    pub millis_behind_latest: Option<i64>,
}

/// The record calls of Kinesis (PutRecords, GetShardIterator, GetRecords), behind a trait
/// so the publish retries and the read progress can be exercised with faults injected:
/// some records of a call failing, throttling, empty pages (see the store's tests).
#[async_trait]
pub trait RecordsApi: Send + Sync + fmt::Debug {
    async fn put_records(
        &self,
        stream: &str,
        records: &[OutgoingRecord],
    ) -> StoreResult<Vec<PutOutcome>>;

    /// An iterator reading `shard` of `stream` from `from`.
    async fn shard_iterator(
        &self,
        stream: &str,
        shard: &ShardId,
        from: &StartAt,
    ) -> StoreResult<String>;

    /// Up to `limit` records from `iterator` (an iterator of `shard`, which the records
    /// are labelled with).
    async fn get_records(
        &self,
        shard: &ShardId,
        iterator: &str,
        limit: usize,
    ) -> StoreResult<RecordsPage>;
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

    async fn shard_iterator(
        &self,
        stream: &str,
        shard: &ShardId,
        from: &StartAt,
    ) -> StoreResult<String> {
        let request = self
            .client
            .get_shard_iterator()
            .stream_name(stream)
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
        request
            .send()
            .await
            .map_err(|e| from_sdk("GetShardIterator", e))?
            .shard_iterator
            .ok_or_else(|| StoreError::internal("GetShardIterator returned no iterator"))
    }

    async fn get_records(
        &self,
        shard: &ShardId,
        iterator: &str,
        limit: usize,
    ) -> StoreResult<RecordsPage> {
        let out = self
            .client
            .get_records()
            .shard_iterator(iterator)
            .limit(i32::try_from(limit).unwrap_or(i32::MAX))
            .send()
            .await
            .map_err(|e| from_sdk("GetRecords", e))?;
        let records = out
            .records()
            .iter()
            .map(|r| StreamRecord {
                shard: shard.clone(),
                sequence: SequenceNumber(r.sequence_number().to_owned()),
                partition_key: r.partition_key().unwrap_or_default().to_owned(),
                data: r.data().as_ref().to_vec(),
            })
            .collect();
        Ok(RecordsPage {
            records,
            next_iterator: out.next_shard_iterator,
            millis_behind_latest: out.millis_behind_latest,
        })
    }
}

#[derive(Debug, Clone)]
pub struct KinesisStream {
    client: Client,
    records: Arc<dyn RecordsApi>,
    prefix: String,
    /// Per (stream, shard): the iterator the last read ended with (see the module docs).
    iterators: Arc<Mutex<HashMap<(String, ShardId), KeptIterator>>>,
}

/// A shard iterator standing for a position: reading from `from` is reading from
/// `iterator` (what lies between was read, or was empty).
#[derive(Debug, Clone)]
struct KeptIterator {
    from: StartAt,
    iterator: String,
    obtained: Instant,
}

impl KinesisStream {
    /// Streams are named `<prefix>-<name>`.
    pub fn new(client: Client, prefix: impl Into<String>) -> Self {
        let records = Arc::new(SdkRecords::new(client.clone()));
        KinesisStream {
            client,
            records,
            prefix: prefix.into(),
            iterators: Arc::default(),
        }
    }

    /// The same adapter with another implementation of the record calls (fault injection
    /// in tests).
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
    /// One read: GetRecords from the kept iterator of `from` (or a new one), following
    /// empty pages while the shard is behind its tip, at most [`MAX_EMPTY_PAGES`] of them.
    async fn read_once(
        &self,
        name: &str,
        shard: &ShardId,
        from: &StartAt,
        limit: usize,
    ) -> StoreResult<ReadBatch> {
        let key = (name.to_owned(), shard.clone());
        let mut page = match self.kept_iterator(&key, from).await {
            Some(iterator) => match self.records.get_records(shard, &iterator, limit).await {
                // Expired or otherwise refused: start again from the position itself.
                Err(e) if !e.is_retryable() => {
                    let iterator = self.new_iterator(&key, from).await?;
                    self.records.get_records(shard, &iterator, limit).await?
                }
                other => other?,
            },
            None => {
                let iterator = self.new_iterator(&key, from).await?;
                self.records.get_records(shard, &iterator, limit).await?
            }
        };
        let mut empty_pages = 0;
        loop {
            let RecordsPage {
                records,
                next_iterator,
                millis_behind_latest,
            } = page;
            let behind = crate::stream::Behind {
                millis: millis_behind_latest.and_then(|ms| u64::try_from(ms).ok()),
                records: None,
            };
            let Some(iterator) = next_iterator else {
                // No next iterator: the shard is closed and read to its end.
                self.iterators.lock().await.remove(&key);
                return Ok(ReadBatch {
                    records,
                    next: None,
                    behind,
                });
            };
            if let Some(last) = records.last() {
                let next = StartAt::After(last.sequence.clone());
                self.keep_iterator(key, next.clone(), iterator).await;
                return Ok(ReadBatch {
                    records,
                    next: Some(next),
                    behind,
                });
            }
            // Nothing in this page: `from` now reads from `iterator` on.
            self.keep_iterator(key.clone(), from.clone(), iterator.clone())
                .await;
            let lagging = millis_behind_latest.is_some_and(|ms| ms > 0);
            if !lagging || empty_pages == MAX_EMPTY_PAGES {
                return Ok(ReadBatch {
                    records,
                    next: Some(from.clone()),
                    behind,
                });
            }
            empty_pages += 1;
            page = self.records.get_records(shard, &iterator, limit).await?;
        }
    }

    /// A new iterator for `from`, kept at once: a retry after a throttled GetRecords
    /// needs no second GetShardIterator.
    async fn new_iterator(&self, key: &(String, ShardId), from: &StartAt) -> StoreResult<String> {
        let iterator = self.records.shard_iterator(&key.0, &key.1, from).await?;
        self.keep_iterator(key.clone(), from.clone(), iterator.clone())
            .await;
        Ok(iterator)
    }

    async fn kept_iterator(&self, key: &(String, ShardId), from: &StartAt) -> Option<String> {
        let kept = self.iterators.lock().await;
        kept.get(key)
            .filter(|k| k.from == *from && k.obtained.elapsed() < ITERATOR_REUSE)
            .map(|k| k.iterator.clone())
    }

    async fn keep_iterator(&self, key: (String, ShardId), from: StartAt, iterator: String) {
        let kept = KeptIterator {
            from,
            iterator,
            obtained: Instant::now(),
        };
        self.iterators.lock().await.insert(key, kept);
    }
}
