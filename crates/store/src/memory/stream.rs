//! [`StreamLog`] in memory: shards as vectors.

use std::collections::BTreeMap;

use async_trait::async_trait;
use tokio::sync::Mutex;

use crate::error::{StoreError, StoreResult};
use crate::stream::{
    OutgoingRecord, Published, ReadBatch, SequenceNumber, Shard, ShardId, StartAt, StreamLog,
    StreamRecord, shard_index, validate_publish,
};

/// Sequence counter and, per stream, each shard's records.
#[derive(Debug, Default)]
struct Log {
    last_sequence: u64,
    streams: BTreeMap<String, Vec<Vec<StreamRecord>>>,
}

#[derive(Debug)]
pub struct MemoryStream {
    shards_per_stream: usize,
    /// Sequence numbers are global and increasing, so they increase within each shard.
    log: Mutex<Log>,
}

impl MemoryStream {
    pub fn new(shards_per_stream: usize) -> Self {
        MemoryStream {
            shards_per_stream: shards_per_stream.max(1),
            log: Mutex::default(),
        }
    }
}

impl Default for MemoryStream {
    fn default() -> Self {
        Self::new(2)
    }
}

fn shard_id(i: usize) -> ShardId {
    ShardId(format!("shardId-{i:012}"))
}

#[async_trait]
impl StreamLog for MemoryStream {
    async fn publish(
        &self,
        stream: &str,
        records: Vec<OutgoingRecord>,
    ) -> StoreResult<Vec<Published>> {
        validate_publish(&records)?;
        let mut guard = self.log.lock().await;
        let Log {
            last_sequence: next,
            streams,
        } = &mut *guard;
        let shards = streams
            .entry(stream.to_owned())
            .or_insert_with(|| vec![Vec::new(); self.shards_per_stream]);
        let mut out = Vec::with_capacity(records.len());
        for r in records {
            *next += 1;
            let i = shard_index(&r.partition_key, shards.len());
            let sequence = SequenceNumber::from_u64(*next);
            shards[i].push(StreamRecord {
                shard: shard_id(i),
                sequence: sequence.clone(),
                partition_key: r.partition_key,
                data: r.data,
            });
            out.push(Published {
                shard: shard_id(i),
                sequence,
            });
        }
        Ok(out)
    }

    async fn shards(&self, _stream: &str) -> StoreResult<Vec<Shard>> {
        Ok((0..self.shards_per_stream)
            .map(|i| Shard {
                id: shard_id(i),
                parents: vec![],
            })
            .collect())
    }

    async fn read(
        &self,
        stream: &str,
        shard: &ShardId,
        from: &StartAt,
        limit: usize,
    ) -> StoreResult<ReadBatch> {
        let index = (0..self.shards_per_stream)
            .find(|i| shard_id(*i) == *shard)
            .ok_or_else(|| StoreError::not_found(format!("no shard {shard} in {stream}")))?;
        let guard = self.log.lock().await;
        let records = guard
            .streams
            .get(stream)
            .map(|s| s[index].as_slice())
            .unwrap_or(&[]);
        let start = match from {
            StartAt::TrimHorizon => 0,
            StartAt::After(seq) => records.partition_point(|r| r.sequence <= *seq),
            StartAt::At(seq) => records.partition_point(|r| r.sequence < *seq),
        };
        let batch: Vec<StreamRecord> = records[start..].iter().take(limit).cloned().collect();
        let unread = records.len().saturating_sub(start + batch.len());
        let behind = crate::stream::Behind {
            millis: None,
            records: Some(
                u64::try_from(unread)
                    .unwrap_or(u64::MAX)
                    .min(crate::stream::RECORDS_BEHIND_COUNTED),
            ),
        };
        let next = match batch.last() {
            Some(last) => StartAt::After(last.sequence.clone()),
            None => from.clone(),
        };
        Ok(ReadBatch {
            records: batch,
            next: Some(next),
            behind,
        })
    }
}
