//! The system-of-record ports ([`crate::records::RecordStore`]) on Postgres.

use async_trait::async_trait;
use domain::{
    Account, AccountId, AccountKind, Candle, ClientOrderId, Currency, Decimal, EventId, Fill,
    JobId, JobKind, LedgerEntry, Money, NaiveDate, Order, OrderId, Position, PostedEntry, Price,
    ReportRow, ResearchJob, Side, StrategyId, StrategyRecord, Symbol, Timeframe, Timestamp, UserId,
};
use sqlx::postgres::PgRow;
use sqlx::{PgConnection, PgPool, Row};
use uuid::Uuid;

use crate::error::{StoreError, StoreResult};
use crate::records::{
    AccountActivity, AccountBook, AccountLedger, AmendHold, CommitBatch, CoreCommit, ExposureRow,
    JobOutcome, MarketHistory, MinuteActivity, NewOrder, OrderPage, OrderQuery, OrderRecords,
    OutboxEvent, OutboxQueue, OutboxRecord, PlatformActivity, ReportRecords, ResearchJobs,
    Reserved, Snapshot, StrategyRecords, check_reservation, day_key, job_finished, job_started,
    ledger_kind, minute_of, page,
};
use crate::stream::SequenceNumber;

#[derive(Debug, Clone)]
pub struct PgRecords {
    pool: PgPool,
}

impl PgRecords {
    pub fn new(pool: PgPool) -> Self {
        PgRecords { pool }
    }
}

fn account_from(row: &PgRow) -> StoreResult<Account> {
    let kind: String = row.try_get("kind")?;
    let currency: String = row.try_get("base_currency")?;
    Ok(Account {
        id: AccountId::from_uuid(row.try_get("id")?),
        user_id: UserId::from_uuid(row.try_get("user_id")?),
        name: row.try_get("name")?,
        kind: AccountKind::parse(&kind)
            .ok_or_else(|| StoreError::internal(format!("account kind {kind:?}")))?,
        base_currency: Currency::parse(&currency)
            .map_err(|e| StoreError::internal(e.to_string()))?,
        cash: Money::new(row.try_get("cash")?),
        created_at: Timestamp::from_nanos(row.try_get("created_ns")?),
    })
}

fn posted_from(row: &PgRow) -> StoreResult<PostedEntry> {
    Ok(PostedEntry {
        entry: LedgerEntry {
            id: EventId::from_uuid(row.try_get("id")?),
            account_id: AccountId::from_uuid(row.try_get("account_id")?),
            kind: ledger_kind(row.try_get("kind")?)?,
            amount: Money::new(row.try_get("amount")?),
            reference: row.try_get("reference")?,
            time: Timestamp::from_nanos(row.try_get("time_ns")?),
        },
        balance_after: Money::new(row.try_get("balance_after")?),
    })
}

/// The columns of a [`PostedEntry`] (a macro, so queries stay `&'static str`).
macro_rules! ledger_columns {
    () => {
        "id, account_id, kind, amount, balance_after, reference, time_ns"
    };
}

/// Locks an account's row (`FOR UPDATE`) and returns its cash. Every write that reserves
/// or spends an account's cash takes this lock before any other row of the account, so
/// such writes serialize per account and cannot deadlock one another.
async fn lock_account(conn: &mut PgConnection, id: AccountId) -> StoreResult<Money> {
    let cash: Option<Decimal> =
        sqlx::query_scalar("SELECT cash FROM accounts WHERE id = $1 FOR UPDATE")
            .bind(id.as_uuid())
            .fetch_optional(&mut *conn)
            .await?;
    cash.map(Money::new)
        .ok_or_else(|| StoreError::not_found(format!("no account {id}")))
}

/// What working buys reserve, over all of an account's symbols.
async fn reserved_for_buys(conn: &mut PgConnection, id: AccountId) -> StoreResult<Decimal> {
    Ok(sqlx::query_scalar(
        "SELECT COALESCE(SUM(notional), 0) FROM account_exposure WHERE account_id = $1 AND side = 'buy'",
    )
    .bind(id.as_uuid())
    .fetch_one(&mut *conn)
    .await?)
}

/// The account's book for `symbol`, read in one statement (so one snapshot: a position
/// and the exposure that a fill moved with it are never seen half-updated).
async fn account_book(
    conn: &mut PgConnection,
    id: AccountId,
    symbol: Symbol,
) -> StoreResult<AccountBook> {
    let row = sqlx::query(
        "SELECT a.cash,
           COALESCE((SELECT SUM(notional) FROM account_exposure WHERE account_id = a.id AND side = 'buy'), 0) AS buy_notional,
           COALESCE((SELECT quantity FROM positions WHERE account_id = a.id AND symbol = $2), 0) AS held,
           COALESCE((SELECT quantity FROM account_exposure WHERE account_id = a.id AND symbol = $2 AND side = 'buy'), 0) AS working_buys,
           COALESCE((SELECT quantity FROM account_exposure WHERE account_id = a.id AND symbol = $2 AND side = 'sell'), 0) AS working_sells
         FROM accounts a WHERE a.id = $1",
    )
    .bind(id.as_uuid())
    .bind(symbol.as_str())
    .fetch_one(&mut *conn)
    .await?;
    Ok(AccountBook {
        cash: Money::new(row.try_get("cash")?),
        buy_notional: row.try_get("buy_notional")?,
        held: row.try_get("held")?,
        working_buys: row.try_get("working_buys")?,
        working_sells: row.try_get("working_sells")?,
    })
}

