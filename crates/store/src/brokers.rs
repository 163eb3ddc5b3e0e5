//! Broker connections of an account (the `accounts` table): which external broker, a
//! label, and the credentials **sealed** by the caller (the account function encrypts
//! them before they reach the store and never returns them). The store never sees a
//! plaintext credential.
//!
//! A connection also carries what Stratus learned about it: whether the broker took the
//! credentials ([`ConnectionStatus`], with the broker's reason when it refused them) and,
//! for the connection a broker account routes through, a reconciliation [`ConnectionHalt`]
//! (a difference with the broker that could not be explained: new orders stop until the
//! owner clears it).

use std::sync::Arc;

use domain::AccountId;
use serde::{Deserialize, Serialize};

use crate::error::{StoreError, StoreResult};
use crate::kv::{Condition, KvTable, UnixSeconds};

/// What the broker said of the credentials.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ConnectionStatus {
    /// Not checked yet (or the broker could not be reached when it was).
    #[default]
    Unverified,
    /// The broker accepted them.
    Active,
    /// The broker refused them (`status_reason` says why, in its words).
    Invalid,
}

impl ConnectionStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            ConnectionStatus::Unverified => "unverified",
            ConnectionStatus::Active => "active",
            ConnectionStatus::Invalid => "invalid",
        }
    }
}

/// New orders of the connection's account are halted: reconciliation found a difference
/// with the broker it could not explain.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConnectionHalt {
    pub reason: String,
    pub at: UnixSeconds,
}

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
    /// The broker's environment: `paper` or `live` (Alpaca), `testnet` or `live`
    /// (Binance). Connections made before environments existed are the safe one.
    #[serde(default = "default_environment")]
    pub environment: String,
    #[serde(default)]
    pub status: ConnectionStatus,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status_reason: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub checked_at: Option<UnixSeconds>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub halt: Option<ConnectionHalt>,
    /// What the broker held when the account opened on it (by Stratus symbol): the
    /// account's starting point, which reconciliation takes out before comparing the
    /// broker's positions with the ones Stratus's fills made. `None` until recorded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub opening_positions:
        Option<std::collections::BTreeMap<domain::Symbol, rust_decimal::Decimal>>,
}

fn default_environment() -> String {
    "paper".into()
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

    /// One connection of an account.
    pub async fn get(&self, account: AccountId, id: &str) -> StoreResult<Option<BrokerConnection>> {
        match self.kv.get(&pk(account), &format!("broker#{id}")).await? {
            Some(item) => Ok(Some(serde_json::from_value(item.body)?)),
            None => Ok(None),
        }
    }

    /// Changes a stored connection with `change` (read, change, write if unchanged since
    /// the read; retried when another writer came first). `NotFound` if it is gone.
    pub async fn update(
        &self,
        account: AccountId,
        id: &str,
        change: impl Fn(&mut BrokerConnection),
    ) -> StoreResult<BrokerConnection> {
        let sk = format!("broker#{id}");
        loop {
            let Some(item) = self.kv.get(&pk(account), &sk).await? else {
                return Err(StoreError::not_found(format!("no broker connection {id}")));
            };
            let mut connection: BrokerConnection = serde_json::from_value(item.body)?;
            change(&mut connection);
            match self
                .kv
                .put(
                    &pk(account),
                    &sk,
                    serde_json::to_value(&connection)?,
                    None,
                    Condition::IfVersion(item.version),
                )
                .await
            {
                Ok(_) => return Ok(connection),
                Err(e) if e.kind() == crate::ErrorKind::ConditionFailed => continue,
                Err(e) => return Err(e),
            }
        }
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
