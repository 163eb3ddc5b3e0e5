//! Reading a stream from the core's checkpoints: every shard, parents before children
//! (after a reshard), from just after the last committed record. Positions advance as
//! records are read but only become checkpoints when the batch commits; a failed batch
//! rolls them back and is read again.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use store::StoreResult;
use store::records::{Checkpoint, CoreCommit};
use store::stream::{Behind, SequenceNumber, Shard, ShardId, ShardOrder, StartAt, StreamLog};

/// One record read.
#[derive(Debug, Clone)]
pub struct Input {
    pub stream: String,
    pub shard: ShardId,
    pub sequence: SequenceNumber,
    pub data: Vec<u8>,
}

impl Input {
    /// Where the record came from (`stream/shard/sequence`): a dead letter's origin.
    pub fn origin(&self) -> String {
        format!("{}/{}/{}", self.stream, self.shard.0, self.sequence.0)
    }
}

/// See the module docs.
#[derive(Debug)]
pub struct StreamCursor {
    consumer: String,
    stream: String,
    shards: Vec<Shard>,
    listed: Option<Instant>,
    order: ShardOrder,
    committed: BTreeMap<ShardId, SequenceNumber>,
    pending: BTreeMap<ShardId, SequenceNumber>,
    /// How far the last read of each shard left it behind.
    behind: BTreeMap<ShardId, Behind>,
}

/// How often the shard list is refreshed (a reshard shows up within this).
const LIST_EVERY: Duration = Duration::from_secs(10);

impl StreamCursor {
    pub fn new(consumer: &str, stream: &str) -> Self {
        StreamCursor {
            consumer: consumer.into(),
            stream: stream.into(),
            shards: Vec::new(),
            listed: None,
            order: ShardOrder::new(),
            committed: BTreeMap::new(),
            pending: BTreeMap::new(),
            behind: BTreeMap::new(),
        }
    }

    /// How far behind the stream's newest records the last reads left this reader:
    /// records summed over shards and the largest time, each `None` unless every shard
    /// read could say (or nothing has been read yet).
    pub fn behind(&self) -> Behind {
        if self.behind.is_empty() {
            return Behind::default();
        }
        let records = self
            .behind
            .values()
            .map(|b| b.records)
            .try_fold(0u64, |sum, r| r.map(|r| sum.saturating_add(r)));
        let millis = self
            .behind
            .values()
            .map(|b| b.millis)
            .try_fold(0u64, |max, m| m.map(|m| max.max(m)));
        Behind { millis, records }
    }

    pub fn stream(&self) -> &str {
        &self.stream
    }

    async fn list(&mut self, commits: &dyn CoreCommit, streams: &dyn StreamLog) -> StoreResult<()> {
        if self.listed.is_some_and(|t| t.elapsed() < LIST_EVERY) {
            return Ok(());
        }
        self.shards = streams.shards(&self.stream).await?;
        let listed = &self.shards;
        self.behind
            .retain(|id, _| listed.iter().any(|shard| shard.id == *id));
        for shard in &self.shards {
            if !self.committed.contains_key(&shard.id) {
                if let Some(seq) = commits
                    .checkpoint(&self.consumer, &self.stream, &shard.id.0)
                    .await?
                {
                    self.committed.insert(shard.id.clone(), seq.clone());
                    self.pending.insert(shard.id.clone(), seq);
                }
            }
        }
        self.listed = Some(Instant::now());
        Ok(())
    }

    /// Up to `limit` records per readable shard, oldest first within each shard.
    pub async fn read(
        &mut self,
        commits: &dyn CoreCommit,
        streams: &dyn StreamLog,
        limit: usize,
    ) -> StoreResult<Vec<Input>> {
        self.list(commits, streams).await?;
        let mut out = Vec::new();
        let readable: Vec<ShardId> = self
            .order
            .readable(&self.shards)
            .into_iter()
            .map(|s| s.id.clone())
            .collect();
        for shard in readable {
            let from = match self.pending.get(&shard) {
                Some(seq) => StartAt::After(seq.clone()),
                None => StartAt::TrimHorizon,
            };
            let batch = streams.read(&self.stream, &shard, &from, limit).await?;
            self.behind.insert(shard.clone(), batch.behind);
            if let Some(last) = batch.records.last() {
                self.pending.insert(shard.clone(), last.sequence.clone());
            }
            if batch.next.is_none() {
                self.order.finish(&shard);
            }
            out.extend(batch.records.into_iter().map(|r| Input {
                stream: self.stream.clone(),
                shard: r.shard,
                sequence: r.sequence,
                data: r.data,
            }));
        }
        Ok(out)
    }

    /// The positions read so far, as checkpoints to commit with the batch.
    pub fn checkpoints(&self) -> Vec<Checkpoint> {
        self.pending
            .iter()
            .filter(|(shard, seq)| self.committed.get(*shard) != Some(*seq))
            .map(|(shard, seq)| Checkpoint {
                consumer: self.consumer.clone(),
                stream: self.stream.clone(),
                shard: shard.0.clone(),
                sequence: seq.clone(),
            })
            .collect()
    }

    /// The batch committed: its positions are the new checkpoints.
    pub fn committed(&mut self) {
        self.committed = self.pending.clone();
    }

    /// Part of what was read was processed: these are the new checkpoints, and reading
    /// continues after them (records read past them are read again).
    pub fn advance_to(&mut self, checkpoints: &[Checkpoint]) {
        for c in checkpoints {
            self.committed
                .insert(ShardId(c.shard.clone()), c.sequence.clone());
        }
        self.pending = self.committed.clone();
    }

    /// The batch failed: read again from the checkpoints.
    pub fn rollback(&mut self) {
        self.pending = self.committed.clone();
        self.order = ShardOrder::new();
        self.listed = None;
    }
}
