//! [`KvTable`] on SQLite: conditions are checked and writes made inside one
//! `BEGIN IMMEDIATE` transaction, which takes the file's write lock first, so two writers
//! racing on a key are serialized and exactly one sees the condition hold.

use async_trait::async_trait;
use serde_json::Value;
use sqlx::{Row, SqlitePool};

use crate::error::{StoreError, StoreResult};
use crate::kv::{
    Clock, Condition, KvItem, KvTable, KvWrite, condition_holds, validate_transaction,
};

#[derive(Debug, Clone)]
pub struct SqliteKv {
    pool: SqlitePool,
    gate: super::WriteGate,
    table: String,
    clock: Clock,
}

impl SqliteKv {
    /// Shares the file's write gate (see [`super::WriteGate`]).
    pub fn with_gate(mut self, gate: super::WriteGate) -> Self {
        self.gate = gate;
        self
    }

    pub fn new(pool: SqlitePool, table: &str) -> Self {
        SqliteKv {
            pool,
            gate: super::WriteGate::default(),
            table: table.to_owned(),
            clock: Clock::system(),
        }
    }

    pub fn with_clock(mut self, clock: Clock) -> Self {
        self.clock = clock;
        self
    }
}

fn item_from_row(row: &sqlx::sqlite::SqliteRow) -> StoreResult<KvItem> {
    let body: String = row.try_get("body")?;
    let version: i64 = row.try_get("version")?;
    Ok(KvItem {
        pk: row.try_get("pk")?,
        sk: row.try_get("sk")?,
        body: serde_json::from_str(&body)?,
        version: u64::try_from(version).map_err(|_| StoreError::internal("negative version"))?,
        expires_at: row.try_get("expires_at")?,
    })
}

async fn current(
    conn: &mut sqlx::SqliteConnection,
    table: &str,
    pk: &str,
    sk: &str,
    now: i64,
) -> StoreResult<Option<KvItem>> {
    let row = sqlx::query(
        "SELECT pk, sk, body, version, expires_at FROM kv_items
         WHERE table_name = ? AND pk = ? AND sk = ? AND (expires_at IS NULL OR expires_at > ?)",
    )
    .bind(table)
    .bind(pk)
    .bind(sk)
    .bind(now)
    .fetch_optional(&mut *conn)
    .await?;
    row.as_ref().map(item_from_row).transpose()
}

async fn write_put(
    conn: &mut sqlx::SqliteConnection,
    table: &str,
    pk: &str,
    sk: &str,
    body: &Value,
    expires_at: Option<i64>,
    version: u64,
) -> StoreResult<()> {
    sqlx::query(
        "INSERT INTO kv_items (table_name, pk, sk, body, version, expires_at) VALUES (?, ?, ?, ?, ?, ?)
         ON CONFLICT (table_name, pk, sk) DO UPDATE SET
           body = excluded.body, version = excluded.version, expires_at = excluded.expires_at",
    )
    .bind(table)
    .bind(pk)
    .bind(sk)
    .bind(body.to_string())
    .bind(i64::try_from(version).map_err(|_| StoreError::internal("version overflow"))?)
    .bind(expires_at)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

async fn write_delete(
    conn: &mut sqlx::SqliteConnection,
    table: &str,
    pk: &str,
    sk: &str,
) -> StoreResult<()> {
    sqlx::query("DELETE FROM kv_items WHERE table_name = ? AND pk = ? AND sk = ?")
        .bind(table)
        .bind(pk)
        .bind(sk)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

#[async_trait]
impl KvTable for SqliteKv {
    async fn get(&self, pk: &str, sk: &str) -> StoreResult<Option<KvItem>> {
        let mut conn = self.pool.acquire().await?;
        current(&mut conn, &self.table, pk, sk, self.clock.now()).await
    }

    async fn put(
        &self,
        pk: &str,
        sk: &str,
        body: Value,
        expires_at: Option<i64>,
        condition: Condition,
    ) -> StoreResult<KvItem> {
        let _writing = self.gate.enter().await;
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;
        let existing = current(&mut tx, &self.table, pk, sk, self.clock.now()).await?;
        if !condition_holds(condition, existing.as_ref()) {
            return Err(StoreError::condition_failed(format!(
                "put {pk}/{sk}: {condition:?} does not hold"
            )));
        }
        let version = existing.map_or(1, |e| e.version + 1);
        write_put(&mut tx, &self.table, pk, sk, &body, expires_at, version).await?;
        tx.commit().await?;
        Ok(KvItem {
            pk: pk.to_owned(),
            sk: sk.to_owned(),
            body,
            version,
            expires_at,
        })
    }

    async fn delete(&self, pk: &str, sk: &str, condition: Condition) -> StoreResult<()> {
        let _writing = self.gate.enter().await;
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;
        let existing = current(&mut tx, &self.table, pk, sk, self.clock.now()).await?;
        if !condition_holds(condition, existing.as_ref()) {
            return Err(StoreError::condition_failed(format!(
                "delete {pk}/{sk}: {condition:?} does not hold"
            )));
        }
        write_delete(&mut tx, &self.table, pk, sk).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn query(&self, pk: &str, prefix: &str, limit: usize) -> StoreResult<Vec<KvItem>> {
        // `sk >= prefix AND sk < prefix + U+10FFFF` is the range of keys with the prefix
        // (no LIKE: a prefix may contain % or _).
        let upper = format!("{prefix}\u{10FFFF}");
        let rows = sqlx::query(
            "SELECT pk, sk, body, version, expires_at FROM kv_items
             WHERE table_name = ? AND pk = ? AND sk >= ? AND sk < ? AND (expires_at IS NULL OR expires_at > ?)
             ORDER BY sk LIMIT ?",
        )
        .bind(&self.table)
        .bind(pk)
        .bind(prefix)
        .bind(upper)
        .bind(self.clock.now())
        .bind(i64::try_from(limit).unwrap_or(i64::MAX))
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(item_from_row).collect()
    }

    async fn transact(&self, writes: Vec<KvWrite>) -> StoreResult<()> {
        validate_transaction(&writes)?;
        let now = self.clock.now();
        let _writing = self.gate.enter().await;
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;
        let mut versions = Vec::with_capacity(writes.len());
        for w in &writes {
            let (pk, sk) = w.key();
            let existing = current(&mut tx, &self.table, pk, sk, now).await?;
            if !condition_holds(w.condition(), existing.as_ref()) {
                // Dropping `tx` rolls back: nothing was written yet anyway.
                return Err(StoreError::condition_failed(format!(
                    "transaction: {pk}/{sk} {:?} does not hold",
                    w.condition()
                )));
            }
            versions.push(existing.map_or(1, |e| e.version + 1));
        }
        for (w, version) in writes.iter().zip(versions) {
            match w {
                KvWrite::Put {
                    pk,
                    sk,
                    body,
                    expires_at,
                    ..
                } => write_put(&mut tx, &self.table, pk, sk, body, *expires_at, version).await?,
                KvWrite::Delete { pk, sk, .. } => {
                    write_delete(&mut tx, &self.table, pk, sk).await?
                }
                KvWrite::Check { .. } => {}
            }
        }
        tx.commit().await?;
        Ok(())
    }
}
