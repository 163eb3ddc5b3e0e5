//! The system of record (Postgres in the cloud, the SQLite file embedded), as narrow ports:
//! [`AccountLedger`] (accounts and their cash), [`OrderRecords`] (orders, fills,
//! positions), [`StrategyRecords`], [`MarketHistory`], [`ReportRecords`], [`CoreCommit`]
//! (the core's batch — ledger entries, outbox events, stream checkpoints and an engine
//! snapshot in one transaction, so a crash loses only uncommitted work and nothing
//! half-applied is ever visible) and [`OutboxQueue`]. [`RecordStore`] is all of them, as
//! one adapter implements them over one database.

use async_trait::async_trait;
use domain::{
    Account, AccountId, ClientOrderId, Decimal, EventId, Fill, JobId, JobKind, JobStatus,
    LedgerEntry, LedgerKind, Money, NaiveDate, Order, OrderId, OrderStatus, Position, PostedEntry,
    Price, Quantity, ReportRow, ResearchJob, Side, StrategyRecord, Symbol, Timestamp, UserId,
};
use serde::{Deserialize, Serialize};

use crate::error::StoreResult;
use crate::stream::SequenceNumber;

/// An event to relay to a stream after the transaction that produced it commits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutboxEvent {
    pub event_id: EventId,
    pub stream: String,
    pub partition_key: String,
    pub payload: Vec<u8>,
}

/// An outbox event as stored, with its position in the outbox.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutboxRecord {
    pub id: i64,
    pub event: OutboxEvent,
}

/// How far a consumer has processed a shard.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checkpoint {
    pub consumer: String,
    pub stream: String,
    pub shard: String,
    pub sequence: SequenceNumber,
}

/// A serialized engine state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Snapshot {
    pub name: String,
    /// The format version of `state`; a reader refuses versions it does not know.
    pub version: u32,
    pub taken_at: Timestamp,
    pub state: Vec<u8>,
}

/// Where a page of orders ends: the next page starts after this order (newest first).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OrderCursor {
    pub created_at: Timestamp,
    pub id: OrderId,
}

impl OrderCursor {
    /// An opaque token for APIs: `<nanos>_<uuid>`.
    pub fn to_token(&self) -> String {
        format!("{}_{}", self.created_at.nanos(), self.id)
    }

    /// Reads a token: `-?[0-9]{1,20}_` and a lower-case hyphenated UUID, exactly the
    /// form [`OrderCursor::to_token`] writes (a time beyond `i64` is clamped to it).
    pub fn from_token(token: &str) -> Option<Self> {
        let (nanos, id) = token.split_once('_')?;
        let digits = nanos.strip_prefix('-').unwrap_or(nanos);
        if digits.is_empty() || digits.len() > 20 || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        let hyphenated = id.len() == 36
            && id.bytes().enumerate().all(|(i, b)| match i {
                8 | 13 | 18 | 23 => b == b'-',
                _ => b.is_ascii_digit() || (b'a'..=b'f').contains(&b),
            });
        if !hyphenated {
            return None;
        }
        let nanos: i128 = nanos.parse().ok()?;
        let nanos = i64::try_from(nanos.clamp(i128::from(i64::MIN), i128::from(i64::MAX))).ok()?;
        Some(OrderCursor {
            created_at: Timestamp::from_nanos(nanos),
            id: OrderId::parse(id).ok()?,
        })
    }
}

/// Which of an account's orders to list, newest first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrderQuery {
    pub status: Option<OrderStatus>,
    pub symbol: Option<Symbol>,
    pub after: Option<OrderCursor>,
    pub limit: usize,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrderPage {
    pub orders: Vec<Order>,
    /// Present when there may be more.
    pub next: Option<OrderCursor>,
}

/// The sum of an account's working orders on one side of one symbol (see
/// `domain::order::Exposure`), kept by the adapters as orders are written.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExposureRow {
    pub symbol: Symbol,
    pub side: domain::Side,
    pub quantity: domain::Decimal,
    pub notional: domain::Decimal,
}

