//! The limit order book of one instrument.
//!
//! Layout: each side is a [`Ladder`] of price levels (in ticks); a level is a
//! FIFO queue threaded through a slab of [`Node`]s by index (`prev`/`next`), so removing
//! any order from the middle of a queue (cancel, amend, self-trade) is O(1) once the
//! order is found, and finding it is one hash lookup in `index`. Stop orders wait in two
//! `BTreeMap`s keyed so that the first entry is the next to trigger.

use std::collections::BTreeMap;

use domain::events::{AmendOrder, CancelOrder, OrderOutcome, OrderRef, ReasonCode};
use domain::order::OrderRequest;
use domain::{
    AccountId, DomainError, Instrument, OrderId, Price, Quantity, Side, TimeInForce, Timestamp,
    Trade, TradeId,
};
use rustc_hash::FxHashMap;

use super::command::{BookEvent, Command, SelfTradePrevention};
use super::ladder::{Ladder, Level};

/// "No node": the end of a queue.
pub(super) const NIL: u32 = u32::MAX;

/// A resting limit order, linked into its level's queue.
#[derive(Debug, Clone)]
struct Node {
    id: OrderId,
    account: AccountId,
    side: Side,
    price: i64,
    remaining: u64,
    filled: u64,
    /// Total quantity (filled included) as a decimal, kept so events need no conversion.
    quantity: Quantity,
    tif: TimeInForce,
    /// Acceptance order; also the expiry order of DAY orders.
    seq: u64,
    prev: u32,
    next: u32,
}

/// A stop or stop-limit order waiting for its trigger.
#[derive(Debug, Clone)]
struct StopOrder {
    id: OrderId,
    account: AccountId,
    side: Side,
    stop: i64,
    stop_price: Price,
    /// `Some` for stop-limit: the limit it works at once triggered.
    limit: Option<(i64, Price)>,
    quantity: u64,
    total: Quantity,
    tif: TimeInForce,
    seq: u64,
}

/// Where an open order is.
#[derive(Debug, Clone, Copy)]
enum Slot {
    Resting(u32),
    /// Key into `buy_stops` or `sell_stops`.
    Stop(Side, StopKey),
}

/// Buy stops are keyed `(stop, seq)` and sell stops `(-stop, seq)`, so in both maps the
/// first entry is the one nearest to triggering, earliest first.
type StopKey = (i64, u64);

/// An order entering the matching loop (new, triggered or re-priced).
#[derive(Debug, Clone, Copy)]
struct Incoming {
    id: OrderId,
    account: AccountId,
    side: Side,
    /// `None` for market orders.
    limit: Option<(i64, Price)>,
    remaining: u64,
    filled: u64,
    /// Total quantity (filled included).
    total: Quantity,
    tif: TimeInForce,
    /// Acceptance sequence to keep if it comes to rest.
    seq: u64,
    /// The node of an amended order being re-priced (kept, with its index entry, so a
    /// move costs no slab or hash-map churn); `NIL` for orders new to the book.
    slot: u32,
}

/// How a matching pass ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum MatchEnd {
    /// Filled completely, or no more prices to trade at.
    Done,
    /// Self-trade prevention cancelled the rest of the incoming order.
    SelfTrade,
}

/// A resting order as seen from outside, in priority order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RestingOrderView {
    pub id: OrderId,
    pub account_id: AccountId,
    pub side: Side,
    pub price: Price,
    pub remaining: Quantity,
    pub filled: Quantity,
    pub time_in_force: TimeInForce,
}

/// A waiting stop order as seen from outside, in trigger order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StopOrderView {
    pub id: OrderId,
    pub account_id: AccountId,
    pub side: Side,
    pub stop_price: Price,
    pub limit_price: Option<Price>,
    pub quantity: Quantity,
    pub time_in_force: TimeInForce,
}

