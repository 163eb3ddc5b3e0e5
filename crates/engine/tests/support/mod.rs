//! Shared helpers for the matching tests: command builders, a compact text form of book
//! events, a random command generator and a deliberately simple reference book.

#![allow(dead_code)]

pub mod reference;

use domain::events::{AmendOrder, CancelOrder, OrderRef};
use domain::order::OrderRequest;
use domain::{
    AccountId, Currency, Instrument, OrderId, OrderType, Price, Quantity, Side, Symbol, TimeInForce,
};
use engine::matching::{BookEvent, Command};
use engine::rng::SplitMix64;

pub fn symbol() -> Symbol {
    Symbol::parse("ES").unwrap()
}

/// Tick 0.5, lot 1, minimum 1.
pub fn instrument() -> Instrument {
    Instrument::new(
        symbol(),
        "0.5".parse().unwrap(),
        "1".parse().unwrap(),
        "1".parse().unwrap(),
        Currency::USD,
    )
    .unwrap()
}

pub fn oid(n: u128) -> OrderId {
    OrderId::from_u128(n)
}
pub fn acct(n: u128) -> AccountId {
    AccountId::from_u128(1000 + n)
}
pub fn px(s: &str) -> Price {
    s.parse().unwrap()
}
pub fn qty(n: u64) -> Quantity {
    Quantity::new(n.into()).unwrap()
}

pub fn order_ref(id: u128, account: u128) -> OrderRef {
    OrderRef {
        order_id: oid(id),
        account_id: acct(account),
        symbol: symbol(),
    }
}

pub fn place(
    id: u128,
    account: u128,
    side: Side,
    order_type: OrderType,
    tif: TimeInForce,
    quantity: u64,
) -> Command {
    Command::Place(OrderRequest {
        id: oid(id),
        client_order_id: None,
        account_id: acct(account),
        symbol: symbol(),
        side,
        order_type,
        time_in_force: tif,
        quantity: Quantity::new(quantity.into()).unwrap(),
    })
}

pub fn limit(id: u128, account: u128, side: Side, quantity: u64, price: &str) -> Command {
    place(
        id,
        account,
        side,
        OrderType::Limit {
            limit_price: px(price),
        },
        TimeInForce::Gtc,
        quantity,
    )
}

pub fn limit_tif(
    id: u128,
    account: u128,
    side: Side,
    quantity: u64,
    price: &str,
    tif: TimeInForce,
) -> Command {
    place(
        id,
        account,
        side,
        OrderType::Limit {
            limit_price: px(price),
        },
        tif,
        quantity,
    )
}

pub fn market(id: u128, account: u128, side: Side, quantity: u64) -> Command {
    place(
        id,
        account,
        side,
        OrderType::Market,
        TimeInForce::Ioc,
        quantity,
    )
}

pub fn cancel(id: u128, account: u128) -> Command {
    Command::Cancel(CancelOrder {
        order: order_ref(id, account),
    })
}

pub fn amend(id: u128, account: u128, quantity: Option<u64>, price: Option<&str>) -> Command {
    Command::Amend(AmendOrder {
        order: order_ref(id, account),
        quantity: quantity.map(qty),
        limit_price: price.map(px),
        stop_price: None,
    })
}

fn id_num(id: OrderId) -> u128 {
    id.as_uuid().as_u128()
}
fn acct_num(id: AccountId) -> u128 {
    id.as_uuid().as_u128() - 1000
}

/// A one-line description of an event, for readable table-driven expectations:
/// `accepted 1`, `trade 2@100.5 maker=1 taker=3`, `cancelled 3 immediate_or_cancel`.
pub fn describe(event: &BookEvent) -> String {
    let code = |c: domain::events::ReasonCode| {
        serde_json::to_value(c)
            .unwrap()
            .as_str()
            .unwrap()
            .to_owned()
    };
    match event {
        BookEvent::Accepted(o) => format!("accepted {}", id_num(o.order_id)),
        BookEvent::Rejected(o) => format!("rejected {} {}", id_num(o.order.order_id), code(o.code)),
        BookEvent::Trade(t) => format!(
            "trade {}@{} maker={} taker={}",
            t.quantity,
            t.price,
            id_num(t.maker_order_id),
            id_num(t.taker_order_id)
        ),
        BookEvent::Cancelled(o) => {
            format!("cancelled {} {}", id_num(o.order.order_id), code(o.code))
        }
        BookEvent::Triggered(o) => format!("triggered {}", id_num(o.order_id)),
        BookEvent::Expired(o) => format!("expired {}", id_num(o.order_id)),
        BookEvent::Amended(a) => format!(
            "amended {} qty={} limit={} stop={}",
            id_num(a.order.order_id),
            a.quantity.map(|q| q.to_string()).unwrap_or_default(),
            a.limit_price.map(|p| p.to_string()).unwrap_or_default(),
            a.stop_price.map(|p| p.to_string()).unwrap_or_default(),
        ),
    }
}

