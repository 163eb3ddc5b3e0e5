//! The system-of-record ports ([`crate::records::RecordStore`]) in memory: the tables of
//! the SQL adapters as ordered maps behind one mutex, with the same keys, uniqueness and
//! foreign-key rules.
//!
//! The SQL adapters get all-or-nothing from a transaction. Here every write first checks
//! everything that can refuse it (a taken id or client order id, an unknown account, an
//! overdraft) against the tables as they are plus what the same batch wrote before, and
//! only then changes anything — so a refused commit leaves no trace. The mutex is held
//! for the whole operation, which also serializes postings as the account row lock does.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

use async_trait::async_trait;
use domain::{
    Account, AccountId, Candle, ClientOrderId, Decimal, EventId, Fill, JobId, JobKind, JobStatus,
    LedgerEntry, NaiveDate, Order, OrderId, Position, PostedEntry, Price, ReportRow, ResearchJob,
    Side, StrategyId, StrategyRecord, Symbol, Timeframe, Timestamp, UserId,
};
use tokio::sync::Mutex;

use crate::error::{StoreError, StoreResult};
use crate::records::{
    AccountActivity, AccountBook, AccountLedger, AmendHold, CommitBatch, CoreCommit, ExposureRow,
    JobOutcome, MarketHistory, MinuteActivity, NewOrder, OrderPage, OrderQuery, OrderRecords,
    OutboxEvent, OutboxQueue, OutboxRecord, PlatformActivity, ReportRecords, ResearchJobs,
    Reserved, Snapshot, StrategyRecords, check_reservation, job_finished, job_started, minute_of,
    page,
};
use crate::stream::SequenceNumber;

#[derive(Debug, Default)]
pub struct MemoryRecords {
    tables: Mutex<Tables>,
}

impl MemoryRecords {
    pub fn new() -> Self {
        Self::default()
    }
}

/// An order as stored: the columns the SQL adapters filter, sort and join on keep their
/// first values (an update replaces only the status and the body, i.e. the order); the
/// creation time is in `Tables::orders_by_account`.
#[derive(Debug)]
struct OrderRow {
    account_id: AccountId,
    symbol: Symbol,
    order: Order,
    /// Recorded at placement, kept for as long as the order works.
    reserve_price: Option<Price>,
}

/// What an amend holds until the core applies it (by the command's id), or until its
/// order is withdrawn.
#[derive(Debug)]
struct Hold {
    account_id: AccountId,
    order_id: OrderId,
    symbol: Symbol,
    side: Side,
    quantity: Decimal,
    notional: Decimal,
}

/// A deployment as stored; as with orders, an update replaces status and body only.
#[derive(Debug)]
struct StrategyRow {
    account_id: AccountId,
    created_ns: i64,
    record: StrategyRecord,
}

/// The tables, and the indexes that give the SQL adapters' orders.
#[derive(Debug, Default)]
struct Tables {
    /// Research jobs, each with its result.
    jobs: BTreeMap<JobId, (ResearchJob, Option<serde_json::Value>)>,
    /// Working orders summed per (account, symbol, side): quantity and notional.
    exposure: BTreeMap<(AccountId, Symbol, &'static str), (domain::Decimal, domain::Decimal)>,
    holds: HashMap<EventId, Hold>,
    accounts: BTreeMap<AccountId, Account>,
    /// `(user, created_ns, id)`: a user's accounts, oldest first.
    accounts_by_user: BTreeSet<(UserId, i64, AccountId)>,
    /// Postings by their position in the ledger (`seq`).
    ledger: BTreeMap<u64, PostedEntry>,
    ledger_seq: HashMap<EventId, u64>,
    ledger_by_account: BTreeSet<(AccountId, u64)>,
    last_ledger_seq: u64,
    /// Unpublished events by outbox id; `outbox_events` holds every event id ever added
    /// (published ones too), which is what makes adding idempotent.
    outbox: BTreeMap<i64, OutboxEvent>,
    outbox_events: HashSet<EventId>,
    last_outbox_id: i64,
    checkpoints: BTreeMap<(String, String, String), SequenceNumber>,
    snapshots: BTreeMap<String, Snapshot>,
    /// Applied command ids, oldest first.
    commands: std::collections::VecDeque<EventId>,
    orders: BTreeMap<OrderId, OrderRow>,
    /// `(account, created_ns, id)`: an account's orders, the page order reversed.
    orders_by_account: BTreeSet<(AccountId, i64, OrderId)>,
    client_ids: BTreeMap<(AccountId, ClientOrderId), OrderId>,
    /// Fills by `(order, trade id)`.
    fills: BTreeMap<(OrderId, i64), Fill>,
    /// `(account, time_ns, trade id, order)`: an account's fills, oldest first.
    fills_by_account: BTreeSet<(AccountId, i64, i64, OrderId)>,
    /// By account and symbol text (the SQL order, not `Symbol`'s).
    positions: BTreeMap<(AccountId, String), Position>,
    strategies: BTreeMap<StrategyId, StrategyRow>,
    /// By symbol, timeframe (as text) and start.
    candles: BTreeMap<(String, String, i64), Candle>,
    reports: BTreeMap<(AccountId, NaiveDate), ReportRow>,
}

/// What posting one entry does: nothing (its id was posted before; the first posting
/// stands) or a new posting.
#[derive(Debug)]
enum Posting {
    Repeat(PostedEntry),
    New(PostedEntry),
}

impl Posting {
    fn entry(&self) -> &PostedEntry {
        match self {
            Posting::Repeat(p) | Posting::New(p) => p,
        }
    }
}

fn limited<T>(items: impl Iterator<Item = T>, limit: usize) -> Vec<T> {
    items.take(limit).collect()
}

impl Tables {
    /// The foreign key every account-owned row has.
    fn require_account(&self, id: AccountId) -> StoreResult<()> {
        if self.accounts.contains_key(&id) {
            Ok(())
        } else {
            Err(StoreError::invalid(format!("no account {id}")))
        }
    }

