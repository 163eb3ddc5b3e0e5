//! The stream port: what Kinesis is in the cloud and a log table in SQLite is on a laptop.
//!
//! Semantics (Kinesis's): a stream is split into shards; a record's partition key picks
//! its shard (by a hash), so one partition's records stay in order; each record gets a
//! sequence number that grows within its shard; readers read a shard from a position (the
//! start, or just after a sequence number they checkpointed) and may see a record more
//! than once after a retry or a restart — consumers apply records idempotently, by event
//! id. After a reshard, a shard has parents; a reader finishes the parents before reading
//! the children, which [`ShardOrder`] works out.

use std::cmp::Ordering;
use std::fmt;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use crate::error::StoreResult;

/// A shard's id (`shardId-000000000000` in Kinesis).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct ShardId(pub String);

impl fmt::Display for ShardId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A record's position in its shard: a decimal number (Kinesis's are up to 56 digits, so
/// it is kept as text and compared numerically).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct SequenceNumber(pub String);

impl SequenceNumber {
    pub fn from_u64(n: u64) -> Self {
        SequenceNumber(n.to_string())
    }
}

impl Ord for SequenceNumber {
    /// Numeric order of decimal strings without leading zeros: shorter is smaller.
    fn cmp(&self, other: &Self) -> Ordering {
        let (a, b) = (
            self.0.trim_start_matches('0'),
            other.0.trim_start_matches('0'),
        );
        a.len().cmp(&b.len()).then_with(|| a.cmp(b))
    }
}

impl PartialOrd for SequenceNumber {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl fmt::Display for SequenceNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A shard and where it came from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Shard {
    pub id: ShardId,
    /// The shard(s) this one was split or merged from; read them to the end first.
    pub parents: Vec<ShardId>,
}

/// A record as read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamRecord {
    pub shard: ShardId,
    pub sequence: SequenceNumber,
    pub partition_key: String,
    pub data: Vec<u8>,
}

/// Where to start reading a shard.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum StartAt {
    /// The oldest record still kept.
    TrimHorizon,
    /// Just after a record already processed (a checkpoint).
    After(SequenceNumber),
    /// At a record.
    At(SequenceNumber),
}

/// One read of a shard.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReadBatch {
    pub records: Vec<StreamRecord>,
    /// Where to read next; `None` once the shard is closed (resharded) and read to its
    /// end.
    pub next: Option<StartAt>,
    /// How far this read left the reader behind the shard's newest record, as far as the
    /// backend can tell.
    pub behind: Behind,
}

/// A reader's lag behind a shard's newest record: each backend answers what it knows
/// honestly and leaves the rest `None`. Kinesis says how far in time
/// (`MillisBehindLatest`); the embedded and in-memory logs count the records.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Behind {
    pub millis: Option<u64>,
    /// Saturates at [`RECORDS_BEHIND_COUNTED`].
    pub records: Option<u64>,
}

/// Where the count of records behind stops (counting further would cost a scan of
/// everything unread on every read).
pub const RECORDS_BEHIND_COUNTED: u64 = 100_000;

/// A record to publish.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutgoingRecord {
    pub partition_key: String,
    pub data: Vec<u8>,
}

impl OutgoingRecord {
    pub fn new(partition_key: impl Into<String>, data: impl Into<Vec<u8>>) -> Self {
        OutgoingRecord {
            partition_key: partition_key.into(),
            data: data.into(),
        }
    }
}

/// Where a published record went.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Published {
    pub shard: ShardId,
    pub sequence: SequenceNumber,
}

/// The largest record accepted (Kinesis: 1 MiB including the partition key).
pub const MAX_RECORD_BYTES: usize = 1 << 20;
/// The most records one publish call takes (Kinesis PutRecords: 500).
pub const MAX_PUBLISH_RECORDS: usize = 500;

/// A set of streams of records. See the module docs.
#[async_trait]
pub trait StreamLog: Send + Sync {
    /// Appends `records` to `stream` and says where each went, in input order. Either all
    /// were appended or an error is returned (adapters retry partial failures inside);
    /// records of one partition key keep their relative order.
    async fn publish(
        &self,
        stream: &str,
        records: Vec<OutgoingRecord>,
    ) -> StoreResult<Vec<Published>>;

    /// The stream's shards, parents included.
    async fn shards(&self, stream: &str) -> StoreResult<Vec<Shard>>;

