//! A deliberately simple order book: plain vectors, linear scans, decimal quantities.
//!
//! It implements the same rules as `OrderBook` (see `engine::matching`) in the
//! most obvious way, with none of the fast book's structure (no price levels, no integer
//! ticks or lots, no intrusive queues, no index). Agreement of the two on long random
//! command streams is the evidence that the fast one is right.

use domain::events::{AmendOrder, CancelOrder, OrderOutcome, OrderRef, ReasonCode};
use domain::order::OrderRequest;
use domain::{
    AccountId, Decimal, Instrument, OrderId, Price, Quantity, Side, TimeInForce, Timestamp, Trade,
    TradeId,
};
use engine::matching::{BookEvent, Command, RestingOrderView, SelfTradePrevention, StopOrderView};

#[derive(Debug, Clone)]
struct Resting {
    id: OrderId,
    account: AccountId,
    side: Side,
    price: Price,
    remaining: Decimal,
    filled: Decimal,
    tif: TimeInForce,
    seq: u64,
}

#[derive(Debug, Clone)]
struct Stop {
    id: OrderId,
    account: AccountId,
    side: Side,
    stop: Price,
    limit: Option<Price>,
    quantity: Decimal,
    tif: TimeInForce,
    seq: u64,
}

#[derive(Debug, Clone, Copy)]
struct Working {
    id: OrderId,
    account: AccountId,
    side: Side,
    limit: Option<Price>,
    remaining: Decimal,
    filled: Decimal,
    tif: TimeInForce,
    seq: u64,
}

#[derive(Debug)]
pub struct ReferenceBook {
    instrument: Instrument,
    stp: SelfTradePrevention,
    resting: Vec<Resting>,
    stops: Vec<Stop>,
    last: Option<Price>,
    next_trade: u64,
    next_seq: u64,
}

fn outcome(order: OrderRef, code: ReasonCode, message: impl Into<String>) -> OrderOutcome {
    OrderOutcome {
        order,
        code,
        message: message.into(),
    }
}

fn q(d: Decimal) -> Quantity {
    Quantity::new(d).unwrap()
}

/// Whether a `side` order limited at `limit` trades with a resting order at `price`.
fn crosses(side: Side, limit: Option<Price>, price: Price) -> bool {
    match (side, limit) {
        (_, None) => true,
        (Side::Buy, Some(l)) => price <= l,
        (Side::Sell, Some(l)) => price >= l,
    }
}

impl ReferenceBook {
    pub fn new(instrument: Instrument, stp: SelfTradePrevention) -> Self {
        ReferenceBook {
            instrument,
            stp,
            resting: vec![],
            stops: vec![],
            last: None,
            next_trade: 1,
            next_seq: 1,
        }
    }

    pub fn process(&mut self, command: &Command, now: Timestamp) -> Vec<BookEvent> {
        let mut out = Vec::new();
        if command.symbol() != self.instrument.symbol() {
            if let Some(order) = command.order_ref() {
                out.push(BookEvent::Rejected(outcome(
                    order,
                    ReasonCode::UnknownSymbol,
                    format!("this book trades {}", self.instrument.symbol()),
                )));
            }
            return out;
        }
        match command {
            Command::Place(r) => self.place(r, now, &mut out),
            Command::Cancel(c) => self.cancel(c, &mut out),
            Command::Amend(a) => self.amend(a, now, &mut out),
            Command::ExpireDayOrders { .. } => self.expire(&mut out),
        }
        out
    }

    /// Opposite-side orders in priority order: best price, then earliest.
    fn priority(&self, taker_side: Side) -> Vec<usize> {
        let mut v: Vec<usize> = (0..self.resting.len())
            .filter(|&i| self.resting[i].side != taker_side)
            .collect();
        v.sort_by(|&a, &b| {
            let (ra, rb) = (&self.resting[a], &self.resting[b]);
            let by_price = match taker_side {
                Side::Buy => ra.price.cmp(&rb.price),
                Side::Sell => rb.price.cmp(&ra.price),
            };
            by_price.then(ra.seq.cmp(&rb.seq))
        });
        v
    }