/// The per-account rules that the store checks in the same transaction that records an
/// order or an amend. Paper accounts are cash accounts: cash less what working buys
/// reserve must cover a buy, and a sell may offer only shares that are held and not
/// already offered. Because the check happens inside the write, racing requests cannot
/// both pass on the same cash or shares.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct OrderLimits {
    /// The largest absolute position the symbol may reach once every working order on
    /// the order's side fills.
    pub max_position: Option<Decimal>,
}

/// A new order to record, with the command that submits it.
#[derive(Debug, Clone, Copy)]
pub struct NewOrder<'a> {
    pub order: &'a Order,
    /// The price that a market or stop order's remainder is reserved at (see
    /// `domain::order::Exposure`). It is kept with the order row for as long as the
    /// order works. Limit and stop-limit orders reserve at their limit price.
    pub reserve_price: Option<Price>,
    pub outbox: &'a [OutboxEvent],
    pub limits: OrderLimits,
}

/// A change to a working order that the core has yet to apply.
#[derive(Debug, Clone, Copy)]
pub struct AmendHold<'a> {
    pub account_id: AccountId,
    pub order_id: OrderId,
    pub quantity: Option<Quantity>,
    pub limit_price: Option<Price>,
    pub stop_price: Option<Price>,
    /// The `order.amend` command. Its event id names the hold.
    pub command: &'a OutboxEvent,
    pub limits: OrderLimits,
}

/// Why the store refused an order or an amend. Nothing was written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// A buy needs more than cash less what working buys reserve.
    BuyingPower { needed: Money, available: Money },
    /// A sell offers more than is held and not already offered.
    Holdings {
        selling: Decimal,
        available: Decimal,
    },
    /// The position would pass the account's limit once working orders fill.
    Position { after: Decimal, limit: Decimal },
}

/// What a write that reserves leads to: done, or refused with nothing written.
pub type Reserved = Result<(), Refusal>;

/// The part of an account that an order's check reads, taken inside the writing
/// transaction *after* the order's exposure was added.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AccountBook {
    pub cash: Money,
    /// Everything that working buys reserve, over all symbols.
    pub buy_notional: Decimal,
    /// The order's symbol: the quantity held, and the quantity of working buys and sells.
    pub held: Decimal,
    pub working_buys: Decimal,
    pub working_sells: Decimal,
}

/// Checks `book` after a write added `added` (a new order's exposure, or the growth of
/// an amended one) on `side`. See [`OrderLimits`].
pub fn check_reservation(
    book: &AccountBook,
    side: Side,
    added: (Decimal, Decimal),
    limits: &OrderLimits,
) -> Reserved {
    let (added_quantity, added_notional) = added;
    match side {
        Side::Buy if book.buy_notional > book.cash.value() => {
            let others = book.buy_notional - added_notional;
            return Err(Refusal::BuyingPower {
                needed: Money::new(added_notional),
                available: Money::new((book.cash.value() - others).max(Decimal::ZERO)),
            });
        }
        Side::Sell if book.working_sells > book.held => {
            let others = book.working_sells - added_quantity;
            return Err(Refusal::Holdings {
                selling: added_quantity,
                available: (book.held - others).max(Decimal::ZERO),
            });
        }
        _ => {}
    }
    if let Some(limit) = limits.max_position {
        let after = match side {
            Side::Buy => book.held + book.working_buys,
            Side::Sell => book.held - book.working_sells,
        };
        if after.abs() > limit {
            return Err(Refusal::Position { after, limit });
        }
    }
    Ok(())
}

/// What an amend holds until the core applies it: the growth of the order's exposure
/// (quantity and notional, each at least zero) between `order` as recorded and `order`
/// with the amend's terms. `ConditionFailed` if the order no longer works or the terms
/// no longer fit it.
pub fn amend_growth(
    order: &Order,
    reserve_price: Option<Price>,
    hold: &AmendHold<'_>,
) -> StoreResult<(Decimal, Decimal)> {
    if order.status().is_terminal() {
        return Err(crate::StoreError::condition_failed(format!(
            "the order is {} and can no longer change",
            order.status()
        )));
    }
    let amended = order
        .with_terms(hold.quantity, hold.limit_price, hold.stop_price)
        .map_err(|e| crate::StoreError::condition_failed(e.to_string()))?;
    let (now, then) = (
        order.exposure(reserve_price),
        amended.exposure(reserve_price),
    );
    let quantity = |e: Option<domain::order::Exposure>| e.map_or(Decimal::ZERO, |e| e.quantity);
    let notional = |e: Option<domain::order::Exposure>| e.map_or(Decimal::ZERO, |e| e.notional);
    Ok((
        (quantity(then) - quantity(now)).max(Decimal::ZERO),
        (notional(then) - notional(now)).max(Decimal::ZERO),
    ))
}

