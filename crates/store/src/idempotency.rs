//! Idempotency keys: `client_order_id` per account. The first request with a key claims
//! it (conditional create); a retry finds the claim and compares request fingerprints:
//! the same body gets the original answer, a different body is a conflict (409).

use std::sync::Arc;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::error::{ErrorKind, StoreResult};
use crate::kv::{Condition, KvTable, UnixSeconds};

/// What a key remembers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IdempotencyRecord {
    /// A hash of the request body (as the caller canonicalised it).
    pub fingerprint: String,
    /// The answer given the first time.
    pub response: Value,
}

/// The result of claiming a key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Claim {
    /// The key was free: this request is the first; its answer is stored.
    New,
    /// The same request came before: answer with the stored response.
    Replay(Value),
    /// The key was used for a different request.
    Conflict,
}

#[derive(Clone)]
pub struct IdempotencyKeys {
    kv: Arc<dyn KvTable>,
}

impl std::fmt::Debug for IdempotencyKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("IdempotencyKeys")
    }
}

impl IdempotencyKeys {
    pub fn new(kv: Arc<dyn KvTable>) -> Self {
        IdempotencyKeys { kv }
    }

    /// Claims `key` within `scope` (an account) for `record`, kept until `expires_at`.
    pub async fn claim(
        &self,
        scope: &str,
        key: &str,
        record: &IdempotencyRecord,
        expires_at: UnixSeconds,
    ) -> StoreResult<Claim> {
        let pk = format!("idem#{scope}");
        match self
            .kv
            .put(
                &pk,
                key,
                serde_json::to_value(record)?,
                Some(expires_at),
                Condition::IfAbsent,
            )
            .await
        {
            Ok(_) => Ok(Claim::New),
            Err(e) if e.kind() == ErrorKind::ConditionFailed => {
                let Some(existing) = self.kv.get(&pk, key).await? else {
                    // Expired between the two calls: the caller may simply try again.
                    return Ok(Claim::Conflict);
                };
                let stored: IdempotencyRecord = serde_json::from_value(existing.body)?;
                Ok(if stored.fingerprint == record.fingerprint {
                    Claim::Replay(stored.response)
                } else {
                    Claim::Conflict
                })
            }
            Err(e) => Err(e),
        }
    }

    /// Gives `key` back when the request that claimed it was refused and created nothing,
    /// so the client may use it again for a corrected request. Only a claim with this
    /// fingerprint is released (another request's claim is left alone).
    pub async fn release(&self, scope: &str, key: &str, fingerprint: &str) -> StoreResult<()> {
        let pk = format!("idem#{scope}");
        let Some(existing) = self.kv.get(&pk, key).await? else {
            return Ok(());
        };
        let stored: IdempotencyRecord = serde_json::from_value(existing.body)?;
        if stored.fingerprint != fingerprint {
            return Ok(());
        }
        match self
            .kv
            .delete(&pk, key, Condition::IfVersion(existing.version))
            .await
        {
            Err(e) if e.kind() == ErrorKind::ConditionFailed => Ok(()),
            other => other,
        }
    }
}