    fn place(&mut self, r: &OrderRequest, now: Timestamp, out: &mut Vec<BookEvent>) {
        let order = OrderRef {
            order_id: r.id,
            account_id: r.account_id,
            symbol: r.symbol,
        };
        if let Err(e) = r.validate(&self.instrument) {
            out.push(BookEvent::Rejected(outcome(
                order,
                ReasonCode::InvalidOrder,
                e.to_string(),
            )));
            return;
        }
        if self.resting.iter().any(|o| o.id == r.id) || self.stops.iter().any(|s| s.id == r.id) {
            out.push(BookEvent::Rejected(outcome(
                order,
                ReasonCode::DuplicateOrderId,
                "an open order already has this id",
            )));
            return;
        }
        out.push(BookEvent::Accepted(order));
        let seq = self.next_seq;
        self.next_seq += 1;
        if let Some(stop) = r.order_type.stop_price() {
            self.stops.push(Stop {
                id: r.id,
                account: r.account_id,
                side: r.side,
                stop,
                limit: r.order_type.limit_price(),
                quantity: r.quantity.value(),
                tif: r.time_in_force,
                seq,
            });
        } else {
            let w = Working {
                id: r.id,
                account: r.account_id,
                side: r.side,
                limit: r.order_type.limit_price(),
                remaining: r.quantity.value(),
                filled: Decimal::ZERO,
                tif: r.time_in_force,
                seq,
            };
            self.work(w, now, out);
        }
        self.triggers(now, out);
    }

    fn fok_ok(&self, w: &Working) -> bool {
        let mut available = Decimal::ZERO;
        for i in self.priority(w.side) {
            let m = &self.resting[i];
            if !crosses(w.side, w.limit, m.price) {
                break;
            }
            if m.account == w.account {
                if self.stp == SelfTradePrevention::CancelIncoming {
                    return available >= w.remaining;
                }
                continue;
            }
            available += m.remaining;
            if available >= w.remaining {
                return true;
            }
        }
        false
    }

    fn work(&mut self, mut w: Working, now: Timestamp, out: &mut Vec<BookEvent>) {
        let me = OrderRef {
            order_id: w.id,
            account_id: w.account,
            symbol: self.instrument.symbol(),
        };
        if w.tif == TimeInForce::Fok && !self.fok_ok(&w) {
            out.push(BookEvent::Cancelled(outcome(
                me,
                ReasonCode::FillOrKill,
                "fill-or-kill order could not fill completely at once",
            )));
            return;
        }
        let mut self_trade = false;
        while w.remaining > Decimal::ZERO {
            let Some(&i) = self.priority(w.side).first() else {
                break;
            };
            let m = self.resting[i].clone();
            if !crosses(w.side, w.limit, m.price) {
                break;
            }
            if m.account == w.account {
                match self.stp {
                    SelfTradePrevention::CancelIncoming => {
                        self_trade = true;
                        break;
                    }
                    SelfTradePrevention::CancelResting => {
                        self.resting.remove(i);
                        out.push(BookEvent::Cancelled(outcome(
                            OrderRef {
                                order_id: m.id,
                                account_id: m.account,
                                symbol: self.instrument.symbol(),
                            },
                            ReasonCode::SelfTrade,
                            "cancelled by self-trade prevention",
                        )));
                        continue;
                    }
                }
            }
            let traded = m.remaining.min(w.remaining);
            out.push(BookEvent::Trade(Trade {
                trade_id: TradeId(self.next_trade),
                symbol: self.instrument.symbol(),
                price: m.price,
                quantity: q(traded),
                taker_side: w.side,
                maker_order_id: m.id,
                maker_account_id: m.account,
                taker_order_id: w.id,
                taker_account_id: w.account,
                time: now,
            }));
            self.next_trade += 1;
            self.last = Some(m.price);
            w.remaining -= traded;
            w.filled += traded;
            let maker = &mut self.resting[i];
            maker.remaining -= traded;
            maker.filled += traded;
            if maker.remaining.is_zero() {
                self.resting.remove(i);
            }
        }
        if w.remaining.is_zero() {
            return;
        }
        if self_trade {
            out.push(BookEvent::Cancelled(outcome(
                me,
                ReasonCode::SelfTrade,
                "would have traded with a resting order of the same account",
            )));
            return;
        }
        match (w.limit, w.tif) {
            (None, _) => out.push(BookEvent::Cancelled(outcome(
                me,
                ReasonCode::NoLiquidity,
                "market order remainder: no more liquidity",
            ))),
            (Some(_), TimeInForce::Ioc | TimeInForce::Fok) => {
                out.push(BookEvent::Cancelled(outcome(
                    me,
                    ReasonCode::ImmediateOrCancel,
                    "unfilled remainder of an immediate-or-cancel order",
                )))
            }
            (Some(price), _) => self.resting.push(Resting {
                id: w.id,
                account: w.account,
                side: w.side,
                price,
                remaining: w.remaining,
                filled: w.filled,
                tif: w.tif,
                seq: w.seq,
            }),
        }
    }