/// The order book of one instrument. See the [module docs](super) for the rules.
#[derive(Debug, Clone)]
pub struct OrderBook {
    instrument: Instrument,
    stp: SelfTradePrevention,
    bids: Ladder,
    asks: Ladder,
    nodes: Vec<Node>,
    free: Vec<u32>,
    index: FxHashMap<OrderId, Slot>,
    buy_stops: BTreeMap<StopKey, StopOrder>,
    sell_stops: BTreeMap<StopKey, StopOrder>,
    last_trade: Option<i64>,
    next_trade_id: u64,
    next_seq: u64,
}

fn outcome(order: OrderRef, code: ReasonCode, message: impl Into<String>) -> OrderOutcome {
    OrderOutcome {
        order,
        code,
        message: message.into(),
    }
}

impl OrderBook {
    pub fn new(instrument: Instrument, stp: SelfTradePrevention) -> Self {
        OrderBook {
            instrument,
            stp,
            bids: Ladder::new(Side::Buy),
            asks: Ladder::new(Side::Sell),
            nodes: Vec::new(),
            free: Vec::new(),
            index: FxHashMap::default(),
            buy_stops: BTreeMap::new(),
            sell_stops: BTreeMap::new(),
            last_trade: None,
            next_trade_id: 1,
            next_seq: 1,
        }
    }

    pub fn instrument(&self) -> &Instrument {
        &self.instrument
    }

    /// Runs one command at time `now`, appending what it produced to `out`.
    pub fn execute(&mut self, command: &Command, now: Timestamp, out: &mut Vec<BookEvent>) {
        if command.symbol() != self.instrument.symbol() {
            if let Some(order) = command.order_ref() {
                out.push(BookEvent::Rejected(outcome(
                    order,
                    ReasonCode::UnknownSymbol,
                    format!("this book trades {}", self.instrument.symbol()),
                )));
            }
            return;
        }
        match command {
            Command::Place(request) => self.place(request, now, out),
            Command::Cancel(cancel) => self.cancel(cancel, out),
            Command::Amend(amend) => self.amend(amend, now, out),
            Command::ExpireDayOrders { .. } => self.expire_day_orders(out),
        }
    }

    /// Convenience form of [`OrderBook::execute`] returning a fresh vector.
    pub fn process(&mut self, command: &Command, now: Timestamp) -> Vec<BookEvent> {
        let mut out = Vec::new();
        self.execute(command, now, &mut out);
        out
    }

    // ----- queries -------------------------------------------------------------------

    pub fn best_bid(&self) -> Option<Price> {
        self.bids.best().map(|(_, at)| self.bids.level(at).price)
    }

    pub fn best_ask(&self) -> Option<Price> {
        self.asks.best().map(|(_, at)| self.asks.level(at).price)
    }

    pub fn last_trade_price(&self) -> Option<Price> {
        self.last_trade
            .and_then(|t| self.instrument.ticks_to_price(t).ok())
    }

    /// Number of open orders (resting and waiting stops).
    pub fn open_orders(&self) -> usize {
        self.index.len()
    }

    /// One resting order, if `id` is resting on the book (not a waiting stop).
    pub fn resting_order(&self, id: OrderId) -> Option<RestingOrderView> {
        let Some(Slot::Resting(at)) = self.index.get(&id) else {
            return None;
        };
        let n = &self.nodes[*at as usize];
        let price = self
            .ladder(n.side)
            .find(n.price)
            .map(|at| self.ladder(n.side).level(at).price)?;
        Some(RestingOrderView {
            id: n.id,
            account_id: n.account,
            side: n.side,
            price,
            remaining: self.qty(n.remaining),
            filled: self.qty(n.filled),
            time_in_force: n.tif,
        })
    }

    /// Aggregated depth of one side, best price first: `(price, total quantity, orders)`.
    pub fn depth(&self, side: Side) -> Vec<(Price, Quantity, usize)> {
        self.levels(side)
            .map(|level| {
                let mut count = 0;
                let mut at = level.head;
                while at != NIL {
                    count += 1;
                    at = self.nodes[at as usize].next;
                }
                (level.price, self.qty(level.total), count)
            })
            .collect()
    }

