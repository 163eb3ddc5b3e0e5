//! The system-of-record ports ([`crate::records::RecordStore`]) in the SQLite file. Every
//! write is one `BEGIN IMMEDIATE` transaction on the file's one writer, so concurrent
//! postings to one account are serialized and the overdraft check cannot race.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use async_trait::async_trait;
use domain::{
    Account, AccountId, AccountKind, Candle, ClientOrderId, Currency, Decimal, EventId, Fill,
    JobId, JobKind, LedgerEntry, Money, NaiveDate, Order, OrderId, Position, PostedEntry, Price,
    ReportRow, ResearchJob, Side, StrategyId, StrategyRecord, Symbol, Timeframe, Timestamp, UserId,
};
use rusqlite::{Connection, OptionalExtension, params};

use super::Db;
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
pub struct SqliteRecords {
    db: Db,
    /// The shard count of this file's stream log when outbox events go straight to it
    /// (see [`super::SqliteStore::records_publishing_to`]).
    publish_to: Option<usize>,
    /// Publishing straight to the log, nothing enters the outbox: once the rows an
    /// earlier build left there are relayed, it stays empty and is not read again. (A
    /// [`super::SqliteStore::records`] handle on the same file does fill the outbox;
    /// whoever uses one relays through that handle, not this one.)
    outbox_drained: Arc<AtomicBool>,
}

impl SqliteRecords {
    pub(crate) fn new(db: Db, publish_to: Option<usize>) -> Self {
        SqliteRecords {
            db,
            publish_to,
            outbox_drained: Arc::default(),
        }
    }
}

/// Writes outbox events inside the caller's transaction: to the outbox table, or, with
/// `publish_to` shards, straight onto this file's stream log.
fn outbox_events_in(
    conn: &Connection,
    publish_to: Option<usize>,
    events: &[OutboxEvent],
) -> StoreResult<()> {
    let Some(shards) = publish_to else {
        for event in events {
            outbox_in(conn, event)?;
        }
        return Ok(());
    };
    // Appended in input order, each stream's records as one run. No outbox row: the
    // event is published by this very commit, and its consumers apply it by id.
    let mut streams: Vec<&str> = events.iter().map(|e| e.stream.as_str()).collect();
    streams.sort_unstable();
    streams.dedup();
    for stream in streams {
        let records: Vec<crate::stream::OutgoingRecord> = events
            .iter()
            .filter(|e| e.stream == stream)
            .map(|e| crate::stream::OutgoingRecord::new(e.partition_key.clone(), e.payload.clone()))
            .collect();
        super::stream::append(conn, shards, stream, &records)?;
    }
    Ok(())
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

fn limit_of(limit: usize) -> i64 {
    i64::try_from(limit).unwrap_or(i64::MAX)
}

/// The columns of an [`Account`] (a macro, so queries stay `&'static str`).
macro_rules! account_columns {
    () => {
        "id, user_id, name, kind, base_currency, cash, created_ns"
    };
}

/// Six text columns and a time in nanoseconds: the shape of both an [`Account`] row and a
/// [`PostedEntry`] row.
type TextRow = (String, String, String, String, String, String, i64);

fn text_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<TextRow> {
    Ok((
        row.get(0)?,
        row.get(1)?,
        row.get(2)?,
        row.get(3)?,
        row.get(4)?,
        row.get(5)?,
        row.get(6)?,
    ))
}

fn account_from(row: TextRow) -> StoreResult<Account> {
    let (id, user_id, name, kind, currency, cash, created_ns) = row;
    Ok(Account {
        id: uuid_of(&id)?,
        user_id: uuid_of(&user_id)?,
        name,
        kind: AccountKind::parse(&kind)
            .ok_or_else(|| StoreError::internal(format!("account kind {kind:?}")))?,
        base_currency: Currency::parse(&currency)
            .map_err(|e| StoreError::internal(e.to_string()))?,
        cash: money(&cash)?,
        created_at: Timestamp::from_nanos(created_ns),
    })
}

fn accounts_where(
    conn: &Connection,
    sql: &'static str,
    params: impl rusqlite::Params,
) -> StoreResult<Vec<Account>> {
    let mut statement = conn.prepare_cached(sql)?;
    let rows = statement.query_map(params, text_row)?;
    rows.map(|r| account_from(r?)).collect()
}

/// The columns of a [`PostedEntry`].
macro_rules! ledger_columns {
    () => {
        "id, account_id, kind, amount, balance_after, reference, time_ns"
    };
}

fn posted_from(row: TextRow) -> StoreResult<PostedEntry> {
    let (id, account_id, kind, amount, balance_after, reference, time_ns) = row;
    Ok(PostedEntry {
        entry: LedgerEntry {
            id: uuid_of::<EventId>(&id)?,
            account_id: uuid_of(&account_id)?,
            kind: ledger_kind(&kind)?,
            amount: money(&amount)?,
            reference,
            time: Timestamp::from_nanos(time_ns),
        },
        balance_after: money(&balance_after)?,
    })
}

/// A decimal stored as exact text.
fn decimal(text: &str) -> StoreResult<Decimal> {
    money(text).map(|m| m.value())
}

/// An account's cash; `NotFound` for an unknown account.
fn cash_of(conn: &Connection, account: AccountId) -> StoreResult<Money> {
    let cash: Option<String> = conn
        .prepare_cached("SELECT cash FROM accounts WHERE id = ?")?
        .query_row([account.to_string()], |r| r.get(0))
        .optional()?;
    money(&cash.ok_or_else(|| StoreError::not_found(format!("no account {account}")))?)
}

/// What working buys reserve, over all of an account's symbols.
fn reserved_for_buys(conn: &Connection, account: AccountId) -> StoreResult<Decimal> {
    let mut statement = conn.prepare_cached(
        "SELECT notional FROM account_exposure WHERE account_id = ? AND side = 'buy'",
    )?;
    let rows = statement.query_map([account.to_string()], |r| r.get::<_, String>(0))?;
    rows.map(|n| decimal(&n?)).sum()
}

/// The working quantity of one side of `symbol`.
fn working(
    conn: &Connection,
    account: AccountId,
    symbol: Symbol,
    side: Side,
) -> StoreResult<Decimal> {
    let quantity: Option<String> = conn
        .prepare_cached(
            "SELECT quantity FROM account_exposure WHERE account_id = ? AND symbol = ? AND side = ?",
        )?
        .query_row(params![account.to_string(), symbol.as_str(), side.as_str()], |r| r.get(0))
        .optional()?;
    quantity.map_or(Ok(Decimal::ZERO), |q| decimal(&q))
}

/// The account's book for `symbol`. Called on the writer, inside the transaction that
/// wrote the order, so nothing else can change it in between.
fn account_book(conn: &Connection, account: AccountId, symbol: Symbol) -> StoreResult<AccountBook> {
    let held: Option<String> = conn
        .prepare_cached(
            "SELECT json_extract(body, '$.quantity') FROM positions WHERE account_id = ? AND symbol = ?",
        )?
        .query_row(params![account.to_string(), symbol.as_str()], |r| r.get(0))
        .optional()?;
    Ok(AccountBook {
        cash: cash_of(conn, account)?,
        buy_notional: reserved_for_buys(conn, account)?,
        held: held.map_or(Ok(Decimal::ZERO), |q| decimal(&q))?,
        working_buys: working(conn, account, symbol, Side::Buy)?,
        working_sells: working(conn, account, symbol, Side::Sell)?,
    })
}

/// Runs `write` in a savepoint of its own, rolled back if the write is refused (or
/// fails): a refused order or amend leaves nothing behind in the writer's group.
fn reserving(
    conn: &Connection,
    write: impl FnOnce() -> StoreResult<Reserved>,
) -> StoreResult<Reserved> {
    conn.execute_batch("SAVEPOINT reserving")?;
    let result = write();
    if !matches!(result, Ok(Ok(()))) {
        conn.execute_batch("ROLLBACK TO reserving")?;
    }
    conn.execute_batch("RELEASE reserving")?;
    result
}

/// Posts one entry inside the caller's transaction. With `keep_reserved`, the cash left
/// must cover what working buys reserve.
fn post_in(
    conn: &Connection,
    entry: &LedgerEntry,
    keep_reserved: bool,
) -> StoreResult<PostedEntry> {
    let existing = conn
        .prepare_cached(concat!(
            "SELECT ",
            ledger_columns!(),
            " FROM ledger_entries WHERE id = ?"
        ))?
        .query_row([entry.id.to_string()], text_row)
        .optional()?;
    if let Some(row) = existing {
        return posted_from(row);
    }
    let account = entry.account_id.to_string();
    let cash = cash_of(conn, entry.account_id)?;
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
        let reserved = reserved_for_buys(conn, entry.account_id)?;
        if after.value() < reserved {
            return Err(StoreError::condition_failed(format!(
                "working buy orders reserve {reserved} of the cash {cash}"
            )));
        }
    }
    conn.prepare_cached("UPDATE accounts SET cash = ? WHERE id = ?")?
        .execute(params![after.to_string(), account])?;
    conn.prepare_cached(
        "INSERT INTO ledger_entries (id, account_id, kind, amount, balance_after, reference, time_ns)
         VALUES (?, ?, ?, ?, ?, ?, ?)",
    )?
    .execute(params![
        entry.id.to_string(),
        account,
        entry.kind.as_str(),
        entry.amount.to_string(),
        after.to_string(),
        entry.reference,
        entry.time.nanos(),
    ])?;
    Ok(PostedEntry {
        entry: entry.clone(),
        balance_after: after,
    })
}

