//! [`KvTable`] on DynamoDB.
//!
//! Every conditional write is a compare-and-swap: read the item (strongly consistent),
//! decide the caller's condition on the live view (an expired item is absent, exactly as
//! in every other adapter), then write with a DynamoDB condition that the item is still
//! the one read — identified by a fresh random write id stored with every write. If
//! someone else wrote in between, DynamoDB refuses and the loop decides again on the new
//! state. So two racing `IfAbsent` writers end with exactly one winner, and the semantics
//! (versions, expiry) are the same as SQLite's and memory's, which the conformance suite
//! checks. Transactions do the same with TransactWriteItems.
//!
//! Item attributes: `pk`, `sk` (keys), `body` (JSON text), `version`, `wid` (write id) and
//! `expires_at` (Unix seconds; the table's TTL attribute).

use std::collections::HashMap;

use async_trait::async_trait;
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::error::ProvideErrorMetadata;
use aws_sdk_dynamodb::types::{AttributeValue, ConditionCheck, Delete, Put, TransactWriteItem};
use serde_json::Value;

use super::errors::from_sdk;
use crate::error::{ErrorKind, StoreError, StoreResult};
use crate::kv::{
    Clock, Condition, KvItem, KvTable, KvWrite, condition_holds, validate_transaction,
};

/// How often a compare-and-swap is retried when other writers keep changing the item.
const MAX_CAS_ATTEMPTS: usize = 16;

#[derive(Debug, Clone)]
pub struct DynamoKv {
    client: Client,
    table: String,
    clock: Clock,
}

/// An item as stored, expired or not, with its write id.
#[derive(Debug, Clone)]
struct Raw {
    item: KvItem,
    wid: String,
}

type Attributes = HashMap<String, AttributeValue>;

fn key(pk: &str, sk: &str) -> Attributes {
    HashMap::from([
        ("pk".to_owned(), AttributeValue::S(pk.to_owned())),
        ("sk".to_owned(), AttributeValue::S(sk.to_owned())),
    ])
}

fn string(attrs: &Attributes, name: &str) -> StoreResult<String> {
    match attrs.get(name) {
        Some(AttributeValue::S(s)) => Ok(s.clone()),
        _ => Err(StoreError::internal(format!(
            "item attribute {name} missing or not a string"
        ))),
    }
}

fn number(attrs: &Attributes, name: &str) -> StoreResult<Option<i64>> {
    match attrs.get(name) {
        None => Ok(None),
        Some(AttributeValue::N(n)) => n
            .parse()
            .map(Some)
            .map_err(|_| StoreError::internal(format!("item attribute {name} is not an integer"))),
        Some(_) => Err(StoreError::internal(format!(
            "item attribute {name} is not a number"
        ))),
    }
}

fn raw_from(attrs: &Attributes) -> StoreResult<Raw> {
    let version =
        number(attrs, "version")?.ok_or_else(|| StoreError::internal("item without version"))?;
    Ok(Raw {
        item: KvItem {
            pk: string(attrs, "pk")?,
            sk: string(attrs, "sk")?,
            body: serde_json::from_str(&string(attrs, "body")?)?,
            version: u64::try_from(version)
                .map_err(|_| StoreError::internal("negative version"))?,
            expires_at: number(attrs, "expires_at")?,
        },
        wid: string(attrs, "wid")?,
    })
}

fn attributes(item: &KvItem, wid: &str) -> Attributes {
    let mut attrs = key(&item.pk, &item.sk);
    attrs.insert("body".into(), AttributeValue::S(item.body.to_string()));
    attrs.insert(
        "version".into(),
        AttributeValue::N(item.version.to_string()),
    );
    attrs.insert("wid".into(), AttributeValue::S(wid.to_owned()));
    if let Some(t) = item.expires_at {
        attrs.insert("expires_at".into(), AttributeValue::N(t.to_string()));
    }
    attrs
}

/// The DynamoDB condition "the item is still as read": absent, or the same write.
fn still_as_read(raw: &Option<Raw>) -> (String, Option<(String, AttributeValue)>) {
    match raw {
        None => ("attribute_not_exists(pk)".to_owned(), None),
        Some(r) => (
            "wid = :read_wid".to_owned(),
            Some((":read_wid".to_owned(), AttributeValue::S(r.wid.clone()))),
        ),
    }
}