    fn user_owns(&self, user: UserId, account: AccountId) -> bool {
        self.accounts
            .get(&account)
            .is_some_and(|a| a.user_id == user)
    }

    /// What posting `entries` in order would do; entries see the ones before them, so a
    /// batch may deposit and then spend, and an id repeated within it applies once.
    fn plan_postings(&self, entries: &[LedgerEntry]) -> StoreResult<Vec<Posting>> {
        let mut cash = BTreeMap::new();
        let mut posted: HashMap<EventId, PostedEntry> = HashMap::new();
        let mut plan = Vec::with_capacity(entries.len());
        for entry in entries {
            let earlier = posted.get(&entry.id).cloned().or_else(|| {
                self.ledger_seq
                    .get(&entry.id)
                    .and_then(|seq| self.ledger.get(seq))
                    .cloned()
            });
            if let Some(first) = earlier {
                plan.push(Posting::Repeat(first));
                continue;
            }
            let balance = match cash.get(&entry.account_id) {
                Some(balance) => *balance,
                None => {
                    self.accounts
                        .get(&entry.account_id)
                        .ok_or_else(|| {
                            StoreError::not_found(format!("no account {}", entry.account_id))
                        })?
                        .cash
                }
            };
            let after = balance
                .checked_add(entry.amount)
                .map_err(|e| StoreError::invalid(e.to_string()))?;
            if after.is_negative() {
                return Err(StoreError::condition_failed(format!(
                    "insufficient cash: {balance} available, {} asked",
                    entry.amount.checked_neg()
                )));
            }
            cash.insert(entry.account_id, after);
            let new = PostedEntry {
                entry: entry.clone(),
                balance_after: after,
            };
            posted.insert(entry.id, new.clone());
            plan.push(Posting::New(new));
        }
        Ok(plan)
    }

    /// Posts one entry; with `keep_reserved`, the cash left must cover what working buys
    /// reserve.
    fn post(&mut self, entry: &LedgerEntry, keep_reserved: bool) -> StoreResult<PostedEntry> {
        let plan = self.plan_postings(std::slice::from_ref(entry))?;
        let posted = plan
            .first()
            .map(|p| p.entry().clone())
            .ok_or_else(|| StoreError::internal("a posting plan without its entry"))?;
        if keep_reserved && matches!(plan.first(), Some(Posting::New(_))) {
            let reserved = self.reserved_for_buys(entry.account_id);
            if posted.balance_after.value() < reserved {
                return Err(StoreError::condition_failed(format!(
                    "working buy orders reserve {reserved} of the cash"
                )));
            }
        }
        self.apply_postings(plan);
        Ok(posted)
    }

    fn apply_postings(&mut self, plan: Vec<Posting>) {
        for posting in plan {
            let Posting::New(posted) = posting else {
                continue;
            };
            self.last_ledger_seq += 1;
            let seq = self.last_ledger_seq;
            let account = posted.entry.account_id;
            if let Some(a) = self.accounts.get_mut(&account) {
                a.cash = posted.balance_after;
            }
            self.ledger_seq.insert(posted.entry.id, seq);
            self.ledger_by_account.insert((account, seq));
            self.ledger.insert(seq, posted);
        }
    }

    /// Refuses a new order whose id, or client order id within its account, is taken
    /// (`claimed` holds those of earlier orders of the same batch).
    fn check_new_order(
        &self,
        order: &Order,
        claimed: &BTreeSet<(AccountId, &ClientOrderId)>,
    ) -> StoreResult<()> {
        if self.orders.contains_key(&order.id) {
            return Err(StoreError::condition_failed(format!(
                "order {} exists",
                order.id
            )));
        }
        if let Some(client) = &order.client_order_id {
            let key = (order.account_id, client.clone());
            if self.client_ids.contains_key(&key) || claimed.contains(&(order.account_id, client)) {
                return Err(StoreError::condition_failed(format!(
                    "client order id {} is taken in account {}",
                    client.as_str(),
                    order.account_id
                )));
            }
        }
        self.require_account(order.account_id)
    }