/// Records `event` in the outbox unless its id is there already.
fn outbox_in(conn: &Connection, event: &OutboxEvent) -> StoreResult<()> {
    conn.prepare_cached(
        "INSERT INTO outbox (event_id, stream, partition_key, payload) VALUES (?, ?, ?, ?)
         ON CONFLICT (event_id) DO NOTHING",
    )?
    .execute(params![
        event.event_id.to_string(),
        event.stream,
        event.partition_key,
        event.payload,
    ])?;
    Ok(())
}

/// An order and its JSON body, serialized before it reaches the writer thread.
struct OrderRow {
    order: Order,
    body: String,
}

impl OrderRow {
    fn new(order: Order) -> StoreResult<Self> {
        let body = serde_json::to_string(&order)?;
        Ok(OrderRow { order, body })
    }
}

fn write_order(conn: &Connection, row: &OrderRow, sql: &'static str) -> StoreResult<()> {
    let order = &row.order;
    conn.prepare_cached(sql)?.execute(params![
        order.id.to_string(),
        order.account_id.to_string(),
        order.client_order_id.as_ref().map(ClientOrderId::as_str),
        order.symbol.as_str(),
        order.status().as_str(),
        order.created_at().nanos(),
        row.body,
        order.strategy_id.map(|s| s.to_string()),
    ])?;
    Ok(())
}

/// Writes an order as the core has it. The row's `reserve_price` (recorded at placement)
/// stays; the exposure moves by what changed.
fn upsert_order(conn: &Connection, row: &OrderRow) -> StoreResult<()> {
    let order = &row.order;
    let old: Option<(String, Option<String>)> = conn
        .prepare_cached("SELECT body, reserve_price FROM orders WHERE id = ?")?
        .query_row([order.id.to_string()], |r| Ok((r.get(0)?, r.get(1)?)))
        .optional()?;
    let (old, reserve_price) = match old {
        Some((body, reserve)) => (
            Some(serde_json::from_str::<Order>(&body)?),
            reserve_price_of(reserve.as_deref())?,
        ),
        None => (None, None),
    };
    write_order(
        conn,
        row,
        "INSERT INTO orders (id, account_id, client_order_id, symbol, status, created_ns, body, strategy_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?)
         ON CONFLICT (id) DO UPDATE SET status = excluded.status, body = excluded.body",
    )?;
    let deltas = crate::records::exposure_deltas(old.as_ref(), order, reserve_price);
    shift_exposure(conn, order.account_id, &deltas)
}

fn reserve_price_of(text: Option<&str>) -> StoreResult<Option<Price>> {
    text.map(|t| {
        Price::new(decimal(t)?)
            .map_err(|e| StoreError::internal(format!("stored reserve price: {e}")))
    })
    .transpose()
}

