//! Leases: which core instance owns a shard (as the Kinesis Client Library's lease table).
//! Taking one is a conditional write; a lease nobody renews expires and can be taken over.

use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::error::{ErrorKind, StoreResult};
use crate::kv::{Condition, KvTable, UnixSeconds};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Lease {
    pub resource: String,
    pub owner: String,
    pub expires_at: UnixSeconds,
}

/// The outcome of asking for a lease.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LeaseOutcome {
    Acquired(Lease),
    /// Someone else holds it until then.
    Held(Lease),
}

#[derive(Clone)]
pub struct Leases {
    kv: Arc<dyn KvTable>,
}

impl std::fmt::Debug for Leases {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Leases")
    }
}

impl Leases {
    pub fn new(kv: Arc<dyn KvTable>) -> Self {
        Leases { kv }
    }

    /// Takes (or renews, for its owner) the lease on `resource` for `ttl_seconds`.
    pub async fn acquire(
        &self,
        resource: &str,
        owner: &str,
        now: UnixSeconds,
        ttl_seconds: i64,
    ) -> StoreResult<LeaseOutcome> {
        let pk = format!("lease#{resource}");
        loop {
            let current = self.kv.get(&pk, "owner").await?;
            if let Some(item) = &current {
                let held: Lease = serde_json::from_value(item.body.clone())?;
                if held.owner != owner {
                    return Ok(LeaseOutcome::Held(held));
                }
            }
            let lease = Lease {
                resource: resource.to_owned(),
                owner: owner.to_owned(),
                expires_at: now + ttl_seconds,
            };
            let condition = current
                .as_ref()
                .map_or(Condition::IfAbsent, |c| Condition::IfVersion(c.version));
            match self
                .kv
                .put(
                    &pk,
                    "owner",
                    serde_json::to_value(&lease)?,
                    Some(lease.expires_at),
                    condition,
                )
                .await
            {
                Ok(_) => return Ok(LeaseOutcome::Acquired(lease)),
                Err(e) if e.kind() == ErrorKind::ConditionFailed => continue,
                Err(e) => return Err(e),
            }
        }
    }

    /// Gives a lease up (only its owner can).
    pub async fn release(&self, resource: &str, owner: &str) -> StoreResult<()> {
        let pk = format!("lease#{resource}");
        let Some(item) = self.kv.get(&pk, "owner").await? else {
            return Ok(());
        };
        let held: Lease = serde_json::from_value(item.body.clone())?;
        if held.owner != owner {
            return Ok(());
        }
        match self
            .kv
            .delete(&pk, "owner", Condition::IfVersion(item.version))
            .await
        {
            Err(e) if e.kind() == ErrorKind::ConditionFailed => Ok(()),
            other => other,
        }
    }
}