    /// Checks a batch's orders as the SQL upsert would meet them: an id seen before (stored,
    /// or earlier in the batch) is an update, which cannot fail; anything else is a new
    /// order.
    fn check_orders(&self, orders: &[Order]) -> StoreResult<()> {
        let mut inserted = BTreeSet::new();
        let mut claimed = BTreeSet::new();
        for order in orders {
            if self.orders.contains_key(&order.id) || inserted.contains(&order.id) {
                continue;
            }
            self.check_new_order(order, &claimed)?;
            inserted.insert(order.id);
            if let Some(client) = &order.client_order_id {
                claimed.insert((order.account_id, client));
            }
        }
        Ok(())
    }

    fn upsert_order(&mut self, order: &Order, reserve_price: Option<Price>) {
        let (old, reserve_price) = match self.orders.get(&order.id) {
            Some(row) => (Some(row.order.clone()), row.reserve_price),
            None => (None, reserve_price),
        };
        let deltas = crate::records::exposure_deltas(old.as_ref(), order, reserve_price);
        self.shift_exposure(order.account_id, &deltas);
        if let Some(row) = self.orders.get_mut(&order.id) {
            row.order = order.clone();
            return;
        }
        let created_ns = order.created_at().nanos();
        self.orders_by_account
            .insert((order.account_id, created_ns, order.id));
        if let Some(client) = &order.client_order_id {
            self.client_ids
                .insert((order.account_id, client.clone()), order.id);
        }
        self.orders.insert(
            order.id,
            OrderRow {
                account_id: order.account_id,
                symbol: order.symbol,
                order: order.clone(),
                reserve_price,
            },
        );
    }

    fn shift_exposure(&mut self, account: AccountId, deltas: &[(Symbol, Side, Decimal, Decimal)]) {
        for (symbol, side, quantity, notional) in deltas {
            let key = (account, *symbol, side.as_str());
            let entry = self
                .exposure
                .entry(key)
                .or_insert((Decimal::ZERO, Decimal::ZERO));
            entry.0 += quantity;
            entry.1 += notional;
            if entry.0.is_zero() && entry.1.is_zero() {
                self.exposure.remove(&key);
            }
        }
    }

    fn working(&self, account: AccountId, symbol: Symbol, side: Side) -> Decimal {
        self.exposure
            .get(&(account, symbol, side.as_str()))
            .map_or(Decimal::ZERO, |e| e.0)
    }

    fn reserved_for_buys(&self, account: AccountId) -> Decimal {
        self.exposure
            .iter()
            .filter(|((a, _, side), _)| *a == account && *side == Side::Buy.as_str())
            .map(|(_, (_, notional))| *notional)
            .sum()
    }

    /// The account's book for `symbol` as it would be with `added` (quantity, notional)
    /// more on `side`.
    fn book_with(
        &self,
        account: &Account,
        symbol: Symbol,
        side: Side,
        added: (Decimal, Decimal),
    ) -> AccountBook {
        let mut book = AccountBook {
            cash: account.cash,
            buy_notional: self.reserved_for_buys(account.id),
            held: self
                .positions
                .get(&(account.id, symbol.as_str().to_owned()))
                .map_or(Decimal::ZERO, Position::quantity),
            working_buys: self.working(account.id, symbol, Side::Buy),
            working_sells: self.working(account.id, symbol, Side::Sell),
        };
        match side {
            Side::Buy => {
                book.buy_notional += added.1;
                book.working_buys += added.0;
            }
            Side::Sell => book.working_sells += added.0,
        }
        book
    }

    fn account_row(&self, id: AccountId) -> StoreResult<&Account> {
        self.accounts
            .get(&id)
            .ok_or_else(|| StoreError::not_found(format!("no account {id}")))
    }

    /// Removes a `new` order that no venue has seen, with its amend holds, giving back
    /// what they reserve; false if the account has no such order or it moved on.
    fn withdraw_order(&mut self, account: AccountId, id: OrderId) -> bool {
        let withdrawable = self.orders.get(&id).is_some_and(|row| {
            row.account_id == account && crate::records::withdrawable(&row.order)
        });
        if !withdrawable {
            return false;
        }
        let Some(row) = self.orders.remove(&id) else {
            return false;
        };
        let created_ns = row.order.created_at().nanos();
        if !self.orders_by_account.remove(&(account, created_ns, id)) {
            // The index keeps the first creation time, as the SQL rows do.
            self.orders_by_account
                .retain(|&(a, _, o)| (a, o) != (account, id));
        }
        if let Some(client) = &row.order.client_order_id {
            self.client_ids.remove(&(account, client.clone()));
        }
        let deltas = crate::records::exposure_withdrawn(&row.order, row.reserve_price);
        self.shift_exposure(account, &deltas);
        let commands: Vec<EventId> = self
            .holds
            .iter()
            .filter(|(_, hold)| hold.order_id == id)
            .map(|(command, _)| *command)
            .collect();
        self.release_holds(&commands);
        true
    }

