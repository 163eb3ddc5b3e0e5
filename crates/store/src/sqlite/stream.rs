//! [`StreamLog`] as a table in the SQLite file: a durable log with the semantics of
//! Kinesis (shards by partition-key hash, per-shard order, sequence numbers, reads from a
//! checkpoint).

use async_trait::async_trait;
use sqlx::{Row, SqlitePool};

use crate::error::{StoreError, StoreResult};
use crate::stream::{
    OutgoingRecord, Published, ReadBatch, SequenceNumber, Shard, ShardId, StartAt, StreamLog,
    StreamRecord, shard_index, validate_publish,
};

#[derive(Debug, Clone)]
pub struct SqliteStream {
    pool: SqlitePool,
    gate: super::WriteGate,
    shards: usize,
}

impl SqliteStream {
    /// Shares the file's write gate (see [`super::WriteGate`]).
    pub fn with_gate(mut self, gate: super::WriteGate) -> Self {
        self.gate = gate;
        self
    }

    pub fn new(pool: SqlitePool, shards: usize) -> Self {
        SqliteStream {
            pool,
            gate: super::WriteGate::default(),
            shards: shards.max(1),
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

#[async_trait]
impl StreamLog for SqliteStream {
    async fn publish(
        &self,
        stream: &str,
        records: Vec<OutgoingRecord>,
    ) -> StoreResult<Vec<Published>> {
        validate_publish(&records)?;
        // One transaction: all records or none, in input order.
        let _writing = self.gate.enter().await;
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;
        let mut out = Vec::with_capacity(records.len());
        for r in &records {
            let shard = shard_index(&r.partition_key, self.shards);
            let row = sqlx::query(
                "INSERT INTO stream_records (stream, shard, partition_key, data) VALUES (?, ?, ?, ?) RETURNING seq",
            )
            .bind(stream)
            .bind(shard as i64)
            .bind(&r.partition_key)
            .bind(&r.data)
            .fetch_one(&mut *tx)
            .await?;
            let seq: i64 = row.try_get("seq")?;
            out.push(Published {
                shard: Self::shard_id(shard),
                sequence: SequenceNumber(seq.to_string()),
            });
        }
        tx.commit().await?;
        Ok(out)
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
        let rows = sqlx::query(
            "SELECT seq, partition_key, data FROM stream_records
             WHERE stream = ? AND shard = ? AND seq > ? ORDER BY seq LIMIT ?",
        )
        .bind(stream)
        .bind(index as i64)
        .bind(after)
        .bind(i64::try_from(limit).unwrap_or(i64::MAX))
        .fetch_all(&self.pool)
        .await?;
        let mut records = Vec::with_capacity(rows.len());
        for row in &rows {
            let seq: i64 = row.try_get("seq")?;
            records.push(StreamRecord {
                shard: shard.clone(),
                sequence: SequenceNumber(seq.to_string()),
                partition_key: row.try_get("partition_key")?,
                data: row.try_get("data")?,
            });
        }
        let next = match records.last() {
            Some(last) => StartAt::After(last.sequence.clone()),
            None => from.clone(),
        };
        Ok(ReadBatch {
            records,
            next: Some(next),
        })
    }
}