/// Moves an account's exposure by `deltas` (symbol, side, quantity, notional).
fn shift_exposure(
    conn: &Connection,
    account: AccountId,
    deltas: &[(Symbol, Side, Decimal, Decimal)],
) -> StoreResult<()> {
    let account = account.to_string();
    for (symbol, side, quantity, notional) in deltas {
        let row: Option<(String, String)> = conn
            .prepare_cached(
                "SELECT quantity, notional FROM account_exposure WHERE account_id = ? AND symbol = ? AND side = ?",
            )?
            .query_row(params![account, symbol.as_str(), side.as_str()], |r| {
                Ok((r.get(0)?, r.get(1)?))
            })
            .optional()?;
        let (q0, n0) = match row {
            Some((q, n)) => (decimal(&q)?, decimal(&n)?),
            None => (Decimal::ZERO, Decimal::ZERO),
        };
        let (q, n) = (q0 + quantity, n0 + notional);
        if q.is_zero() && n.is_zero() {
            conn.prepare_cached(
                "DELETE FROM account_exposure WHERE account_id = ? AND symbol = ? AND side = ?",
            )?
            .execute(params![account, symbol.as_str(), side.as_str()])?;
        } else {
            conn.prepare_cached(
                "INSERT INTO account_exposure (account_id, symbol, side, quantity, notional) VALUES (?, ?, ?, ?, ?)
                 ON CONFLICT (account_id, symbol, side) DO UPDATE SET quantity = excluded.quantity, notional = excluded.notional",
            )?
            .execute(params![
                account,
                symbol.as_str(),
                side.as_str(),
                q.normalize().to_string(),
                n.normalize().to_string(),
            ])?;
        }
    }
    Ok(())
}

/// A deleted hold row: `account_id, symbol, side, quantity, notional`.
type HoldRow = (String, String, String, String, String);

fn hold_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<HoldRow> {
    Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?))
}

/// Gives back the exposure of a deleted hold row.
fn give_back_hold(conn: &Connection, held: HoldRow) -> StoreResult<()> {
    let (account, symbol, side, quantity, notional) = held;
    let symbol = Symbol::parse(&symbol).map_err(|e| StoreError::internal(e.to_string()))?;
    shift_exposure(
        conn,
        uuid_of(&account)?,
        &[(
            symbol,
            crate::records::side_of(&side)?,
            -decimal(&quantity)?,
            -decimal(&notional)?,
        )],
    )
}

/// Ends the amend holds of the commands a commit applied, giving back their exposure.
fn release_holds(conn: &Connection, commands: &[EventId]) -> StoreResult<()> {
    let mut find = conn.prepare_cached(
        "DELETE FROM order_holds WHERE command_id = ? RETURNING account_id, symbol, side, quantity, notional",
    )?;
    for id in commands {
        if let Some(held) = find.query_row([id.to_string()], hold_row).optional()? {
            give_back_hold(conn, held)?;
        }
    }
    Ok(())
}

/// Records applied command ids and prunes the oldest beyond what is kept.
fn remember_commands(conn: &Connection, ids: &[EventId]) -> StoreResult<()> {
    if ids.is_empty() {
        return Ok(());
    }
    let mut insert = conn.prepare_cached("INSERT INTO applied_commands (event_id) VALUES (?)")?;
    for id in ids {
        insert.execute([id.to_string()])?;
    }
    let newest = conn.last_insert_rowid();
    conn.prepare_cached("DELETE FROM applied_commands WHERE seq <= ?")?
        .execute([newest - crate::records::COMMANDS_REMEMBERED as i64])?;
    Ok(())
}

/// The JSON `body` column of every row `sql` selects, decoded.
fn bodies<T: serde::de::DeserializeOwned>(
    conn: &Connection,
    sql: &str,
    params: impl rusqlite::Params,
) -> StoreResult<Vec<T>> {
    let mut statement = conn.prepare_cached(sql)?;
    let rows = statement.query_map(params, |r| r.get::<_, String>(0))?;
    rows.map(|body| Ok(serde_json::from_str(&body?)?)).collect()
}

#[async_trait]
impl AccountLedger for SqliteRecords {
    async fn create_account(&self, account: &Account) -> StoreResult<()> {
        let account = account.clone();
        self.db.write(move |tx| {
            tx.prepare_cached(
                "INSERT INTO accounts (id, user_id, name, kind, base_currency, cash, created_ns) VALUES (?, ?, ?, ?, ?, '0', ?)",
            )?
            .execute(params![
                account.id.to_string(),
                account.user_id.to_string(),
                account.name,
                account.kind.as_str(),
                account.base_currency.as_str(),
                account.created_at.nanos(),
            ])?;
            Ok(())
        }).await
    }

    async fn accounts(&self, user: UserId) -> StoreResult<Vec<Account>> {
        self.db.read(|conn| {
            accounts_where(
                conn,
                concat!(
                    "SELECT ",
                    account_columns!(),
                    " FROM accounts WHERE user_id = ? ORDER BY created_ns, id"
                ),
                [user.to_string()],
            )
        })
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
        self.db.read(|conn| {
            accounts_where(
                conn,
                concat!(
                    "SELECT ",
                    account_columns!(),
                    " FROM accounts WHERE id > ? ORDER BY id LIMIT ?"
                ),
                params![start, limit_of(limit)],
            )
        })
    }

    async fn account_by_id(&self, id: AccountId) -> StoreResult<Option<Account>> {
        self.db.read(|conn| {
            Ok(accounts_where(
                conn,
                concat!("SELECT ", account_columns!(), " FROM accounts WHERE id = ?"),
                [id.to_string()],
            )?
            .pop())
        })
    }

    async fn account(&self, user: UserId, id: AccountId) -> StoreResult<Option<Account>> {
        self.db.read(|conn| {
            Ok(accounts_where(
                conn,
                concat!(
                    "SELECT ",
                    account_columns!(),
                    " FROM accounts WHERE id = ? AND user_id = ?"
                ),
                [id.to_string(), user.to_string()],
            )?
            .pop())
        })
    }

    async fn post(&self, entry: &LedgerEntry) -> StoreResult<PostedEntry> {
        let entry = entry.clone();
        self.db.write(move |tx| post_in(tx, &entry, false)).await
    }

    async fn withdraw(&self, entry: &LedgerEntry) -> StoreResult<PostedEntry> {
        let entry = entry.clone();
        self.db.write(move |tx| post_in(tx, &entry, true)).await
    }

    async fn ledger_entry(
        &self,
        account: AccountId,
        id: EventId,
    ) -> StoreResult<Option<PostedEntry>> {
        let row = self.db.read(|conn| {
            Ok(conn
                .prepare_cached(concat!(
                    "SELECT ",
                    ledger_columns!(),
                    " FROM ledger_entries WHERE account_id = ? AND id = ?"
                ))?
                .query_row([account.to_string(), id.to_string()], text_row)
                .optional()?)
        })?;
        row.map(posted_from).transpose()
    }