    /// Ends the amend holds of the commands a commit applied.
    fn release_holds(&mut self, commands: &[EventId]) {
        for id in commands {
            if let Some(hold) = self.holds.remove(id) {
                self.shift_exposure(
                    hold.account_id,
                    &[(hold.symbol, hold.side, -hold.quantity, -hold.notional)],
                );
            }
        }
    }

    /// Fills are idempotent by order and trade id; only a new one needs its account.
    /// Returns each fill's trade id as stored.
    fn check_fills(&self, fills: &[Fill]) -> StoreResult<Vec<i64>> {
        let mut inserted = BTreeSet::new();
        let mut trades = Vec::with_capacity(fills.len());
        for fill in fills {
            let trade = i64::try_from(fill.trade_id.0)
                .map_err(|_| StoreError::invalid("trade id out of range"))?;
            trades.push(trade);
            let key = (fill.order_id, trade);
            if self.fills.contains_key(&key) || !inserted.insert(key) {
                continue;
            }
            self.require_account(fill.account_id)?;
        }
        Ok(trades)
    }

    fn insert_fill(&mut self, fill: &Fill, trade: i64) {
        if self.fills.contains_key(&(fill.order_id, trade)) {
            return;
        }
        self.fills_by_account
            .insert((fill.account_id, fill.time.nanos(), trade, fill.order_id));
        self.fills.insert((fill.order_id, trade), fill.clone());
    }

    fn add_outbox(&mut self, event: &OutboxEvent) {
        if self.outbox_events.insert(event.event_id) {
            self.last_outbox_id += 1;
            self.outbox.insert(self.last_outbox_id, event.clone());
        }
    }

    /// The whole batch, or (on the first refusal, in the SQL adapters' statement order)
    /// nothing.
    fn commit(&mut self, batch: &CommitBatch) -> StoreResult<()> {
        self.check_orders(&batch.orders)?;
        let trades = self.check_fills(&batch.fills)?;
        for (account, _) in &batch.positions {
            self.require_account(*account)?;
        }
        let postings = self.plan_postings(&batch.ledger)?;
        // Nothing below can fail.
        for order in &batch.orders {
            self.upsert_order(order, None);
        }
        self.release_holds(&batch.applied_commands);
        for (fill, trade) in batch.fills.iter().zip(trades) {
            self.insert_fill(fill, trade);
        }
        for (account, position) in &batch.positions {
            self.positions.insert(
                (*account, position.symbol.as_str().to_owned()),
                position.clone(),
            );
        }
        for candle in &batch.candles {
            self.candles.insert(
                (
                    candle.symbol.as_str().to_owned(),
                    candle.timeframe.to_string(),
                    candle.start.nanos(),
                ),
                *candle,
            );
        }
        self.apply_postings(postings);
        for event in &batch.outbox {
            self.add_outbox(event);
        }
        for c in &batch.checkpoints {
            self.checkpoints.insert(
                (c.consumer.clone(), c.stream.clone(), c.shard.clone()),
                c.sequence.clone(),
            );
        }
        if let Some(s) = &batch.snapshot {
            self.snapshots.insert(s.name.clone(), s.clone());
        }
        self.commands.extend(batch.applied_commands.iter().copied());
        let excess = self
            .commands
            .len()
            .saturating_sub(crate::records::COMMANDS_REMEMBERED);
        self.commands.drain(..excess);
        Ok(())
    }
}

#[async_trait]
impl AccountLedger for MemoryRecords {
    async fn create_account(&self, account: &Account) -> StoreResult<()> {
        let mut t = self.tables.lock().await;
        if t.accounts.contains_key(&account.id) {
            return Err(StoreError::condition_failed(format!(
                "account {} exists",
                account.id
            )));
        }
        t.accounts_by_user
            .insert((account.user_id, account.created_at.nanos(), account.id));
        t.accounts.insert(
            account.id,
            Account {
                cash: domain::Money::ZERO,
                ..account.clone()
            },
        );
        Ok(())
    }

    async fn accounts(&self, user: UserId) -> StoreResult<Vec<Account>> {
        let t = self.tables.lock().await;
        let first = (user, i64::MIN, AccountId::from_u128(0));
        Ok(t.accounts_by_user
            .range(first..)
            .take_while(|(u, _, _)| *u == user)
            .filter_map(|(_, _, id)| t.accounts.get(id).cloned())
            .collect())
    }

    async fn all_accounts(
        &self,
        after: Option<AccountId>,
        limit: usize,
    ) -> StoreResult<Vec<Account>> {
        use std::ops::Bound;
        let t = self.tables.lock().await;
        let start = after.map_or(Bound::Unbounded, Bound::Excluded);
        Ok(t.accounts
            .range((start, Bound::Unbounded))
            .take(limit)
            .map(|(_, a)| a.clone())
            .collect())
    }

    async fn account_by_id(&self, id: AccountId) -> StoreResult<Option<Account>> {
        Ok(self.tables.lock().await.accounts.get(&id).cloned())
    }

