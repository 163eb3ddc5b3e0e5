//! Records a consumer could not parse, set aside for inspection (the `dead-letters`
//! table) instead of being retried forever or dropped silently.

use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::error::StoreResult;
use crate::kv::{Condition, KvTable, UnixSeconds};

/// One set-aside record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeadLetter {
    /// Who set it aside (`reports.executions`, `core.commands`, …).
    pub consumer: String,
    /// Where it came from (stream/shard/sequence), unique per record.
    pub origin: String,
    /// The record's bytes, lossily as text (records are JSON when well-formed).
    pub data: String,
    pub reason: String,
    pub at: UnixSeconds,
}

/// Kept two weeks.
const TTL_SECONDS: i64 = 14 * 86_400;

/// See the module docs.
#[derive(Clone)]
pub struct DeadLetters {
    kv: Arc<dyn KvTable>,
}

impl std::fmt::Debug for DeadLetters {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("DeadLetters")
    }
}

impl DeadLetters {
    pub fn new(kv: Arc<dyn KvTable>) -> Self {
        DeadLetters { kv }
    }

    /// Sets a record aside (again: the same origin overwrites, so redelivery keeps one).
    pub async fn put(&self, letter: &DeadLetter) -> StoreResult<()> {
        self.kv
            .put(
                &format!("dead#{}", letter.consumer),
                &letter.origin,
                serde_json::to_value(letter)?,
                Some(letter.at + TTL_SECONDS),
                Condition::Always,
            )
            .await
            .map(|_| ())
    }

    /// A consumer's set-aside records, by origin.
    pub async fn list(&self, consumer: &str, limit: usize) -> StoreResult<Vec<DeadLetter>> {
        self.kv
            .query(&format!("dead#{consumer}"), "", limit)
            .await?
            .into_iter()
            .map(|item| Ok(serde_json::from_value(item.body)?))
            .collect()
    }

    /// How many records each of `consumers` has set aside, counting at most `cap` per
    /// consumer (a dashboard's figure, not an inventory).
    pub async fn count(&self, consumers: &[&str], cap: usize) -> StoreResult<u64> {
        let mut total = 0u64;
        for consumer in consumers {
            let items = self.kv.query(&format!("dead#{consumer}"), "", cap).await?;
            total = total.saturating_add(u64::try_from(items.len()).unwrap_or(u64::MAX));
        }
        Ok(total)
    }
}