/// Posts one entry inside the caller's transaction, the account row locked first. With
/// `keep_reserved`, the cash left must cover what working buys reserve.
async fn post_in(
    conn: &mut PgConnection,
    entry: &LedgerEntry,
    keep_reserved: bool,
) -> StoreResult<PostedEntry> {
    let cash = lock_account(conn, entry.account_id).await?;
    // Checked after the lock: a concurrent post of the same entry has committed by now.
    let existing = sqlx::query(concat!(
        "SELECT ",
        ledger_columns!(),
        " FROM ledger_entries WHERE id = $1"
    ))
    .bind(entry.id.as_uuid())
    .fetch_optional(&mut *conn)
    .await?;
    if let Some(row) = existing {
        return posted_from(&row);
    }
    let after = cash
        .checked_add(entry.amount)
        .map_err(|e| StoreError::invalid(e.to_string()))?;
    if after.is_negative() {
        return Err(StoreError::condition_failed(format!(
            "insufficient cash: {cash} available, {} asked",
            entry.amount.checked_neg()
        )));
    }
    if keep_reserved {
        let reserved = reserved_for_buys(conn, entry.account_id).await?;
        if after.value() < reserved {
            return Err(StoreError::condition_failed(format!(
                "working buy orders reserve {reserved} of the cash {cash}"
            )));
        }
    }
    sqlx::query("UPDATE accounts SET cash = $1 WHERE id = $2")
        .bind(after.value())
        .bind(entry.account_id.as_uuid())
        .execute(&mut *conn)
        .await?;
    sqlx::query(
        "INSERT INTO ledger_entries (id, account_id, kind, amount, balance_after, reference, time_ns)
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(entry.id.as_uuid())
    .bind(entry.account_id.as_uuid())
    .bind(entry.kind.as_str())
    .bind(entry.amount.value())
    .bind(after.value())
    .bind(&entry.reference)
    .bind(entry.time.nanos())
    .execute(&mut *conn)
    .await?;
    Ok(PostedEntry {
        entry: entry.clone(),
        balance_after: after,
    })
}

/// Adds an outbox event inside the caller's transaction (idempotent by event id).
async fn outbox_in(conn: &mut sqlx::PgConnection, event: &OutboxEvent) -> StoreResult<()> {
    sqlx::query(
        "INSERT INTO outbox (event_id, stream, partition_key, payload) VALUES ($1, $2, $3, $4)
         ON CONFLICT (event_id) DO NOTHING",
    )
    .bind(event.event_id.as_uuid())
    .bind(&event.stream)
    .bind(&event.partition_key)
    .bind(&event.payload)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Writes an order as the core has it. The row's `reserve_price` (recorded at placement)
/// stays; the exposure moves by what changed.
async fn upsert_order(conn: &mut PgConnection, order: &Order) -> StoreResult<()> {
    let old = sqlx::query("SELECT body, reserve_price FROM orders WHERE id = $1 FOR UPDATE")
        .bind(order.id.as_uuid())
        .fetch_optional(&mut *conn)
        .await?;
    let (old, reserve_price): (Option<Order>, Option<Price>) = match old {
        Some(row) => (
            Some(serde_json::from_value(row.try_get("body")?)?),
            reserve_price_of(row.try_get("reserve_price")?)?,
        ),
        None => (None, None),
    };
    sqlx::query(
        "INSERT INTO orders (id, account_id, client_order_id, symbol, status, created_ns, body, strategy_id) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
         ON CONFLICT (id) DO UPDATE SET status = EXCLUDED.status, body = EXCLUDED.body",
    )
    .bind(order.id.as_uuid())
    .bind(order.account_id.as_uuid())
    .bind(order.client_order_id.as_ref().map(|c| c.as_str().to_owned()))
    .bind(order.symbol.as_str())
    .bind(order.status().as_str())
    .bind(order.created_at().nanos())
    .bind(serde_json::to_value(order)?)
    .bind(order.strategy_id.map(|s| s.as_uuid()))
    .execute(&mut *conn)
    .await?;
    let deltas = crate::records::exposure_deltas(old.as_ref(), order, reserve_price);
    shift_exposure(conn, order.account_id, &deltas).await
}

fn reserve_price_of(value: Option<Decimal>) -> StoreResult<Option<Price>> {
    value
        .map(|v| {
            Price::new(v).map_err(|e| StoreError::internal(format!("stored reserve price: {e}")))
        })
        .transpose()
}

/// Moves an account's exposure by `deltas` (symbol, side, quantity, notional).
async fn shift_exposure(
    conn: &mut PgConnection,
    account: AccountId,
    deltas: &[(Symbol, Side, Decimal, Decimal)],
) -> StoreResult<()> {
    for (symbol, side, quantity, notional) in deltas {
        sqlx::query(
            "INSERT INTO account_exposure (account_id, symbol, side, quantity, notional) VALUES ($1, $2, $3, $4, $5)
             ON CONFLICT (account_id, symbol, side) DO UPDATE
             SET quantity = account_exposure.quantity + EXCLUDED.quantity,
                 notional = account_exposure.notional + EXCLUDED.notional",
        )
        .bind(account.as_uuid())
        .bind(symbol.as_str())
        .bind(side.as_str())
        .bind(quantity)
        .bind(notional)
        .execute(&mut *conn)
        .await?;
        sqlx::query(
            "DELETE FROM account_exposure WHERE account_id = $1 AND symbol = $2 AND side = $3 AND quantity = 0 AND notional = 0",
        )
        .bind(account.as_uuid())
        .bind(symbol.as_str())
        .bind(side.as_str())
        .execute(&mut *conn)
        .await?;
    }
    Ok(())
}

/// Ends the amend holds of the commands a commit applied, giving back their exposure.
async fn release_holds(conn: &mut PgConnection, commands: &[Uuid]) -> StoreResult<()> {
    let rows = sqlx::query(
        "DELETE FROM order_holds WHERE command_id = ANY($1)
         RETURNING account_id, symbol, side, quantity, notional",
    )
    .bind(commands)
    .fetch_all(&mut *conn)
    .await?;
    give_back_holds(conn, rows).await
}

/// Gives back the exposure of deleted hold rows (`account_id, symbol, side, quantity,
/// notional`).
async fn give_back_holds(conn: &mut PgConnection, rows: Vec<PgRow>) -> StoreResult<()> {
    for row in rows {
        let symbol = Symbol::parse(&row.try_get::<String, _>("symbol")?)
            .map_err(|e| StoreError::internal(e.to_string()))?;
        let side = crate::records::side_of(&row.try_get::<String, _>("side")?)?;
        let quantity: Decimal = row.try_get("quantity")?;
        let notional: Decimal = row.try_get("notional")?;
        shift_exposure(
            conn,
            AccountId::from_uuid(row.try_get("account_id")?),
            &[(symbol, side, -quantity, -notional)],
        )
        .await?;
    }
    Ok(())
}

fn bodies<T: serde::de::DeserializeOwned>(rows: &[PgRow]) -> StoreResult<Vec<T>> {
    rows.iter()
        .map(|r| {
            Ok(serde_json::from_value(
                r.try_get::<serde_json::Value, _>("body")?,
            )?)
        })
        .collect()
}

#[async_trait]
impl AccountLedger for PgRecords {
    async fn create_account(&self, account: &Account) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO accounts (id, user_id, name, kind, base_currency, cash, created_ns) VALUES ($1, $2, $3, $4, $5, 0, $6)",
        )
        .bind(account.id.as_uuid())
        .bind(account.user_id.as_uuid())
        .bind(&account.name)
        .bind(account.kind.as_str())
        .bind(account.base_currency.as_str())
        .bind(account.created_at.nanos())
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn accounts(&self, user: UserId) -> StoreResult<Vec<Account>> {
        let rows = sqlx::query("SELECT * FROM accounts WHERE user_id = $1 ORDER BY created_ns, id")
            .bind(user.as_uuid())
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
        let start = after.map_or(uuid::Uuid::nil(), |a| a.as_uuid());
        let rows = sqlx::query("SELECT * FROM accounts WHERE id > $1 ORDER BY id LIMIT $2")
            .bind(start)
            .bind(i64::try_from(limit).unwrap_or(i64::MAX))
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(account_from).collect()
    }

    async fn account_by_id(&self, id: AccountId) -> StoreResult<Option<Account>> {
        let row = sqlx::query("SELECT * FROM accounts WHERE id = $1")
            .bind(id.as_uuid())
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(account_from).transpose()
    }

    async fn account(&self, user: UserId, id: AccountId) -> StoreResult<Option<Account>> {
        let row = sqlx::query("SELECT * FROM accounts WHERE id = $1 AND user_id = $2")
            .bind(id.as_uuid())
            .bind(user.as_uuid())
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(account_from).transpose()
    }

    async fn post(&self, entry: &LedgerEntry) -> StoreResult<PostedEntry> {
        let mut tx = self.pool.begin().await?;
        let posted = post_in(&mut tx, entry, false).await?;
        tx.commit().await?;
        Ok(posted)
    }

    async fn withdraw(&self, entry: &LedgerEntry) -> StoreResult<PostedEntry> {
        let mut tx = self.pool.begin().await?;
        let posted = post_in(&mut tx, entry, true).await?;
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
            " FROM ledger_entries WHERE account_id = $1 AND id = $2"
        ))
        .bind(account.as_uuid())
        .bind(id.as_uuid())
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(posted_from).transpose()
    }

    async fn ledger(&self, account: AccountId, limit: usize) -> StoreResult<Vec<PostedEntry>> {
        let rows = sqlx::query(concat!(
            "SELECT ",
            ledger_columns!(),
            " FROM ledger_entries WHERE account_id = $1 ORDER BY seq DESC LIMIT $2"
        ))
        .bind(account.as_uuid())
        .bind(i64::try_from(limit).unwrap_or(i64::MAX))
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(posted_from).collect()
    }
}

