//! The system of record's contract, one suite per port: [`ledger`] (`AccountLedger`),
//! [`orders`] and [`withdrawals`] (`OrderRecords`), [`strategies`], [`history`],
//! [`reports`], [`commit`] (`CoreCommit`), [`outbox`] (`OutboxQueue`), [`research`]
//! (`ResearchJobs`) and [`activity`] (`PlatformActivity`). Every case takes a factory for
//! a whole fresh store, since a port's contract involves the others (an order needs an
//! account, a fill arrives with the core's commit), and asserts through the port it is
//! named after.

pub mod activity;
pub mod commit;
pub mod history;
pub mod ledger;
pub mod orders;
pub mod outbox;
pub mod reports;
pub mod research;
pub mod strategies;
pub mod withdrawals;

use std::future::Future;
use std::sync::Arc;

use domain::{
    Account, AccountId, AccountKind, Currency, EventId, LedgerEntry, LedgerKind, Money, Timestamp,
    UserId,
};

use crate::error::ErrorKind;
use crate::records::{
    Checkpoint, CommitBatch, NewOrder, OrderLimits, OutboxEvent, RecordStore, Refusal, Reserved,
    Snapshot,
};
use crate::stream::SequenceNumber;

fn account(n: u128, user: u128) -> Account {
    Account {
        id: AccountId::from_u128(n),
        user_id: UserId::from_u128(user),
        name: format!("paper {n}"),
        kind: AccountKind::Paper,
        base_currency: Currency::USD,
        cash: Money::ZERO,
        created_at: Timestamp::from_secs(1_700_000_000 + n as i64),
    }
}

fn entry(id: &str, account: u128, amount: &str) -> LedgerEntry {
    LedgerEntry {
        id: EventId::derived(id),
        account_id: AccountId::from_u128(account),
        kind: if amount.starts_with('-') {
            LedgerKind::Withdrawal
        } else {
            LedgerKind::Deposit
        },
        amount: Money::parse("amount", amount).expect("amount"),
        reference: id.to_owned(),
        time: Timestamp::from_secs(1_700_000_100),
    }
}

/// Inserts an order that reserves at its own price, with no position limit.
async fn insert(
    s: &dyn RecordStore,
    order: &domain::Order,
    outbox: &[OutboxEvent],
) -> crate::StoreResult<Reserved> {
    s.insert_order(&NewOrder {
        order,
        reserve_price: None,
        outbox,
        limits: OrderLimits::default(),
    })
    .await
}

/// Inserts an order that the account can carry.
async fn place(s: &dyn RecordStore, order: &domain::Order, outbox: &[OutboxEvent]) {
    insert(s, order, outbox)
        .await
        .expect("insert")
        .expect("the account carries the order");
}

/// Deposits plenty into account `n` (orders below reserve cash).
async fn fund(s: &dyn RecordStore, n: u128) {
    s.post(&entry(&format!("funding-{n}"), n, "1000000"))
        .await
        .expect("deposit");
}

fn cash(v: &str) -> Money {
    Money::parse("cash", v).expect("cash")
}

fn batch(withdraw: &str) -> CommitBatch {
    CommitBatch {
        orders: vec![],
        fills: vec![],
        positions: vec![],
        candles: vec![],
        ledger: vec![
            entry("fill-1", 1, "-40"),
            entry("fill-2", 2, "25"),
            entry("fill-3", 1, withdraw),
        ],
        outbox: (0..3)
            .map(|n| OutboxEvent {
                event_id: EventId::derived(&format!("evt-{n}")),
                stream: "executions".into(),
                partition_key: "acct-1".into(),
                payload: format!("{{\"n\":{n}}}").into_bytes(),
            })
            .collect(),
        checkpoints: vec![Checkpoint {
            consumer: "core".into(),
            stream: "commands".into(),
            shard: "shardId-000000000000".into(),
            sequence: SequenceNumber("4242".into()),
        }],
        snapshot: Some(Snapshot {
            name: "core".into(),
            version: 1,
            taken_at: Timestamp::from_secs(1_700_000_200),
            state: b"{\"accounts\":{}}".to_vec(),
        }),
        applied_commands: vec![EventId::derived("cmd-1"), EventId::derived("cmd-2")],
    }
}