    async fn ledger(&self, account: AccountId, limit: usize) -> StoreResult<Vec<PostedEntry>> {
        self.db.read(|conn| {
            let mut statement = conn.prepare_cached(concat!(
                "SELECT ",
                ledger_columns!(),
                " FROM ledger_entries WHERE account_id = ? ORDER BY seq DESC LIMIT ?"
            ))?;
            let rows =
                statement.query_map(params![account.to_string(), limit_of(limit)], text_row)?;
            rows.map(|r| posted_from(r?)).collect()
        })
    }
}

#[async_trait]
impl OrderRecords for SqliteRecords {
    async fn insert_order(&self, new: &NewOrder<'_>) -> StoreResult<Reserved> {
        let (row, outbox, publish_to) = (
            OrderRow::new(new.order.clone())?,
            new.outbox.to_vec(),
            self.publish_to,
        );
        let (reserve_price, limits) = (new.reserve_price, new.limits);
        self.db.write(move |tx| reserving(tx, || {
            let order = &row.order;
            cash_of(tx, order.account_id)?;
            write_order(
                tx,
                &row,
                "INSERT INTO orders (id, account_id, client_order_id, symbol, status, created_ns, body, strategy_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            )?;
            if let Some(price) = reserve_price {
                tx.prepare_cached("UPDATE orders SET reserve_price = ? WHERE id = ?")?
                    .execute(params![price.value().to_string(), order.id.to_string()])?;
            }
            let deltas = crate::records::exposure_deltas(None, order, reserve_price);
            shift_exposure(tx, order.account_id, &deltas)?;
            let book = account_book(tx, order.account_id, order.symbol)?;
            let added = deltas.first().map_or((Decimal::ZERO, Decimal::ZERO), |d| (d.2, d.3));
            if let Err(refusal) = check_reservation(&book, order.side, added, &limits) {
                return Ok(Err(refusal));
            }
            outbox_events_in(tx, publish_to, &outbox)?;
            Ok(Ok(()))
        })).await
    }

    async fn hold_amend(&self, hold: &AmendHold<'_>) -> StoreResult<Reserved> {
        let (account, order_id, command, publish_to) = (
            hold.account_id,
            hold.order_id,
            hold.command.clone(),
            self.publish_to,
        );
        let (quantity, limit_price, stop_price, limits) = (
            hold.quantity,
            hold.limit_price,
            hold.stop_price,
            hold.limits,
        );
        self.db.write(move |tx| reserving(tx, || {
            let row: Option<(String, Option<String>)> = tx
                .prepare_cached(
                    "SELECT body, reserve_price FROM orders WHERE id = ? AND account_id = ?",
                )?
                .query_row([order_id.to_string(), account.to_string()], |r| {
                    Ok((r.get(0)?, r.get(1)?))
                })
                .optional()?;
            let (body, reserve) =
                row.ok_or_else(|| StoreError::not_found(format!("no order {order_id}")))?;
            let order: Order = serde_json::from_str(&body)?;
            let hold = AmendHold {
                account_id: account,
                order_id,
                quantity,
                limit_price,
                stop_price,
                command: &command,
                limits,
            };
            let growth =
                crate::records::amend_growth(&order, reserve_price_of(reserve.as_deref())?, &hold)?;
            if growth != (Decimal::ZERO, Decimal::ZERO) {
                tx.prepare_cached(
                    "INSERT INTO order_holds (command_id, account_id, symbol, side, quantity, notional, order_id) VALUES (?, ?, ?, ?, ?, ?, ?)",
                )?
                .execute(params![
                    command.event_id.to_string(),
                    account.to_string(),
                    order.symbol.as_str(),
                    order.side.as_str(),
                    growth.0.normalize().to_string(),
                    growth.1.normalize().to_string(),
                    order_id.to_string(),
                ])?;
                shift_exposure(tx, account, &[(order.symbol, order.side, growth.0, growth.1)])?;
                let book = account_book(tx, account, order.symbol)?;
                if let Err(refusal) = check_reservation(&book, order.side, growth, &limits) {
                    return Ok(Err(refusal));
                }
            }
            outbox_events_in(tx, publish_to, std::slice::from_ref(&command))?;
            Ok(Ok(()))
        })).await
    }

    async fn withdraw_order(&self, account: AccountId, order: OrderId) -> StoreResult<bool> {
        // On the writer, as an insert: a racing insert sees the exposure either with this
        // order or without it.
        self.db
            .write(move |tx| {
                let row: Option<(String, Option<String>)> = tx
                    .prepare_cached(
                        "SELECT body, reserve_price FROM orders WHERE id = ? AND account_id = ?",
                    )?
                    .query_row([order.to_string(), account.to_string()], |r| {
                        Ok((r.get(0)?, r.get(1)?))
                    })
                    .optional()?;
                let Some((body, reserve)) = row else {
                    return Ok(false);
                };
                let stored: Order = serde_json::from_str(&body)?;
                if !crate::records::withdrawable(&stored) {
                    return Ok(false);
                }
                let reserve_price = reserve_price_of(reserve.as_deref())?;
                tx.prepare_cached("DELETE FROM orders WHERE id = ?")?
                    .execute([order.to_string()])?;
                let deltas = crate::records::exposure_withdrawn(&stored, reserve_price);
                shift_exposure(tx, account, &deltas)?;
                let holds: Vec<HoldRow> = tx
                    .prepare_cached(
                        "DELETE FROM order_holds WHERE order_id = ? RETURNING account_id, symbol, side, quantity, notional",
                    )?
                    .query_map([order.to_string()], hold_row)?
                    .collect::<rusqlite::Result<_>>()?;
                for held in holds {
                    give_back_hold(tx, held)?;
                }
                Ok(true)
            })
            .await
    }

    async fn order(&self, user: UserId, id: OrderId) -> StoreResult<Option<Order>> {
        self.db.read(|conn| {
            Ok(bodies(
                conn,
                "SELECT o.body FROM orders o JOIN accounts a ON a.id = o.account_id WHERE o.id = ? AND a.user_id = ?",
                [id.to_string(), user.to_string()],
            )?
            .pop())
        })
    }

    async fn order_by_client_id(
        &self,
        account: AccountId,
        client_order_id: &ClientOrderId,
    ) -> StoreResult<Option<Order>> {
        self.db.read(|conn| {
            Ok(bodies(
                conn,
                "SELECT body FROM orders WHERE account_id = ? AND client_order_id = ?",
                params![account.to_string(), client_order_id.as_str()],
            )?
            .pop())
        })
    }

    async fn orders(&self, account: AccountId, query: &OrderQuery) -> StoreResult<OrderPage> {
        let status = query.status.map(|s| s.as_str());
        let symbol = query.symbol.map(|s| s.as_str().to_owned());
        let (after_ns, after_id) = match &query.after {
            Some(c) => (Some(c.created_at.nanos()), Some(c.id.to_string())),
            None => (None, None),
        };
        let orders = self.db.read(|conn| {
            bodies(
                conn,
                "SELECT body FROM orders WHERE account_id = ?1
                   AND (?2 IS NULL OR status = ?2)
                   AND (?3 IS NULL OR symbol = ?3)
                   AND (?4 IS NULL OR created_ns < ?4 OR (created_ns = ?4 AND id < ?5))
                 ORDER BY created_ns DESC, id DESC LIMIT ?6",
                params![
                    account.to_string(),
                    status,
                    symbol,
                    after_ns,
                    after_id,
                    limit_of(query.limit.saturating_add(1)),
                ],
            )
        })?;
        Ok(page(orders, query.limit))
    }

    async fn exposure(&self, account: AccountId) -> StoreResult<Vec<ExposureRow>> {
        let rows: Vec<(String, String, String, String)> = self.db.read(|conn| {
            let mut statement = conn.prepare_cached(
                "SELECT symbol, side, quantity, notional FROM account_exposure WHERE account_id = ? ORDER BY symbol, side",
            )?;
            let rows = statement.query_map([account.to_string()], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))
            })?;
            Ok(rows.collect::<Result<Vec<_>, _>>()?)
        })?;
        rows.into_iter()
            .map(|(symbol, side, quantity, notional)| {
                Ok(ExposureRow {
                    symbol: Symbol::parse(&symbol)
                        .map_err(|e| StoreError::internal(e.to_string()))?,
                    side: crate::records::side_of(&side)?,
                    quantity: money(&quantity)?.value(),
                    notional: money(&notional)?.value(),
                })
            })
            .collect()
    }

    async fn fills(&self, account: AccountId, limit: usize) -> StoreResult<Vec<Fill>> {
        self.db.read(|conn| {
            bodies(
                conn,
                "SELECT body FROM fills WHERE account_id = ? ORDER BY time_ns DESC, trade_id DESC LIMIT ?",
                params![account.to_string(), limit_of(limit)],
            )
        })
    }

    async fn positions(&self, account: AccountId) -> StoreResult<Vec<Position>> {
        self.db.read(|conn| {
            bodies(
                conn,
                "SELECT body FROM positions WHERE account_id = ? ORDER BY symbol",
                [account.to_string()],
            )
        })
    }

    async fn deployment_fills(&self, strategy: StrategyId) -> StoreResult<Vec<Fill>> {
        self.db.read(|conn| {
            bodies(
                conn,
                "SELECT f.body FROM orders o JOIN fills f ON f.order_id = o.id
                 WHERE o.strategy_id = ? ORDER BY f.time_ns, f.trade_id, f.order_id",
                [strategy.to_string()],
            )
        })
    }
}