    async fn account(&self, user: UserId, id: AccountId) -> StoreResult<Option<Account>> {
        let t = self.tables.lock().await;
        Ok(t.accounts.get(&id).filter(|a| a.user_id == user).cloned())
    }

    async fn post(&self, entry: &LedgerEntry) -> StoreResult<PostedEntry> {
        let mut t = self.tables.lock().await;
        t.post(entry, false)
    }

    async fn withdraw(&self, entry: &LedgerEntry) -> StoreResult<PostedEntry> {
        let mut t = self.tables.lock().await;
        t.post(entry, true)
    }

    async fn ledger_entry(
        &self,
        account: AccountId,
        id: EventId,
    ) -> StoreResult<Option<PostedEntry>> {
        let t = self.tables.lock().await;
        Ok(t.ledger_seq
            .get(&id)
            .and_then(|seq| t.ledger.get(seq))
            .filter(|p| p.entry.account_id == account)
            .cloned())
    }

    async fn ledger(&self, account: AccountId, limit: usize) -> StoreResult<Vec<PostedEntry>> {
        let t = self.tables.lock().await;
        let entries = t
            .ledger_by_account
            .range((account, 0)..=(account, u64::MAX))
            .rev()
            .filter_map(|(_, seq)| t.ledger.get(seq).cloned());
        Ok(limited(entries, limit))
    }
}

#[async_trait]
impl OrderRecords for MemoryRecords {
    async fn insert_order(&self, new: &NewOrder<'_>) -> StoreResult<Reserved> {
        let order = new.order;
        let mut t = self.tables.lock().await;
        t.account_row(order.account_id)?;
        t.check_new_order(order, &BTreeSet::new())?;
        let account = t.account_row(order.account_id)?;
        let added = order
            .exposure(new.reserve_price)
            .map_or((Decimal::ZERO, Decimal::ZERO), |e| (e.quantity, e.notional));
        let book = t.book_with(account, order.symbol, order.side, added);
        if let Err(refusal) = check_reservation(&book, order.side, added, &new.limits) {
            return Ok(Err(refusal));
        }
        t.upsert_order(order, new.reserve_price);
        for event in new.outbox {
            t.add_outbox(event);
        }
        Ok(Ok(()))
    }

    async fn hold_amend(&self, hold: &AmendHold<'_>) -> StoreResult<Reserved> {
        let mut t = self.tables.lock().await;
        let row = t
            .orders
            .get(&hold.order_id)
            .filter(|row| row.account_id == hold.account_id)
            .ok_or_else(|| StoreError::not_found(format!("no order {}", hold.order_id)))?;
        let (symbol, side) = (row.order.symbol, row.order.side);
        let growth = crate::records::amend_growth(&row.order, row.reserve_price, hold)?;
        if growth != (Decimal::ZERO, Decimal::ZERO) {
            let account = t.account_row(hold.account_id)?;
            let book = t.book_with(account, symbol, side, growth);
            if let Err(refusal) = check_reservation(&book, side, growth, &hold.limits) {
                return Ok(Err(refusal));
            }
            t.shift_exposure(hold.account_id, &[(symbol, side, growth.0, growth.1)]);
            t.holds.insert(
                hold.command.event_id,
                Hold {
                    account_id: hold.account_id,
                    order_id: hold.order_id,
                    symbol,
                    side,
                    quantity: growth.0,
                    notional: growth.1,
                },
            );
        }
        t.add_outbox(hold.command);
        Ok(Ok(()))
    }

    async fn withdraw_order(&self, account: AccountId, order: OrderId) -> StoreResult<bool> {
        Ok(self.tables.lock().await.withdraw_order(account, order))
    }

    async fn order(&self, user: UserId, id: OrderId) -> StoreResult<Option<Order>> {
        let t = self.tables.lock().await;
        Ok(t.orders
            .get(&id)
            .filter(|row| t.user_owns(user, row.account_id))
            .map(|row| row.order.clone()))
    }

    async fn order_by_client_id(
        &self,
        account: AccountId,
        client_order_id: &ClientOrderId,
    ) -> StoreResult<Option<Order>> {
        let t = self.tables.lock().await;
        Ok(t.client_ids
            .get(&(account, client_order_id.clone()))
            .and_then(|id| t.orders.get(id))
            .map(|row| row.order.clone()))
    }

    async fn orders(&self, account: AccountId, query: &OrderQuery) -> StoreResult<OrderPage> {
        let t = self.tables.lock().await;
        let first = (account, i64::MIN, OrderId::from_u128(0));
        // Newest first: walk the index backwards from just before the cursor.
        let rows: Vec<&(AccountId, i64, OrderId)> = match &query.after {
            Some(c) => t
                .orders_by_account
                .range(first..(account, c.created_at.nanos(), c.id))
                .rev()
                .collect(),
            None => t
                .orders_by_account
                .range(first..=(account, i64::MAX, OrderId::from_u128(u128::MAX)))
                .rev()
                .collect(),
        };
        let orders = rows
            .into_iter()
            .filter_map(|(_, _, id)| t.orders.get(id))
            .filter(|row| query.status.is_none_or(|s| row.order.status() == s))
            .filter(|row| query.symbol.is_none_or(|s| row.symbol == s))
            .map(|row| row.order.clone());
        Ok(page(
            limited(orders, query.limit.saturating_add(1)),
            query.limit,
        ))
    }

