//! `CoreCommit`: a batch is all or nothing, idempotent, and carries orders, fills and
//! positions together; applied commands are remembered.

use super::*;

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