#[async_trait]
impl StrategyRecords for SqliteRecords {
    async fn save_strategy(&self, strategy: &StrategyRecord) -> StoreResult<()> {
        let (strategy, body) = (strategy.clone(), serde_json::to_string(strategy)?);
        self.db.write(move |tx| {
            tx.prepare_cached(
                "INSERT INTO strategies (id, account_id, status, created_ns, body) VALUES (?, ?, ?, ?, ?)
                 ON CONFLICT (id) DO UPDATE SET status = excluded.status, body = excluded.body",
            )?
            .execute(params![
                strategy.id.to_string(),
                strategy.account_id.to_string(),
                strategy.status.as_str(),
                strategy.created_at.nanos(),
                body,
            ])?;
            Ok(())
        }).await
    }

    async fn strategy(&self, user: UserId, id: StrategyId) -> StoreResult<Option<StrategyRecord>> {
        self.db.read(|conn| {
            Ok(bodies(
                conn,
                "SELECT s.body FROM strategies s JOIN accounts a ON a.id = s.account_id WHERE s.id = ? AND a.user_id = ?",
                [id.to_string(), user.to_string()],
            )?
            .pop())
        })
    }

    async fn strategies(&self, account: Option<AccountId>) -> StoreResult<Vec<StrategyRecord>> {
        self.db.read(|conn| {
            bodies(
                conn,
                "SELECT body FROM strategies WHERE ?1 IS NULL OR account_id = ?1 ORDER BY created_ns, id",
                [account.map(|a| a.to_string())],
            )
        })
    }
}

#[async_trait]
impl MarketHistory for SqliteRecords {
    async fn candles(
        &self,
        symbol: Symbol,
        timeframe: Timeframe,
        from: Timestamp,
        to: Timestamp,
        limit: usize,
    ) -> StoreResult<Vec<Candle>> {
        self.db.read(|conn| {
            bodies(
                conn,
                "SELECT body FROM candles WHERE symbol = ? AND timeframe = ? AND start_ns >= ? AND start_ns < ?
                 ORDER BY start_ns LIMIT ?",
                params![
                    symbol.as_str(),
                    timeframe.to_string(),
                    from.nanos(),
                    to.nanos(),
                    limit_of(limit),
                ],
            )
        })
    }

    async fn latest_candles(
        &self,
        symbol: Symbol,
        timeframe: Timeframe,
        from: Timestamp,
        to: Timestamp,
        limit: usize,
    ) -> StoreResult<Vec<Candle>> {
        let mut candles: Vec<Candle> = self.db.read(|conn| {
            bodies(
                conn,
                "SELECT body FROM candles WHERE symbol = ? AND timeframe = ? AND start_ns >= ? AND start_ns < ?
                 ORDER BY start_ns DESC LIMIT ?",
                params![
                    symbol.as_str(),
                    timeframe.to_string(),
                    from.nanos(),
                    to.nanos(),
                    limit_of(limit),
                ],
            )
        })?;
        candles.reverse();
        Ok(candles)
    }

