//! [`KvTable`] in a `BTreeMap` behind a mutex.

use std::collections::BTreeMap;

use async_trait::async_trait;
use serde_json::Value;
use tokio::sync::Mutex;

use crate::error::{StoreError, StoreResult};
use crate::kv::{
    Clock, Condition, KvItem, KvTable, KvWrite, condition_holds, validate_transaction,
};

#[derive(Debug, Default)]
pub struct MemoryKv {
    items: Mutex<BTreeMap<(String, String), KvItem>>,
    clock: Clock,
}

impl MemoryKv {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn with_clock(clock: Clock) -> Self {
        MemoryKv {
            items: Mutex::default(),
            clock,
        }
    }
}

fn live<'a>(
    items: &'a BTreeMap<(String, String), KvItem>,
    pk: &str,
    sk: &str,
    now: i64,
) -> Option<&'a KvItem> {
    items
        .get(&(pk.to_owned(), sk.to_owned()))
        .filter(|i| i.expires_at.is_none_or(|t| t > now))
}

fn stored(
    pk: &str,
    sk: &str,
    body: Value,
    expires_at: Option<i64>,
    previous: Option<&KvItem>,
) -> KvItem {
    KvItem {
        pk: pk.to_owned(),
        sk: sk.to_owned(),
        body,
        version: previous.map_or(1, |p| p.version + 1),
        expires_at,
    }
}

#[async_trait]
impl KvTable for MemoryKv {
    async fn get(&self, pk: &str, sk: &str) -> StoreResult<Option<KvItem>> {
        let items = self.items.lock().await;
        Ok(live(&items, pk, sk, self.clock.unix_seconds()).cloned())
    }

    async fn put(
        &self,
        pk: &str,
        sk: &str,
        body: Value,
        expires_at: Option<i64>,
        condition: Condition,
    ) -> StoreResult<KvItem> {
        let mut items = self.items.lock().await;
        let current = live(&items, pk, sk, self.clock.unix_seconds());
        if !condition_holds(condition, current) {
            return Err(StoreError::condition_failed(format!(
                "put {pk}/{sk}: {condition:?} does not hold"
            )));
        }
        let item = stored(pk, sk, body, expires_at, current);
        items.insert((pk.to_owned(), sk.to_owned()), item.clone());
        Ok(item)
    }

    async fn delete(&self, pk: &str, sk: &str, condition: Condition) -> StoreResult<()> {
        let mut items = self.items.lock().await;
        if !condition_holds(condition, live(&items, pk, sk, self.clock.unix_seconds())) {
            return Err(StoreError::condition_failed(format!(
                "delete {pk}/{sk}: {condition:?} does not hold"
            )));
        }
        items.remove(&(pk.to_owned(), sk.to_owned()));
        Ok(())
    }

    async fn query(&self, pk: &str, prefix: &str, limit: usize) -> StoreResult<Vec<KvItem>> {
        let items = self.items.lock().await;
        let now = self.clock.unix_seconds();
        Ok(items
            .range((pk.to_owned(), prefix.to_owned())..)
            .take_while(|((p, s), _)| p == pk && s.starts_with(prefix))
            .map(|(_, item)| item)
            .filter(|i| i.expires_at.is_none_or(|t| t > now))
            .take(limit)
            .cloned()
            .collect())
    }

    async fn transact(&self, writes: Vec<KvWrite>) -> StoreResult<()> {
        validate_transaction(&writes)?;
        let mut items = self.items.lock().await;
        let now = self.clock.unix_seconds();
        for w in &writes {
            let (pk, sk) = w.key();
            if !condition_holds(w.condition(), live(&items, pk, sk, now)) {
                return Err(StoreError::condition_failed(format!(
                    "transaction: {pk}/{sk} {:?} does not hold",
                    w.condition()
                )));
            }
        }
        for w in writes {
            match w {
                KvWrite::Put {
                    pk,
                    sk,
                    body,
                    expires_at,
                    ..
                } => {
                    let item = stored(&pk, &sk, body, expires_at, live(&items, &pk, &sk, now));
                    items.insert((pk, sk), item);
                }
                KvWrite::Delete { pk, sk, .. } => {
                    items.remove(&(pk, sk));
                }
                KvWrite::Check { .. } => {}
            }
        }
        Ok(())
    }
}