    /// Up to `limit` records of `shard` from `from`, oldest first.
    async fn read(
        &self,
        stream: &str,
        shard: &ShardId,
        from: &StartAt,
        limit: usize,
    ) -> StoreResult<ReadBatch>;
}

/// Checks the records of one publish call against the limits every backend shares.
pub fn validate_publish(records: &[OutgoingRecord]) -> StoreResult<()> {
    if records.len() > MAX_PUBLISH_RECORDS {
        return Err(crate::StoreError::invalid(format!(
            "at most {MAX_PUBLISH_RECORDS} records per publish, got {}",
            records.len()
        )));
    }
    for r in records {
        if r.partition_key.is_empty() || r.partition_key.len() > 256 {
            return Err(crate::StoreError::invalid(
                "a partition key is 1 to 256 characters",
            ));
        }
        if r.data.len() + r.partition_key.len() > MAX_RECORD_BYTES {
            return Err(crate::StoreError::invalid(format!(
                "a record is at most {MAX_RECORD_BYTES} bytes"
            )));
        }
    }
    Ok(())
}

/// Which shard a partition key goes to among `count` shards: a stable 64-bit FNV-1a hash,
/// so a key always lands on the same shard of the embedded log.
pub fn shard_index(partition_key: &str, count: usize) -> usize {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for b in partition_key.bytes() {
        hash ^= u64::from(b);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    (hash % count.max(1) as u64) as usize
}

/// The order shards must be read in: a shard only after all its parents are finished.
#[derive(Debug, Clone, Default)]
pub struct ShardOrder {
    finished: std::collections::BTreeSet<ShardId>,
}

impl ShardOrder {
    pub fn new() -> Self {
        Self::default()
    }

    /// Records that `shard` was read to its end (its `ReadBatch::next` was `None`).
    pub fn finish(&mut self, shard: &ShardId) {
        self.finished.insert(shard.clone());
    }

    pub fn is_finished(&self, shard: &ShardId) -> bool {
        self.finished.contains(shard)
    }

    /// The shards that may be read now: not finished, and every parent that still exists
    /// in `shards` finished. (A parent past the retention period is gone; its children
    /// are then readable.)
    pub fn readable<'a>(&self, shards: &'a [Shard]) -> Vec<&'a Shard> {
        let known: std::collections::BTreeSet<&ShardId> = shards.iter().map(|s| &s.id).collect();
        shards
            .iter()
            .filter(|s| !self.finished.contains(&s.id))
            .filter(|s| {
                s.parents
                    .iter()
                    .all(|p| !known.contains(p) || self.finished.contains(p))
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sequence_numbers_compare_numerically() {
        let s = |x: &str| SequenceNumber(x.to_owned());
        assert!(s("9") < s("10"));
        assert!(
            s("49590338271490256608559692538361571095921575989136588898")
                > s("4959033827149025660855969253836157109592157598913658889")
        );
        assert_eq!(s("007").cmp(&s("7")), Ordering::Equal);
    }

    #[test]
    fn children_wait_for_their_parents() {
        let shard = |id: &str, parents: &[&str]| Shard {
            id: ShardId(id.into()),
            parents: parents.iter().map(|p| ShardId((*p).into())).collect(),
        };
        let shards = vec![
            shard("a", &[]),
            shard("b", &["a"]),
            shard("c", &["a"]),
            shard("d", &["b", "c"]),
            shard("e", &["gone"]),
        ];
        let mut order = ShardOrder::new();
        let ids = |o: &ShardOrder| {
            o.readable(&shards)
                .iter()
                .map(|s| s.id.0.clone())
                .collect::<Vec<_>>()
        };
        assert_eq!(ids(&order), ["a", "e"]);
        order.finish(&ShardId("a".into()));
        assert_eq!(ids(&order), ["b", "c", "e"]);
        order.finish(&ShardId("b".into()));
        assert_eq!(ids(&order), ["c", "e"], "d waits for both parents");
        order.finish(&ShardId("c".into()));
        assert_eq!(ids(&order), ["d", "e"]);
    }

    #[test]
    fn shard_choice_is_stable() {
        assert_eq!(shard_index("AAPL", 4), shard_index("AAPL", 4));
        assert!(shard_index("AAPL", 4) < 4);
        assert_eq!(shard_index("x", 1), 0);
    }
}