    async fn candle_timeframes(&self, symbol: Symbol) -> StoreResult<Vec<Timeframe>> {
        let texts: Vec<String> = self.db.read(|conn| {
            // One index probe per timeframe rather than a scan of the symbol's rows.
            let mut next = conn.prepare_cached(
                "SELECT timeframe FROM candles WHERE symbol = ? AND timeframe > ?
                 ORDER BY timeframe LIMIT 1",
            )?;
            let mut found = Vec::new();
            let mut after = String::new();
            while let Some(text) = next
                .query_row(params![symbol.as_str(), after], |r| r.get::<_, String>(0))
                .optional()?
            {
                found.push(text.clone());
                after = text;
            }
            Ok(found)
        })?;
        let mut found = texts
            .iter()
            .map(|t| Timeframe::parse(t).map_err(|e| StoreError::internal(e.to_string())))
            .collect::<StoreResult<Vec<_>>>()?;
        found.sort();
        Ok(found)
    }

    async fn save_candles(&self, candles: &[Candle]) -> StoreResult<u64> {
        let rows = crate::records::last_of_each(candles)
            .into_iter()
            .map(|c| {
                Ok((
                    c.symbol.as_str().to_owned(),
                    c.timeframe.to_string(),
                    c.start.nanos(),
                    serde_json::to_string(c)?,
                ))
            })
            .collect::<StoreResult<Vec<_>>>()?;
        self.db
            .write(move |tx| {
                let mut upsert = tx.prepare_cached(
                    "INSERT INTO candles (symbol, timeframe, start_ns, body) VALUES (?, ?, ?, ?)
                     ON CONFLICT (symbol, timeframe, start_ns) DO UPDATE SET body = excluded.body
                     WHERE body <> excluded.body",
                )?;
                let mut changed = 0u64;
                for (symbol, timeframe, start, body) in &rows {
                    changed += upsert.execute(params![symbol, timeframe, start, body])? as u64;
                }
                Ok(changed)
            })
            .await
    }
}

#[async_trait]
impl ReportRecords for SqliteRecords {
    async fn save_report(&self, row: &ReportRow) -> StoreResult<()> {
        let (account, day, body) = (
            row.account_id,
            day_key(row.day),
            serde_json::to_string(row)?,
        );
        self.db
            .write(move |tx| {
                tx.prepare_cached(
                    "INSERT INTO reports (account_id, day, body) VALUES (?, ?, ?)
                 ON CONFLICT (account_id, day) DO UPDATE SET body = excluded.body",
                )?
                .execute(params![account.to_string(), day, body])?;
                Ok(())
            })
            .await
    }

    async fn reports(
        &self,
        account: AccountId,
        from: NaiveDate,
        to: NaiveDate,
    ) -> StoreResult<Vec<ReportRow>> {
        self.db.read(|conn| {
            bodies(
                conn,
                "SELECT body FROM reports WHERE account_id = ? AND day >= ? AND day <= ? ORDER BY day",
                params![account.to_string(), day_key(from), day_key(to)],
            )
        })
    }
}

#[async_trait]
impl CoreCommit for SqliteRecords {
    async fn commit(&self, batch: &CommitBatch) -> StoreResult<()> {
        let mut batch = batch.clone();
        let orders = std::mem::take(&mut batch.orders)
            .into_iter()
            .map(OrderRow::new)
            .collect::<StoreResult<Vec<_>>>()?;
        let publish_to = self.publish_to;
        self.db.write(move |tx| {
            for order in &orders {
                upsert_order(tx, order)?;
            }
            if !batch.fills.is_empty() {
                let mut insert = tx.prepare_cached(
                    "INSERT INTO fills (order_id, trade_id, account_id, time_ns, body) VALUES (?, ?, ?, ?, ?)
                     ON CONFLICT (order_id, trade_id) DO NOTHING",
                )?;
                for fill in &batch.fills {
                    let trade_id = i64::try_from(fill.trade_id.0)
                        .map_err(|_| StoreError::invalid("trade id out of range"))?;
                    insert.execute(params![
                        fill.order_id.to_string(),
                        trade_id,
                        fill.account_id.to_string(),
                        fill.time.nanos(),
                        serde_json::to_string(fill)?,
                    ])?;
                }
            }
            if !batch.positions.is_empty() {
                let mut upsert = tx.prepare_cached(
                    "INSERT INTO positions (account_id, symbol, body) VALUES (?, ?, ?)
                     ON CONFLICT (account_id, symbol) DO UPDATE SET body = excluded.body",
                )?;
                for (account, position) in &batch.positions {
                    upsert.execute(params![
                        account.to_string(),
                        position.symbol.as_str(),
                        serde_json::to_string(position)?,
                    ])?;
                }
            }
            if !batch.candles.is_empty() {
                let mut upsert = tx.prepare_cached(
                    "INSERT INTO candles (symbol, timeframe, start_ns, body) VALUES (?, ?, ?, ?)
                     ON CONFLICT (symbol, timeframe, start_ns) DO UPDATE SET body = excluded.body",
                )?;
                for candle in &batch.candles {
                    upsert.execute(params![
                        candle.symbol.as_str(),
                        candle.timeframe.to_string(),
                        candle.start.nanos(),
                        serde_json::to_string(candle)?,
                    ])?;
                }
            }
            for entry in &batch.ledger {
                post_in(tx, entry, false)?;
            }
            outbox_events_in(tx, publish_to, &batch.outbox)?;
            if !batch.checkpoints.is_empty() {
                let mut upsert = tx.prepare_cached(
                    "INSERT INTO checkpoints (consumer, stream, shard, sequence) VALUES (?, ?, ?, ?)
                     ON CONFLICT (consumer, stream, shard) DO UPDATE SET sequence = excluded.sequence",
                )?;
                for c in &batch.checkpoints {
                    upsert.execute(params![c.consumer, c.stream, c.shard, c.sequence.0])?;
                }
            }
            release_holds(tx, &batch.applied_commands)?;
            remember_commands(tx, &batch.applied_commands)?;
            if let Some(s) = &batch.snapshot {
                tx.prepare_cached(
                    "INSERT INTO engine_snapshots (name, version, taken_ns, state) VALUES (?, ?, ?, ?)
                     ON CONFLICT (name) DO UPDATE SET version = excluded.version, taken_ns = excluded.taken_ns, state = excluded.state",
                )?
                .execute(params![s.name, i64::from(s.version), s.taken_at.nanos(), s.state])?;
            }
            Ok(())
        }).await
    }