#[async_trait]
impl OrderRecords for PgRecords {
    async fn insert_order(&self, new: &NewOrder<'_>) -> StoreResult<Reserved> {
        let order = new.order;
        let mut tx = self.pool.begin().await?;
        lock_account(&mut tx, order.account_id).await?;
        sqlx::query(
            "INSERT INTO orders (id, account_id, client_order_id, symbol, status, created_ns, body, reserve_price, strategy_id) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        )
        .bind(order.id.as_uuid())
        .bind(order.account_id.as_uuid())
        .bind(order.client_order_id.as_ref().map(|c| c.as_str().to_owned()))
        .bind(order.symbol.as_str())
        .bind(order.status().as_str())
        .bind(order.created_at().nanos())
        .bind(serde_json::to_value(order)?)
        .bind(new.reserve_price.map(|p| p.value()))
        .bind(order.strategy_id.map(|s| s.as_uuid()))
        .execute(&mut *tx)
        .await?;
        let deltas = crate::records::exposure_deltas(None, order, new.reserve_price);
        shift_exposure(&mut tx, order.account_id, &deltas).await?;
        let book = account_book(&mut tx, order.account_id, order.symbol).await?;
        let added = deltas
            .first()
            .map_or((Decimal::ZERO, Decimal::ZERO), |d| (d.2, d.3));
        if let Err(refusal) = check_reservation(&book, order.side, added, &new.limits) {
            tx.rollback().await?;
            return Ok(Err(refusal));
        }
        for event in new.outbox {
            outbox_in(&mut tx, event).await?;
        }
        tx.commit().await?;
        Ok(Ok(()))
    }

    async fn hold_amend(&self, hold: &AmendHold<'_>) -> StoreResult<Reserved> {
        let mut tx = self.pool.begin().await?;
        lock_account(&mut tx, hold.account_id).await?;
        let row = sqlx::query(
            "SELECT body, reserve_price FROM orders WHERE id = $1 AND account_id = $2 FOR UPDATE",
        )
        .bind(hold.order_id.as_uuid())
        .bind(hold.account_id.as_uuid())
        .fetch_optional(&mut *tx)
        .await?
        .ok_or_else(|| StoreError::not_found(format!("no order {}", hold.order_id)))?;
        let order: Order = serde_json::from_value(row.try_get("body")?)?;
        let reserve_price = reserve_price_of(row.try_get("reserve_price")?)?;
        let growth = crate::records::amend_growth(&order, reserve_price, hold)?;
        if growth != (Decimal::ZERO, Decimal::ZERO) {
            sqlx::query(
                "INSERT INTO order_holds (command_id, account_id, symbol, side, quantity, notional, order_id) VALUES ($1, $2, $3, $4, $5, $6, $7)",
            )
            .bind(hold.command.event_id.as_uuid())
            .bind(hold.account_id.as_uuid())
            .bind(order.symbol.as_str())
            .bind(order.side.as_str())
            .bind(growth.0)
            .bind(growth.1)
            .bind(hold.order_id.as_uuid())
            .execute(&mut *tx)
            .await?;
            shift_exposure(
                &mut tx,
                hold.account_id,
                &[(order.symbol, order.side, growth.0, growth.1)],
            )
            .await?;
            let book = account_book(&mut tx, hold.account_id, order.symbol).await?;
            if let Err(refusal) = check_reservation(&book, order.side, growth, &hold.limits) {
                tx.rollback().await?;
                return Ok(Err(refusal));
            }
        }
        outbox_in(&mut tx, hold.command).await?;
        tx.commit().await?;
        Ok(Ok(()))
    }

    async fn withdraw_order(&self, account: AccountId, order: OrderId) -> StoreResult<bool> {
        let mut tx = self.pool.begin().await?;
        // The account first, as an insert locks it: a racing insert sees the exposure
        // either with this order or without it, never half given back.
        if let Err(e) = lock_account(&mut tx, account).await {
            return if e.kind() == crate::ErrorKind::NotFound {
                Ok(false)
            } else {
                Err(e)
            };
        }
        let row = sqlx::query(
            "SELECT body, reserve_price FROM orders WHERE id = $1 AND account_id = $2 FOR UPDATE",
        )
        .bind(order.as_uuid())
        .bind(account.as_uuid())
        .fetch_optional(&mut *tx)
        .await?;
        let Some(row) = row else { return Ok(false) };
        let stored: Order = serde_json::from_value(row.try_get("body")?)?;
        if !crate::records::withdrawable(&stored) {
            return Ok(false);
        }
        let reserve_price = reserve_price_of(row.try_get("reserve_price")?)?;
        sqlx::query("DELETE FROM orders WHERE id = $1")
            .bind(order.as_uuid())
            .execute(&mut *tx)
            .await?;
        let deltas = crate::records::exposure_withdrawn(&stored, reserve_price);
        shift_exposure(&mut tx, account, &deltas).await?;
        let holds = sqlx::query(
            "DELETE FROM order_holds WHERE order_id = $1
             RETURNING account_id, symbol, side, quantity, notional",
        )
        .bind(order.as_uuid())
        .fetch_all(&mut *tx)
        .await?;
        give_back_holds(&mut tx, holds).await?;
        tx.commit().await?;
        Ok(true)
    }

    async fn order(&self, user: UserId, id: OrderId) -> StoreResult<Option<Order>> {
        let rows = sqlx::query(
            "SELECT o.body FROM orders o JOIN accounts a ON a.id = o.account_id WHERE o.id = $1 AND a.user_id = $2",
        )
        .bind(id.as_uuid())
        .bind(user.as_uuid())
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
            sqlx::query("SELECT body FROM orders WHERE account_id = $1 AND client_order_id = $2")
                .bind(account.as_uuid())
                .bind(client_order_id.as_str())
                .fetch_all(&self.pool)
                .await?;
        Ok(bodies(&rows)?.pop())
    }

    async fn orders(&self, account: AccountId, query: &OrderQuery) -> StoreResult<OrderPage> {
        let (after_ns, after_id) = match &query.after {
            Some(c) => (Some(c.created_at.nanos()), Some(c.id.as_uuid())),
            None => (None, None),
        };
        let rows = sqlx::query(
            "SELECT body FROM orders WHERE account_id = $1
               AND ($2::text IS NULL OR status = $2)
               AND ($3::text IS NULL OR symbol = $3)
               AND ($4::bigint IS NULL OR created_ns < $4 OR (created_ns = $4 AND id < $5))
             ORDER BY created_ns DESC, id DESC LIMIT $6",
        )
        .bind(account.as_uuid())
        .bind(query.status.map(|s| s.as_str()))
        .bind(query.symbol.map(|s| s.as_str().to_owned()))
        .bind(after_ns)
        .bind(after_id)
        .bind(i64::try_from(query.limit.saturating_add(1)).unwrap_or(i64::MAX))
        .fetch_all(&self.pool)
        .await?;
        Ok(page(bodies(&rows)?, query.limit))
    }

    async fn exposure(&self, account: AccountId) -> StoreResult<Vec<ExposureRow>> {
        let rows = sqlx::query(
            "SELECT symbol, side, quantity, notional FROM account_exposure WHERE account_id = $1 ORDER BY symbol, side",
        )
        .bind(account.as_uuid())
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(ExposureRow {
                    symbol: Symbol::parse(&r.try_get::<String, _>("symbol")?)
                        .map_err(|e| StoreError::internal(e.to_string()))?,
                    side: crate::records::side_of(&r.try_get::<String, _>("side")?)?,
                    quantity: r.try_get::<domain::Decimal, _>("quantity")?,
                    notional: r.try_get::<domain::Decimal, _>("notional")?,
                })
            })
            .collect()
    }

    async fn fills(&self, account: AccountId, limit: usize) -> StoreResult<Vec<Fill>> {
        let rows = sqlx::query("SELECT body FROM fills WHERE account_id = $1 ORDER BY time_ns DESC, trade_id DESC LIMIT $2")
            .bind(account.as_uuid())
            .bind(i64::try_from(limit).unwrap_or(i64::MAX))
            .fetch_all(&self.pool)
            .await?;
        bodies(&rows)
    }

    async fn positions(&self, account: AccountId) -> StoreResult<Vec<Position>> {
        let rows = sqlx::query("SELECT body FROM positions WHERE account_id = $1 ORDER BY symbol")
            .bind(account.as_uuid())
            .fetch_all(&self.pool)
            .await?;
        bodies(&rows)
    }

    async fn deployment_fills(&self, strategy: domain::StrategyId) -> StoreResult<Vec<Fill>> {
        let rows = sqlx::query(
            "SELECT f.body FROM orders o JOIN fills f ON f.order_id = o.id
             WHERE o.strategy_id = $1 ORDER BY f.time_ns, f.trade_id, f.order_id",
        )
        .bind(strategy.as_uuid())
        .fetch_all(&self.pool)
        .await?;
        bodies(&rows)
    }
}