fn new_wid() -> String {
    uuid::Uuid::new_v4().to_string()
}

impl DynamoKv {
    /// A table named `table` (the physical name, prefix included).
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        DynamoKv {
            client,
            table: table.into(),
            clock: Clock::system(),
        }
    }

    pub fn with_clock(mut self, clock: Clock) -> Self {
        self.clock = clock;
        self
    }

    async fn raw(&self, pk: &str, sk: &str) -> StoreResult<Option<Raw>> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(key(pk, sk)))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| from_sdk("GetItem", e))?;
        out.item.as_ref().map(raw_from).transpose()
    }

    fn live(&self, raw: &Option<Raw>) -> Option<KvItem> {
        let now = self.clock.unix_seconds();
        raw.as_ref()
            .map(|r| r.item.clone())
            .filter(|i| i.expires_at.is_none_or(|t| t > now))
    }

    fn contention(&self, what: &str) -> StoreError {
        StoreError::new(
            ErrorKind::Unavailable,
            format!("{what} on {}: too much contention", self.table),
        )
    }
}

fn is_condition_failure(e: &StoreError) -> bool {
    e.kind() == ErrorKind::ConditionFailed
}

#[async_trait]
impl KvTable for DynamoKv {
    async fn get(&self, pk: &str, sk: &str) -> StoreResult<Option<KvItem>> {
        let raw = self.raw(pk, sk).await?;
        Ok(self.live(&raw))
    }

    async fn put(
        &self,
        pk: &str,
        sk: &str,
        body: Value,
        expires_at: Option<i64>,
        condition: Condition,
    ) -> StoreResult<KvItem> {
        for _ in 0..MAX_CAS_ATTEMPTS {
            let raw = self.raw(pk, sk).await?;
            let live = self.live(&raw);
            if !condition_holds(condition, live.as_ref()) {
                return Err(StoreError::condition_failed(format!(
                    "put {pk}/{sk}: {condition:?} does not hold"
                )));
            }
            let item = KvItem {
                pk: pk.to_owned(),
                sk: sk.to_owned(),
                body: body.clone(),
                version: live.map_or(1, |l| l.version + 1),
                expires_at,
            };
            let (guard, value) = still_as_read(&raw);
            let result = self
                .client
                .put_item()
                .table_name(&self.table)
                .set_item(Some(attributes(&item, &new_wid())))
                .condition_expression(guard)
                .set_expression_attribute_values(value.map(|(k, v)| HashMap::from([(k, v)])))
                .send()
                .await
                .map_err(|e| from_sdk("PutItem", e));
            match result {
                Ok(_) => return Ok(item),
                Err(e) if is_condition_failure(&e) => continue,
                Err(e) => return Err(e),
            }
        }
        Err(self.contention("put"))
    }

    async fn delete(&self, pk: &str, sk: &str, condition: Condition) -> StoreResult<()> {
        for _ in 0..MAX_CAS_ATTEMPTS {
            let raw = self.raw(pk, sk).await?;
            if !condition_holds(condition, self.live(&raw).as_ref()) {
                return Err(StoreError::condition_failed(format!(
                    "delete {pk}/{sk}: {condition:?} does not hold"
                )));
            }
            if raw.is_none() {
                return Ok(());
            }
            let (guard, value) = still_as_read(&raw);
            let result = self
                .client
                .delete_item()
                .table_name(&self.table)
                .set_key(Some(key(pk, sk)))
                .condition_expression(guard)
                .set_expression_attribute_values(value.map(|(k, v)| HashMap::from([(k, v)])))
                .send()
                .await
                .map_err(|e| from_sdk("DeleteItem", e));
            match result {
                Ok(_) => return Ok(()),
                Err(e) if is_condition_failure(&e) => continue,
                Err(e) => return Err(e),
            }
        }
        Err(self.contention("delete"))
    }

