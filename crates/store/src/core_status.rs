//! The streaming core's status as a read model (the `read-models` table): what `/health`
//! shows, published by the core about once a second so that any function — a Lambda
//! that cannot reach the core's container — can read it. Forward-only: an update older
//! than the stored one (a slow writer, a restarted core's first write racing its last)
//! never replaces it.

use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::error::StoreResult;
use crate::kv::KvTable;

/// Commit latency over the core's recent batches, in milliseconds (`None` before any).
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
pub struct CommitLatency {
    pub p50: Option<f64>,
    pub p99: Option<f64>,
    pub max: Option<f64>,
}

/// How far the core's reader of one stream is behind its newest record (summed over
/// shards; the larger time of any shard). `None` where the stream's backend cannot say
/// (Kinesis gives time, the embedded and in-memory logs count records).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StreamLag {
    pub stream: String,
    pub lag_ms: Option<u64>,
    pub records_behind: Option<u64>,
}

/// See the module docs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CoreStatus {
    /// `ok`, `degraded` (commits are failing) or `stopped`.
    pub status: String,
    pub batches: u64,
    pub inputs: u64,
    pub fills: u64,
    pub commit_failures: u64,
    pub malformed_records: u64,
    pub working_orders: u64,
    pub feed_published: u64,
    /// Unix milliseconds of the last commit (0 before the first).
    pub last_commit_unix_ms: u64,
    /// Unix milliseconds when this status was taken: what keeps the model forward-only.
    pub updated_unix_ms: u64,
    pub commit_latency_ms: CommitLatency,
    /// Ticks the core applied per second over the last minute (`None` until it has run
    /// a second).
    pub feed_ticks_per_second: Option<f64>,
    pub streams: Vec<StreamLag>,
    /// Records set aside by the core's and the reports' consumers (`None` until counted).
    pub dead_letters: Option<u64>,
}

/// See the module docs.
#[derive(Clone)]
pub struct CoreStatusStore {
    kv: Arc<dyn KvTable>,
}

impl std::fmt::Debug for CoreStatusStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("CoreStatusStore")
    }
}

const PK: &str = "core-status";
const SK: &str = "core";

impl CoreStatusStore {
    pub fn new(kv: Arc<dyn KvTable>) -> Self {
        CoreStatusStore { kv }
    }

    /// The latest status published, if a core has published one.
    pub async fn latest(&self) -> StoreResult<Option<CoreStatus>> {
        match self.kv.get(PK, SK).await? {
            Some(item) => Ok(Some(serde_json::from_value(item.body)?)),
            None => Ok(None),
        }
    }

    /// Publishes `status` unless a newer one is stored; true if it was written.
    pub async fn publish(&self, status: &CoreStatus) -> StoreResult<bool> {
        crate::kv::put_unless_newer(&*self.kv, PK, SK, status, |stored: &CoreStatus| {
            stored.updated_unix_ms > status.updated_unix_ms
        })
        .await
    }
}