#[async_trait]
impl StrategyRecords for PgRecords {
    async fn save_strategy(&self, strategy: &StrategyRecord) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO strategies (id, account_id, status, created_ns, body) VALUES ($1, $2, $3, $4, $5)
             ON CONFLICT (id) DO UPDATE SET status = EXCLUDED.status, body = EXCLUDED.body",
        )
        .bind(strategy.id.as_uuid())
        .bind(strategy.account_id.as_uuid())
        .bind(strategy.status.as_str())
        .bind(strategy.created_at.nanos())
        .bind(serde_json::to_value(strategy)?)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn strategy(&self, user: UserId, id: StrategyId) -> StoreResult<Option<StrategyRecord>> {
        let rows = sqlx::query(
            "SELECT s.body FROM strategies s JOIN accounts a ON a.id = s.account_id WHERE s.id = $1 AND a.user_id = $2",
        )
        .bind(id.as_uuid())
        .bind(user.as_uuid())
        .fetch_all(&self.pool)
        .await?;
        Ok(bodies(&rows)?.pop())
    }

    async fn strategies(&self, account: Option<AccountId>) -> StoreResult<Vec<StrategyRecord>> {
        let rows =
            sqlx::query("SELECT body FROM strategies WHERE $1::uuid IS NULL OR account_id = $1 ORDER BY created_ns, id")
                .bind(account.map(|a| a.as_uuid()))
                .fetch_all(&self.pool)
                .await?;
        bodies(&rows)
    }
}