/// What one batch of the core's work produced, committed together.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CommitBatch {
    /// Orders as they now are (inserted or replaced by id).
    pub orders: Vec<Order>,
    /// Fills (idempotent by order and trade id).
    pub fills: Vec<Fill>,
    /// Positions as they now are, per account.
    pub positions: Vec<(AccountId, Position)>,
    /// Closed candles for the history (upserted by symbol, timeframe and start).
    pub candles: Vec<domain::Candle>,
    pub ledger: Vec<LedgerEntry>,
    pub outbox: Vec<OutboxEvent>,
    pub checkpoints: Vec<Checkpoint>,
    pub snapshot: Option<Snapshot>,
    /// Ids of the commands this batch applied, remembered so that a command delivered
    /// again (two relays of one outbox row) is recognised after a restart too. They are
    /// appended as given (the core sends each id once); the newest
    /// [`COMMANDS_REMEMBERED`] are kept.
    pub applied_commands: Vec<EventId>,
}

/// How many applied command ids the system of record keeps (older ones are pruned as
/// new ones arrive).
pub const COMMANDS_REMEMBERED: usize = 100_000;

/// Accounts and their cash ledger: every user-facing read is scoped to its user; every
/// posting is idempotent and never overdraws.
#[async_trait]
pub trait AccountLedger: Send + Sync {
    /// Creates an account with zero cash; `ConditionFailed` if the id exists.
    async fn create_account(&self, account: &Account) -> StoreResult<()>;

    /// The user's accounts, oldest first.
    async fn accounts(&self, user: UserId) -> StoreResult<Vec<Account>>;

    /// Every account, by id, a page at a time: the ones after `after`, at most `limit`
    /// (for jobs over all accounts, such as the daily report; never for user requests).
    async fn all_accounts(
        &self,
        after: Option<AccountId>,
        limit: usize,
    ) -> StoreResult<Vec<Account>>;

    /// An account by id, whoever owns it (for the core, which trades for every account;
    /// never for user requests).
    async fn account_by_id(&self, id: AccountId) -> StoreResult<Option<Account>>;

    /// The account if it is the user's (another user's id is as missing as an unknown one).
    async fn account(&self, user: UserId, id: AccountId) -> StoreResult<Option<Account>>;

    /// Posts one entry: idempotent by entry id (a repeat returns the first posting);
    /// refuses to take cash below zero (`ConditionFailed`, nothing changes); `NotFound`
    /// for an unknown account.
    async fn post(&self, entry: &LedgerEntry) -> StoreResult<PostedEntry>;

    /// Posts a withdrawal as [`AccountLedger::post`] does, except that the cash left must
    /// still cover what working buys reserve (`ConditionFailed` otherwise), checked in
    /// the same transaction.
    async fn withdraw(&self, entry: &LedgerEntry) -> StoreResult<PostedEntry>;

    /// One posting of an account by entry id (how an idempotent request finds its
    /// earlier self).
    async fn ledger_entry(
        &self,
        account: AccountId,
        id: EventId,
    ) -> StoreResult<Option<PostedEntry>>;

    /// The latest `limit` entries of an account, newest first.
    async fn ledger(&self, account: AccountId, limit: usize) -> StoreResult<Vec<PostedEntry>>;
}