pub fn account_of(event_account: AccountId) -> u128 {
    acct_num(event_account)
}

/// Random command streams over a small universe (few ids, accounts and prices) so that
/// cancels and amends often hit live orders, orders often cross, self-trades and
/// duplicate ids happen, and some inputs are invalid (zero or off-lot quantities, prices
/// off the tick grid, unknown symbols).
#[derive(Debug, Clone)]
pub struct CommandGenerator {
    rng: SplitMix64,
    pub ids: u128,
    pub accounts: u128,
    next_id: u128,
}

impl CommandGenerator {
    pub fn new(seed: u64, ids: u128, accounts: u128) -> Self {
        CommandGenerator {
            rng: SplitMix64::new(seed),
            ids,
            accounts,
            next_id: 1,
        }
    }

    fn price(&mut self) -> Price {
        // 95.0 ..= 105.0 in ticks of 0.5
        let ticks = self.rng.range_i64(190, 210);
        let whole = ticks / 2;
        if ticks % 2 == 0 {
            px(&format!("{whole}"))
        } else {
            px(&format!("{whole}.5"))
        }
    }

    fn quantity(&mut self) -> Quantity {
        match self.rng.below(40) {
            0 => Quantity::ZERO,
            1 => "1.5".parse().unwrap(),
            _ => qty(1 + self.rng.below(8)),
        }
    }

    fn side(&mut self) -> Side {
        if self.rng.chance(0.5) {
            Side::Buy
        } else {
            Side::Sell
        }
    }

    fn tif(&mut self) -> TimeInForce {
        match self.rng.below(10) {
            0 | 1 => TimeInForce::Ioc,
            2 => TimeInForce::Fok,
            3 | 4 => TimeInForce::Day,
            _ => TimeInForce::Gtc,
        }
    }

    /// Mostly fresh ids; sometimes a recent one (which may still be open: duplicate).
    fn new_id(&mut self) -> u128 {
        if self.rng.chance(0.05) && self.next_id > 1 {
            return 1 + u128::from(self.rng.below(self.next_id as u64 - 1));
        }
        let id = self.next_id;
        self.next_id += 1;
        id
    }

    /// An id that was used recently (cancel and amend targets).
    fn known_id(&mut self) -> u128 {
        let lo = self.next_id.saturating_sub(self.ids).max(1);
        lo + u128::from(self.rng.below((self.next_id - lo).max(1) as u64))
    }

    fn account(&mut self) -> u128 {
        1 + u128::from(self.rng.below(self.accounts as u64))
    }

    pub fn next_command(&mut self) -> Command {
        let roll = self.rng.below(100);
        let mut command = if roll < 50 {
            let order_type = match self.rng.below(10) {
                0 => OrderType::Market,
                1 => OrderType::Stop {
                    stop_price: self.price(),
                },
                2 => OrderType::StopLimit {
                    stop_price: self.price(),
                    limit_price: self.price(),
                },
                _ => OrderType::Limit {
                    limit_price: self.price(),
                },
            };
            let mut request_price_off_tick = false;
            if self.rng.below(50) == 0 {
                request_price_off_tick = true;
            }
            let order_type = if request_price_off_tick {
                OrderType::Limit {
                    limit_price: px("100.25"),
                }
            } else {
                order_type
            };
            let (id, account, side, tif, quantity) = (
                self.new_id(),
                self.account(),
                self.side(),
                self.tif(),
                self.quantity(),
            );
            Command::Place(OrderRequest {
                id: oid(id),
                client_order_id: None,
                account_id: acct(account),
                symbol: symbol(),
                side,
                order_type,
                time_in_force: tif,
                quantity,
            })
        } else if roll < 70 {
            let (id, account) = (self.known_id(), self.account());
            cancel(id, account)
        } else if roll < 97 {
            let (id, account) = (self.known_id(), self.account());
            let quantity = if self.rng.chance(0.6) {
                Some(self.quantity())
            } else {
                None
            };
            let limit_price = if self.rng.chance(0.6) {
                Some(self.price())
            } else {
                None
            };
            let stop_price = if self.rng.chance(0.1) {
                Some(self.price())
            } else {
                None
            };
            Command::Amend(AmendOrder {
                order: order_ref(id, account),
                quantity,
                limit_price,
                stop_price,
            })
        } else {
            Command::ExpireDayOrders { symbol: symbol() }
        };
        if self.rng.below(200) == 0 {
            let other = Symbol::parse("NQ").unwrap();
            match &mut command {
                Command::Place(r) => r.symbol = other,
                Command::Cancel(c) => c.order.symbol = other,
                Command::Amend(a) => a.order.symbol = other,
                Command::ExpireDayOrders { symbol } => *symbol = other,
            }
        }
        command
    }
}