#[async_trait]
impl MarketHistory for PgRecords {
    async fn candles(
        &self,
        symbol: Symbol,
        timeframe: Timeframe,
        from: Timestamp,
        to: Timestamp,
        limit: usize,
    ) -> StoreResult<Vec<Candle>> {
        let rows = sqlx::query(
            "SELECT body FROM candles WHERE symbol = $1 AND timeframe = $2 AND start_ns >= $3 AND start_ns < $4
             ORDER BY start_ns LIMIT $5",
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

    async fn latest_candles(
        &self,
        symbol: Symbol,
        timeframe: Timeframe,
        from: Timestamp,
        to: Timestamp,
        limit: usize,
    ) -> StoreResult<Vec<Candle>> {
        let rows = sqlx::query(
            "SELECT body FROM candles WHERE symbol = $1 AND timeframe = $2 AND start_ns >= $3 AND start_ns < $4
             ORDER BY start_ns DESC LIMIT $5",
        )
        .bind(symbol.as_str())
        .bind(timeframe.to_string())
        .bind(from.nanos())
        .bind(to.nanos())
        .bind(i64::try_from(limit).unwrap_or(i64::MAX))
        .fetch_all(&self.pool)
        .await?;
        let mut candles: Vec<Candle> = bodies(&rows)?;
        candles.reverse();
        Ok(candles)
    }

    async fn candle_timeframes(&self, symbol: Symbol) -> StoreResult<Vec<Timeframe>> {
        // One index probe per timeframe rather than a scan of the symbol's rows.
        let mut found = Vec::new();
        let mut after = String::new();
        loop {
            let next: Option<String> = sqlx::query_scalar(
                "SELECT timeframe FROM candles WHERE symbol = $1 AND timeframe > $2
                 ORDER BY timeframe LIMIT 1",
            )
            .bind(symbol.as_str())
            .bind(&after)
            .fetch_optional(&self.pool)
            .await?;
            let Some(text) = next else { break };
            found.push(Timeframe::parse(&text).map_err(|e| StoreError::internal(e.to_string()))?);
            after = text;
        }
        found.sort();
        Ok(found)
    }

    async fn save_candles(&self, candles: &[Candle]) -> StoreResult<u64> {
        // One statement per thousand candles (a 100,000-bar import is 100 round trips, not
        // 100,000); a statement may not touch a row twice, hence `last_of_each`.
        let unique = crate::records::last_of_each(candles);
        let mut tx = self.pool.begin().await?;
        let mut changed = 0;
        for chunk in unique.chunks(1_000) {
            let rows = chunk
                .iter()
                .map(|c| {
                    Ok((
                        c.symbol.as_str(),
                        c.timeframe.to_string(),
                        c.start.nanos(),
                        serde_json::to_value(c)?,
                    ))
                })
                .collect::<StoreResult<Vec<_>>>()?;
            let mut insert = sqlx::QueryBuilder::<sqlx::Postgres>::new(
                "INSERT INTO candles (symbol, timeframe, start_ns, body) ",
            );
            insert.push_values(rows, |mut row, (symbol, timeframe, start, body)| {
                row.push_bind(symbol)
                    .push_bind(timeframe)
                    .push_bind(start)
                    .push_bind(body);
            });
            insert.push(
                " ON CONFLICT (symbol, timeframe, start_ns) DO UPDATE SET body = EXCLUDED.body
                 WHERE candles.body IS DISTINCT FROM EXCLUDED.body",
            );
            changed += insert.build().execute(&mut *tx).await?.rows_affected();
        }
        tx.commit().await?;
        Ok(changed)
    }
}

#[async_trait]
impl ReportRecords for PgRecords {
    async fn save_report(&self, row: &ReportRow) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO reports (account_id, day, body) VALUES ($1, $2, $3)
             ON CONFLICT (account_id, day) DO UPDATE SET body = EXCLUDED.body",
        )
        .bind(row.account_id.as_uuid())
        .bind(day_key(row.day))
        .bind(serde_json::to_value(row)?)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn reports(
        &self,
        account: AccountId,
        from: NaiveDate,
        to: NaiveDate,
    ) -> StoreResult<Vec<ReportRow>> {
        let rows = sqlx::query("SELECT body FROM reports WHERE account_id = $1 AND day >= $2 AND day <= $3 ORDER BY day")
            .bind(account.as_uuid())
            .bind(day_key(from))
            .bind(day_key(to))
            .fetch_all(&self.pool)
            .await?;
        bodies(&rows)
    }
}

#[async_trait]
impl CoreCommit for PgRecords {
    async fn commit(&self, batch: &CommitBatch) -> StoreResult<()> {
        let mut tx = self.pool.begin().await?;
        let commands: Vec<Uuid> = batch
            .applied_commands
            .iter()
            .map(EventId::as_uuid)
            .collect();
        // Every account this batch touches is locked first, in one order (by id), as
        // every other write that reserves or spends cash does: so none of them can
        // deadlock with the batch, and none sees it half-applied.
        let mut accounts: Vec<Uuid> = batch
            .orders
            .iter()
            .map(|o| o.account_id.as_uuid())
            .chain(batch.ledger.iter().map(|e| e.account_id.as_uuid()))
            .chain(batch.positions.iter().map(|(a, _)| a.as_uuid()))
            .collect();
        if !commands.is_empty() {
            let held: Vec<Uuid> = sqlx::query_scalar(
                "SELECT DISTINCT account_id FROM order_holds WHERE command_id = ANY($1)",
            )
            .bind(&commands)
            .fetch_all(&mut *tx)
            .await?;
            accounts.extend(held);
        }
        accounts.sort_unstable();
        accounts.dedup();
        if !accounts.is_empty() {
            sqlx::query("SELECT id FROM accounts WHERE id = ANY($1) ORDER BY id FOR UPDATE")
                .bind(&accounts)
                .fetch_all(&mut *tx)
                .await?;
        }
        for order in &batch.orders {
            upsert_order(&mut tx, order).await?;
        }
        if !commands.is_empty() {
            release_holds(&mut tx, &commands).await?;
        }
        for fill in &batch.fills {
            sqlx::query(
                "INSERT INTO fills (order_id, trade_id, account_id, time_ns, body) VALUES ($1, $2, $3, $4, $5)
                 ON CONFLICT (order_id, trade_id) DO NOTHING",
            )
            .bind(fill.order_id.as_uuid())
            .bind(i64::try_from(fill.trade_id.0).map_err(|_| StoreError::invalid("trade id out of range"))?)
            .bind(fill.account_id.as_uuid())
            .bind(fill.time.nanos())
            .bind(serde_json::to_value(fill)?)
            .execute(&mut *tx)
            .await?;
        }
        for (account, position) in &batch.positions {
            sqlx::query(
                "INSERT INTO positions (account_id, symbol, body) VALUES ($1, $2, $3)
                 ON CONFLICT (account_id, symbol) DO UPDATE SET body = EXCLUDED.body",
            )
            .bind(account.as_uuid())
            .bind(position.symbol.as_str())
            .bind(serde_json::to_value(position)?)
            .execute(&mut *tx)
            .await?;
        }
        for candle in &batch.candles {
            sqlx::query(
                "INSERT INTO candles (symbol, timeframe, start_ns, body) VALUES ($1, $2, $3, $4)
                 ON CONFLICT (symbol, timeframe, start_ns) DO UPDATE SET body = EXCLUDED.body",
            )
            .bind(candle.symbol.as_str())
            .bind(candle.timeframe.to_string())
            .bind(candle.start.nanos())
            .bind(serde_json::to_value(candle)?)
            .execute(&mut *tx)
            .await?;
        }
        for entry in &batch.ledger {
            post_in(&mut tx, entry, false).await?;
        }
        for event in &batch.outbox {
            outbox_in(&mut tx, event).await?;
        }
        for c in &batch.checkpoints {
            sqlx::query(
                "INSERT INTO checkpoints (consumer, stream, shard, sequence) VALUES ($1, $2, $3, $4)
                 ON CONFLICT (consumer, stream, shard) DO UPDATE SET sequence = EXCLUDED.sequence",
            )
            .bind(&c.consumer)
            .bind(&c.stream)
            .bind(&c.shard)
            .bind(&c.sequence.0)
            .execute(&mut *tx)
            .await?;
        }
        if !commands.is_empty() {
            let ids = &commands;
            let newest: Option<i64> = sqlx::query_scalar(
                "WITH added AS (
                     INSERT INTO applied_commands (event_id)
                     SELECT id FROM UNNEST($1::uuid[]) WITH ORDINALITY AS t(id, n) ORDER BY n
                     RETURNING seq
                 ) SELECT max(seq) FROM added",
            )
            .bind(ids)
            .fetch_one(&mut *tx)
            .await?;
            if newest.is_some() {
                // By count, not by `seq` arithmetic: rolled-back batches leave gaps in
                // the sequence.
                sqlx::query(
                    "DELETE FROM applied_commands WHERE seq < (
                         SELECT seq FROM applied_commands ORDER BY seq DESC OFFSET $1 LIMIT 1)",
                )
                .bind(crate::records::COMMANDS_REMEMBERED as i64 - 1)
                .execute(&mut *tx)
                .await?;
            }
        }
        if let Some(s) = &batch.snapshot {
            sqlx::query(
                "INSERT INTO engine_snapshots (name, version, taken_ns, state) VALUES ($1, $2, $3, $4)
                 ON CONFLICT (name) DO UPDATE SET version = EXCLUDED.version, taken_ns = EXCLUDED.taken_ns, state = EXCLUDED.state",
            )
            .bind(&s.name)
            .bind(i32::try_from(s.version).map_err(|_| StoreError::invalid("snapshot version too large"))?)
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
            "SELECT sequence FROM checkpoints WHERE consumer = $1 AND stream = $2 AND shard = $3",
        )
        .bind(consumer)
        .bind(stream)
        .bind(shard)
        .fetch_optional(&self.pool)
        .await?;
        Ok(seq.map(SequenceNumber))
    }

    async fn snapshot(&self, name: &str) -> StoreResult<Option<Snapshot>> {
        let row = sqlx::query(
            "SELECT name, version, taken_ns, state FROM engine_snapshots WHERE name = $1",
        )
        .bind(name)
        .fetch_optional(&self.pool)
        .await?;
        row.map(|row| {
            Ok(Snapshot {
                name: row.try_get("name")?,
                version: u32::try_from(row.try_get::<i32, _>("version")?)
                    .map_err(|_| StoreError::internal("snapshot version out of range"))?,
                taken_at: Timestamp::from_nanos(row.try_get("taken_ns")?),
                state: row.try_get("state")?,
            })
        })
        .transpose()
    }

    async fn recent_commands(&self, limit: usize) -> StoreResult<Vec<EventId>> {
        let mut ids: Vec<uuid::Uuid> =
            sqlx::query_scalar("SELECT event_id FROM applied_commands ORDER BY seq DESC LIMIT $1")
                .bind(i64::try_from(limit).unwrap_or(i64::MAX))
                .fetch_all(&self.pool)
                .await?;
        ids.reverse();
        Ok(ids.into_iter().map(EventId::from_uuid).collect())
    }
}

