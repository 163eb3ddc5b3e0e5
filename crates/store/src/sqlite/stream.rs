//! [`StreamLog`] as a table in the SQLite file: a durable log with the semantics of
//! Kinesis (shards by partition-key hash, per-shard order, sequence numbers, reads from a
//! checkpoint).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use rusqlite::params;

use super::Db;
use crate::error::{StoreError, StoreResult};
use crate::stream::{
    OutgoingRecord, Published, ReadBatch, SequenceNumber, Shard, ShardId, StartAt, StreamLog,
    StreamRecord, shard_index, validate_publish,
};

#[derive(Debug, Clone)]
pub struct SqliteStream {
    db: Db,
    shards: usize,
    counted: Arc<Mutex<UnreadCounts>>,
}

/// The last count of unread records per (stream, shard), and when it was made.
type UnreadCounts = HashMap<(String, usize), (Instant, i64)>;

/// How long a count of unread records stands: counting reads up to
/// `RECORDS_BEHIND_COUNTED` index entries, which a reader catching up (a full read after
/// a full read) must not pay on every read.
const COUNT_FOR: Duration = Duration::from_secs(1);

impl SqliteStream {
    pub(crate) fn new(db: Db, shards: usize) -> Self {
        SqliteStream {
            db,
            shards: shards.max(1),
            counted: Arc::default(),
        }
    }

    /// The count made within [`COUNT_FOR`] of `(stream, shard)`, if any.
    fn recent_count(&self, stream: &str, shard: usize) -> Option<i64> {
        let counted = self.counted.lock().ok()?;
        let (at, count) = counted.get(&(stream.to_owned(), shard))?;
        (at.elapsed() < COUNT_FOR).then_some(*count)
    }

    fn remember_count(&self, stream: &str, shard: usize, count: i64) {
        if let Ok(mut counted) = self.counted.lock() {
            counted.insert((stream.to_owned(), shard), (Instant::now(), count));
        }
    }

    fn shard_id(i: usize) -> ShardId {
        ShardId(format!("shardId-{i:012}"))
    }

    fn shard_index_of(&self, id: &ShardId) -> Option<usize> {
        (0..self.shards).find(|i| Self::shard_id(*i) == *id)
    }
}

fn sequence_value(seq: &SequenceNumber) -> StoreResult<i64> {
    seq.0
        .parse()
        .map_err(|_| StoreError::invalid(format!("{seq} is not a sequence number of this log")))
}

/// Appends `records` inside the caller's transaction; their sequence numbers in order.
pub(super) fn append(
    tx: &rusqlite::Connection,
    shards: usize,
    stream: &str,
    records: &[OutgoingRecord],
) -> StoreResult<Vec<Published>> {
    let mut insert = tx.prepare_cached(
        "INSERT INTO stream_records (stream, shard, partition_key, data) VALUES (?, ?, ?, ?) RETURNING seq",
    )?;
    let mut out = Vec::with_capacity(records.len());
    for r in records {
        let shard = shard_index(&r.partition_key, shards);
        let seq: i64 = insert.query_row(
            params![stream, shard as i64, r.partition_key, r.data],
            |row| row.get(0),
        )?;
        out.push(Published {
            shard: SqliteStream::shard_id(shard),
            sequence: SequenceNumber(seq.to_string()),
        });
    }
    Ok(out)
}

#[async_trait]
impl StreamLog for SqliteStream {
    async fn publish(
        &self,
        stream: &str,
        records: Vec<OutgoingRecord>,
    ) -> StoreResult<Vec<Published>> {
        validate_publish(&records)?;
        // One transaction: all records or none, in input order.
        let (shards, stream) = (self.shards, stream.to_owned());
        self.db
            .write(move |tx| append(tx, shards, &stream, &records))
            .await
    }

    async fn shards(&self, _stream: &str) -> StoreResult<Vec<Shard>> {
        Ok((0..self.shards)
            .map(|i| Shard {
                id: Self::shard_id(i),
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
        let index = self
            .shard_index_of(shard)
            .ok_or_else(|| StoreError::not_found(format!("no shard {shard} in {stream}")))?;
        let after = match from {
            StartAt::TrimHorizon => 0,
            StartAt::After(seq) => sequence_value(seq)?,
            StartAt::At(seq) => sequence_value(seq)? - 1,
        };
        let full = limit;
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let records = self.db.read(|conn| {
            let mut statement = conn.prepare_cached(
                "SELECT seq, partition_key, data FROM stream_records
                 WHERE stream = ? AND shard = ? AND seq > ? ORDER BY seq LIMIT ?",
            )?;
            let rows = statement.query_map(params![stream, index as i64, after, limit], |row| {
                Ok(StreamRecord {
                    shard: shard.clone(),
                    sequence: SequenceNumber(row.get::<_, i64>(0)?.to_string()),
                    partition_key: row.get(1)?,
                    data: row.get(2)?,
                })
            })?;
            Ok(rows.collect::<Result<Vec<_>, _>>()?)
        })?;
        let next = match records.last() {
            Some(last) => StartAt::After(last.sequence.clone()),
            None => from.clone(),
        };
        // A short read reached the end; only a full one needs the rest counted, and
        // then at most once a second per shard (a recent count stands in between).
        let unread = if records.len() < full {
            0
        } else if let Some(recent) = self.recent_count(stream, index) {
            recent
        } else {
            let last = match records.last() {
                Some(r) => sequence_value(&r.sequence)?,
                None => after,
            };
            let count = self.db.read(|conn| {
                Ok(conn
                    .prepare_cached(
                        "SELECT COUNT(*) FROM (SELECT 1 FROM stream_records
                         WHERE stream = ? AND shard = ? AND seq > ? LIMIT ?)",
                    )?
                    .query_row(
                        params![
                            stream,
                            index as i64,
                            last,
                            crate::stream::RECORDS_BEHIND_COUNTED as i64
                        ],
                        |row| row.get::<_, i64>(0),
                    )?)
            })?;
            self.remember_count(stream, index, count);
            count
        };
        Ok(ReadBatch {
            records,
            next: Some(next),
            behind: crate::stream::Behind {
                millis: None,
                records: Some(u64::try_from(unread).unwrap_or(0)),
            },
        })
    }
}