    fn triggers(&mut self, now: Timestamp, out: &mut Vec<BookEvent>) {
        while let Some(last) = self.last {
            let buy = (0..self.stops.len())
                .filter(|&i| self.stops[i].side == Side::Buy && self.stops[i].stop <= last)
                .min_by_key(|&i| (self.stops[i].stop, self.stops[i].seq));
            let sell = (0..self.stops.len())
                .filter(|&i| self.stops[i].side == Side::Sell && self.stops[i].stop >= last)
                .min_by_key(|&i| (std::cmp::Reverse(self.stops[i].stop), self.stops[i].seq));
            let pick = match (buy, sell) {
                (Some(b), Some(s)) => {
                    if self.stops[b].seq < self.stops[s].seq {
                        b
                    } else {
                        s
                    }
                }
                (Some(b), None) => b,
                (None, Some(s)) => s,
                (None, None) => return,
            };
            let s = self.stops.remove(pick);
            out.push(BookEvent::Triggered(OrderRef {
                order_id: s.id,
                account_id: s.account,
                symbol: self.instrument.symbol(),
            }));
            let seq = self.next_seq;
            self.next_seq += 1;
            let w = Working {
                id: s.id,
                account: s.account,
                side: s.side,
                limit: s.limit,
                remaining: s.quantity,
                filled: Decimal::ZERO,
                tif: s.tif,
                seq,
            };
            self.work(w, now, out);
        }
    }

    fn cancel(&mut self, c: &CancelOrder, out: &mut Vec<BookEvent>) {
        let o = c.order;
        if let Some(i) = self
            .resting
            .iter()
            .position(|r| r.id == o.order_id && r.account == o.account_id)
        {
            self.resting.remove(i);
        } else if let Some(i) = self
            .stops
            .iter()
            .position(|s| s.id == o.order_id && s.account == o.account_id)
        {
            self.stops.remove(i);
        } else {
            out.push(BookEvent::Rejected(outcome(
                o,
                ReasonCode::UnknownOrder,
                "no open order with this id in this account",
            )));
            return;
        }
        out.push(BookEvent::Cancelled(outcome(
            o,
            ReasonCode::Requested,
            "cancelled on request",
        )));
    }

    fn check_quantity(
        &self,
        a: &AmendOrder,
        filled: Decimal,
    ) -> Result<Option<Decimal>, (ReasonCode, String)> {
        let Some(new) = a.quantity else {
            return Ok(None);
        };
        self.instrument
            .validate_quantity("quantity", new)
            .map_err(|e| (ReasonCode::InvalidOrder, e.to_string()))?;
        if new.value() <= filled {
            return Err((
                ReasonCode::QuantityBelowFilled,
                format!(
                    "quantity {new} must exceed the filled quantity {}",
                    q(filled)
                ),
            ));
        }
        Ok(Some(new.value()))
    }

    fn check_price(
        &self,
        field: &'static str,
        p: Option<Price>,
    ) -> Result<Option<Price>, (ReasonCode, String)> {
        match p {
            None => Ok(None),
            Some(p) => self
                .instrument
                .validate_price(field, p)
                .map(|_| Some(p))
                .map_err(|e| (ReasonCode::InvalidOrder, e.to_string())),
        }
    }

    fn amend(&mut self, a: &AmendOrder, now: Timestamp, out: &mut Vec<BookEvent>) {
        let o = a.order;
        let result = if let Some(i) = self
            .resting
            .iter()
            .position(|r| r.id == o.order_id && r.account == o.account_id)
        {
            self.amend_resting(i, a, now, out)
        } else if let Some(i) = self
            .stops
            .iter()
            .position(|s| s.id == o.order_id && s.account == o.account_id)
        {
            self.amend_stop(i, a, out)
        } else {
            Err((
                ReasonCode::UnknownOrder,
                "no open order with this id in this account".into(),
            ))
        };
        match result {
            Ok(()) => self.triggers(now, out),
            Err((code, message)) => out.push(BookEvent::Rejected(outcome(o, code, message))),
        }
    }