#[async_trait]
impl OutboxQueue for PgRecords {
    async fn enqueue(&self, events: &[OutboxEvent]) -> StoreResult<()> {
        self.commit(&CommitBatch {
            outbox: events.to_vec(),
            ..CommitBatch::default()
        })
        .await
    }

    async fn unpublished(&self, limit: usize) -> StoreResult<Vec<OutboxRecord>> {
        let rows = sqlx::query(
            "SELECT id, event_id, stream, partition_key, payload FROM outbox WHERE NOT published ORDER BY id LIMIT $1",
        )
        .bind(i64::try_from(limit).unwrap_or(i64::MAX))
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|row| {
                Ok(OutboxRecord {
                    id: row.try_get("id")?,
                    event: OutboxEvent {
                        event_id: EventId::from_uuid(row.try_get::<Uuid, _>("event_id")?),
                        stream: row.try_get("stream")?,
                        partition_key: row.try_get("partition_key")?,
                        payload: row.try_get("payload")?,
                    },
                })
            })
            .collect()
    }

    async fn mark_published(&self, ids: &[i64]) -> StoreResult<()> {
        sqlx::query("UPDATE outbox SET published = TRUE WHERE id = ANY($1)")
            .bind(ids)
            .execute(&self.pool)
            .await?;
        Ok(())
    }
}