    async fn exposure(&self, account: AccountId) -> StoreResult<Vec<ExposureRow>> {
        let t = self.tables.lock().await;
        t.exposure
            .iter()
            .filter(|((a, _, _), _)| *a == account)
            .map(|((_, symbol, side), (quantity, notional))| {
                Ok(ExposureRow {
                    symbol: *symbol,
                    side: crate::records::side_of(side)?,
                    quantity: quantity.normalize(),
                    notional: notional.normalize(),
                })
            })
            .collect()
    }

    async fn fills(&self, account: AccountId, limit: usize) -> StoreResult<Vec<Fill>> {
        let t = self.tables.lock().await;
        let first = (account, i64::MIN, i64::MIN, OrderId::from_u128(0));
        let last = (account, i64::MAX, i64::MAX, OrderId::from_u128(u128::MAX));
        let fills = t
            .fills_by_account
            .range(first..=last)
            .rev()
            .filter_map(|(_, _, trade, order)| t.fills.get(&(*order, *trade)).cloned());
        Ok(limited(fills, limit))
    }

    async fn positions(&self, account: AccountId) -> StoreResult<Vec<Position>> {
        let t = self.tables.lock().await;
        Ok(t.positions
            .range((account, String::new())..)
            .take_while(|((a, _), _)| *a == account)
            .map(|(_, p)| p.clone())
            .collect())
    }

    async fn deployment_fills(&self, strategy: domain::StrategyId) -> StoreResult<Vec<Fill>> {
        let t = self.tables.lock().await;
        let mut fills: Vec<Fill> = t
            .fills
            .values()
            .filter(|f| {
                t.orders
                    .get(&f.order_id)
                    .is_some_and(|row| row.order.strategy_id == Some(strategy))
            })
            .cloned()
            .collect();
        fills.sort_by_key(|f| (f.time, f.trade_id, f.order_id));
        Ok(fills)
    }
}

#[async_trait]
impl StrategyRecords for MemoryRecords {
    async fn save_strategy(&self, strategy: &StrategyRecord) -> StoreResult<()> {
        let mut t = self.tables.lock().await;
        if let Some(row) = t.strategies.get_mut(&strategy.id) {
            row.record = strategy.clone();
            return Ok(());
        }
        t.require_account(strategy.account_id)?;
        t.strategies.insert(
            strategy.id,
            StrategyRow {
                account_id: strategy.account_id,
                created_ns: strategy.created_at.nanos(),
                record: strategy.clone(),
            },
        );
        Ok(())
    }

    async fn strategy(&self, user: UserId, id: StrategyId) -> StoreResult<Option<StrategyRecord>> {
        let t = self.tables.lock().await;
        Ok(t.strategies
            .get(&id)
            .filter(|row| t.user_owns(user, row.account_id))
            .map(|row| row.record.clone()))
    }

    async fn strategies(&self, account: Option<AccountId>) -> StoreResult<Vec<StrategyRecord>> {
        let t = self.tables.lock().await;
        let mut rows: Vec<(i64, StrategyId, &StrategyRecord)> = t
            .strategies
            .iter()
            .filter(|(_, row)| account.is_none_or(|a| row.account_id == a))
            .map(|(id, row)| (row.created_ns, *id, &row.record))
            .collect();
        rows.sort_by_key(|(created, id, _)| (*created, *id));
        Ok(rows.into_iter().map(|(_, _, r)| r.clone()).collect())
    }
}

#[async_trait]
impl MarketHistory for MemoryRecords {
    async fn candles(
        &self,
        symbol: Symbol,
        timeframe: Timeframe,
        from: Timestamp,
        to: Timestamp,
        limit: usize,
    ) -> StoreResult<Vec<Candle>> {
        if from >= to {
            return Ok(Vec::new());
        }
        let t = self.tables.lock().await;
        let key = |at: Timestamp| {
            (
                symbol.as_str().to_owned(),
                timeframe.to_string(),
                at.nanos(),
            )
        };
        Ok(limited(
            t.candles.range(key(from)..key(to)).map(|(_, c)| *c),
            limit,
        ))
    }

    async fn latest_candles(
        &self,
        symbol: Symbol,
        timeframe: Timeframe,
        from: Timestamp,
        to: Timestamp,
        limit: usize,
    ) -> StoreResult<Vec<Candle>> {
        if from >= to {
            return Ok(Vec::new());
        }
        let t = self.tables.lock().await;
        let key = |at: Timestamp| {
            (
                symbol.as_str().to_owned(),
                timeframe.to_string(),
                at.nanos(),
            )
        };
        let mut candles = limited(
            t.candles.range(key(from)..key(to)).rev().map(|(_, c)| *c),
            limit,
        );
        candles.reverse();
        Ok(candles)
    }