    /// Resting orders of one side in priority order (best price, then earliest).
    pub fn resting_orders(&self, side: Side) -> Vec<RestingOrderView> {
        let mut out = Vec::new();
        for level in self.levels(side) {
            let mut at = level.head;
            while at != NIL {
                let n = &self.nodes[at as usize];
                out.push(RestingOrderView {
                    id: n.id,
                    account_id: n.account,
                    side: n.side,
                    price: level.price,
                    remaining: self.qty(n.remaining),
                    filled: self.qty(n.filled),
                    time_in_force: n.tif,
                });
                at = n.next;
            }
        }
        out
    }

    /// Waiting stop orders of one side in trigger order.
    pub fn stop_orders(&self, side: Side) -> Vec<StopOrderView> {
        let map = match side {
            Side::Buy => &self.buy_stops,
            Side::Sell => &self.sell_stops,
        };
        map.values()
            .map(|s| StopOrderView {
                id: s.id,
                account_id: s.account,
                side: s.side,
                stop_price: s.stop_price,
                limit_price: s.limit.map(|(_, p)| p),
                quantity: self.qty(s.quantity),
                time_in_force: s.tif,
            })
            .collect()
    }

    fn levels(&self, side: Side) -> impl Iterator<Item = &Level> + '_ {
        self.ladder(side).iter().map(|(_, level)| level)
    }

    fn ladder(&self, side: Side) -> &Ladder {
        match side {
            Side::Buy => &self.bids,
            Side::Sell => &self.asks,
        }
    }

    fn ladder_mut(&mut self, side: Side) -> &mut Ladder {
        match side {
            Side::Buy => &mut self.bids,
            Side::Sell => &mut self.asks,
        }
    }

    fn qty(&self, lots: u64) -> Quantity {
        // Lot counts in the book never exceed a validated order quantity, which converted
        // from a `Quantity` in the first place, so converting back cannot overflow.
        self.instrument
            .lots_to_quantity(lots)
            .expect("lot counts come from validated quantities")
    }

    // ----- place ---------------------------------------------------------------------

    fn place(&mut self, request: &OrderRequest, now: Timestamp, out: &mut Vec<BookEvent>) {
        let order = OrderRef {
            order_id: request.id,
            account_id: request.account_id,
            symbol: request.symbol,
        };
        let converted = self.convert_request(request);
        let (quantity, limit, stop) = match converted {
            Ok(v) => v,
            Err(e) => {
                out.push(BookEvent::Rejected(outcome(
                    order,
                    ReasonCode::InvalidOrder,
                    e.to_string(),
                )));
                return;
            }
        };
        if self.index.contains_key(&request.id) {
            out.push(BookEvent::Rejected(outcome(
                order,
                ReasonCode::DuplicateOrderId,
                "an open order already has this id",
            )));
            return;
        }
        out.push(BookEvent::Accepted(order));
        let seq = self.take_seq();
        if let Some((stop_ticks, stop_price)) = stop {
            let stop_order = StopOrder {
                id: request.id,
                account: request.account_id,
                side: request.side,
                stop: stop_ticks,
                stop_price,
                limit,
                quantity,
                total: request.quantity,
                tif: request.time_in_force,
                seq,
            };
            self.insert_stop(stop_order);
        } else {
            let incoming = Incoming {
                id: request.id,
                account: request.account_id,
                side: request.side,
                limit,
                remaining: quantity,
                filled: 0,
                total: request.quantity,
                tif: request.time_in_force,
                seq,
                slot: NIL,
            };
            self.work(incoming, now, out);
        }
        self.run_stop_triggers(now, out);
    }

    /// Validates a request against the instrument and converts it to lots and ticks.
    #[allow(clippy::type_complexity)]
    fn convert_request(
        &self,
        request: &OrderRequest,
    ) -> Result<(u64, Option<(i64, Price)>, Option<(i64, Price)>), DomainError> {
        let grid = request.to_grid(&self.instrument)?;
        let limit = grid.limit_ticks.zip(request.order_type.limit_price());
        let stop = grid.stop_ticks.zip(request.order_type.stop_price());
        Ok((grid.lots, limit, stop))
    }

    fn take_seq(&mut self) -> u64 {
        let seq = self.next_seq;
        self.next_seq += 1;
        seq
    }

    /// Matches an incoming order and disposes of its remainder by its time in force.
    fn work(&mut self, mut incoming: Incoming, now: Timestamp, out: &mut Vec<BookEvent>) {
        let order_ref = OrderRef {
            order_id: incoming.id,
            account_id: incoming.account,
            symbol: self.instrument.symbol(),
        };
        if incoming.tif == TimeInForce::Fok && !self.can_fill_completely(&incoming) {
            self.release(&incoming);
            out.push(BookEvent::Cancelled(outcome(
                order_ref,
                ReasonCode::FillOrKill,
                "fill-or-kill order could not fill completely at once",
            )));
            return;
        }
        let end = self.match_incoming(&mut incoming, now, out);
        if incoming.remaining == 0 {
            self.release(&incoming);
            return;
        }
        if let (Some((ticks, price)), TimeInForce::Gtc | TimeInForce::Day, MatchEnd::Done) =
            (incoming.limit, incoming.tif, end)
        {
            self.rest(incoming, ticks, price);
            return;
        }
        self.release(&incoming);
        if end == MatchEnd::SelfTrade {
            out.push(BookEvent::Cancelled(outcome(
                order_ref,
                ReasonCode::SelfTrade,
                "would have traded with a resting order of the same account",
            )));
            return;
        }
        match (incoming.limit, incoming.tif) {
            (None, _) => out.push(BookEvent::Cancelled(outcome(
                order_ref,
                ReasonCode::NoLiquidity,
                "market order remainder: no more liquidity",
            ))),
            (Some(_), _) => out.push(BookEvent::Cancelled(outcome(
                order_ref,
                ReasonCode::ImmediateOrCancel,
                "unfilled remainder of an immediate-or-cancel order",
            ))),
        }
    }

    /// Frees the node of an amended order that ended without coming back to rest.
    fn release(&mut self, incoming: &Incoming) {
        if incoming.slot != NIL {
            self.index.remove(&incoming.id);
            self.free.push(incoming.slot);
        }
    }

    /// Whether a FOK order would fill completely, walking the opposite side as matching
    /// would (own orders are skipped or end the walk, as self-trade prevention would).
    fn can_fill_completely(&self, incoming: &Incoming) -> bool {
        let mut available: u64 = 0;
        for (price, level) in self.ladder(incoming.side.opposite()).iter() {
            if !crosses(incoming.side, incoming.limit, price) {
                break;
            }
            let mut at = level.head;
            while at != NIL {
                let maker = &self.nodes[at as usize];
                if maker.account == incoming.account {
                    if self.stp == SelfTradePrevention::CancelIncoming {
                        return available >= incoming.remaining;
                    }
                } else {
                    available = available.saturating_add(maker.remaining);
                    if available >= incoming.remaining {
                        return true;
                    }
                }
                at = maker.next;
            }
        }
        false
    }

    /// The matching loop: trades the incoming order against the opposite side while
    /// prices cross.
    fn match_incoming(
        &mut self,
        incoming: &mut Incoming,
        now: Timestamp,
        out: &mut Vec<BookEvent>,
    ) -> MatchEnd {
        let symbol = self.instrument.symbol();
        while incoming.remaining > 0 {
            let ladder = match incoming.side {
                Side::Buy => &mut self.asks,
                Side::Sell => &mut self.bids,
            };
            let Some((level_ticks, level_at)) = ladder.best() else {
                return MatchEnd::Done;
            };
            if !crosses(incoming.side, incoming.limit, level_ticks) {
                return MatchEnd::Done;
            }
            let level = ladder.level_mut(level_at);
            let mut self_trade = false;
            while incoming.remaining > 0 && level.head != NIL {
                let at = level.head;
                let maker = &mut self.nodes[at as usize];
                if maker.account == incoming.account {
                    match self.stp {
                        SelfTradePrevention::CancelIncoming => {
                            self_trade = true;
                            break;
                        }
                        SelfTradePrevention::CancelResting => {
                            let maker_ref = OrderRef {
                                order_id: maker.id,
                                account_id: maker.account,
                                symbol,
                            };
                            level.total -= maker.remaining;
                            level.head = maker.next;
                            self.index.remove(&maker.id);
                            self.free.push(at);
                            if level.head != NIL {
                                self.nodes[level.head as usize].prev = NIL;
                            } else {
                                level.tail = NIL;
                            }
                            out.push(BookEvent::Cancelled(outcome(
                                maker_ref,
                                ReasonCode::SelfTrade,
                                "cancelled by self-trade prevention",
                            )));
                            continue;
                        }
                    }
                }
                let lots = maker.remaining.min(incoming.remaining);
                maker.remaining -= lots;
                maker.filled += lots;
                level.total -= lots;
                incoming.remaining -= lots;
                incoming.filled += lots;
                let trade_id = TradeId(self.next_trade_id);
                self.next_trade_id += 1;
                let quantity = self
                    .instrument
                    .lots_to_quantity(lots)
                    .expect("lot counts come from validated quantities");
                out.push(BookEvent::Trade(Trade {
                    trade_id,
                    symbol,
                    price: level.price,
                    quantity,
                    taker_side: incoming.side,
                    maker_order_id: maker.id,
                    maker_account_id: maker.account,
                    taker_order_id: incoming.id,
                    taker_account_id: incoming.account,
                    time: now,
                }));
                self.last_trade = Some(level_ticks);
                if maker.remaining == 0 {
                    let next = maker.next;
                    self.index.remove(&maker.id);
                    self.free.push(at);
                    level.head = next;
                    if next != NIL {
                        self.nodes[next as usize].prev = NIL;
                    } else {
                        level.tail = NIL;
                    }
                }
            }
            if level.head == NIL {
                ladder.remove(level_ticks);
            }
            if self_trade {
                return MatchEnd::SelfTrade;
            }
        }
        MatchEnd::Done
    }

    /// Puts an order at the back of its price level.
    fn rest(&mut self, incoming: Incoming, ticks: i64, price: Price) {
        let node = Node {
            id: incoming.id,
            account: incoming.account,
            side: incoming.side,
            price: ticks,
            remaining: incoming.remaining,
            filled: incoming.filled,
            quantity: incoming.total,
            tif: incoming.tif,
            seq: incoming.seq,
            prev: NIL,
            next: NIL,
        };
        let reused = incoming.slot != NIL;
        let at = if reused {
            self.nodes[incoming.slot as usize] = node;
            incoming.slot
        } else if let Some(at) = self.free.pop() {
            self.nodes[at as usize] = node;
            at
        } else {
            self.nodes.push(node);
            (self.nodes.len() - 1) as u32
        };
        let ladder = match incoming.side {
            Side::Buy => &mut self.bids,
            Side::Sell => &mut self.asks,
        };
        let level_at = ladder.get_or_insert(ticks, price);
        let level = ladder.level_mut(level_at);
        if level.tail == NIL {
            level.head = at;
        } else {
            self.nodes[level.tail as usize].next = at;
            self.nodes[at as usize].prev = level.tail;
        }
        level.tail = at;
        level.total += incoming.remaining;
        if !reused {
            self.index.insert(incoming.id, Slot::Resting(at));
        }
    }

    /// Removes a resting order from the book: off its level, out of the index, node freed.
    fn unlink(&mut self, at: u32) {
        let id = self.detach(at);
        self.index.remove(&id);
        self.free.push(at);
    }

    /// Takes a resting order off its level's queue, leaving its node and index entry (for
    /// an amend that re-prices it). Returns its id.
    fn detach(&mut self, at: u32) -> OrderId {
        let node = &self.nodes[at as usize];
        let (id, side, price, prev, next, remaining) = (
            node.id,
            node.side,
            node.price,
            node.prev,
            node.next,
            node.remaining,
        );
        let ladder = match side {
            Side::Buy => &mut self.bids,
            Side::Sell => &mut self.asks,
        };
        if let Some(level_at) = ladder.find(price) {
            let level = ladder.level_mut(level_at);
            if prev != NIL {
                self.nodes[prev as usize].next = next;
            } else {
                level.head = next;
            }
            if next != NIL {
                self.nodes[next as usize].prev = prev;
            } else {
                level.tail = prev;
            }
            level.total -= remaining;
            if level.head == NIL {
                ladder.remove(price);
            }
        }
        id
    }

    // ----- stops ---------------------------------------------------------------------

    fn stop_key(side: Side, stop: i64, seq: u64) -> StopKey {
        match side {
            Side::Buy => (stop, seq),
            Side::Sell => (-stop, seq),
        }
    }

    fn insert_stop(&mut self, stop: StopOrder) {
        let key = Self::stop_key(stop.side, stop.stop, stop.seq);
        self.index.insert(stop.id, Slot::Stop(stop.side, key));
        match stop.side {
            Side::Buy => self.buy_stops.insert(key, stop),
            Side::Sell => self.sell_stops.insert(key, stop),
        };
    }

    /// Triggers stops whose condition the last trade price meets, one at a time (each
    /// triggered order may trade and move the last price), earliest accepted first.
    fn run_stop_triggers(&mut self, now: Timestamp, out: &mut Vec<BookEvent>) {
        while let Some(last) = self.last_trade {
            let buy = self
                .buy_stops
                .first_key_value()
                .filter(|(k, _)| k.0 <= last)
                .map(|(k, s)| (*k, s.seq));
            let sell = self
                .sell_stops
                .first_key_value()
                .filter(|(k, _)| -k.0 >= last)
                .map(|(k, s)| (*k, s.seq));
            let stop = match (buy, sell) {
                (Some((bk, bseq)), Some((_, sseq))) if bseq < sseq => self.buy_stops.remove(&bk),
                (_, Some((sk, _))) => self.sell_stops.remove(&sk),
                (Some((bk, _)), None) => self.buy_stops.remove(&bk),
                (None, None) => return,
            };
            let Some(stop) = stop else { return };
            self.index.remove(&stop.id);
            out.push(BookEvent::Triggered(OrderRef {
                order_id: stop.id,
                account_id: stop.account,
                symbol: self.instrument.symbol(),
            }));
            // Time priority counts from the trigger, when the order reaches the book.
            let seq = self.take_seq();
            let incoming = Incoming {
                id: stop.id,
                account: stop.account,
                side: stop.side,
                limit: stop.limit,
                remaining: stop.quantity,
                filled: 0,
                total: stop.total,
                tif: stop.tif,
                seq,
                slot: NIL,
            };
            self.work(incoming, now, out);
        }
    }

    // ----- cancel, amend, expire ---------------------------------------------------------

    /// Finds an open order of `account`; someone else's order is as unknown as a missing one.
    fn find(&self, order: &OrderRef) -> Option<Slot> {
        let slot = *self.index.get(&order.order_id)?;
        let owner = match slot {
            Slot::Resting(at) => self.nodes[at as usize].account,
            Slot::Stop(side, key) => {
                let map = if side == Side::Buy {
                    &self.buy_stops
                } else {
                    &self.sell_stops
                };
                map.get(&key)?.account
            }
        };
        (owner == order.account_id).then_some(slot)
    }

    fn cancel(&mut self, cancel: &CancelOrder, out: &mut Vec<BookEvent>) {
        let order = cancel.order;
        match self.find(&order) {
            None => out.push(BookEvent::Rejected(outcome(
                order,
                ReasonCode::UnknownOrder,
                "no open order with this id in this account",
            ))),
            Some(slot) => {
                self.remove_slot(slot);
                out.push(BookEvent::Cancelled(outcome(
                    order,
                    ReasonCode::Requested,
                    "cancelled on request",
                )));
            }
        }
    }

    fn remove_slot(&mut self, slot: Slot) {
        match slot {
            Slot::Resting(at) => {
                self.unlink(at);
            }
            Slot::Stop(side, key) => {
                let removed = match side {
                    Side::Buy => self.buy_stops.remove(&key),
                    Side::Sell => self.sell_stops.remove(&key),
                };
                if let Some(stop) = removed {
                    self.index.remove(&stop.id);
                }
            }
        }
    }

    fn amend(&mut self, amend: &AmendOrder, now: Timestamp, out: &mut Vec<BookEvent>) {
        let order = amend.order;
        let Some(slot) = self.find(&order) else {
            out.push(BookEvent::Rejected(outcome(
                order,
                ReasonCode::UnknownOrder,
                "no open order with this id in this account",
            )));
            return;
        };
        let result = match slot {
            Slot::Resting(at) => self.amend_resting(at, amend, now, out),
            Slot::Stop(side, key) => self.amend_stop(side, key, amend, out),
        };
        if let Err((code, message)) = result {
            out.push(BookEvent::Rejected(outcome(order, code, message)));
            return;
        }
        self.run_stop_triggers(now, out);
    }

    fn amend_quantity(
        &self,
        amend: &AmendOrder,
        filled: u64,
    ) -> Result<Option<u64>, (ReasonCode, String)> {
        let Some(q) = amend.quantity else {
            return Ok(None);
        };
        let lots = self
            .instrument
            .order_lots("quantity", q)
            .map_err(|e| (ReasonCode::InvalidOrder, e.to_string()))?;
        if lots <= filled {
            return Err((
                ReasonCode::QuantityBelowFilled,
                format!(
                    "quantity {q} must exceed the filled quantity {}",
                    self.qty(filled)
                ),
            ));
        }
        Ok(Some(lots))
    }

    fn amend_price(
        &self,
        field: &'static str,
        price: Option<Price>,
    ) -> Result<Option<(i64, Price)>, (ReasonCode, String)> {
        let Some(p) = price else { return Ok(None) };
        self.instrument
            .ticks(field, p)
            .map(|t| Some((t, p)))
            .map_err(|e| (ReasonCode::InvalidOrder, e.to_string()))
    }

    fn amend_resting(
        &mut self,
        at: u32,
        amend: &AmendOrder,
        now: Timestamp,
        out: &mut Vec<BookEvent>,
    ) -> Result<(), (ReasonCode, String)> {
        if amend.stop_price.is_some() {
            return Err((
                ReasonCode::InvalidOrder,
                "stop_price: a resting limit order has no stop".into(),
            ));
        }
        let node = &self.nodes[at as usize];
        let (filled, total, old_ticks) = (node.filled, node.filled + node.remaining, node.price);
        let (new_total, new_quantity) = match (self.amend_quantity(amend, filled)?, amend.quantity)
        {
            (Some(lots), Some(q)) => (lots, q),
            _ => (total, node.quantity),
        };
        let new_price = self.amend_price("limit_price", amend.limit_price)?;
        let (new_ticks, price) = match new_price {
            Some(p) => p,
            None => {
                let ladder = self.ladder(node.side);
                let level_price = ladder.find(old_ticks).map(|at| ladder.level(at).price);
                match level_price {
                    Some(p) => (old_ticks, p),
                    None => {
                        return Err((ReasonCode::UnknownOrder, "order is not on the book".into()));
                    }
                }
            }
        };
        out.push(BookEvent::Amended(AmendOrder {
            order: amend.order,
            quantity: Some(new_quantity),
            limit_price: Some(price),
            stop_price: None,
        }));
        if new_ticks == old_ticks && new_total <= total {
            // Same price, same or smaller size: keeps its place in the queue.
            let reduce = total - new_total;
            let node = &mut self.nodes[at as usize];
            node.remaining -= reduce;
            node.quantity = new_quantity;
            let side = node.side;
            let ladder = self.ladder_mut(side);
            if let Some(at) = ladder.find(old_ticks) {
                ladder.level_mut(at).total -= reduce;
            }
            return Ok(());
        }
        // New price or larger size: to the back of the (possibly new) level, trading
        // first if the new price crosses.
        self.detach(at);
        let seq = self.take_seq();
        let node = &self.nodes[at as usize];
        let incoming = Incoming {
            id: node.id,
            account: node.account,
            side: node.side,
            limit: Some((new_ticks, price)),
            remaining: new_total - filled,
            filled,
            total: new_quantity,
            tif: node.tif,
            seq,
            slot: at,
        };
        self.work(incoming, now, out);
        Ok(())
    }

    fn amend_stop(
        &mut self,
        side: Side,
        key: StopKey,
        amend: &AmendOrder,
        out: &mut Vec<BookEvent>,
    ) -> Result<(), (ReasonCode, String)> {
        let map = if side == Side::Buy {
            &self.buy_stops
        } else {
            &self.sell_stops
        };
        let Some(stop) = map.get(&key) else {
            return Err((ReasonCode::UnknownOrder, "order is not waiting".into()));
        };
        if stop.limit.is_none() && amend.limit_price.is_some() {
            return Err((
                ReasonCode::InvalidOrder,
                "limit_price: a stop (market) order has no limit".into(),
            ));
        }
        let (quantity, total) = match (self.amend_quantity(amend, 0)?, amend.quantity) {
            (Some(lots), Some(q)) => (lots, q),
            _ => (stop.quantity, stop.total),
        };
        let new_stop = self
            .amend_price("stop_price", amend.stop_price)?
            .unwrap_or((stop.stop, stop.stop_price));
        let new_limit = match self.amend_price("limit_price", amend.limit_price)? {
            Some(l) => Some(l),
            None => stop.limit,
        };
        let mut stop = match side {
            Side::Buy => self.buy_stops.remove(&key),
            Side::Sell => self.sell_stops.remove(&key),
        }
        .ok_or((ReasonCode::UnknownOrder, "order is not waiting".to_owned()))?;
        stop.quantity = quantity;
        stop.total = total;
        stop.stop = new_stop.0;
        stop.stop_price = new_stop.1;
        stop.limit = new_limit;
        stop.seq = self.take_seq();
        out.push(BookEvent::Amended(AmendOrder {
            order: amend.order,
            quantity: Some(total),
            limit_price: new_limit.map(|(_, p)| p),
            stop_price: Some(new_stop.1),
        }));
        self.insert_stop(stop);
        Ok(())
    }

    /// Expires every open DAY order, in the order they were accepted.
    fn expire_day_orders(&mut self, out: &mut Vec<BookEvent>) {
        let mut expiring: Vec<(u64, OrderId, AccountId, Slot)> = Vec::new();
        for (&id, &slot) in &self.index {
            match slot {
                Slot::Resting(at) => {
                    let n = &self.nodes[at as usize];
                    if n.tif == TimeInForce::Day {
                        expiring.push((n.seq, id, n.account, slot));
                    }
                }
                Slot::Stop(side, key) => {
                    let map = if side == Side::Buy {
                        &self.buy_stops
                    } else {
                        &self.sell_stops
                    };
                    if let Some(s) = map.get(&key).filter(|s| s.tif == TimeInForce::Day) {
                        expiring.push((s.seq, id, s.account, slot));
                    }
                }
            }
        }
        expiring.sort_unstable_by_key(|e| e.0);
        let symbol = self.instrument.symbol();
        for (_, order_id, account_id, slot) in expiring {
            self.remove_slot(slot);
            out.push(BookEvent::Expired(OrderRef {
                order_id,
                account_id,
                symbol,
            }));
        }
    }
}

/// Whether an incoming order on `side` with `limit` (None = market) trades at `ticks`.
fn crosses(side: Side, limit: Option<(i64, Price)>, ticks: i64) -> bool {
    match (side, limit) {
        (_, None) => true,
        (Side::Buy, Some((l, _))) => ticks <= l,
        (Side::Sell, Some((l, _))) => ticks >= l,
    }
}
