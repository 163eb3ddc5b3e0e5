//! `OrderRecords`: orders unique per client id, pages, exposure, and reservations made in
//! the same transaction that records an order or an amend.

use super::*;

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

pub async fn a_deployments_fills_are_those_of_the_orders_it_placed<F, Fut>(factory: F)
where
    F: Fn() -> Fut,
    Fut: Future<Output = Arc<dyn RecordStore>>,
{
    let s = factory().await;
    s.create_account(&account(1, 10)).await.expect("create");
    fund(&*s, 1).await;
    let strategy = domain::StrategyId::from_u128(77);
    let other = domain::StrategyId::from_u128(78);
    let fill_of = |o: &domain::Order, trade: u64, secs: i64| domain::Fill {
        trade_id: domain::TradeId(trade),
        order_id: o.id,
        account_id: AccountId::from_u128(1),
        symbol: o.symbol,
        side: o.side,
        price: "100.25".parse().expect("price"),
        quantity: "5".parse().expect("qty"),
        fee: Money::new("0.5".parse().expect("fee")),
        liquidity: domain::Liquidity::Taker,
        time: Timestamp::from_secs(secs),
    };
    // One order placed by the deployment (inserted as a user order is, then committed
    // by the core), one by another deployment, one by the user.
    let mut mine = order(1, 1, "ES", None, 100);
    mine.strategy_id = Some(strategy);
    let mut theirs = order(2, 1, "ES", None, 101);
    theirs.strategy_id = Some(other);
    let users = order(3, 1, "ES", None, 102);
    place(&*s, &users, &[]).await;
    // Strategy orders first reach the records through the core's commit.
    let (late, early) = (fill_of(&mine, 9, 300), fill_of(&mine, 4, 200));
    s.commit(&CommitBatch {
        orders: vec![mine.clone(), theirs.clone()],
        fills: vec![
            late.clone(),
            early.clone(),
            fill_of(&theirs, 5, 250),
            fill_of(&users, 6, 260),
        ],
        ..CommitBatch::default()
    })
    .await
    .expect("commit");
    assert_eq!(
        s.deployment_fills(strategy).await.expect("fills"),
        vec![early, late],
        "its own fills, oldest first"
    );
    assert_eq!(s.deployment_fills(other).await.expect("fills").len(), 1);
    assert!(
        s.deployment_fills(domain::StrategyId::from_u128(79))
            .await
            .expect("fills")
            .is_empty()
    );
    let stored = s
        .order(UserId::from_u128(10), mine.id)
        .await
        .expect("get")
        .expect("order");
    assert_eq!(
        stored.strategy_id,
        Some(strategy),
        "the order keeps its deployment"
    );
    let stored = s
        .order(UserId::from_u128(10), users.id)
        .await
        .expect("get")
        .expect("order");
    assert_eq!(stored.strategy_id, None);
}