    async fn candle_timeframes(&self, symbol: Symbol) -> StoreResult<Vec<Timeframe>> {
        let t = self.tables.lock().await;
        let mut found: Vec<Timeframe> = t
            .candles
            .values()
            .filter(|c| c.symbol == symbol)
            .map(|c| c.timeframe)
            .collect();
        found.sort();
        found.dedup();
        Ok(found)
    }

    async fn save_candles(&self, candles: &[Candle]) -> StoreResult<u64> {
        let mut t = self.tables.lock().await;
        let mut changed = 0;
        for candle in crate::records::last_of_each(candles) {
            let key = (
                candle.symbol.as_str().to_owned(),
                candle.timeframe.to_string(),
                candle.start.nanos(),
            );
            if t.candles.insert(key, *candle) != Some(*candle) {
                changed += 1;
            }
        }
        Ok(changed)
    }
}

#[async_trait]
impl ReportRecords for MemoryRecords {
    async fn save_report(&self, row: &ReportRow) -> StoreResult<()> {
        let mut t = self.tables.lock().await;
        t.require_account(row.account_id)?;
        t.reports.insert((row.account_id, row.day), row.clone());
        Ok(())
    }

    async fn reports(
        &self,
        account: AccountId,
        from: NaiveDate,
        to: NaiveDate,
    ) -> StoreResult<Vec<ReportRow>> {
        if from > to {
            return Ok(Vec::new());
        }
        let t = self.tables.lock().await;
        Ok(t.reports
            .range((account, from)..=(account, to))
            .map(|(_, r)| r.clone())
            .collect())
    }
}

#[async_trait]
impl CoreCommit for MemoryRecords {
    async fn commit(&self, batch: &CommitBatch) -> StoreResult<()> {
        self.tables.lock().await.commit(batch)
    }

    async fn checkpoint(
        &self,
        consumer: &str,
        stream: &str,
        shard: &str,
    ) -> StoreResult<Option<SequenceNumber>> {
        let t = self.tables.lock().await;
        Ok(t.checkpoints
            .get(&(consumer.to_owned(), stream.to_owned(), shard.to_owned()))
            .cloned())
    }

    async fn snapshot(&self, name: &str) -> StoreResult<Option<Snapshot>> {
        Ok(self.tables.lock().await.snapshots.get(name).cloned())
    }

    async fn recent_commands(&self, limit: usize) -> StoreResult<Vec<EventId>> {
        let t = self.tables.lock().await;
        let skip = t.commands.len().saturating_sub(limit);
        Ok(t.commands.iter().skip(skip).copied().collect())
    }
}

#[async_trait]
impl OutboxQueue for MemoryRecords {
    async fn enqueue(&self, events: &[OutboxEvent]) -> StoreResult<()> {
        self.commit(&CommitBatch {
            outbox: events.to_vec(),
            ..CommitBatch::default()
        })
        .await
    }

    async fn unpublished(&self, limit: usize) -> StoreResult<Vec<OutboxRecord>> {
        let t = self.tables.lock().await;
        let records = t.outbox.iter().map(|(id, event)| OutboxRecord {
            id: *id,
            event: event.clone(),
        });
        Ok(limited(records, limit))
    }

    async fn mark_published(&self, ids: &[i64]) -> StoreResult<()> {
        let mut t = self.tables.lock().await;
        for id in ids {
            t.outbox.remove(id);
        }
        Ok(())
    }
}

#[async_trait]
impl ResearchJobs for MemoryRecords {
    async fn create_job(&self, job: &ResearchJob) -> StoreResult<()> {
        let mut t = self.tables.lock().await;
        if t.jobs.contains_key(&job.id) {
            return Err(StoreError::new(
                crate::ErrorKind::ConditionFailed,
                format!("job {} exists", job.id),
            ));
        }
        let mut stored = job.clone();
        stored.result = None;
        t.jobs.insert(job.id, (stored, None));
        Ok(())
    }

    async fn job(&self, user: UserId, id: JobId) -> StoreResult<Option<ResearchJob>> {
        let t = self.tables.lock().await;
        Ok(t.jobs
            .get(&id)
            .filter(|(j, _)| j.user_id == user)
            .map(|(j, result)| ResearchJob {
                result: result.clone(),
                ..j.clone()
            }))
    }

    async fn jobs(
        &self,
        user: UserId,
        kind: JobKind,
        limit: usize,
    ) -> StoreResult<Vec<ResearchJob>> {
        let t = self.tables.lock().await;
        let mut jobs: Vec<ResearchJob> = t
            .jobs
            .values()
            .filter(|(j, _)| j.user_id == user && j.kind == kind)
            .map(|(j, _)| j.clone())
            .collect();
        jobs.sort_by_key(|j| std::cmp::Reverse((j.created_at, j.id)));
        jobs.truncate(limit);
        Ok(jobs)
    }