    async fn checkpoint(
        &self,
        consumer: &str,
        stream: &str,
        shard: &str,
    ) -> StoreResult<Option<SequenceNumber>> {
        let seq: Option<String> = self.db.read(|conn| {
            Ok(conn
                .prepare_cached(
                    "SELECT sequence FROM checkpoints WHERE consumer = ? AND stream = ? AND shard = ?",
                )?
                .query_row([consumer, stream, shard], |r| r.get(0))
                .optional()?)
        })?;
        Ok(seq.map(SequenceNumber))
    }

    async fn snapshot(&self, name: &str) -> StoreResult<Option<Snapshot>> {
        let row: Option<(String, i64, i64, Vec<u8>)> = self.db.read(|conn| {
            Ok(conn
                .prepare_cached(
                    "SELECT name, version, taken_ns, state FROM engine_snapshots WHERE name = ?",
                )?
                .query_row([name], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))
                .optional()?)
        })?;
        row.map(|(name, version, taken_ns, state)| {
            Ok(Snapshot {
                name,
                version: u32::try_from(version)
                    .map_err(|_| StoreError::internal("snapshot version out of range"))?,
                taken_at: Timestamp::from_nanos(taken_ns),
                state,
            })
        })
        .transpose()
    }

    async fn recent_commands(&self, limit: usize) -> StoreResult<Vec<EventId>> {
        let ids: Vec<String> = self.db.read(|conn| {
            let mut statement = conn.prepare_cached(
                "SELECT event_id FROM applied_commands ORDER BY seq DESC LIMIT ?",
            )?;
            let rows = statement.query_map([limit_of(limit)], |r| r.get(0))?;
            Ok(rows.collect::<Result<Vec<_>, _>>()?)
        })?;
        ids.iter().rev().map(|id| uuid_of(id)).collect()
    }
}

#[async_trait]
impl OutboxQueue for SqliteRecords {
    async fn enqueue(&self, events: &[OutboxEvent]) -> StoreResult<()> {
        self.commit(&CommitBatch {
            outbox: events.to_vec(),
            ..CommitBatch::default()
        })
        .await
    }

    async fn unpublished(&self, limit: usize) -> StoreResult<Vec<OutboxRecord>> {
        if self.outbox_drained.load(Ordering::Relaxed) {
            return Ok(Vec::new());
        }
        let rows: Vec<(i64, String, String, String, Vec<u8>)> = self.db.read(|conn| {
            let mut statement = conn.prepare_cached(
                "SELECT id, event_id, stream, partition_key, payload FROM outbox WHERE published = 0 ORDER BY id LIMIT ?",
            )?;
            let rows = statement.query_map([limit_of(limit)], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?))
            })?;
            Ok(rows.collect::<Result<Vec<_>, _>>()?)
        })?;
        if rows.is_empty() && self.publish_to.is_some() {
            self.outbox_drained.store(true, Ordering::Relaxed);
        }
        rows.into_iter()
            .map(|(id, event_id, stream, partition_key, payload)| {
                Ok(OutboxRecord {
                    id,
                    event: OutboxEvent {
                        event_id: uuid_of(&event_id)?,
                        stream,
                        partition_key,
                        payload,
                    },
                })
            })
            .collect()
    }

    async fn mark_published(&self, ids: &[i64]) -> StoreResult<()> {
        let ids = ids.to_vec();
        self.db
            .write(move |tx| {
                let mut update =
                    tx.prepare_cached("UPDATE outbox SET published = 1 WHERE id = ?")?;
                for id in &ids {
                    update.execute([id])?;
                }
                Ok(())
            })
            .await
    }
}

/// A job row: its body, and its result if asked for.
fn job_of(body: &str, result: Option<&str>) -> StoreResult<ResearchJob> {
    let mut job: ResearchJob = serde_json::from_str(body)?;
    job.result = match result {
        Some(text) => Some(serde_json::from_str(text)?),
        None => None,
    };
    Ok(job)
}

/// Writes a job's state columns and body (its result when given).
fn update_job(
    conn: &Connection,
    job: &ResearchJob,
    result: Option<&serde_json::Value>,
) -> StoreResult<usize> {
    let mut body = job.clone();
    body.result = None;
    let result = result.map(serde_json::to_string).transpose()?;
    Ok(conn
        .prepare_cached(
            "UPDATE research_jobs SET status = ?, started_ns = ?, body = ?, result = COALESCE(?, result) WHERE id = ?",
        )?
        .execute(params![
            job.status.as_str(),
            job.started_at.map(|t| t.nanos()),
            serde_json::to_string(&body)?,
            result,
            job.id.to_string(),
        ])?)
}

/// The job `id` if it is running.
fn running_job(conn: &Connection, id: JobId) -> StoreResult<Option<ResearchJob>> {
    let body: Option<String> = conn
        .prepare_cached("SELECT body FROM research_jobs WHERE id = ? AND status = 'running'")?
        .query_row([id.to_string()], |r| r.get(0))
        .optional()?;
    body.map(|b| job_of(&b, None)).transpose()
}

#[async_trait]
impl ResearchJobs for SqliteRecords {
    async fn create_job(&self, job: &ResearchJob) -> StoreResult<()> {
        let mut body = job.clone();
        body.result = None;
        let (id, user, kind, status, created, text) = (
            job.id.to_string(),
            job.user_id.to_string(),
            job.kind.as_str(),
            job.status.as_str(),
            job.created_at.nanos(),
            serde_json::to_string(&body)?,
        );
        self.db
            .write(move |tx| {
                tx.prepare_cached(
                    "INSERT INTO research_jobs (id, user_id, kind, status, created_ns, body) VALUES (?, ?, ?, ?, ?, ?)",
                )?
                .execute(params![id, user, kind, status, created, text])?;
                Ok(())
            })
            .await
    }

    async fn job(&self, user: UserId, id: JobId) -> StoreResult<Option<ResearchJob>> {
        self.db.read(|conn| {
            let row: Option<(String, Option<String>)> = conn
                .prepare_cached(
                    "SELECT body, result FROM research_jobs WHERE id = ? AND user_id = ?",
                )?
                .query_row([id.to_string(), user.to_string()], |r| {
                    Ok((r.get(0)?, r.get(1)?))
                })
                .optional()?;
            row.map(|(body, result)| job_of(&body, result.as_deref()))
                .transpose()
        })
    }