/// Orders, fills and positions: new orders and amends reserve what they need in the same
/// transaction that records them (see [`OrderLimits`]); fills and positions arrive with the
/// core's commit.
#[async_trait]
pub trait OrderRecords: Send + Sync {
    /// Records a new order and the outbox events that submit it, in one transaction,
    /// and reserves what it needs: refused (`Ok(Err(_))`) unless the account can carry
    /// it after every working order's reservation (see [`OrderLimits`]).
    /// `ConditionFailed` if its id, or its `client_order_id` within the account, is
    /// taken; `NotFound` for an unknown account. A refused or failed insert writes
    /// nothing.
    async fn insert_order(&self, new: &NewOrder<'_>) -> StoreResult<Reserved>;

    /// Records an amend's command and holds what the amend adds to the order's
    /// reservation (see [`amend_growth`]), in one transaction. The check is the same as
    /// for a new order. The hold ends in the commit whose `applied_commands` name the
    /// command: that commit also writes the order as amended (or as it ended).
    /// `NotFound` if the account has no such order; `ConditionFailed` if the order no
    /// longer works or the terms no longer fit it (it filled past the new quantity).
    async fn hold_amend(&self, hold: &AmendHold<'_>) -> StoreResult<Reserved>;

    /// Removes an order that was never sent anywhere: only while it is still `new` with
    /// nothing filled (an external broker's order whose submit definitely failed — refused,
    /// rate limited, unavailable), giving back the exposure its insert reserved, in one
    /// transaction. `Ok(true)` if it was withdrawn, `Ok(false)` if the account has no such
    /// order or it is no longer `new` (the broker answered after all: it stays).
    ///
    /// The account is locked as [`OrderRecords::insert_order`] locks it, so a withdrawal
    /// and a racing insert see each other whole. What amends of the order hold
    /// ([`OrderRecords::hold_amend`]) is given back with it (their commands can no longer
    /// apply); a later commit that names such a command finds no hold and changes nothing.
    /// The order's `client_order_id` is free again. Outbox events written with the
    /// insert are not taken back: an order that may be withdrawn is inserted without a
    /// command that someone else would act on.
    async fn withdraw_order(&self, account: AccountId, order: OrderId) -> StoreResult<bool>;

    /// The order if its account is the user's.
    async fn order(&self, user: UserId, id: OrderId) -> StoreResult<Option<Order>>;

    async fn order_by_client_id(
        &self,
        account: AccountId,
        client_order_id: &ClientOrderId,
    ) -> StoreResult<Option<Order>>;

    /// A page of an account's orders, newest first (the caller checked the account is the
    /// user's).
    async fn orders(&self, account: AccountId, query: &OrderQuery) -> StoreResult<OrderPage>;

    /// What an account's working orders add up to, per symbol and side (rows that net
    /// to zero may be absent). Kept in the same transactions that write the orders.
    async fn exposure(&self, account: AccountId) -> StoreResult<Vec<ExposureRow>>;

    /// An account's latest fills, newest first.
    async fn fills(&self, account: AccountId, limit: usize) -> StoreResult<Vec<Fill>>;

    async fn positions(&self, account: AccountId) -> StoreResult<Vec<Position>>;

    /// Every fill of the orders a strategy deployment placed (`Order::strategy_id`),
    /// oldest first (by time, then trade id): what its performance is computed from. The
    /// caller checked the deployment is the user's.
    async fn deployment_fills(&self, strategy: domain::StrategyId) -> StoreResult<Vec<Fill>>;
}

/// Strategy deployments.
#[async_trait]
pub trait StrategyRecords: Send + Sync {
    /// Creates or replaces a deployment (status changes go through here too).
    async fn save_strategy(&self, strategy: &StrategyRecord) -> StoreResult<()>;

    /// The deployment if its account is the user's.
    async fn strategy(
        &self,
        user: UserId,
        id: domain::StrategyId,
    ) -> StoreResult<Option<StrategyRecord>>;

    /// An account's deployments, oldest first; `None` for every account (the core at start-up).
    async fn strategies(&self, account: Option<AccountId>) -> StoreResult<Vec<StrategyRecord>>;
}

/// The closed candles the core commits and `stratus data import` loads, for charts and
/// research.
#[async_trait]
pub trait MarketHistory: Send + Sync {
    /// Candle history of `[from, to)`, oldest first, at most `limit`: the oldest `limit`
    /// of the window.
    async fn candles(
        &self,
        symbol: Symbol,
        timeframe: domain::Timeframe,
        from: Timestamp,
        to: Timestamp,
        limit: usize,
    ) -> StoreResult<Vec<domain::Candle>>;

    /// The newest `limit` candles of `[from, to)`, oldest first (a chart's page).
    async fn latest_candles(
        &self,
        symbol: Symbol,
        timeframe: domain::Timeframe,
        from: Timestamp,
        to: Timestamp,
        limit: usize,
    ) -> StoreResult<Vec<domain::Candle>>;

    /// The timeframes `symbol` has any candle of, finest first.
    async fn candle_timeframes(&self, symbol: Symbol) -> StoreResult<Vec<domain::Timeframe>>;

    /// Upserts candles by symbol, timeframe and start, all or none; returns how many
    /// rows were added or changed (a candle stored as it is counts nothing, so loading
    /// the same candles twice reports 0 the second time). Of candles repeating a key in
    /// one call, the last is kept and counted once ([`last_of_each`]).
    async fn save_candles(&self, candles: &[domain::Candle]) -> StoreResult<u64>;
}

/// The daily report rows of accounts.
#[async_trait]
pub trait ReportRecords: Send + Sync {
    /// Creates or replaces an account's report row for a day.
    async fn save_report(&self, row: &ReportRow) -> StoreResult<()>;

    /// An account's report rows with `from <= day <= to`, oldest first.
    async fn reports(
        &self,
        account: AccountId,
        from: NaiveDate,
        to: NaiveDate,
    ) -> StoreResult<Vec<ReportRow>>;
}

/// The core's commit: a batch of its work (orders, fills, positions, candles, ledger
/// entries, outbox events, checkpoints, a snapshot, the commands it applied) in one
/// transaction, and what it reads back when it starts.
#[async_trait]
pub trait CoreCommit: Send + Sync {
    /// Everything in `batch` or nothing: ledger entries (idempotent, no overdraft),
    /// outbox events (idempotent by event id), checkpoints (upserted) and the snapshot.
    async fn commit(&self, batch: &CommitBatch) -> StoreResult<()>;

    async fn checkpoint(
        &self,
        consumer: &str,
        stream: &str,
        shard: &str,
    ) -> StoreResult<Option<SequenceNumber>>;

    async fn snapshot(&self, name: &str) -> StoreResult<Option<Snapshot>>;

    /// The newest `limit` applied command ids (see [`CommitBatch::applied_commands`]),
    /// oldest first.
    async fn recent_commands(&self, limit: usize) -> StoreResult<Vec<EventId>>;
}

/// The outbox: events that committed transactions produced, waiting for the relay to
/// publish them to their streams.
#[async_trait]
pub trait OutboxQueue: Send + Sync {
    /// Queues `events` for the relay in one transaction (idempotent by event id): how a
    /// request hands a command to the core without a write of its own to carry it.
    async fn enqueue(&self, events: &[OutboxEvent]) -> StoreResult<()>;

    /// Unpublished outbox events, oldest first.
    async fn unpublished(&self, limit: usize) -> StoreResult<Vec<OutboxRecord>>;

    async fn mark_published(&self, ids: &[i64]) -> StoreResult<()>;
}

/// How a running job ended.
#[derive(Debug, Clone, Copy)]
pub enum JobOutcome<'a> {
    Succeeded(&'a serde_json::Value),
    Failed(&'a str),
}

/// Research jobs (backtests, optimisations): submitted by users, taken by workers.
#[async_trait]
pub trait ResearchJobs: Send + Sync {
    /// Records a new job (queued).
    async fn create_job(&self, job: &ResearchJob) -> StoreResult<()>;

    /// A job of `user`, with its result (none for another user's job).
    async fn job(&self, user: UserId, id: JobId) -> StoreResult<Option<ResearchJob>>;

    /// The user's jobs of one kind, newest first, at most `limit`, without results.
    async fn jobs(
        &self,
        user: UserId,
        kind: JobKind,
        limit: usize,
    ) -> StoreResult<Vec<ResearchJob>>;

    /// Queued and running jobs of every user, oldest first, at most `limit`, without
    /// results (the operations dashboard; never for a user's request).
    async fn active_jobs(&self, limit: usize) -> StoreResult<Vec<ResearchJob>>;

    /// Deletes a job of `user`; false if there is none. A worker still running it finds
    /// it gone and drops what it would have written.
    async fn delete_job(&self, user: UserId, id: JobId) -> StoreResult<bool>;

    /// Takes a queued job for a worker — `id`, or else the oldest — marking it running
    /// (`started_at` = `now`) in the same transaction, so two workers never take one job.
    async fn claim_job(
        &self,
        id: Option<JobId>,
        now: Timestamp,
    ) -> StoreResult<Option<ResearchJob>>;

    /// How far a running job is (0 to 1).
    async fn job_progress(&self, id: JobId, progress: f64) -> StoreResult<()>;

    /// Ends a running job with its result or why it failed; a job no longer running
    /// (deleted, or failed by [`ResearchJobs::fail_running_jobs`]) is left as it is.
    async fn finish_job(
        &self,
        id: JobId,
        outcome: JobOutcome<'_>,
        now: Timestamp,
    ) -> StoreResult<()>;

    /// Fails every job running since before `started_before` with `reason`: what a
    /// worker does when it starts (its process's jobs died with it). Returns how many.
    async fn fail_running_jobs(
        &self,
        started_before: Timestamp,
        reason: &str,
        now: Timestamp,
    ) -> StoreResult<u64>;
}

/// The candles to save: of those repeating a symbol, timeframe and start, the last, in
/// their order.
pub fn last_of_each(candles: &[domain::Candle]) -> Vec<&domain::Candle> {
    let mut latest: std::collections::HashMap<(Symbol, domain::Timeframe, Timestamp), usize> =
        std::collections::HashMap::with_capacity(candles.len());
    for (i, c) in candles.iter().enumerate() {
        latest.insert((c.symbol, c.timeframe, c.start), i);
    }
    candles
        .iter()
        .enumerate()
        .filter(|(i, c)| latest.get(&(c.symbol, c.timeframe, c.start)) == Some(i))
        .map(|(_, c)| c)
        .collect()
}

/// `job` taken by a worker at `now`.
pub fn job_started(mut job: ResearchJob, now: Timestamp) -> ResearchJob {
    job.status = JobStatus::Running;
    job.started_at = Some(now);
    job.progress = 0.0;
    job
}

/// `job` ended with `outcome` at `now` (the result travels beside it, not inside).
pub fn job_finished(mut job: ResearchJob, outcome: JobOutcome<'_>, now: Timestamp) -> ResearchJob {
    match outcome {
        JobOutcome::Succeeded(_) => {
            job.status = JobStatus::Succeeded;
            job.progress = 1.0;
        }
        JobOutcome::Failed(reason) => {
            job.status = JobStatus::Failed;
            job.error = Some(reason.to_owned());
        }
    }
    job.finished_at = Some(now);
    job.result = None;
    job
}

/// Orders and fills in one minute (its start, UTC-aligned).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MinuteActivity {
    pub minute: Timestamp,
    pub orders: u64,
    pub fills: u64,
}

/// How many orders and fills an account has had.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AccountActivity {
    pub account_id: AccountId,
    pub orders: u64,
    pub fills: u64,
}

/// The platform as a whole, for the operations dashboard (admins only; never for a
/// user's request): counts across every user.
#[async_trait]
pub trait PlatformActivity: Send + Sync {
    /// How many accounts there are.
    async fn account_count(&self) -> StoreResult<u64>;