    async fn active_jobs(&self, limit: usize) -> StoreResult<Vec<ResearchJob>> {
        let t = self.tables.lock().await;
        let mut jobs: Vec<ResearchJob> = t
            .jobs
            .values()
            .filter(|(j, _)| matches!(j.status, JobStatus::Queued | JobStatus::Running))
            .map(|(j, _)| j.clone())
            .collect();
        jobs.sort_by_key(|j| (j.created_at, j.id));
        jobs.truncate(limit);
        Ok(jobs)
    }

    async fn delete_job(&self, user: UserId, id: JobId) -> StoreResult<bool> {
        let mut t = self.tables.lock().await;
        if t.jobs.get(&id).is_some_and(|(j, _)| j.user_id == user) {
            t.jobs.remove(&id);
            return Ok(true);
        }
        Ok(false)
    }

    async fn claim_job(
        &self,
        id: Option<JobId>,
        now: Timestamp,
    ) -> StoreResult<Option<ResearchJob>> {
        let mut t = self.tables.lock().await;
        let next = t
            .jobs
            .values()
            .filter(|(j, _)| j.status == JobStatus::Queued && id.is_none_or(|id| j.id == id))
            .min_by_key(|(j, _)| (j.created_at, j.id))
            .map(|(j, _)| j.id);
        let Some(next) = next else { return Ok(None) };
        let Some((job, _)) = t.jobs.get_mut(&next) else {
            return Ok(None);
        };
        *job = job_started(job.clone(), now);
        Ok(Some(job.clone()))
    }

    async fn job_progress(&self, id: JobId, progress: f64) -> StoreResult<()> {
        let mut t = self.tables.lock().await;
        if let Some((job, _)) = t
            .jobs
            .get_mut(&id)
            .filter(|(j, _)| j.status == JobStatus::Running)
        {
            job.progress = progress.clamp(0.0, 1.0);
        }
        Ok(())
    }

    async fn finish_job(
        &self,
        id: JobId,
        outcome: JobOutcome<'_>,
        now: Timestamp,
    ) -> StoreResult<()> {
        let mut t = self.tables.lock().await;
        if let Some((job, result)) = t
            .jobs
            .get_mut(&id)
            .filter(|(j, _)| j.status == JobStatus::Running)
        {
            *job = job_finished(job.clone(), outcome, now);
            if let JobOutcome::Succeeded(value) = outcome {
                *result = Some(value.clone());
            }
        }
        Ok(())
    }

    async fn fail_running_jobs(
        &self,
        started_before: Timestamp,
        reason: &str,
        now: Timestamp,
    ) -> StoreResult<u64> {
        let mut t = self.tables.lock().await;
        let mut failed = 0;
        for (job, _) in t.jobs.values_mut() {
            if job.status == JobStatus::Running
                && job.started_at.is_some_and(|s| s < started_before)
            {
                *job = job_finished(job.clone(), JobOutcome::Failed(reason), now);
                failed += 1;
            }
        }
        Ok(failed)
    }
}

#[async_trait]
impl PlatformActivity for MemoryRecords {
    async fn account_count(&self) -> StoreResult<u64> {
        let t = self.tables.lock().await;
        Ok(u64::try_from(t.accounts.len()).unwrap_or(u64::MAX))
    }

    async fn activity(&self, since: Timestamp) -> StoreResult<Vec<MinuteActivity>> {
        let t = self.tables.lock().await;
        let mut minutes: BTreeMap<Timestamp, (u64, u64)> = BTreeMap::new();
        for row in t.orders.values() {
            if row.order.created_at() >= since {
                minutes
                    .entry(minute_of(row.order.created_at()))
                    .or_default()
                    .0 += 1;
            }
        }
        for fill in t.fills.values() {
            if fill.time >= since {
                minutes.entry(minute_of(fill.time)).or_default().1 += 1;
            }
        }
        Ok(minutes
            .into_iter()
            .map(|(minute, (orders, fills))| MinuteActivity {
                minute,
                orders,
                fills,
            })
            .collect())
    }

    async fn account_activity(&self, accounts: &[AccountId]) -> StoreResult<Vec<AccountActivity>> {
        let t = self.tables.lock().await;
        Ok(accounts
            .iter()
            .map(|&account_id| {
                let count = |n: usize| u64::try_from(n).unwrap_or(u64::MAX);
                AccountActivity {
                    account_id,
                    orders: count(
                        t.orders_by_account
                            .range((account_id, i64::MIN, OrderId::from_u128(0))..)
                            .take_while(|(a, _, _)| *a == account_id)
                            .count(),
                    ),
                    fills: count(
                        t.fills_by_account
                            .range((account_id, i64::MIN, i64::MIN, OrderId::from_u128(0))..)
                            .take_while(|(a, _, _, _)| *a == account_id)
                            .count(),
                    ),
                }
            })
            .collect())
    }
}
