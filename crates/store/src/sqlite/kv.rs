//! [`KvTable`] on SQLite: conditions are checked and writes made inside one
//! `BEGIN IMMEDIATE` transaction on the file's one writer, so two writers racing on a key
//! are serialized and exactly one sees the condition hold.

use std::sync::Arc;

use async_trait::async_trait;
use rusqlite::{Connection, OptionalExtension, params};
use serde_json::Value;

use super::Db;
use crate::error::{StoreError, StoreResult};
use crate::kv::{Clock, Condition, KvItem, KvTable, KvWrite, validate_transaction, version_holds};

#[derive(Debug, Clone)]
pub struct SqliteKv {
    db: Db,
    table: Arc<str>,
    clock: Clock,
}

impl SqliteKv {
    pub(crate) fn new(db: Db, table: &str) -> Self {
        SqliteKv {
            db,
            table: table.into(),
            clock: Clock::system(),
        }
    }

    pub fn with_clock(mut self, clock: Clock) -> Self {
        self.clock = clock;
        self
    }
}

const COLUMNS: &str = "pk, sk, body, version, expires_at";

fn item_from_row(
    row: &rusqlite::Row<'_>,
) -> rusqlite::Result<(String, String, String, i64, Option<i64>)> {
    Ok((
        row.get(0)?,
        row.get(1)?,
        row.get(2)?,
        row.get(3)?,
        row.get(4)?,
    ))
}

fn item(raw: (String, String, String, i64, Option<i64>)) -> StoreResult<KvItem> {
    let (pk, sk, body, version, expires_at) = raw;
    Ok(KvItem {
        pk,
        sk,
        body: serde_json::from_str(&body)?,
        version: u64::try_from(version).map_err(|_| StoreError::internal("negative version"))?,
        expires_at,
    })
}

fn current(
    conn: &Connection,
    table: &str,
    pk: &str,
    sk: &str,
    now: i64,
) -> StoreResult<Option<KvItem>> {
    let raw = conn
        .prepare_cached(
            "SELECT pk, sk, body, version, expires_at FROM kv_items
             WHERE table_name = ? AND pk = ? AND sk = ? AND (expires_at IS NULL OR expires_at > ?)",
        )?
        .query_row(params![table, pk, sk, now], item_from_row)
        .optional()?;
    raw.map(item).transpose()
}

/// The version of the live item at `(pk, sk)`: what a write's condition is checked
/// against (its body is not read, let alone parsed, on the writer thread).
fn current_version(
    conn: &Connection,
    table: &str,
    pk: &str,
    sk: &str,
    now: i64,
) -> StoreResult<Option<u64>> {
    let version: Option<i64> = conn
        .prepare_cached(
            "SELECT version FROM kv_items
             WHERE table_name = ? AND pk = ? AND sk = ? AND (expires_at IS NULL OR expires_at > ?)",
        )?
        .query_row(params![table, pk, sk, now], |r| r.get(0))
        .optional()?;
    version
        .map(|v| u64::try_from(v).map_err(|_| StoreError::internal("negative version")))
        .transpose()
}

fn write_put(
    conn: &Connection,
    table: &str,
    pk: &str,
    sk: &str,
    body: &str,
    expires_at: Option<i64>,
    version: u64,
) -> StoreResult<()> {
    let version = i64::try_from(version).map_err(|_| StoreError::internal("version overflow"))?;
    conn.prepare_cached(
        "INSERT INTO kv_items (table_name, pk, sk, body, version, expires_at) VALUES (?, ?, ?, ?, ?, ?)
         ON CONFLICT (table_name, pk, sk) DO UPDATE SET
           body = excluded.body, version = excluded.version, expires_at = excluded.expires_at",
    )?
    .execute(params![table, pk, sk, body, version, expires_at])?;
    Ok(())
}

fn write_delete(conn: &Connection, table: &str, pk: &str, sk: &str) -> StoreResult<()> {
    conn.prepare_cached("DELETE FROM kv_items WHERE table_name = ? AND pk = ? AND sk = ?")?
        .execute(params![table, pk, sk])?;
    Ok(())
}

#[async_trait]
impl KvTable for SqliteKv {
    async fn get(&self, pk: &str, sk: &str) -> StoreResult<Option<KvItem>> {
        let now = self.clock.unix_seconds();
        self.db.read(|conn| current(conn, &self.table, pk, sk, now))
    }