/// A job row: its body, and its result if selected.
fn job_of(row: &PgRow, with_result: bool) -> StoreResult<ResearchJob> {
    let mut job: ResearchJob =
        serde_json::from_value(row.try_get::<serde_json::Value, _>("body")?)?;
    job.result = if with_result {
        row.try_get::<Option<serde_json::Value>, _>("result")?
    } else {
        None
    };
    Ok(job)
}

/// Writes a job's state columns and body (its result when given).
async fn update_job(
    conn: &mut PgConnection,
    job: &ResearchJob,
    result: Option<&serde_json::Value>,
) -> StoreResult<()> {
    let mut body = job.clone();
    body.result = None;
    sqlx::query(
        "UPDATE research_jobs SET status = $1, started_ns = $2, body = $3, result = COALESCE($4, result) WHERE id = $5",
    )
    .bind(job.status.as_str())
    .bind(job.started_at.map(|t| t.nanos()))
    .bind(serde_json::to_value(&body)?)
    .bind(result)
    .bind(job.id.as_uuid())
    .execute(conn)
    .await?;
    Ok(())
}

/// The job `id`, locked, if it is running.
async fn running_job(conn: &mut PgConnection, id: JobId) -> StoreResult<Option<ResearchJob>> {
    let row = sqlx::query(
        "SELECT body FROM research_jobs WHERE id = $1 AND status = 'running' FOR UPDATE",
    )
    .bind(id.as_uuid())
    .fetch_optional(conn)
    .await?;
    row.map(|r| job_of(&r, false)).transpose()
}