    fn amend_resting(
        &mut self,
        i: usize,
        a: &AmendOrder,
        now: Timestamp,
        out: &mut Vec<BookEvent>,
    ) -> Result<(), (ReasonCode, String)> {
        if a.stop_price.is_some() {
            return Err((
                ReasonCode::InvalidOrder,
                "stop_price: a resting limit order has no stop".into(),
            ));
        }
        let r = self.resting[i].clone();
        let total = r.filled + r.remaining;
        let new_total = self.check_quantity(a, r.filled)?.unwrap_or(total);
        let new_price = self
            .check_price("limit_price", a.limit_price)?
            .unwrap_or(r.price);
        out.push(BookEvent::Amended(AmendOrder {
            order: a.order,
            quantity: Some(q(new_total)),
            limit_price: Some(new_price),
            stop_price: None,
        }));
        if new_price == r.price && new_total <= total {
            self.resting[i].remaining = new_total - r.filled;
            return Ok(());
        }
        self.resting.remove(i);
        let seq = self.next_seq;
        self.next_seq += 1;
        let w = Working {
            id: r.id,
            account: r.account,
            side: r.side,
            limit: Some(new_price),
            remaining: new_total - r.filled,
            filled: r.filled,
            tif: r.tif,
            seq,
        };
        self.work(w, now, out);
        Ok(())
    }

    fn amend_stop(
        &mut self,
        i: usize,
        a: &AmendOrder,
        out: &mut Vec<BookEvent>,
    ) -> Result<(), (ReasonCode, String)> {
        let s = self.stops[i].clone();
        if s.limit.is_none() && a.limit_price.is_some() {
            return Err((
                ReasonCode::InvalidOrder,
                "limit_price: a stop (market) order has no limit".into(),
            ));
        }
        let quantity = self.check_quantity(a, Decimal::ZERO)?.unwrap_or(s.quantity);
        let stop = self
            .check_price("stop_price", a.stop_price)?
            .unwrap_or(s.stop);
        let limit = self.check_price("limit_price", a.limit_price)?.or(s.limit);
        let seq = self.next_seq;
        self.next_seq += 1;
        out.push(BookEvent::Amended(AmendOrder {
            order: a.order,
            quantity: Some(q(quantity)),
            limit_price: limit,
            stop_price: Some(stop),
        }));
        self.stops[i] = Stop {
            quantity,
            stop,
            limit,
            seq,
            ..s
        };
        Ok(())
    }

    fn expire(&mut self, out: &mut Vec<BookEvent>) {
        let mut expiring: Vec<(u64, OrderId, AccountId)> = self
            .resting
            .iter()
            .filter(|r| r.tif == TimeInForce::Day)
            .map(|r| (r.seq, r.id, r.account))
            .chain(
                self.stops
                    .iter()
                    .filter(|s| s.tif == TimeInForce::Day)
                    .map(|s| (s.seq, s.id, s.account)),
            )
            .collect();
        expiring.sort();
        self.resting.retain(|r| r.tif != TimeInForce::Day);
        self.stops.retain(|s| s.tif != TimeInForce::Day);
        for (_, order_id, account_id) in expiring {
            out.push(BookEvent::Expired(OrderRef {
                order_id,
                account_id,
                symbol: self.instrument.symbol(),
            }));
        }
    }

    /// Resting orders of a side in priority order, in the fast book's view type.
    pub fn resting_orders(&self, side: Side) -> Vec<RestingOrderView> {
        self.priority(side.opposite())
            .into_iter()
            .map(|i| {
                let r = &self.resting[i];
                RestingOrderView {
                    id: r.id,
                    account_id: r.account,
                    side: r.side,
                    price: r.price,
                    remaining: q(r.remaining),
                    filled: q(r.filled),
                    time_in_force: r.tif,
                }
            })
            .collect()
    }

    /// Waiting stops of a side in trigger order.
    pub fn stop_orders(&self, side: Side) -> Vec<StopOrderView> {
        let mut v: Vec<&Stop> = self.stops.iter().filter(|s| s.side == side).collect();
        v.sort_by(|a, b| {
            let by_stop = match side {
                Side::Buy => a.stop.cmp(&b.stop),
                Side::Sell => b.stop.cmp(&a.stop),
            };
            by_stop.then(a.seq.cmp(&b.seq))
        });
        v.into_iter()
            .map(|s| StopOrderView {
                id: s.id,
                account_id: s.account,
                side: s.side,
                stop_price: s.stop,
                limit_price: s.limit,
                quantity: q(s.quantity),
                time_in_force: s.tif,
            })
            .collect()
    }
}