    /// Orders created and fills traded from `since` on, per minute (minutes without
    /// either are absent), oldest first. An order counts at its `created_at`, a fill at
    /// its trade time.
    async fn activity(&self, since: Timestamp) -> StoreResult<Vec<MinuteActivity>>;

    /// Orders and fills of each of `accounts` (one row per account given, zeros
    /// included, in the order given).
    async fn account_activity(&self, accounts: &[AccountId]) -> StoreResult<Vec<AccountActivity>>;
}

/// The minute `time` falls in.
pub fn minute_of(time: Timestamp) -> Timestamp {
    Timestamp::from_nanos(time.nanos().div_euclid(60_000_000_000) * 60_000_000_000)
}

/// The whole system of record: every port above, as one adapter (a Postgres database,
/// the SQLite file, the in-memory fake) implements them over one store. Consumers hold the
/// narrow port they use (`Arc<dyn AccountLedger>`, …), upcast from this one.
pub trait RecordStore:
    AccountLedger
    + OrderRecords
    + StrategyRecords
    + MarketHistory
    + ReportRecords
    + CoreCommit
    + OutboxQueue
    + ResearchJobs
    + PlatformActivity
{
}

impl<T> RecordStore for T where
    T: AccountLedger
        + OrderRecords
        + StrategyRecords
        + MarketHistory
        + ReportRecords
        + CoreCommit
        + OutboxQueue
        + ResearchJobs
        + PlatformActivity
        + ?Sized
{
}

/// How the stores key a report day: `YYYY-MM-DD`, which sorts as the days do for the
/// years 1 to 9999 that it is clamped to (a query reaching past them asks for every row
/// on that side).
pub fn day_key(day: NaiveDate) -> String {
    let first = NaiveDate::from_ymd_opt(1, 1, 1).unwrap_or(NaiveDate::MIN);
    let last = NaiveDate::from_ymd_opt(9999, 12, 31).unwrap_or(NaiveDate::MAX);
    day.clamp(first, last).format("%Y-%m-%d").to_string()
}

/// The ledger kind of a stored row (a row no build wrote is a broken store).
pub fn ledger_kind(text: &str) -> StoreResult<LedgerKind> {
    LedgerKind::parse(text)
        .ok_or_else(|| crate::StoreError::internal(format!("ledger kind {text:?}")))
}

/// Builds a page from up to `limit + 1` rows.
pub fn page(mut orders: Vec<Order>, limit: usize) -> OrderPage {
    let more = orders.len() > limit;
    orders.truncate(limit);
    let next = more
        .then(|| {
            orders.last().map(|o| OrderCursor {
                created_at: o.created_at(),
                id: o.id,
            })
        })
        .flatten();
    OrderPage { orders, next }
}

/// What writing `new` over `old` does to the account's exposure: per (symbol, side), the
/// change of quantity and notional (the adapters add these to their exposure rows). The
/// order row's `reserve_price` applies to both.
pub fn exposure_deltas(
    old: Option<&Order>,
    new: &Order,
    reserve_price: Option<Price>,
) -> Vec<(Symbol, Side, Decimal, Decimal)> {
    let mut out: Vec<(Symbol, Side, Decimal, Decimal)> = Vec::new();
    let mut add = |e: domain::order::Exposure, sign: Decimal| {
        let (q, n) = (e.quantity * sign, e.notional * sign);
        match out
            .iter_mut()
            .find(|(s, d, _, _)| *s == e.symbol && *d == e.side)
        {
            Some(row) => {
                row.2 += q;
                row.3 += n;
            }
            None => out.push((e.symbol, e.side, q, n)),
        }
    };
    if let Some(e) = old.and_then(|o| o.exposure(reserve_price)) {
        add(e, -Decimal::ONE);
    }
    if let Some(e) = new.exposure(reserve_price) {
        add(e, Decimal::ONE);
    }
    out.retain(|(_, _, q, n)| !(q.is_zero() && n.is_zero()));
    out
}

/// Whether [`OrderRecords::withdraw_order`] may remove `order`: it is still `new`, with
/// nothing filled (no venue has seen it).
pub fn withdrawable(order: &Order) -> bool {
    order.status() == OrderStatus::New && order.filled_quantity().is_zero()
}

/// What removing `order` (as stored, with its row's `reserve_price`) does to the account's
/// exposure: the opposite of what writing it added ([`exposure_deltas`]).
pub fn exposure_withdrawn(
    order: &Order,
    reserve_price: Option<Price>,
) -> Vec<(Symbol, Side, Decimal, Decimal)> {
    exposure_deltas(None, order, reserve_price)
        .into_iter()
        .map(|(symbol, side, quantity, notional)| (symbol, side, -quantity, -notional))
        .collect()
}

/// A side as stored (`buy` / `sell`).
pub fn side_of(text: &str) -> StoreResult<domain::Side> {
    match text {
        "buy" => Ok(domain::Side::Buy),
        "sell" => Ok(domain::Side::Sell),
        other => Err(crate::StoreError::internal(format!(
            "stored side {other:?}"
        ))),
    }
}
