//! [`RecordStore`] in the SQLite file. Every write runs in a `BEGIN IMMEDIATE`
//! transaction (the file's write lock first), so concurrent postings to one account are
//! serialized and the overdraft check cannot race.

use async_trait::async_trait;
use domain::{
    AccountId, Candle, ClientOrderId, Currency, EventId, Fill, Money, Order, OrderId, Position,
    StrategyId, Symbol, Timeframe, Timestamp, UserId,
};
use sqlx::sqlite::SqliteRow;
use sqlx::{Row, SqliteConnection, SqlitePool};

use crate::error::{StoreError, StoreResult};
use crate::records::{
    Account, AccountKind, CommitBatch, ExposureRow, LedgerEntry, OrderPage, OrderQuery,
    OutboxEvent, OutboxRecord, PostedEntry, RecordStore, ReportRow, Snapshot, StrategyRecord, page,
};
use crate::stream::SequenceNumber;

#[derive(Debug, Clone)]
pub struct SqliteRecords {
    pool: SqlitePool,
    gate: super::WriteGate,
}

impl SqliteRecords {
    /// Shares the file's write gate (see [`super::WriteGate`]).
    pub fn with_gate(mut self, gate: super::WriteGate) -> Self {
        self.gate = gate;
        self
    }

    pub fn new(pool: SqlitePool) -> Self {
        SqliteRecords {
            pool,
            gate: super::WriteGate::default(),
        }
    }
}

fn money(text: &str) -> StoreResult<Money> {
    domain::num::parse_decimal("amount", text)
        .map(Money::new)
        .map_err(|e| StoreError::internal(format!("stored amount {text:?}: {e}")))
}

fn uuid_of<T: std::str::FromStr>(text: &str) -> StoreResult<T> {
    text.parse()
        .map_err(|_| StoreError::internal(format!("stored id {text:?} is not a UUID")))
}

fn account_from(row: &SqliteRow) -> StoreResult<Account> {
    let kind: String = row.try_get("kind")?;
    let currency: String = row.try_get("base_currency")?;
    Ok(Account {
        id: uuid_of(&row.try_get::<String, _>("id")?)?,
        user_id: uuid_of(&row.try_get::<String, _>("user_id")?)?,
        name: row.try_get("name")?,
        kind: AccountKind::parse(&kind)
            .ok_or_else(|| StoreError::internal(format!("account kind {kind:?}")))?,
        base_currency: Currency::parse(&currency)
            .map_err(|e| StoreError::internal(e.to_string()))?,
        cash: money(&row.try_get::<String, _>("cash")?)?,
        created_at: Timestamp::from_nanos(row.try_get("created_ns")?),
    })
}

fn posted_from(row: &SqliteRow) -> StoreResult<PostedEntry> {
    Ok(PostedEntry {
        entry: LedgerEntry {
            id: uuid_of::<EventId>(&row.try_get::<String, _>("id")?)?,
            account_id: uuid_of(&row.try_get::<String, _>("account_id")?)?,
            kind: row.try_get("kind")?,
            amount: money(&row.try_get::<String, _>("amount")?)?,
            reference: row.try_get("reference")?,
            time: Timestamp::from_nanos(row.try_get("time_ns")?),
        },
        balance_after: money(&row.try_get::<String, _>("balance_after")?)?,
    })
}

/// The columns of a [`PostedEntry`] (a macro, so queries stay `&'static str`).
macro_rules! ledger_columns {
    () => {
        "id, account_id, kind, amount, balance_after, reference, time_ns"
    };
}