    async fn put(
        &self,
        pk: &str,
        sk: &str,
        body: Value,
        expires_at: Option<i64>,
        condition: Condition,
    ) -> StoreResult<KvItem> {
        let now = self.clock.unix_seconds();
        // Serialized here, not on the writer thread, which every write waits behind.
        let text = body.to_string();
        let (table, pk, sk) = (self.table.clone(), pk.to_owned(), sk.to_owned());
        // The key comes back with the version, to build the item without copying it again.
        let (version, pk, sk) = self
            .db
            .write(move |tx| {
                let existing = current_version(tx, &table, &pk, &sk, now)?;
                if !version_holds(condition, existing) {
                    return Err(StoreError::condition_failed(format!(
                        "put {pk}/{sk}: {condition:?} does not hold"
                    )));
                }
                let version = existing.map_or(1, |v| v + 1);
                write_put(tx, &table, &pk, &sk, &text, expires_at, version)?;
                Ok((version, pk, sk))
            })
            .await?;
        Ok(KvItem {
            pk,
            sk,
            body,
            version,
            expires_at,
        })
    }

    async fn delete(&self, pk: &str, sk: &str, condition: Condition) -> StoreResult<()> {
        let now = self.clock.unix_seconds();
        let (table, pk, sk) = (self.table.clone(), pk.to_owned(), sk.to_owned());
        self.db
            .write(move |tx| {
                let existing = current_version(tx, &table, &pk, &sk, now)?;
                if !version_holds(condition, existing) {
                    return Err(StoreError::condition_failed(format!(
                        "delete {pk}/{sk}: {condition:?} does not hold"
                    )));
                }
                write_delete(tx, &table, &pk, &sk)
            })
            .await
    }

    async fn query(&self, pk: &str, prefix: &str, limit: usize) -> StoreResult<Vec<KvItem>> {
        // `sk >= prefix AND sk < prefix + U+10FFFF` is the range of keys with the prefix
        // (no LIKE: a prefix may contain % or _).
        let upper = format!("{prefix}\u{10FFFF}");
        let now = self.clock.unix_seconds();
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        self.db.read(|conn| {
            let mut statement = conn.prepare_cached(&format!(
                "SELECT {COLUMNS} FROM kv_items
                 WHERE table_name = ? AND pk = ? AND sk >= ? AND sk < ? AND (expires_at IS NULL OR expires_at > ?)
                 ORDER BY sk LIMIT ?"
            ))?;
            let rows = statement.query_map(params![self.table, pk, prefix, upper, now, limit], item_from_row)?;
            rows.map(|r| item(r?)).collect()
        })
    }

    async fn transact(&self, writes: Vec<KvWrite>) -> StoreResult<()> {
        validate_transaction(&writes)?;
        let now = self.clock.unix_seconds();
        // Bodies are serialized here, not on the writer thread.
        let texts: Vec<Option<String>> = writes
            .iter()
            .map(|w| match w {
                KvWrite::Put { body, .. } => Some(body.to_string()),
                _ => None,
            })
            .collect();
        let table = self.table.clone();
        self.db
            .write(move |tx| {
                let mut versions = Vec::with_capacity(writes.len());
                for w in &writes {
                    let (pk, sk) = w.key();
                    let existing = current_version(tx, &table, pk, sk, now)?;
                    if !version_holds(w.condition(), existing) {
                        // Returning an error rolls back: nothing was written yet anyway.
                        return Err(StoreError::condition_failed(format!(
                            "transaction: {pk}/{sk} {:?} does not hold",
                            w.condition()
                        )));
                    }
                    versions.push(existing.map_or(1, |v| v + 1));
                }
                for ((w, version), text) in writes.iter().zip(versions).zip(&texts) {
                    match (w, text) {
                        (
                            KvWrite::Put {
                                pk, sk, expires_at, ..
                            },
                            Some(text),
                        ) => write_put(tx, &table, pk, sk, text, *expires_at, version)?,
                        (KvWrite::Delete { pk, sk, .. }, _) => write_delete(tx, &table, pk, sk)?,
                        _ => {}
                    }
                }
                Ok(())
            })
            .await
    }
}