#[async_trait]
impl ResearchJobs for PgRecords {
    async fn create_job(&self, job: &ResearchJob) -> StoreResult<()> {
        let mut body = job.clone();
        body.result = None;
        sqlx::query(
            "INSERT INTO research_jobs (id, user_id, kind, status, created_ns, body) VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(job.id.as_uuid())
        .bind(job.user_id.as_uuid())
        .bind(job.kind.as_str())
        .bind(job.status.as_str())
        .bind(job.created_at.nanos())
        .bind(serde_json::to_value(&body)?)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn job(&self, user: UserId, id: JobId) -> StoreResult<Option<ResearchJob>> {
        let row =
            sqlx::query("SELECT body, result FROM research_jobs WHERE id = $1 AND user_id = $2")
                .bind(id.as_uuid())
                .bind(user.as_uuid())
                .fetch_optional(&self.pool)
                .await?;
        row.map(|r| job_of(&r, true)).transpose()
    }

    async fn jobs(
        &self,
        user: UserId,
        kind: JobKind,
        limit: usize,
    ) -> StoreResult<Vec<ResearchJob>> {
        let rows = sqlx::query(
            "SELECT body FROM research_jobs WHERE user_id = $1 AND kind = $2 ORDER BY created_ns DESC, id DESC LIMIT $3",
        )
        .bind(user.as_uuid())
        .bind(kind.as_str())
        .bind(i64::try_from(limit).unwrap_or(i64::MAX))
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(|r| job_of(r, false)).collect()
    }

    async fn active_jobs(&self, limit: usize) -> StoreResult<Vec<ResearchJob>> {
        let rows = sqlx::query(
            "SELECT body FROM research_jobs WHERE status IN ('queued', 'running') ORDER BY created_ns, id LIMIT $1",
        )
        .bind(i64::try_from(limit).unwrap_or(i64::MAX))
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(|r| job_of(r, false)).collect()
    }

    async fn delete_job(&self, user: UserId, id: JobId) -> StoreResult<bool> {
        let done = sqlx::query("DELETE FROM research_jobs WHERE id = $1 AND user_id = $2")
            .bind(id.as_uuid())
            .bind(user.as_uuid())
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected() > 0)
    }

    async fn claim_job(
        &self,
        id: Option<JobId>,
        now: Timestamp,
    ) -> StoreResult<Option<ResearchJob>> {
        let mut tx = self.pool.begin().await?;
        // SKIP LOCKED: a job another worker is claiming is passed over, not waited for.
        let row = sqlx::query(
            "SELECT body FROM research_jobs WHERE status = 'queued' AND ($1::uuid IS NULL OR id = $1)
             ORDER BY created_ns, id LIMIT 1 FOR UPDATE SKIP LOCKED",
        )
        .bind(id.map(|i| i.as_uuid()))
        .fetch_optional(&mut *tx)
        .await?;
        let Some(row) = row else { return Ok(None) };
        let job = job_started(job_of(&row, false)?, now);
        update_job(&mut tx, &job, None).await?;
        tx.commit().await?;
        Ok(Some(job))
    }

    async fn job_progress(&self, id: JobId, progress: f64) -> StoreResult<()> {
        let mut tx = self.pool.begin().await?;
        if let Some(mut job) = running_job(&mut tx, id).await? {
            job.progress = progress.clamp(0.0, 1.0);
            update_job(&mut tx, &job, None).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    async fn finish_job(
        &self,
        id: JobId,
        outcome: JobOutcome<'_>,
        now: Timestamp,
    ) -> StoreResult<()> {
        let mut tx = self.pool.begin().await?;
        if let Some(job) = running_job(&mut tx, id).await? {
            let result = match outcome {
                JobOutcome::Succeeded(v) => Some(v),
                JobOutcome::Failed(_) => None,
            };
            update_job(&mut tx, &job_finished(job, outcome, now), result).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    async fn fail_running_jobs(
        &self,
        started_before: Timestamp,
        reason: &str,
        now: Timestamp,
    ) -> StoreResult<u64> {
        let mut tx = self.pool.begin().await?;
        let rows = sqlx::query(
            "SELECT body FROM research_jobs WHERE status = 'running' AND started_ns < $1 FOR UPDATE",
        )
        .bind(started_before.nanos())
        .fetch_all(&mut *tx)
        .await?;
        for row in &rows {
            let job = job_finished(job_of(row, false)?, JobOutcome::Failed(reason), now);
            update_job(&mut tx, &job, None).await?;
        }
        tx.commit().await?;
        Ok(rows.len() as u64)
    }
}

fn count_of(n: i64) -> u64 {
    u64::try_from(n).unwrap_or(0)
}

#[async_trait]
impl PlatformActivity for PgRecords {
    async fn account_count(&self) -> StoreResult<u64> {
        let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM accounts")
            .fetch_one(&self.pool)
            .await?;
        Ok(count_of(n))
    }

    async fn activity(&self, since: Timestamp) -> StoreResult<Vec<MinuteActivity>> {
        let rows = sqlx::query(
            "SELECT minute, SUM(orders)::BIGINT AS orders, SUM(fills)::BIGINT AS fills FROM (
                 SELECT created_ns / 60000000000 AS minute, 1 AS orders, 0 AS fills
                   FROM orders WHERE created_ns >= $1
                 UNION ALL
                 SELECT time_ns / 60000000000, 0, 1 FROM fills WHERE time_ns >= $1) a
             GROUP BY minute ORDER BY minute",
        )
        .bind(since.nanos())
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                let minute: i64 = r.try_get("minute")?;
                Ok(MinuteActivity {
                    minute: minute_of(Timestamp::from_nanos(minute.saturating_mul(60_000_000_000))),
                    orders: count_of(r.try_get("orders")?),
                    fills: count_of(r.try_get("fills")?),
                })
            })
            .collect()
    }

    async fn account_activity(&self, accounts: &[AccountId]) -> StoreResult<Vec<AccountActivity>> {
        let ids: Vec<uuid::Uuid> = accounts.iter().map(|a| a.as_uuid()).collect();
        let rows = sqlx::query(
            "SELECT a.id,
                    (SELECT COUNT(*) FROM orders o WHERE o.account_id = a.id) AS orders,
                    (SELECT COUNT(*) FROM fills f WHERE f.account_id = a.id) AS fills
               FROM UNNEST($1::UUID[]) AS a(id)",
        )
        .bind(&ids)
        .fetch_all(&self.pool)
        .await?;
        let mut counts = std::collections::HashMap::new();
        for r in &rows {
            let id: uuid::Uuid = r.try_get("id")?;
            counts.insert(
                id,
                (
                    count_of(r.try_get("orders")?),
                    count_of(r.try_get("fills")?),
                ),
            );
        }
        Ok(accounts
            .iter()
            .map(|&account_id| {
                let (orders, fills) = counts.get(&account_id.as_uuid()).copied().unwrap_or((0, 0));
                AccountActivity {
                    account_id,
                    orders,
                    fills,
                }
            })
            .collect())
    }
}