    async fn query(&self, pk: &str, prefix: &str, limit: usize) -> StoreResult<Vec<KvItem>> {
        let now = self.clock.unix_seconds();
        let mut out = Vec::new();
        let mut start: Option<Attributes> = None;
        loop {
            let mut request = self
                .client
                .query()
                .table_name(&self.table)
                .consistent_read(true)
                .expression_attribute_values(":pk", AttributeValue::S(pk.to_owned()))
                .set_exclusive_start_key(start.take());
            request = if prefix.is_empty() {
                request.key_condition_expression("pk = :pk")
            } else {
                request
                    .key_condition_expression("pk = :pk AND begins_with(sk, :prefix)")
                    .expression_attribute_values(":prefix", AttributeValue::S(prefix.to_owned()))
            };
            let page = request.send().await.map_err(|e| from_sdk("Query", e))?;
            for attrs in page.items() {
                let raw = raw_from(attrs)?;
                if raw.item.expires_at.is_none_or(|t| t > now) {
                    out.push(raw.item);
                    if out.len() == limit {
                        return Ok(out);
                    }
                }
            }
            match page.last_evaluated_key {
                Some(key) if !key.is_empty() => start = Some(key),
                _ => return Ok(out),
            }
        }
    }

    async fn transact(&self, writes: Vec<KvWrite>) -> StoreResult<()> {
        validate_transaction(&writes)?;
        for _ in 0..MAX_CAS_ATTEMPTS {
            let mut items = Vec::with_capacity(writes.len());
            for w in &writes {
                let (pk, sk) = w.key();
                let raw = self.raw(pk, sk).await?;
                let live = self.live(&raw);
                if !condition_holds(w.condition(), live.as_ref()) {
                    return Err(StoreError::condition_failed(format!(
                        "transaction: {pk}/{sk} {:?} does not hold",
                        w.condition()
                    )));
                }
                let (guard, value) = still_as_read(&raw);
                let values = value.map(|(k, v)| HashMap::from([(k, v)]));
                let build_error =
                    |e: aws_sdk_dynamodb::error::BuildError| StoreError::invalid(e.to_string());
                let item = match w {
                    KvWrite::Put {
                        pk,
                        sk,
                        body,
                        expires_at,
                        ..
                    } => {
                        let stored = KvItem {
                            pk: pk.clone(),
                            sk: sk.clone(),
                            body: body.clone(),
                            version: live.map_or(1, |l| l.version + 1),
                            expires_at: *expires_at,
                        };
                        let put = Put::builder()
                            .table_name(&self.table)
                            .set_item(Some(attributes(&stored, &new_wid())))
                            .condition_expression(guard)
                            .set_expression_attribute_values(values)
                            .build()
                            .map_err(build_error)?;
                        TransactWriteItem::builder().put(put).build()
                    }
                    KvWrite::Delete { pk, sk, .. } => {
                        let delete = Delete::builder()
                            .table_name(&self.table)
                            .set_key(Some(key(pk, sk)))
                            .condition_expression(guard)
                            .set_expression_attribute_values(values)
                            .build()
                            .map_err(build_error)?;
                        TransactWriteItem::builder().delete(delete).build()
                    }
                    KvWrite::Check { pk, sk, .. } => {
                        let check = ConditionCheck::builder()
                            .table_name(&self.table)
                            .set_key(Some(key(pk, sk)))
                            .condition_expression(guard)
                            .set_expression_attribute_values(values)
                            .build()
                            .map_err(build_error)?;
                        TransactWriteItem::builder().condition_check(check).build()
                    }
                };
                items.push(item);
            }
            let result = self
                .client
                .transact_write_items()
                .set_transact_items(Some(items))
                .send()
                .await;
            match result {
                Ok(_) => return Ok(()),
                Err(e) => {
                    let service = e.as_service_error();
                    let canceled =
                        service.is_some_and(|s| s.code() == Some("TransactionCanceledException"));
                    let retry = canceled
                        && service.is_some_and(|s| {
                            s.message()
                                .unwrap_or_default()
                                .contains("ConditionalCheckFailed")
                                || s.message()
                                    .unwrap_or_default()
                                    .contains("TransactionConflict")
                        });
                    if retry || (canceled && service.is_none()) {
                        // Someone wrote one of the items after we read it: decide again.
                        continue;
                    }
                    if canceled {
                        return Err(StoreError::new(
                            ErrorKind::Unavailable,
                            format!(
                                "TransactWriteItems canceled: {}",
                                service.and_then(|s| s.message()).unwrap_or_default()
                            ),
                        ));
                    }
                    return Err(from_sdk("TransactWriteItems", e));
                }
            }
        }
        Err(self.contention("transaction"))
    }
}