fn instrument(symbol: &str) -> domain::Instrument {
    domain::Instrument::new(
        domain::Symbol::parse(symbol).expect("symbol"),
        domain::Decimal::new(1, 2),
        domain::Decimal::ONE,
        domain::Decimal::ONE,
        Currency::USD,
    )
    .expect("instrument")
}

fn order(
    n: u128,
    account: u128,
    symbol: &str,
    client: Option<&str>,
    created: i64,
) -> domain::Order {
    let request = domain::order::OrderRequest {
        id: domain::OrderId::from_u128(n),
        client_order_id: client.map(|c| domain::ClientOrderId::parse(c).expect("client id")),
        account_id: AccountId::from_u128(account),
        symbol: domain::Symbol::parse(symbol).expect("symbol"),
        side: domain::Side::Buy,
        order_type: domain::OrderType::Limit {
            limit_price: "100.25".parse().expect("price"),
        },
        time_in_force: domain::TimeInForce::Gtc,
        quantity: "10".parse().expect("quantity"),
    };
    domain::Order::new(request, &instrument(symbol), Timestamp::from_secs(created)).expect("order")
}

/// A working order of account `account` in ES: `side`, `quantity`, and a limit price or
/// (with `None`) a market order.
fn es_order(
    n: u128,
    account: u128,
    side: domain::Side,
    quantity: &str,
    limit: Option<&str>,
) -> domain::Order {
    let request = domain::order::OrderRequest {
        id: domain::OrderId::from_u128(n),
        client_order_id: None,
        account_id: AccountId::from_u128(account),
        symbol: domain::Symbol::parse("ES").expect("symbol"),
        side,
        order_type: match limit {
            Some(p) => domain::OrderType::Limit {
                limit_price: p.parse().expect("price"),
            },
            None => domain::OrderType::Market,
        },
        time_in_force: match limit {
            Some(_) => domain::TimeInForce::Gtc,
            None => domain::TimeInForce::Ioc,
        },
        quantity: quantity.parse().expect("quantity"),
    };
    domain::Order::new(request, &instrument("ES"), Timestamp::from_secs(100)).expect("order")
}

/// The account's reserved buy notional and working sell quantity in ES.
async fn reserved(s: &dyn RecordStore, account: u128) -> (domain::Decimal, domain::Decimal) {
    let rows = s
        .exposure(AccountId::from_u128(account))
        .await
        .expect("exposure");
    let of = |side: domain::Side| {
        rows.iter()
            .filter(|r| r.side == side)
            .map(|r| (r.notional, r.quantity))
            .fold((domain::Decimal::ZERO, domain::Decimal::ZERO), |a, b| {
                (a.0 + b.0, a.1 + b.1)
            })
    };
    (
        of(domain::Side::Buy).0.normalize(),
        of(domain::Side::Sell).1.normalize(),
    )
}

fn d(text: &str) -> domain::Decimal {
    text.parse().expect("decimal")
}

/// Gives account `account` a position of `quantity` ES bought at 100.
async fn hold_position(s: &dyn RecordStore, account: u128, quantity: &str) {
    let mut position = domain::Position::flat(domain::Symbol::parse("ES").expect("symbol"));
    position
        .apply(&domain::Fill {
            trade_id: domain::TradeId(1),
            order_id: domain::OrderId::from_u128(999),
            account_id: AccountId::from_u128(account),
            symbol: position.symbol,
            side: domain::Side::Buy,
            price: "100".parse().expect("price"),
            quantity: quantity.parse().expect("quantity"),
            fee: Money::ZERO,
            liquidity: domain::Liquidity::Taker,
            time: Timestamp::from_secs(50),
        })
        .expect("position");
    s.commit(&CommitBatch {
        positions: vec![(AccountId::from_u128(account), position)],
        ..CommitBatch::default()
    })
    .await
    .expect("commit");
}