/// Posts one entry inside the caller's transaction.
async fn post_in(conn: &mut SqliteConnection, entry: &LedgerEntry) -> StoreResult<PostedEntry> {
    let existing = sqlx::query(concat!(
        "SELECT ",
        ledger_columns!(),
        " FROM ledger_entries WHERE id = ?"
    ))
    .bind(entry.id.to_string())
    .fetch_optional(&mut *conn)
    .await?;
    if let Some(row) = existing {
        return posted_from(&row);
    }
    let cash: Option<String> = sqlx::query_scalar("SELECT cash FROM accounts WHERE id = ?")
        .bind(entry.account_id.to_string())
        .fetch_optional(&mut *conn)
        .await?;
    let cash = money(
        &cash.ok_or_else(|| StoreError::not_found(format!("no account {}", entry.account_id)))?,
    )?;
    let after = cash
        .checked_add(entry.amount)
        .map_err(|e| StoreError::invalid(e.to_string()))?;
    if after.is_negative() {
        return Err(StoreError::condition_failed(format!(
            "insufficient cash: {cash} available, {} asked",
            entry.amount.checked_neg()
        )));
    }
    sqlx::query("UPDATE accounts SET cash = ? WHERE id = ?")
        .bind(after.to_string())
        .bind(entry.account_id.to_string())
        .execute(&mut *conn)
        .await?;
    sqlx::query(
        "INSERT INTO ledger_entries (id, account_id, kind, amount, balance_after, reference, time_ns)
         VALUES (?, ?, ?, ?, ?, ?, ?)",
    )
    .bind(entry.id.to_string())
    .bind(entry.account_id.to_string())
    .bind(&entry.kind)
    .bind(entry.amount.to_string())
    .bind(after.to_string())
    .bind(&entry.reference)
    .bind(entry.time.nanos())
    .execute(&mut *conn)
    .await?;
    Ok(PostedEntry {
        entry: entry.clone(),
        balance_after: after,
    })
}

