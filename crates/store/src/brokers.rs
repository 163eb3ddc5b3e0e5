//! Broker connections of an account (the `accounts` table): which external broker, a
//! label, and the credentials **sealed** by the caller (the account function encrypts
//! them before they reach the store and never returns them). The store never sees a
//! plaintext credential.

use std::sync::Arc;

use domain::AccountId;
use serde::{Deserialize, Serialize};

use crate::error::{StoreError, StoreResult};
use crate::kv::{Condition, KvTable, UnixSeconds};

/// A connection as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BrokerConnection {
    pub id: String,
    pub account_id: AccountId,
    pub broker: String,
    pub label: String,
    /// Names of the credential fields (shown; the values are not).
    pub fields: Vec<String>,
    /// The credentials, encrypted and encoded by the caller.
    pub sealed_credentials: String,
    pub created_at: UnixSeconds,
}

/// See the module docs.
#[derive(Clone)]
pub struct BrokerConnections {
    kv: Arc<dyn KvTable>,
}

impl std::fmt::Debug for BrokerConnections {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("BrokerConnections")
    }
}

fn pk(account: AccountId) -> String {
    format!("account#{account}")
}

impl BrokerConnections {
    pub fn new(kv: Arc<dyn KvTable>) -> Self {
        BrokerConnections { kv }
    }

    /// Adds a connection; `ConditionFailed` if its id exists.
    pub async fn add(&self, connection: &BrokerConnection) -> StoreResult<()> {
        self.kv
            .put(
                &pk(connection.account_id),
                &format!("broker#{}", connection.id),
                serde_json::to_value(connection)?,
                None,
                Condition::IfAbsent,
            )
            .await
            .map(|_| ())
    }

    /// An account's connections, by id.
    pub async fn list(&self, account: AccountId) -> StoreResult<Vec<BrokerConnection>> {
        self.kv
            .query(&pk(account), "broker#", 100)
            .await?
            .into_iter()
            .map(|item| Ok(serde_json::from_value(item.body)?))
            .collect()
    }

    /// Removes a connection; `NotFound` if the account has none with this id.
    pub async fn remove(&self, account: AccountId, id: &str) -> StoreResult<()> {
        match self
            .kv
            .delete(&pk(account), &format!("broker#{id}"), Condition::IfExists)
            .await
        {
            Err(e) if e.kind() == crate::ErrorKind::ConditionFailed => {
                Err(StoreError::not_found(format!("no broker connection {id}")))
            }
            other => other,
        }
    }
}
