//! The key-value table port: what the DynamoDB-role data (users and credentials, refresh
//! tokens, login attempts and lockouts, leases, rate-limit buckets, read models) is
//! stored in.
//!
//! One small set of primitives that DynamoDB, SQLite and memory all implement exactly —
//! conditional put and delete, prefix query, all-or-nothing transactions of up to 25
//! writes, a version for optimistic concurrency and an expiry (the TTL attribute) — and
//! the typed stores above it (`crate::users`, …) written once against it. Adding a backend
//! means implementing five methods and passing `kv_conformance!`.

use async_trait::async_trait;
use serde_json::Value;

use crate::error::StoreResult;

/// An item: partition key, sort key, a JSON body, a version that grows by one on every
/// write, and an optional expiry in Unix seconds.
///
/// Expired items are invisible to reads even before the backend deletes them (DynamoDB's
/// TTL deletes lazily, within days).
#[derive(Debug, Clone, PartialEq)]
pub struct KvItem {
    pub pk: String,
    pub sk: String,
    pub body: Value,
    pub version: u64,
    pub expires_at: Option<i64>,
}

/// A precondition of a write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Condition {
    /// Write whatever is there.
    Always,
    /// Only if there is no (unexpired) item with this key.
    IfAbsent,
    /// Only if the item exists (and is unexpired).
    IfExists,
    /// Only if the item exists with exactly this version.
    IfVersion(u64),
}

/// One write of a transaction.
#[derive(Debug, Clone, PartialEq)]
pub enum KvWrite {
    Put {
        pk: String,
        sk: String,
        body: Value,
        expires_at: Option<i64>,
        condition: Condition,
    },
    Delete {
        pk: String,
        sk: String,
        condition: Condition,
    },
    /// Writes nothing; fails the transaction unless the condition holds.
    Check {
        pk: String,
        sk: String,
        condition: Condition,
    },
}

impl KvWrite {
    pub fn key(&self) -> (&str, &str) {
        match self {
            KvWrite::Put { pk, sk, .. }
            | KvWrite::Delete { pk, sk, .. }
            | KvWrite::Check { pk, sk, .. } => (pk, sk),
        }
    }

    pub fn condition(&self) -> Condition {
        match self {
            KvWrite::Put { condition, .. }
            | KvWrite::Delete { condition, .. }
            | KvWrite::Check { condition, .. } => *condition,
        }
    }
}

/// The most writes one transaction may hold (DynamoDB's limit for TransactWriteItems with
/// conditions is 100; 25 keeps every backend's transaction small and fast).
pub const MAX_TRANSACTION_WRITES: usize = 25;

/// Whether `condition` holds for the item currently stored (`None`: absent or expired).
pub fn condition_holds(condition: Condition, current: Option<&KvItem>) -> bool {
    version_holds(condition, current.map(|c| c.version))
}

/// [`condition_holds`] given only the current item's version (`None`: absent or expired).
pub fn version_holds(condition: Condition, current: Option<u64>) -> bool {
    match condition {
        Condition::Always => true,
        Condition::IfAbsent => current.is_none(),
        Condition::IfExists => current.is_some(),
        Condition::IfVersion(v) => current == Some(v),
    }
}

/// A table of [`KvItem`]s. See the module docs.
#[async_trait]
pub trait KvTable: Send + Sync {
    /// The item at `(pk, sk)`, unless absent or expired.
    async fn get(&self, pk: &str, sk: &str) -> StoreResult<Option<KvItem>>;

    /// Stores `body` at `(pk, sk)` if `condition` holds; the stored item has the previous
    /// version plus one (1 for a new item). A failed condition is
    /// `ErrorKind::ConditionFailed` and changes nothing.
    async fn put(
        &self,
        pk: &str,
        sk: &str,
        body: Value,
        expires_at: Option<i64>,
        condition: Condition,
    ) -> StoreResult<KvItem>;

    /// Removes `(pk, sk)` if `condition` holds (removing nothing is not an error under
    /// `Condition::Always`).
    async fn delete(&self, pk: &str, sk: &str, condition: Condition) -> StoreResult<()>;

    /// Unexpired items of partition `pk` whose sort key starts with `prefix`, in sort-key
    /// order, at most `limit`.
    async fn query(&self, pk: &str, prefix: &str, limit: usize) -> StoreResult<Vec<KvItem>>;

    /// Applies all `writes` or none: if any condition fails the result is
    /// `ErrorKind::ConditionFailed` and nothing changed. At most
    /// [`MAX_TRANSACTION_WRITES`], each key at most once.
    async fn transact(&self, writes: Vec<KvWrite>) -> StoreResult<()>;
}

/// Checks a transaction's shape: size and distinct keys (DynamoDB refuses both).
pub fn validate_transaction(writes: &[KvWrite]) -> StoreResult<()> {
    if writes.is_empty() || writes.len() > MAX_TRANSACTION_WRITES {
        return Err(crate::StoreError::invalid(format!(
            "a transaction holds 1 to {MAX_TRANSACTION_WRITES} writes, got {}",
            writes.len()
        )));
    }
    let mut keys: Vec<(&str, &str)> = writes.iter().map(KvWrite::key).collect();
    keys.sort_unstable();
    if keys.windows(2).any(|w| w[0] == w[1]) {
        return Err(crate::StoreError::invalid(
            "a transaction writes one key at most once",
        ));
    }
    Ok(())
}

/// Seconds since the Unix epoch, the unit of the TTL attribute.
pub type UnixSeconds = i64;

/// The clock the adapters check expiry against (the one clock of the workspace).
pub use domain::clock::Clock;

/// Writes `value` at `(pk, sk)` unless what is stored is newer (`is_newer(stored)`),
/// compare-and-swap on the version so that racing writers settle on the newest: how the
/// forward-only read models (last prices, the core's status) are written. True if it
/// was written.
pub async fn put_unless_newer<T>(
    kv: &dyn KvTable,
    pk: &str,
    sk: &str,
    value: &T,
    is_newer: impl Fn(&T) -> bool,
) -> StoreResult<bool>
where
    T: serde::Serialize + serde::de::DeserializeOwned,
{
    loop {
        let current = kv.get(pk, sk).await?;
        let condition = match &current {
            Some(item) => {
                let stored: T = serde_json::from_value(item.body.clone())?;
                if is_newer(&stored) {
                    return Ok(false);
                }
                Condition::IfVersion(item.version)
            }
            None => Condition::IfAbsent,
        };
        match kv
            .put(pk, sk, serde_json::to_value(value)?, None, condition)
            .await
        {
            Ok(_) => return Ok(true),
            Err(e) if e.kind() == crate::error::ErrorKind::ConditionFailed => continue,
            Err(e) => return Err(e),
        }
    }
}