async fn outbox_in(conn: &mut SqliteConnection, event: &OutboxEvent) -> StoreResult<()> {
    sqlx::query(
        "INSERT INTO outbox (event_id, stream, partition_key, payload) VALUES (?, ?, ?, ?)
         ON CONFLICT (event_id) DO NOTHING",
    )
    .bind(event.event_id.to_string())
    .bind(&event.stream)
    .bind(&event.partition_key)
    .bind(&event.payload)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

async fn upsert_order(conn: &mut SqliteConnection, order: &Order) -> StoreResult<()> {
    let old: Option<String> = sqlx::query_scalar("SELECT body FROM orders WHERE id = ?")
        .bind(order.id.to_string())
        .fetch_optional(&mut *conn)
        .await?;
    let old: Option<Order> = old.map(|b| serde_json::from_str(&b)).transpose()?;
    sqlx::query(
        "INSERT INTO orders (id, account_id, client_order_id, symbol, status, created_ns, body) VALUES (?, ?, ?, ?, ?, ?, ?)
         ON CONFLICT (id) DO UPDATE SET status = excluded.status, body = excluded.body",
    )
    .bind(order.id.to_string())
    .bind(order.account_id.to_string())
    .bind(order.client_order_id.as_ref().map(|c| c.as_str().to_owned()))
    .bind(order.symbol.as_str())
    .bind(order.status().as_str())
    .bind(order.created_at().nanos())
    .bind(serde_json::to_string(order)?)
    .execute(&mut *conn)
    .await?;
    shift_exposure(conn, old.as_ref(), order).await
}

/// Moves the account's exposure by what changed from `old` to `new` (one order).
async fn shift_exposure(
    conn: &mut SqliteConnection,
    old: Option<&Order>,
    new: &Order,
) -> StoreResult<()> {
    for (symbol, side, quantity, notional) in crate::records::exposure_deltas(old, new) {
        let row = sqlx::query(
            "SELECT quantity, notional FROM account_exposure WHERE account_id = ? AND symbol = ? AND side = ?",
        )
        .bind(new.account_id.to_string())
        .bind(symbol.as_str())
        .bind(side.as_str())
        .fetch_optional(&mut *conn)
        .await?;
        let (q0, n0) = match row {
            Some(r) => (
                money(&r.try_get::<String, _>("quantity")?)?.value(),
                money(&r.try_get::<String, _>("notional")?)?.value(),
            ),
            None => (domain::Decimal::ZERO, domain::Decimal::ZERO),
        };
        let (q, n) = (q0 + quantity, n0 + notional);
        if q.is_zero() && n.is_zero() {
            sqlx::query(
                "DELETE FROM account_exposure WHERE account_id = ? AND symbol = ? AND side = ?",
            )
            .bind(new.account_id.to_string())
            .bind(symbol.as_str())
            .bind(side.as_str())
            .execute(&mut *conn)
            .await?;
        } else {
            sqlx::query(
                "INSERT INTO account_exposure (account_id, symbol, side, quantity, notional) VALUES (?, ?, ?, ?, ?)
                 ON CONFLICT (account_id, symbol, side) DO UPDATE SET quantity = excluded.quantity, notional = excluded.notional",
            )
            .bind(new.account_id.to_string())
            .bind(symbol.as_str())
            .bind(side.as_str())
            .bind(q.normalize().to_string())
            .bind(n.normalize().to_string())
            .execute(&mut *conn)
            .await?;
        }
    }
    Ok(())
}

fn bodies<T: serde::de::DeserializeOwned>(rows: &[SqliteRow]) -> StoreResult<Vec<T>> {
    rows.iter()
        .map(|r| Ok(serde_json::from_str(&r.try_get::<String, _>("body")?)?))
        .collect()
}

#[async_trait]
impl RecordStore for SqliteRecords {
    async fn create_account(&self, account: &Account) -> StoreResult<()> {
        let _writing = self.gate.enter().await;
        sqlx::query(
            "INSERT INTO accounts (id, user_id, name, kind, base_currency, cash, created_ns) VALUES (?, ?, ?, ?, ?, '0', ?)",
        )
        .bind(account.id.to_string())
        .bind(account.user_id.to_string())
        .bind(&account.name)
        .bind(account.kind.as_str())
        .bind(account.base_currency.as_str())
        .bind(account.created_at.nanos())
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn accounts(&self, user: UserId) -> StoreResult<Vec<Account>> {
        let rows = sqlx::query("SELECT * FROM accounts WHERE user_id = ? ORDER BY created_ns, id")
            .bind(user.to_string())
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(account_from).collect()
    }

    async fn all_accounts(
        &self,
        after: Option<AccountId>,
        limit: usize,
    ) -> StoreResult<Vec<Account>> {
        // The nil id sorts first; no account has it (ids are random v4 or v5).
        let start = after.map_or("00000000-0000-0000-0000-000000000000".to_owned(), |a| {
            a.to_string()
        });
        let rows = sqlx::query("SELECT * FROM accounts WHERE id > ? ORDER BY id LIMIT ?")
            .bind(start)
            .bind(i64::try_from(limit).unwrap_or(i64::MAX))
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(account_from).collect()
    }

    async fn account_by_id(&self, id: AccountId) -> StoreResult<Option<Account>> {
        let row = sqlx::query("SELECT * FROM accounts WHERE id = ?")
            .bind(id.to_string())
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(account_from).transpose()
    }

    async fn account(&self, user: UserId, id: AccountId) -> StoreResult<Option<Account>> {
        let row = sqlx::query("SELECT * FROM accounts WHERE id = ? AND user_id = ?")
            .bind(id.to_string())
            .bind(user.to_string())
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(account_from).transpose()
    }

    async fn post(&self, entry: &LedgerEntry) -> StoreResult<PostedEntry> {
        let _writing = self.gate.enter().await;
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;
        let posted = post_in(&mut tx, entry).await?;
        tx.commit().await?;
        Ok(posted)
    }

    async fn ledger_entry(
        &self,
        account: AccountId,
        id: EventId,
    ) -> StoreResult<Option<PostedEntry>> {
        let row = sqlx::query(concat!(
            "SELECT ",
            ledger_columns!(),
            " FROM ledger_entries WHERE account_id = ? AND id = ?"
        ))
        .bind(account.to_string())
        .bind(id.to_string())
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(posted_from).transpose()
    }

    async fn ledger(&self, account: AccountId, limit: usize) -> StoreResult<Vec<PostedEntry>> {
        let rows = sqlx::query(concat!(
            "SELECT ",
            ledger_columns!(),
            " FROM ledger_entries WHERE account_id = ? ORDER BY seq DESC LIMIT ?"
        ))
        .bind(account.to_string())
        .bind(i64::try_from(limit).unwrap_or(i64::MAX))
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(posted_from).collect()
    }

    async fn commit(&self, batch: &CommitBatch) -> StoreResult<()> {
        let _writing = self.gate.enter().await;
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;
        for order in &batch.orders {
            upsert_order(&mut tx, order).await?;
        }
        for fill in &batch.fills {
            sqlx::query(
                "INSERT INTO fills (order_id, trade_id, account_id, time_ns, body) VALUES (?, ?, ?, ?, ?)
                 ON CONFLICT (order_id, trade_id) DO NOTHING",
            )
            .bind(fill.order_id.to_string())
            .bind(i64::try_from(fill.trade_id.0).map_err(|_| StoreError::invalid("trade id out of range"))?)
            .bind(fill.account_id.to_string())
            .bind(fill.time.nanos())
            .bind(serde_json::to_string(fill)?)
            .execute(&mut *tx)
            .await?;
        }
        for (account, position) in &batch.positions {
            sqlx::query(
                "INSERT INTO positions (account_id, symbol, body) VALUES (?, ?, ?)
                 ON CONFLICT (account_id, symbol) DO UPDATE SET body = excluded.body",
            )
            .bind(account.to_string())
            .bind(position.symbol.as_str())
            .bind(serde_json::to_string(position)?)
            .execute(&mut *tx)
            .await?;
        }
        for candle in &batch.candles {
            sqlx::query(
                "INSERT INTO candles (symbol, timeframe, start_ns, body) VALUES (?, ?, ?, ?)
                 ON CONFLICT (symbol, timeframe, start_ns) DO UPDATE SET body = excluded.body",
            )
            .bind(candle.symbol.as_str())
            .bind(candle.timeframe.to_string())
            .bind(candle.start.nanos())
            .bind(serde_json::to_string(candle)?)
            .execute(&mut *tx)
            .await?;
        }
        for entry in &batch.ledger {
            post_in(&mut tx, entry).await?;
        }
        for event in &batch.outbox {
            outbox_in(&mut tx, event).await?;
        }
        for c in &batch.checkpoints {
            sqlx::query(
                "INSERT INTO checkpoints (consumer, stream, shard, sequence) VALUES (?, ?, ?, ?)
                 ON CONFLICT (consumer, stream, shard) DO UPDATE SET sequence = excluded.sequence",
            )
            .bind(&c.consumer)
            .bind(&c.stream)
            .bind(&c.shard)
            .bind(&c.sequence.0)
            .execute(&mut *tx)
            .await?;
        }
        if let Some(s) = &batch.snapshot {
            sqlx::query(
                "INSERT INTO engine_snapshots (name, version, taken_ns, state) VALUES (?, ?, ?, ?)
                 ON CONFLICT (name) DO UPDATE SET version = excluded.version, taken_ns = excluded.taken_ns, state = excluded.state",
            )
            .bind(&s.name)
            .bind(i64::from(s.version))
            .bind(s.taken_at.nanos())
            .bind(&s.state)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    async fn checkpoint(
        &self,
        consumer: &str,
        stream: &str,
        shard: &str,
    ) -> StoreResult<Option<SequenceNumber>> {
        let seq: Option<String> = sqlx::query_scalar(
            "SELECT sequence FROM checkpoints WHERE consumer = ? AND stream = ? AND shard = ?",
        )
        .bind(consumer)
        .bind(stream)
        .bind(shard)
        .fetch_optional(&self.pool)
        .await?;
        Ok(seq.map(SequenceNumber))
    }

    async fn unpublished(&self, limit: usize) -> StoreResult<Vec<OutboxRecord>> {
        let rows = sqlx::query(
            "SELECT id, event_id, stream, partition_key, payload FROM outbox WHERE published = 0 ORDER BY id LIMIT ?",
        )
        .bind(i64::try_from(limit).unwrap_or(i64::MAX))
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|row| {
                Ok(OutboxRecord {
                    id: row.try_get("id")?,
                    event: OutboxEvent {
                        event_id: uuid_of(&row.try_get::<String, _>("event_id")?)?,
                        stream: row.try_get("stream")?,
                        partition_key: row.try_get("partition_key")?,
                        payload: row.try_get("payload")?,
                    },
                })
            })
            .collect()
    }

    async fn mark_published(&self, ids: &[i64]) -> StoreResult<()> {
        let _writing = self.gate.enter().await;
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;
        for id in ids {
            sqlx::query("UPDATE outbox SET published = 1 WHERE id = ?")
                .bind(id)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    async fn snapshot(&self, name: &str) -> StoreResult<Option<Snapshot>> {
        let row = sqlx::query(
            "SELECT name, version, taken_ns, state FROM engine_snapshots WHERE name = ?",
        )
        .bind(name)
        .fetch_optional(&self.pool)
        .await?;
        row.map(|row| {
            Ok(Snapshot {
                name: row.try_get("name")?,
                version: u32::try_from(row.try_get::<i64, _>("version")?)
                    .map_err(|_| StoreError::internal("snapshot version out of range"))?,
                taken_at: Timestamp::from_nanos(row.try_get("taken_ns")?),
                state: row.try_get("state")?,
            })
        })
        .transpose()
    }

    async fn insert_order(&self, order: &Order, outbox: &[OutboxEvent]) -> StoreResult<()> {
        let _writing = self.gate.enter().await;
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;
        sqlx::query(
            "INSERT INTO orders (id, account_id, client_order_id, symbol, status, created_ns, body) VALUES (?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(order.id.to_string())
        .bind(order.account_id.to_string())
        .bind(order.client_order_id.as_ref().map(|c| c.as_str().to_owned()))
        .bind(order.symbol.as_str())
        .bind(order.status().as_str())
        .bind(order.created_at().nanos())
        .bind(serde_json::to_string(order)?)
        .execute(&mut *tx)
        .await?;
        shift_exposure(&mut tx, None, order).await?;
        for event in outbox {
            outbox_in(&mut tx, event).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    async fn order(&self, user: UserId, id: OrderId) -> StoreResult<Option<Order>> {
        let rows = sqlx::query(
            "SELECT o.body FROM orders o JOIN accounts a ON a.id = o.account_id WHERE o.id = ? AND a.user_id = ?",
        )
        .bind(id.to_string())
        .bind(user.to_string())
        .fetch_all(&self.pool)
        .await?;
        Ok(bodies(&rows)?.pop())
    }

    async fn order_by_client_id(
        &self,
        account: AccountId,
        client_order_id: &ClientOrderId,
    ) -> StoreResult<Option<Order>> {
        let rows =
            sqlx::query("SELECT body FROM orders WHERE account_id = ? AND client_order_id = ?")
                .bind(account.to_string())
                .bind(client_order_id.as_str())
                .fetch_all(&self.pool)
                .await?;
        Ok(bodies(&rows)?.pop())
    }

    async fn orders(&self, account: AccountId, query: &OrderQuery) -> StoreResult<OrderPage> {
        let status = query.status.map(|s| s.as_str());
        let symbol = query.symbol.map(|s| s.as_str().to_owned());
        let (after_ns, after_id) = match &query.after {
            Some(c) => (Some(c.created_at.nanos()), Some(c.id.to_string())),
            None => (None, None),
        };
        let rows = sqlx::query(
            "SELECT body FROM orders WHERE account_id = ?1
               AND (?2 IS NULL OR status = ?2)
               AND (?3 IS NULL OR symbol = ?3)
               AND (?4 IS NULL OR created_ns < ?4 OR (created_ns = ?4 AND id < ?5))
             ORDER BY created_ns DESC, id DESC LIMIT ?6",
        )
        .bind(account.to_string())
        .bind(status)
        .bind(symbol)
        .bind(after_ns)
        .bind(after_id)
        .bind(i64::try_from(query.limit.saturating_add(1)).unwrap_or(i64::MAX))
        .fetch_all(&self.pool)
        .await?;
        Ok(page(bodies(&rows)?, query.limit))
    }

    async fn exposure(&self, account: AccountId) -> StoreResult<Vec<ExposureRow>> {
        let rows = sqlx::query(
            "SELECT symbol, side, quantity, notional FROM account_exposure WHERE account_id = ? ORDER BY symbol, side",
        )
        .bind(account.to_string())
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(ExposureRow {
                    symbol: Symbol::parse(&r.try_get::<String, _>("symbol")?)
                        .map_err(|e| StoreError::internal(e.to_string()))?,
                    side: crate::records::side_of(&r.try_get::<String, _>("side")?)?,
                    quantity: money(&r.try_get::<String, _>("quantity")?)?.value(),
                    notional: money(&r.try_get::<String, _>("notional")?)?.value(),
                })
            })
            .collect()
    }

    async fn fills(&self, account: AccountId, limit: usize) -> StoreResult<Vec<Fill>> {
        let rows = sqlx::query("SELECT body FROM fills WHERE account_id = ? ORDER BY time_ns DESC, trade_id DESC LIMIT ?")
            .bind(account.to_string())
            .bind(i64::try_from(limit).unwrap_or(i64::MAX))
            .fetch_all(&self.pool)
            .await?;
        bodies(&rows)
    }

    async fn positions(&self, account: AccountId) -> StoreResult<Vec<Position>> {
        let rows = sqlx::query("SELECT body FROM positions WHERE account_id = ? ORDER BY symbol")
            .bind(account.to_string())
            .fetch_all(&self.pool)
            .await?;
        bodies(&rows)
    }

    async fn save_strategy(&self, strategy: &StrategyRecord) -> StoreResult<()> {
        let _writing = self.gate.enter().await;
        sqlx::query(
            "INSERT INTO strategies (id, account_id, status, created_ns, body) VALUES (?, ?, ?, ?, ?)
             ON CONFLICT (id) DO UPDATE SET status = excluded.status, body = excluded.body",
        )
        .bind(strategy.id.to_string())
        .bind(strategy.account_id.to_string())
        .bind(strategy.status.as_str())
        .bind(strategy.created_at.nanos())
        .bind(serde_json::to_string(strategy)?)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn strategy(&self, user: UserId, id: StrategyId) -> StoreResult<Option<StrategyRecord>> {
        let rows = sqlx::query(
            "SELECT s.body FROM strategies s JOIN accounts a ON a.id = s.account_id WHERE s.id = ? AND a.user_id = ?",
        )
        .bind(id.to_string())
        .bind(user.to_string())
        .fetch_all(&self.pool)
        .await?;
        Ok(bodies(&rows)?.pop())
    }

    async fn strategies(&self, account: Option<AccountId>) -> StoreResult<Vec<StrategyRecord>> {
        let rows = sqlx::query("SELECT body FROM strategies WHERE ?1 IS NULL OR account_id = ?1 ORDER BY created_ns, id")
            .bind(account.map(|a| a.to_string()))
            .fetch_all(&self.pool)
            .await?;
        bodies(&rows)
    }

    async fn candles(
        &self,
        symbol: Symbol,
        timeframe: Timeframe,
        from: Timestamp,
        to: Timestamp,
        limit: usize,
    ) -> StoreResult<Vec<Candle>> {
        let rows = sqlx::query(
            "SELECT body FROM candles WHERE symbol = ? AND timeframe = ? AND start_ns >= ? AND start_ns < ?
             ORDER BY start_ns LIMIT ?",
        )
        .bind(symbol.as_str())
        .bind(timeframe.to_string())
        .bind(from.nanos())
        .bind(to.nanos())
        .bind(i64::try_from(limit).unwrap_or(i64::MAX))
        .fetch_all(&self.pool)
        .await?;
        bodies(&rows)
    }

    async fn save_report(&self, row: &ReportRow) -> StoreResult<()> {
        let _writing = self.gate.enter().await;
        sqlx::query(
            "INSERT INTO reports (account_id, day, body) VALUES (?, ?, ?)
             ON CONFLICT (account_id, day) DO UPDATE SET body = excluded.body",
        )
        .bind(row.account_id.to_string())
        .bind(&row.day)
        .bind(serde_json::to_string(row)?)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn reports(
        &self,
        account: AccountId,
        from: &str,
        to: &str,
    ) -> StoreResult<Vec<ReportRow>> {
        let rows = sqlx::query(
            "SELECT body FROM reports WHERE account_id = ? AND day >= ? AND day <= ? ORDER BY day",
        )
        .bind(account.to_string())
        .bind(from)
        .bind(to)
        .fetch_all(&self.pool)
        .await?;
        bodies(&rows)
    }
}