    async fn jobs(
        &self,
        user: UserId,
        kind: JobKind,
        limit: usize,
    ) -> StoreResult<Vec<ResearchJob>> {
        self.db.read(|conn| {
            let mut statement = conn.prepare_cached(
                "SELECT body FROM research_jobs WHERE user_id = ? AND kind = ? ORDER BY created_ns DESC, id DESC LIMIT ?",
            )?;
            let rows = statement.query_map(params![user.to_string(), kind.as_str(), limit_of(limit)], |r| {
                r.get::<_, String>(0)
            })?;
            rows.map(|body| job_of(&body?, None)).collect()
        })
    }

    async fn active_jobs(&self, limit: usize) -> StoreResult<Vec<ResearchJob>> {
        self.db.read(|conn| {
            let mut statement = conn.prepare_cached(
                "SELECT body FROM research_jobs WHERE status IN ('queued', 'running') ORDER BY created_ns, id LIMIT ?",
            )?;
            let rows = statement.query_map(params![limit_of(limit)], |r| r.get::<_, String>(0))?;
            rows.map(|body| job_of(&body?, None)).collect()
        })
    }

    async fn delete_job(&self, user: UserId, id: JobId) -> StoreResult<bool> {
        let (id, user) = (id.to_string(), user.to_string());
        self.db
            .write(move |tx| {
                Ok(tx
                    .prepare_cached("DELETE FROM research_jobs WHERE id = ? AND user_id = ?")?
                    .execute([id, user])?
                    > 0)
            })
            .await
    }

    async fn claim_job(
        &self,
        id: Option<JobId>,
        now: Timestamp,
    ) -> StoreResult<Option<ResearchJob>> {
        let id = id.map(|i| i.to_string());
        self.db
            .write(move |tx| {
                // The file's one writer: nothing else claims between this read and write.
                let body: Option<String> = tx
                    .prepare_cached(
                        "SELECT body FROM research_jobs WHERE status = 'queued' AND (?1 IS NULL OR id = ?1)
                         ORDER BY created_ns, id LIMIT 1",
                    )?
                    .query_row([id], |r| r.get(0))
                    .optional()?;
                let Some(body) = body else { return Ok(None) };
                let job = job_started(job_of(&body, None)?, now);
                update_job(tx, &job, None)?;
                Ok(Some(job))
            })
            .await
    }

    async fn job_progress(&self, id: JobId, progress: f64) -> StoreResult<()> {
        self.db
            .write(move |tx| {
                if let Some(mut job) = running_job(tx, id)? {
                    job.progress = progress.clamp(0.0, 1.0);
                    update_job(tx, &job, None)?;
                }
                Ok(())
            })
            .await
    }

    async fn finish_job(
        &self,
        id: JobId,
        outcome: JobOutcome<'_>,
        now: Timestamp,
    ) -> StoreResult<()> {
        let (result, error) = match outcome {
            JobOutcome::Succeeded(v) => (Some(v.clone()), None),
            JobOutcome::Failed(reason) => (None, Some(reason.to_owned())),
        };
        self.db
            .write(move |tx| {
                if let Some(job) = running_job(tx, id)? {
                    let outcome = match (&result, &error) {
                        (Some(v), _) => JobOutcome::Succeeded(v),
                        (None, reason) => JobOutcome::Failed(reason.as_deref().unwrap_or("failed")),
                    };
                    update_job(tx, &job_finished(job, outcome, now), result.as_ref())?;
                }
                Ok(())
            })
            .await
    }

    async fn fail_running_jobs(
        &self,
        started_before: Timestamp,
        reason: &str,
        now: Timestamp,
    ) -> StoreResult<u64> {
        let reason = reason.to_owned();
        self.db
            .write(move |tx| {
                let bodies: Vec<String> = {
                    let mut statement = tx.prepare_cached(
                        "SELECT body FROM research_jobs WHERE status = 'running' AND started_ns < ?",
                    )?;
                    let rows = statement.query_map([started_before.nanos()], |r| r.get::<_, String>(0))?;
                    rows.collect::<Result<_, _>>()?
                };
                for body in &bodies {
                    let job = job_finished(job_of(body, None)?, JobOutcome::Failed(&reason), now);
                    update_job(tx, &job, None)?;
                }
                Ok(bodies.len() as u64)
            })
            .await
    }
}

fn count_of(n: i64) -> u64 {
    u64::try_from(n).unwrap_or(0)
}

#[async_trait]
impl PlatformActivity for SqliteRecords {
    async fn account_count(&self) -> StoreResult<u64> {
        self.db.read(|conn| {
            Ok(count_of(
                conn.prepare_cached("SELECT COUNT(*) FROM accounts")?
                    .query_row([], |r| r.get(0))?,
            ))
        })
    }

    async fn activity(&self, since: Timestamp) -> StoreResult<Vec<MinuteActivity>> {
        let rows: Vec<(i64, i64, i64)> = self.db.read(|conn| {
            let mut statement = conn.prepare_cached(
                "SELECT minute, SUM(orders), SUM(fills) FROM (
                     SELECT created_ns / 60000000000 AS minute, 1 AS orders, 0 AS fills
                       FROM orders WHERE created_ns >= ?1
                     UNION ALL
                     SELECT time_ns / 60000000000, 0, 1 FROM fills WHERE time_ns >= ?1)
                 GROUP BY minute ORDER BY minute",
            )?;
            let rows =
                statement.query_map([since.nanos()], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?;
            Ok(rows.collect::<Result<Vec<_>, _>>()?)
        })?;
        Ok(rows
            .into_iter()
            .map(|(minute, orders, fills)| MinuteActivity {
                minute: minute_of(Timestamp::from_nanos(minute.saturating_mul(60_000_000_000))),
                orders: count_of(orders),
                fills: count_of(fills),
            })
            .collect())
    }

    async fn account_activity(&self, accounts: &[AccountId]) -> StoreResult<Vec<AccountActivity>> {
        self.db.read(|conn| {
            let mut orders =
                conn.prepare_cached("SELECT COUNT(*) FROM orders WHERE account_id = ?")?;
            let mut fills =
                conn.prepare_cached("SELECT COUNT(*) FROM fills WHERE account_id = ?")?;
            accounts
                .iter()
                .map(|&account_id| {
                    let id = account_id.to_string();
                    Ok(AccountActivity {
                        account_id,
                        orders: count_of(orders.query_row([&id], |r| r.get(0))?),
                        fills: count_of(fills.query_row([&id], |r| r.get(0))?),
                    })
                })
                .collect()
        })
    }
}
