//! The [`RecordStore`] contract.

use std::future::Future;
use std::sync::Arc;

use domain::{AccountId, Currency, EventId, Money, Timestamp, UserId};

use crate::error::ErrorKind;
use crate::records::{
    Account, AccountKind, Checkpoint, CommitBatch, LedgerEntry, NewOrder, OrderLimits, OutboxEvent,
    RecordStore, Refusal, Reserved, Snapshot,
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
            "withdrawal".into()
        } else {
            "deposit".into()
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

pub async fn accounts_are_scoped_to_their_user<F, Fut>(factory: F)
where
    F: Fn() -> Fut,
    Fut: Future<Output = Arc<dyn RecordStore>>,
{
    let s = factory().await;
    s.create_account(&account(1, 10)).await.expect("create");
    s.create_account(&account(2, 10)).await.expect("create");
    s.create_account(&account(3, 20)).await.expect("create");
    let e = s
        .create_account(&account(1, 20))
        .await
        .expect_err("duplicate id");
    assert_eq!(e.kind(), ErrorKind::ConditionFailed);
    let mine: Vec<AccountId> = s
        .accounts(UserId::from_u128(10))
        .await
        .expect("list")
        .iter()
        .map(|a| a.id)
        .collect();
    assert_eq!(mine, [AccountId::from_u128(1), AccountId::from_u128(2)]);
    let got = s
        .account(UserId::from_u128(10), AccountId::from_u128(1))
        .await
        .expect("get")
        .expect("mine");
    assert_eq!(got, account(1, 10));
    assert_eq!(
        s.account(UserId::from_u128(20), AccountId::from_u128(1))
            .await
            .expect("get"),
        None,
        "not theirs"
    );
    assert!(
        s.accounts(UserId::from_u128(99))
            .await
            .expect("list")
            .is_empty()
    );
    assert_eq!(
        s.account_by_id(AccountId::from_u128(3))
            .await
            .expect("by id")
            .map(|a| a.user_id),
        Some(UserId::from_u128(20)),
        "the core reads any account by id"
    );
    assert_eq!(
        s.account_by_id(AccountId::from_u128(99))
            .await
            .expect("by id"),
        None
    );
    // Jobs page through every account by id.
    let mut seen = Vec::new();
    let mut after = None;
    loop {
        let page = s.all_accounts(after, 1).await.expect("page");
        let Some(last) = page.last() else { break };
        after = Some(last.id);
        seen.extend(page.iter().map(|a| a.id));
    }
    let mut sorted = seen.clone();
    sorted.sort();
    assert_eq!(seen, sorted, "by id");
    assert_eq!(
        seen.len(),
        s.all_accounts(None, 100).await.expect("all").len()
    );
    assert!(seen.len() >= 2);
}

pub async fn ledger_posts_are_idempotent_and_refuse_overdrafts<F, Fut>(factory: F)
where
    F: Fn() -> Fut,
    Fut: Future<Output = Arc<dyn RecordStore>>,
{
    let s = factory().await;
    s.create_account(&account(1, 10)).await.expect("create");
    let first = s
        .post(&entry("dep-1", 1, "1000.50"))
        .await
        .expect("deposit");
    assert_eq!(first.balance_after, cash("1000.50"));
    let again = s.post(&entry("dep-1", 1, "1000.50")).await.expect("replay");
    assert_eq!(again, first, "the same entry twice is applied once");
    s.post(&entry("wd-1", 1, "-0.50")).await.expect("withdraw");
    let e = s
        .post(&entry("wd-2", 1, "-1000.01"))
        .await
        .expect_err("overdraft");
    assert_eq!(e.kind(), ErrorKind::ConditionFailed);
    let acct = s
        .account(UserId::from_u128(10), AccountId::from_u128(1))
        .await
        .expect("get")
        .expect("acct");
    assert_eq!(
        acct.cash,
        cash("1000"),
        "a refused withdrawal changes nothing"
    );
    let ledger = s.ledger(AccountId::from_u128(1), 10).await.expect("ledger");
    assert_eq!(ledger.len(), 2);
    assert_eq!(ledger[0].entry.reference, "wd-1", "newest first");
    assert_eq!(ledger[0].balance_after, cash("1000"));
    assert_eq!(
        s.ledger_entry(AccountId::from_u128(1), EventId::derived("wd-1"))
            .await
            .expect("entry"),
        Some(ledger[0].clone())
    );
    assert_eq!(
        s.ledger_entry(AccountId::from_u128(2), EventId::derived("wd-1"))
            .await
            .expect("entry"),
        None,
        "another account's entry is not found"
    );
    assert_eq!(
        s.ledger_entry(AccountId::from_u128(1), EventId::derived("wd-2"))
            .await
            .expect("entry"),
        None,
        "the refused withdrawal left no entry"
    );
    let e = s
        .post(&entry("dep-x", 42, "1"))
        .await
        .expect_err("no such account");
    assert_eq!(e.kind(), ErrorKind::NotFound);
}

pub async fn concurrent_withdrawals_never_overdraw<F, Fut>(factory: F)
where
    F: Fn() -> Fut,
    Fut: Future<Output = Arc<dyn RecordStore>>,
{
    let s = factory().await;
    s.create_account(&account(1, 10)).await.expect("create");
    s.post(&entry("dep", 1, "100")).await.expect("deposit");
    let mut tasks = Vec::new();
    for n in 0..10 {
        let s = s.clone();
        tasks.push(tokio::spawn(async move {
            s.post(&entry(&format!("wd-{n}"), 1, "-30")).await
        }));
    }
    let mut ok = 0;
    for t in tasks {
        match t.await.expect("task") {
            Ok(_) => ok += 1,
            Err(e) => assert_eq!(e.kind(), ErrorKind::ConditionFailed, "{e}"),
        }
    }
    assert_eq!(ok, 3, "only three withdrawals of 30 fit in 100");
    let acct = s
        .account(UserId::from_u128(10), AccountId::from_u128(1))
        .await
        .expect("get")
        .expect("acct");
    assert_eq!(acct.cash, cash("10"));
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

pub async fn commits_are_all_or_nothing_and_idempotent<F, Fut>(factory: F)
where
    F: Fn() -> Fut,
    Fut: Future<Output = Arc<dyn RecordStore>>,
{
    let s = factory().await;
    s.create_account(&account(1, 10)).await.expect("create");
    s.create_account(&account(2, 10)).await.expect("create");
    s.post(&entry("dep", 1, "100")).await.expect("deposit");
    // The third entry overdraws: the whole batch must leave no trace.
    let e = s
        .commit(&batch("-70"))
        .await
        .expect_err("overdraft in the batch");
    assert_eq!(e.kind(), ErrorKind::ConditionFailed);
    let user = UserId::from_u128(10);
    assert_eq!(
        s.account(user, AccountId::from_u128(1))
            .await
            .expect("get")
            .expect("acct")
            .cash,
        cash("100")
    );
    assert_eq!(
        s.account(user, AccountId::from_u128(2))
            .await
            .expect("get")
            .expect("acct")
            .cash,
        Money::ZERO
    );
    assert!(s.unpublished(10).await.expect("outbox").is_empty());
    assert_eq!(
        s.checkpoint("core", "commands", "shardId-000000000000")
            .await
            .expect("checkpoint"),
        None
    );
    assert_eq!(s.snapshot("core").await.expect("snapshot"), None);
    assert!(s.recent_commands(10).await.expect("commands").is_empty());

    s.commit(&batch("-10")).await.expect("commit");
    let applied = vec![EventId::derived("cmd-1"), EventId::derived("cmd-2")];
    assert_eq!(s.recent_commands(10).await.expect("commands"), applied);
    assert_eq!(
        s.account(user, AccountId::from_u128(1))
            .await
            .expect("get")
            .expect("acct")
            .cash,
        cash("50")
    );
    assert_eq!(
        s.account(user, AccountId::from_u128(2))
            .await
            .expect("get")
            .expect("acct")
            .cash,
        cash("25")
    );
    assert_eq!(s.unpublished(10).await.expect("outbox").len(), 3);
    assert_eq!(
        s.checkpoint("core", "commands", "shardId-000000000000")
            .await
            .expect("checkpoint"),
        Some(SequenceNumber("4242".into()))
    );
    assert_eq!(
        s.snapshot("core")
            .await
            .expect("snapshot")
            .expect("snapshot")
            .state,
        b"{\"accounts\":{}}".to_vec()
    );

    // A redelivered batch (the core crashed after committing, before acknowledging):
    // nothing is applied twice.
    s.commit(&batch("-10")).await.expect("replayed commit");
    assert_eq!(
        s.account(user, AccountId::from_u128(1))
            .await
            .expect("get")
            .expect("acct")
            .cash,
        cash("50")
    );
    assert_eq!(s.unpublished(10).await.expect("outbox").len(), 3);

    let mut next = batch("-10");
    next.ledger.clear();
    next.outbox.clear();
    next.checkpoints[0].sequence = SequenceNumber("5000".into());
    next.snapshot = Some(Snapshot {
        version: 2,
        state: b"v2".to_vec(),
        ..next.snapshot.clone().expect("snapshot")
    });
    s.commit(&next).await.expect("commit");
    assert_eq!(
        s.checkpoint("core", "commands", "shardId-000000000000")
            .await
            .expect("checkpoint"),
        Some(SequenceNumber("5000".into()))
    );
    let snap = s
        .snapshot("core")
        .await
        .expect("snapshot")
        .expect("snapshot");
    assert_eq!((snap.version, snap.state), (2, b"v2".to_vec()));
}

pub async fn applied_commands_are_remembered_newest_last<F, Fut>(factory: F)
where
    F: Fn() -> Fut,
    Fut: Future<Output = Arc<dyn RecordStore>>,
{
    let s = factory().await;
    let id = |n: u32| EventId::derived(&format!("command-{n}"));
    let commit = |ids: Vec<EventId>| CommitBatch {
        applied_commands: ids,
        ..CommitBatch::default()
    };
    s.commit(&commit((0..5).map(id).collect()))
        .await
        .expect("commit");
    s.commit(&commit((5..8).map(id).collect()))
        .await
        .expect("commit");
    assert_eq!(
        s.recent_commands(4).await.expect("recent"),
        (4..8).map(id).collect::<Vec<_>>()
    );
    assert_eq!(
        s.recent_commands(100).await.expect("recent"),
        (0..8).map(id).collect::<Vec<_>>()
    );
}

pub async fn the_outbox_relays_in_order<F, Fut>(factory: F)
where
    F: Fn() -> Fut,
    Fut: Future<Output = Arc<dyn RecordStore>>,
{
    let s = factory().await;
    for n in 0..5 {
        let event = OutboxEvent {
            event_id: EventId::derived(&format!("o-{n}")),
            stream: if n % 2 == 0 {
                "executions".into()
            } else {
                "candles".into()
            },
            partition_key: format!("k{n}"),
            payload: vec![n as u8],
        };
        s.commit(&CommitBatch {
            outbox: vec![event],
            ..CommitBatch::default()
        })
        .await
        .expect("commit");
    }
    let first = s.unpublished(3).await.expect("outbox");
    assert_eq!(
        first.iter().map(|r| r.event.payload[0]).collect::<Vec<_>>(),
        [0, 1, 2]
    );
    assert!(first.windows(2).all(|w| w[0].id < w[1].id));
    s.mark_published(&first.iter().map(|r| r.id).collect::<Vec<_>>())
        .await
        .expect("mark");
    let rest = s.unpublished(10).await.expect("outbox");
    assert_eq!(
        rest.iter().map(|r| r.event.payload[0]).collect::<Vec<_>>(),
        [3, 4]
    );
    assert_eq!(rest[0].event.stream, "candles");
    s.mark_published(&[]).await.expect("nothing to mark");
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

pub async fn orders_are_unique_per_client_id_and_scoped_to_their_user<F, Fut>(factory: F)
where
    F: Fn() -> Fut,
    Fut: Future<Output = Arc<dyn RecordStore>>,
{
    let s = factory().await;
    s.create_account(&account(1, 10)).await.expect("create");
    fund(&*s, 1).await;
    s.create_account(&account(2, 20)).await.expect("create");
    fund(&*s, 2).await;
    let first = order(1, 1, "ES", Some("bot-1"), 100);
    let submit = |n: u128| OutboxEvent {
        event_id: EventId::from_u128(n),
        stream: "commands".into(),
        partition_key: "ES".into(),
        payload: format!("place {n}").into_bytes(),
    };
    place(&*s, &first, &[submit(1)]).await;
    let e = insert(&*s, &order(2, 1, "ES", Some("bot-1"), 101), &[submit(2)])
        .await
        .expect_err("same client id");
    assert_eq!(e.kind(), ErrorKind::ConditionFailed);
    // The order and its outbox events are one transaction: the refused order left none.
    let pending: Vec<EventId> = s
        .unpublished(10)
        .await
        .expect("outbox")
        .into_iter()
        .map(|r| r.event.event_id)
        .collect();
    assert_eq!(pending, [EventId::from_u128(1)]);
    let e = insert(&*s, &order(1, 1, "ES", None, 101), &[])
        .await
        .expect_err("same id");
    assert_eq!(e.kind(), ErrorKind::ConditionFailed);
    // Another account may reuse it; orders need no client id.
    place(&*s, &order(3, 2, "ES", Some("bot-1"), 102), &[]).await;
    place(&*s, &order(4, 1, "ES", None, 103), &[]).await;
    place(&*s, &order(5, 1, "ES", None, 104), &[]).await;
    assert_eq!(
        s.order(UserId::from_u128(10), domain::OrderId::from_u128(1))
            .await
            .expect("get"),
        Some(first.clone())
    );
    assert_eq!(
        s.order(UserId::from_u128(20), domain::OrderId::from_u128(1))
            .await
            .expect("get"),
        None,
        "not theirs"
    );
    let client = domain::ClientOrderId::parse("bot-1").expect("client id");
    assert_eq!(
        s.order_by_client_id(AccountId::from_u128(1), &client)
            .await
            .expect("get"),
        Some(first)
    );
    assert_eq!(
        s.order_by_client_id(AccountId::from_u128(2), &client)
            .await
            .expect("get")
            .map(|o| o.id),
        Some(domain::OrderId::from_u128(3))
    );
}

pub async fn order_pages_follow_the_cursor_and_the_filters<F, Fut>(factory: F)
where
    F: Fn() -> Fut,
    Fut: Future<Output = Arc<dyn RecordStore>>,
{
    let s = factory().await;
    s.create_account(&account(1, 10)).await.expect("create");
    fund(&*s, 1).await;
    let mut all = Vec::new();
    for n in 0..25u128 {
        let symbol = if n % 3 == 0 { "NQ" } else { "ES" };
        // Pairs share a creation time, so the cursor must break ties by id.
        let mut o = order(100 + n, 1, symbol, None, 1_000 + (n / 2) as i64);
        o.accept(Timestamp::from_secs(2_000)).expect("accept");
        if n % 4 == 0 {
            o.cancel("requested", Timestamp::from_secs(2_001))
                .expect("cancel");
        }
        place(
            &*s,
            &order(100 + n, 1, symbol, None, 1_000 + (n / 2) as i64),
            &[],
        )
        .await;
        s.commit(&CommitBatch {
            orders: vec![o.clone()],
            ..CommitBatch::default()
        })
        .await
        .expect("update");
        all.push(o);
    }
    all.sort_by_key(|o| std::cmp::Reverse((o.created_at(), o.id)));
    let mut seen = Vec::new();
    let mut query = crate::records::OrderQuery {
        status: None,
        symbol: None,
        after: None,
        limit: 10,
    };
    loop {
        let page = s
            .orders(AccountId::from_u128(1), &query)
            .await
            .expect("page");
        assert!(page.orders.len() <= 10);
        seen.extend(page.orders);
        match page.next {
            Some(cursor) => {
                let token = cursor.to_token();
                query.after = Some(
                    crate::records::OrderCursor::from_token(&token).expect("token round trip"),
                );
            }
            None => break,
        }
    }
    assert_eq!(
        seen, all,
        "every order once, newest first, through the cursor"
    );
    let cancelled = s
        .orders(
            AccountId::from_u128(1),
            &crate::records::OrderQuery {
                status: Some(domain::OrderStatus::Cancelled),
                symbol: None,
                after: None,
                limit: 100,
            },
        )
        .await
        .expect("filter");
    assert_eq!(cancelled.orders.len(), 7);
    assert!(
        cancelled
            .orders
            .iter()
            .all(|o| o.status() == domain::OrderStatus::Cancelled)
    );
    let nq = s
        .orders(
            AccountId::from_u128(1),
            &crate::records::OrderQuery {
                status: Some(domain::OrderStatus::Accepted),
                symbol: Some(domain::Symbol::parse("NQ").expect("symbol")),
                after: None,
                limit: 100,
            },
        )
        .await
        .expect("filter");
    assert!(
        nq.orders
            .iter()
            .all(|o| o.symbol.as_str() == "NQ" && o.status() == domain::OrderStatus::Accepted)
    );
    assert_eq!(nq.orders.len(), 6);
    assert!(nq.next.is_none());
}

pub async fn commits_carry_orders_fills_and_positions_together<F, Fut>(factory: F)
where
    F: Fn() -> Fut,
    Fut: Future<Output = Arc<dyn RecordStore>>,
{
    let s = factory().await;
    s.create_account(&account(1, 10)).await.expect("create");
    s.post(&entry("dep", 1, "5000")).await.expect("deposit");
    let mut o = order(1, 1, "ES", Some("c-1"), 100);
    place(&*s, &o, &[]).await;
    o.accept(Timestamp::from_secs(101)).expect("accept");
    o.fill(
        "10".parse().expect("qty"),
        "100.25".parse().expect("price"),
        Timestamp::from_secs(102),
    )
    .expect("fill");
    let fill = domain::Fill {
        trade_id: domain::TradeId(7),
        order_id: o.id,
        account_id: AccountId::from_u128(1),
        symbol: o.symbol,
        side: domain::Side::Buy,
        price: "100.25".parse().expect("price"),
        quantity: "10".parse().expect("qty"),
        fee: Money::ZERO,
        liquidity: domain::Liquidity::Taker,
        time: Timestamp::from_secs(102),
    };
    let mut position = domain::Position::flat(o.symbol);
    position.apply(&fill).expect("position");
    let paid = entry("trade-7", 1, "-1002.5");
    let mut batch = CommitBatch {
        orders: vec![o.clone()],
        fills: vec![fill.clone()],
        positions: vec![(AccountId::from_u128(1), position.clone())],
        ledger: vec![paid.clone(), entry("too-much", 1, "-10000")],
        ..CommitBatch::default()
    };
    assert!(
        s.commit(&batch).await.is_err(),
        "the overdraft fails the whole batch"
    );
    let stored = s
        .order(UserId::from_u128(10), o.id)
        .await
        .expect("get")
        .expect("order");
    assert_eq!(
        stored.status(),
        domain::OrderStatus::New,
        "the order is untouched"
    );
    assert!(
        s.fills(AccountId::from_u128(1), 10)
            .await
            .expect("fills")
            .is_empty()
    );
    assert!(
        s.positions(AccountId::from_u128(1))
            .await
            .expect("positions")
            .is_empty()
    );

    batch.ledger = vec![paid];
    s.commit(&batch).await.expect("commit");
    s.commit(&batch).await.expect("replay");
    assert_eq!(
        s.order(UserId::from_u128(10), o.id).await.expect("get"),
        Some(o)
    );
    assert_eq!(
        s.fills(AccountId::from_u128(1), 10).await.expect("fills"),
        vec![fill],
        "once, despite the replay"
    );
    assert_eq!(
        s.positions(AccountId::from_u128(1))
            .await
            .expect("positions"),
        vec![position]
    );
    let acct = s
        .account(UserId::from_u128(10), AccountId::from_u128(1))
        .await
        .expect("get")
        .expect("acct");
    assert_eq!(acct.cash, cash("3997.5"));
}

pub async fn strategies_candles_and_reports_are_kept<F, Fut>(factory: F)
where
    F: Fn() -> Fut,
    Fut: Future<Output = Arc<dyn RecordStore>>,
{
    use crate::records::{ReportRow, StrategyRecord, StrategyStatus};
    let s = factory().await;
    s.create_account(&account(1, 10)).await.expect("create");
    s.create_account(&account(2, 20)).await.expect("create");
    let es = domain::Symbol::parse("ES").expect("symbol");
    let mut deployment = StrategyRecord {
        id: domain::StrategyId::from_u128(5),
        account_id: AccountId::from_u128(1),
        strategy: "sma_cross".into(),
        symbols: vec![es],
        timeframes: vec![domain::Timeframe::M1],
        params: serde_json::json!({"period": 20, "size": "2"}),
        status: StrategyStatus::Running,
        created_at: Timestamp::from_secs(10),
    };
    s.save_strategy(&deployment).await.expect("save");
    deployment.status = StrategyStatus::Paused;
    s.save_strategy(&deployment).await.expect("pause");
    let other = StrategyRecord {
        id: domain::StrategyId::from_u128(6),
        account_id: AccountId::from_u128(2),
        ..deployment.clone()
    };
    s.save_strategy(&other).await.expect("save");
    assert_eq!(
        s.strategy(UserId::from_u128(10), deployment.id)
            .await
            .expect("get"),
        Some(deployment.clone())
    );
    assert_eq!(
        s.strategy(UserId::from_u128(20), deployment.id)
            .await
            .expect("get"),
        None,
        "not theirs"
    );
    assert_eq!(
        s.strategies(Some(AccountId::from_u128(1)))
            .await
            .expect("list"),
        vec![deployment.clone()]
    );
    assert_eq!(s.strategies(None).await.expect("all").len(), 2);

    let candle = |minute: i64, close: &str| domain::Candle {
        symbol: es,
        timeframe: domain::Timeframe::M1,
        start: Timestamp::from_secs(minute * 60),
        end: Timestamp::from_secs(minute * 60 + 60),
        open: "100".parse().expect("price"),
        high: "101".parse().expect("price"),
        low: "99".parse().expect("price"),
        close: close.parse().expect("price"),
        volume: "5".parse().expect("qty"),
        trades: 3,
    };
    let candles: Vec<domain::Candle> = (0..5).map(|m| candle(m, "100.5")).collect();
    s.commit(&CommitBatch {
        candles: candles.clone(),
        ..CommitBatch::default()
    })
    .await
    .expect("commit");
    // A re-emitted candle replaces the stored one.
    s.commit(&CommitBatch {
        candles: vec![candle(2, "99.5")],
        ..CommitBatch::default()
    })
    .await
    .expect("commit");
    let got = s
        .candles(
            es,
            domain::Timeframe::M1,
            Timestamp::from_secs(60),
            Timestamp::from_secs(240),
            100,
        )
        .await
        .expect("candles");
    assert_eq!(
        got.iter()
            .map(|c| c.start.nanos() / 60_000_000_000)
            .collect::<Vec<_>>(),
        [1, 2, 3]
    );
    assert_eq!(got[1].close, "99.5".parse().expect("price"));
    assert!(
        s.candles(
            es,
            domain::Timeframe::M5,
            Timestamp::EPOCH,
            Timestamp::MAX,
            10
        )
        .await
        .expect("none")
        .is_empty()
    );

    for day in ["2026-11-20", "2026-11-21", "2026-11-22"] {
        let row = ReportRow {
            account_id: AccountId::from_u128(1),
            day: day.into(),
            body: serde_json::json!({"equity": "100"}),
        };
        s.save_report(&row).await.expect("save");
    }
    let updated = ReportRow {
        account_id: AccountId::from_u128(1),
        day: "2026-11-21".into(),
        body: serde_json::json!({"equity": "90"}),
    };
    s.save_report(&updated).await.expect("replace");
    let rows = s
        .reports(AccountId::from_u128(1), "2026-11-21", "2026-11-22")
        .await
        .expect("reports");
    assert_eq!(
        rows.iter().map(|r| r.day.as_str()).collect::<Vec<_>>(),
        ["2026-11-21", "2026-11-22"]
    );
    assert_eq!(rows[0].body["equity"], "90");
    assert!(
        s.reports(AccountId::from_u128(2), "2000-01-01", "2100-01-01")
            .await
            .expect("none")
            .is_empty()
    );
}

pub async fn exposure_follows_working_orders<F, Fut>(factory: F)
where
    F: Fn() -> Fut,
    Fut: Future<Output = Arc<dyn RecordStore>>,
{
    use domain::Decimal;
    let s = factory().await;
    s.create_account(&account(1, 10)).await.expect("create");
    fund(&*s, 1).await;
    let d = |t: &str| t.parse::<Decimal>().expect("decimal");
    let rows = |s: Arc<dyn RecordStore>| async move {
        s.exposure(AccountId::from_u128(1))
            .await
            .expect("exposure")
            .into_iter()
            .map(|r| {
                (
                    r.symbol.to_string(),
                    r.side,
                    r.quantity.normalize(),
                    r.notional.normalize(),
                )
            })
            .collect::<Vec<_>>()
    };
    let mut first = order(1, 1, "ES", None, 100);
    let mut second = order(2, 1, "ES", Some("b"), 101);
    place(&*s, &first, &[]).await;
    place(&*s, &second, &[]).await;
    assert_eq!(
        rows(s.clone()).await,
        [("ES".to_owned(), domain::Side::Buy, d("20"), d("2005"))]
    );
    let now = Timestamp::from_secs(200);
    first.accept(now).expect("accept");
    first
        .fill("4".parse().expect("q"), "100.25".parse().expect("p"), now)
        .expect("fill");
    second.accept(now).expect("accept");
    s.commit(&CommitBatch {
        orders: vec![first.clone(), second.clone()],
        ..CommitBatch::default()
    })
    .await
    .expect("commit");
    assert_eq!(
        rows(s.clone()).await,
        [("ES".to_owned(), domain::Side::Buy, d("16"), d("1604"))]
    );
    // The same batch again changes nothing.
    s.commit(&CommitBatch {
        orders: vec![first.clone(), second.clone()],
        ..CommitBatch::default()
    })
    .await
    .expect("commit");
    assert_eq!(
        rows(s.clone()).await,
        [("ES".to_owned(), domain::Side::Buy, d("16"), d("1604"))]
    );
    second.cancel("requested", now).expect("cancel");
    first
        .fill("6".parse().expect("q"), "100.25".parse().expect("p"), now)
        .expect("fill");
    s.commit(&CommitBatch {
        orders: vec![first, second],
        ..CommitBatch::default()
    })
    .await
    .expect("commit");
    assert!(rows(s.clone()).await.is_empty(), "nothing works any more");
    assert!(
        s.exposure(AccountId::from_u128(2))
            .await
            .expect("other")
            .is_empty()
    );
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

pub async fn orders_reserve_cash_and_shares_in_the_insert<F, Fut>(factory: F)
where
    F: Fn() -> Fut,
    Fut: Future<Output = Arc<dyn RecordStore>>,
{
    use domain::Side::{Buy, Sell};
    let s = factory().await;
    s.create_account(&account(1, 10)).await.expect("create");
    s.post(&entry("dep", 1, "1000")).await.expect("deposit");
    // 6 × 100 of the 1,000: 400 left to reserve.
    place(&*s, &es_order(1, 1, Buy, "6", Some("100")), &[]).await;
    let command = OutboxEvent {
        event_id: EventId::from_u128(77),
        stream: "commands".into(),
        partition_key: "ES".into(),
        payload: b"place 2".to_vec(),
    };
    let refused = insert(&*s, &es_order(2, 1, Buy, "5", Some("100")), &[command])
        .await
        .expect("insert");
    assert_eq!(
        refused,
        Err(Refusal::BuyingPower {
            needed: cash("500"),
            available: cash("400"),
        })
    );
    // A refused order left nothing: no row, no command, no reservation.
    assert_eq!(
        s.order(UserId::from_u128(10), domain::OrderId::from_u128(2))
            .await
            .expect("get"),
        None
    );
    assert!(s.unpublished(10).await.expect("outbox").is_empty());
    assert_eq!(reserved(&*s, 1).await, (d("600"), d("0")));
    place(&*s, &es_order(3, 1, Buy, "4", Some("100")), &[]).await;
    assert_eq!(reserved(&*s, 1).await, (d("1000"), d("0")));

    // A market order reserves at the price its placement gives, for as long as it works.
    s.create_account(&account(2, 10)).await.expect("create");
    s.post(&entry("dep-2", 2, "1000")).await.expect("deposit");
    let market = es_order(4, 2, Buy, "8", None);
    let new = |order| NewOrder {
        order,
        reserve_price: Some("100".parse().expect("price")),
        outbox: &[],
        limits: OrderLimits::default(),
    };
    s.insert_order(&new(&market))
        .await
        .expect("insert")
        .expect("fits");
    assert_eq!(reserved(&*s, 2).await, (d("800"), d("0")));
    let second = es_order(5, 2, Buy, "3", None);
    assert!(matches!(
        s.insert_order(&new(&second)).await.expect("insert"),
        Err(Refusal::BuyingPower { .. })
    ));
    let mut accepted = market.clone();
    accepted.accept(Timestamp::from_secs(101)).expect("accept");
    s.commit(&CommitBatch {
        orders: vec![accepted.clone()],
        ..CommitBatch::default()
    })
    .await
    .expect("commit");
    assert_eq!(
        reserved(&*s, 2).await,
        (d("800"), d("0")),
        "the core's write of the order keeps its reserve price"
    );
    accepted
        .fill(
            "8".parse().expect("q"),
            "99".parse().expect("p"),
            Timestamp::from_secs(102),
        )
        .expect("fill");
    s.commit(&CommitBatch {
        orders: vec![accepted],
        ..CommitBatch::default()
    })
    .await
    .expect("commit");
    assert_eq!(reserved(&*s, 2).await, (d("0"), d("0")));

    // Sells offer only what is held and not already offered.
    s.create_account(&account(3, 10)).await.expect("create");
    assert_eq!(
        insert(&*s, &es_order(6, 3, Sell, "1", Some("100")), &[])
            .await
            .expect("insert"),
        Err(Refusal::Holdings {
            selling: d("1"),
            available: d("0"),
        })
    );
    hold_position(&*s, 3, "5").await;
    place(&*s, &es_order(7, 3, Sell, "3", Some("110")), &[]).await;
    assert_eq!(
        insert(&*s, &es_order(8, 3, Sell, "3", Some("110")), &[])
            .await
            .expect("insert"),
        Err(Refusal::Holdings {
            selling: d("3"),
            available: d("2"),
        })
    );
    place(&*s, &es_order(9, 3, Sell, "2", Some("110")), &[]).await;
    assert_eq!(reserved(&*s, 3).await, (d("0"), d("5")));

    // A position limit counts every working order on the order's side.
    s.create_account(&account(4, 10)).await.expect("create");
    s.post(&entry("dep-4", 4, "100000")).await.expect("deposit");
    hold_position(&*s, 4, "5").await;
    let limited = |order| NewOrder {
        order,
        reserve_price: None,
        outbox: &[],
        limits: OrderLimits {
            max_position: Some(d("12")),
        },
    };
    let (nine, thirteen) = (
        es_order(10, 4, Buy, "4", Some("100")),
        es_order(11, 4, Buy, "4", Some("100")),
    );
    s.insert_order(&limited(&nine))
        .await
        .expect("insert")
        .expect("9 of 12");
    assert_eq!(
        s.insert_order(&limited(&thirteen)).await.expect("insert"),
        Err(Refusal::Position {
            after: d("13"),
            limit: d("12"),
        })
    );
}

pub async fn racing_orders_never_reserve_more_than_the_account_has<F, Fut>(factory: F)
where
    F: Fn() -> Fut,
    Fut: Future<Output = Arc<dyn RecordStore>>,
{
    use domain::Side::{Buy, Sell};
    let s = factory().await;
    s.create_account(&account(1, 10)).await.expect("create");
    s.post(&entry("dep", 1, "1000")).await.expect("deposit");
    hold_position(&*s, 1, "5").await;
    // Twenty buys of all the cash and twenty sells of the whole position, all at once.
    let tasks: Vec<_> = (0..40u128)
        .map(|n| {
            let s = s.clone();
            tokio::spawn(async move {
                let order = if n % 2 == 0 {
                    es_order(100 + n, 1, Buy, "10", Some("100"))
                } else {
                    es_order(100 + n, 1, Sell, "5", Some("120"))
                };
                (order.side, insert(&*s, &order, &[]).await.expect("insert"))
            })
        })
        .collect();
    let (mut buys, mut sells) = (0, 0);
    for task in tasks {
        match task.await.expect("task") {
            (Buy, Ok(())) => buys += 1,
            (Sell, Ok(())) => sells += 1,
            (_, Err(_)) => {}
        }
    }
    assert_eq!((buys, sells), (1, 1), "one buy and one sell fit");
    assert_eq!(reserved(&*s, 1).await, (d("1000"), d("5")));
}

pub async fn amend_holds_last_until_the_core_applies_the_amend<F, Fut>(factory: F)
where
    F: Fn() -> Fut,
    Fut: Future<Output = Arc<dyn RecordStore>>,
{
    use crate::records::AmendHold;
    use domain::Side::Buy;
    let s = factory().await;
    s.create_account(&account(1, 10)).await.expect("create");
    s.post(&entry("dep", 1, "1000")).await.expect("deposit");
    let mut order = es_order(1, 1, Buy, "5", Some("100"));
    place(&*s, &order, &[]).await;
    order.accept(Timestamp::from_secs(101)).expect("accept");
    let command = |n: u128| OutboxEvent {
        event_id: EventId::from_u128(n),
        stream: "commands".into(),
        partition_key: "ES".into(),
        payload: format!("amend {n}").into_bytes(),
    };
    let (grow, too_much, late, foreign) = (command(1), command(2), command(3), command(4));
    let order_id = order.id;
    let hold = |command, quantity: &str| AmendHold {
        account_id: AccountId::from_u128(1),
        order_id,
        quantity: Some(quantity.parse().expect("quantity")),
        limit_price: None,
        stop_price: None,
        command,
        limits: OrderLimits::default(),
    };
    s.hold_amend(&hold(&grow, "9"))
        .await
        .expect("hold")
        .expect("900 of 1,000");
    assert_eq!(reserved(&*s, 1).await, (d("900"), d("0")));
    assert_eq!(
        s.hold_amend(&hold(&too_much, "11")).await.expect("hold"),
        Err(Refusal::BuyingPower {
            needed: cash("600"),
            available: cash("100"),
        }),
        "a pending amend's hold counts until the core applies it"
    );
    let pending: Vec<EventId> = s
        .unpublished(10)
        .await
        .expect("outbox")
        .into_iter()
        .map(|r| r.event.event_id)
        .collect();
    assert_eq!(
        pending,
        [EventId::from_u128(1)],
        "the refused amend sent nothing"
    );
    assert!(matches!(
        insert(&*s, &es_order(2, 1, Buy, "2", Some("100")), &[])
            .await
            .expect("insert"),
        Err(Refusal::BuyingPower { .. })
    ));
    // The core applies the amend: the order's own reservation replaces the hold.
    order
        .amend(
            Some("9".parse().expect("q")),
            None,
            None,
            Timestamp::from_secs(102),
        )
        .expect("amend");
    let batch = CommitBatch {
        orders: vec![order.clone()],
        applied_commands: vec![grow.event_id],
        ..CommitBatch::default()
    };
    s.commit(&batch).await.expect("commit");
    assert_eq!(reserved(&*s, 1).await, (d("900"), d("0")));
    s.commit(&batch).await.expect("the same commit again");
    assert_eq!(
        reserved(&*s, 1).await,
        (d("900"), d("0")),
        "a hold ends once"
    );
    // Amends of orders that no longer work are refused.
    order
        .cancel("requested", Timestamp::from_secs(103))
        .expect("cancel");
    s.commit(&CommitBatch {
        orders: vec![order.clone()],
        ..CommitBatch::default()
    })
    .await
    .expect("commit");
    assert_eq!(reserved(&*s, 1).await, (d("0"), d("0")));
    let e = s
        .hold_amend(&hold(&late, "10"))
        .await
        .expect_err("cancelled");
    assert_eq!(e.kind(), ErrorKind::ConditionFailed);
    let e = s
        .hold_amend(&AmendHold {
            account_id: AccountId::from_u128(2),
            ..hold(&foreign, "10")
        })
        .await
        .expect_err("another account's order");
    assert_eq!(e.kind(), ErrorKind::NotFound);
}

pub async fn withdrawals_keep_what_working_buys_reserve<F, Fut>(factory: F)
where
    F: Fn() -> Fut,
    Fut: Future<Output = Arc<dyn RecordStore>>,
{
    let s = factory().await;
    s.create_account(&account(1, 10)).await.expect("create");
    s.post(&entry("dep", 1, "1000")).await.expect("deposit");
    place(
        &*s,
        &es_order(1, 1, domain::Side::Buy, "6", Some("100")),
        &[],
    )
    .await;
    let e = s
        .withdraw(&entry("w-1", 1, "-500"))
        .await
        .expect_err("600 of the 1,000 is reserved");
    assert_eq!(e.kind(), ErrorKind::ConditionFailed);
    let posted = s
        .withdraw(&entry("w-2", 1, "-400"))
        .await
        .expect("withdraw");
    assert_eq!(posted.balance_after, cash("600"));
    assert_eq!(
        s.withdraw(&entry("w-2", 1, "-400")).await.expect("replay"),
        posted,
        "idempotent by entry id, as any posting"
    );
    // Racing withdrawals of all that is free: one is paid.
    let tasks: Vec<_> = (0..10)
        .map(|n| {
            let s = s.clone();
            tokio::spawn(async move { s.withdraw(&entry(&format!("race-{n}"), 1, "-600")).await })
        })
        .collect();
    let mut paid = 0;
    for task in tasks {
        if task.await.expect("task").is_ok() {
            paid += 1;
        }
    }
    assert_eq!(paid, 0, "the 600 left is all reserved");
}
