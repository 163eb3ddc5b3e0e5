//! `OrderRecords::withdraw_order`: an order that no venue has seen (still `new`, nothing
//! filled) is removed with everything it reserved, and nothing else ever is.

use super::*;

use crate::records::AmendHold;
use domain::Side::Buy;
use domain::{ClientOrderId, OrderId};

/// `order` with a client order id.
fn with_client(mut order: domain::Order, client: &str) -> domain::Order {
    order.client_order_id = Some(ClientOrderId::parse(client).expect("client id"));
    order
}

/// Every order of account `account`, newest first.
async fn listed(s: &dyn RecordStore, account: u128) -> Vec<OrderId> {
    s.orders(
        AccountId::from_u128(account),
        &crate::records::OrderQuery {
            status: None,
            symbol: None,
            after: None,
            limit: 100,
        },
    )
    .await
    .expect("orders")
    .orders
    .into_iter()
    .map(|o| o.id)
    .collect()
}

async fn withdraw(s: &dyn RecordStore, account: u128, order: u128) -> bool {
    s.withdraw_order(AccountId::from_u128(account), OrderId::from_u128(order))
        .await
        .expect("withdraw")
}

pub async fn an_order_never_sent_is_withdrawn_with_all_it_reserved<F, Fut>(factory: F)
where
    F: Fn() -> Fut,
    Fut: Future<Output = Arc<dyn RecordStore>>,
{
    let s = factory().await;
    let (user, client) = (
        UserId::from_u128(10),
        ClientOrderId::parse("bot-1").expect("client id"),
    );
    s.create_account(&account(1, 10)).await.expect("create");
    s.post(&entry("dep", 1, "1000")).await.expect("deposit");
    let before = s.exposure(AccountId::from_u128(1)).await.expect("exposure");
    // A limit buy of 600 of the 1,000 beside a working one of 300.
    place(&*s, &es_order(1, 1, Buy, "3", Some("100")), &[]).await;
    let first = with_client(es_order(2, 1, Buy, "6", Some("100")), "bot-1");
    place(&*s, &first, &[]).await;
    assert_eq!(reserved(&*s, 1).await, (d("900"), d("0")));

    assert!(withdraw(&*s, 1, 2).await, "a new order is withdrawn");
    assert_eq!(s.order(user, first.id).await.expect("get"), None);
    assert_eq!(
        s.order_by_client_id(AccountId::from_u128(1), &client)
            .await
            .expect("get"),
        None
    );
    assert_eq!(listed(&*s, 1).await, [OrderId::from_u128(1)]);
    assert_eq!(
        reserved(&*s, 1).await,
        (d("300"), d("0")),
        "exactly what its insert reserved is given back"
    );
    assert!(!withdraw(&*s, 1, 2).await, "once");
    // The buying power is whole again, and the client order id is free.
    let again = with_client(es_order(3, 1, Buy, "7", Some("100")), "bot-1");
    place(&*s, &again, &[]).await;
    assert_eq!(
        s.order_by_client_id(AccountId::from_u128(1), &client)
            .await
            .expect("get"),
        Some(again)
    );
    assert_eq!(reserved(&*s, 1).await, (d("1000"), d("0")));
    assert!(withdraw(&*s, 1, 3).await);
    assert!(withdraw(&*s, 1, 1).await);
    assert_eq!(
        s.exposure(AccountId::from_u128(1)).await.expect("exposure"),
        before
    );

    // A market order reserved at the price its placement gave, and an amend's hold on
    // it: both are given back, and the amend's commit finds nothing left to release.
    s.create_account(&account(2, 10)).await.expect("create");
    s.post(&entry("dep-2", 2, "1000")).await.expect("deposit");
    let market = es_order(4, 2, Buy, "5", None);
    s.insert_order(&NewOrder {
        order: &market,
        reserve_price: Some("100".parse().expect("price")),
        outbox: &[],
        limits: OrderLimits::default(),
    })
    .await
    .expect("insert")
    .expect("500 of 1,000");
    let command = OutboxEvent {
        event_id: EventId::from_u128(41),
        stream: "commands".into(),
        partition_key: "ES".into(),
        payload: b"amend 4".to_vec(),
    };
    s.hold_amend(&AmendHold {
        account_id: AccountId::from_u128(2),
        order_id: market.id,
        quantity: Some("8".parse().expect("quantity")),
        limit_price: None,
        stop_price: None,
        command: &command,
        limits: OrderLimits::default(),
    })
    .await
    .expect("hold")
    .expect("800 of 1,000");
    assert_eq!(reserved(&*s, 2).await, (d("800"), d("0")));
    assert!(withdraw(&*s, 2, 4).await);
    assert_eq!(reserved(&*s, 2).await, (d("0"), d("0")));
    s.commit(&CommitBatch {
        applied_commands: vec![command.event_id],
        ..CommitBatch::default()
    })
    .await
    .expect("commit");
    assert!(
        s.exposure(AccountId::from_u128(2))
            .await
            .expect("exposure")
            .is_empty(),
        "a hold is given back once"
    );
    place(&*s, &es_order(5, 2, Buy, "10", Some("100")), &[]).await;
}

pub async fn an_order_the_core_has_taken_is_not_withdrawn<F, Fut>(factory: F)
where
    F: Fn() -> Fut,
    Fut: Future<Output = Arc<dyn RecordStore>>,
{
    let s = factory().await;
    let user = UserId::from_u128(10);
    s.create_account(&account(1, 10)).await.expect("create");
    s.post(&entry("dep", 1, "1000")).await.expect("deposit");
    let mut accepted = with_client(es_order(1, 1, Buy, "4", Some("100")), "bot-1");
    place(&*s, &accepted, &[]).await;
    let mut rejected = es_order(2, 1, Buy, "2", Some("100"));
    place(&*s, &rejected, &[]).await;
    let now = Timestamp::from_secs(101);
    accepted.accept(now).expect("accept");
    rejected.reject("no liquidity", now).expect("reject");
    s.commit(&CommitBatch {
        orders: vec![accepted.clone(), rejected.clone()],
        ..CommitBatch::default()
    })
    .await
    .expect("commit");
    let exposure = s.exposure(AccountId::from_u128(1)).await.expect("exposure");

    assert!(!withdraw(&*s, 1, 1).await, "the broker answered: it stays");
    assert!(!withdraw(&*s, 1, 2).await, "an order that ended stays");
    assert_eq!(
        s.order(user, accepted.id).await.expect("get"),
        Some(accepted.clone())
    );
    assert_eq!(
        s.order(user, rejected.id).await.expect("get"),
        Some(rejected)
    );
    assert_eq!(
        s.order_by_client_id(
            AccountId::from_u128(1),
            &ClientOrderId::parse("bot-1").expect("client id")
        )
        .await
        .expect("get"),
        Some(accepted.clone())
    );
    assert_eq!(
        s.exposure(AccountId::from_u128(1)).await.expect("exposure"),
        exposure
    );
    assert_eq!(reserved(&*s, 1).await, (d("400"), d("0")));
    // Part filled, it stays too.
    accepted
        .fill(
            "1".parse().expect("q"),
            "100".parse().expect("p"),
            Timestamp::from_secs(102),
        )
        .expect("fill");
    s.commit(&CommitBatch {
        orders: vec![accepted.clone()],
        ..CommitBatch::default()
    })
    .await
    .expect("commit");
    assert!(!withdraw(&*s, 1, 1).await);
    assert_eq!(reserved(&*s, 1).await, (d("300"), d("0")));
}

pub async fn only_the_accounts_own_orders_are_withdrawn<F, Fut>(factory: F)
where
    F: Fn() -> Fut,
    Fut: Future<Output = Arc<dyn RecordStore>>,
{
    let s = factory().await;
    s.create_account(&account(1, 10)).await.expect("create");
    s.post(&entry("dep", 1, "1000")).await.expect("deposit");
    s.create_account(&account(2, 20)).await.expect("create");
    s.post(&entry("dep-2", 2, "1000")).await.expect("deposit");
    let mine = es_order(1, 1, Buy, "5", Some("100"));
    place(&*s, &mine, &[]).await;

    assert!(!withdraw(&*s, 1, 99).await, "an unknown order");
    assert!(!withdraw(&*s, 2, 1).await, "another account's order");
    assert!(!withdraw(&*s, 3, 1).await, "an unknown account");
    assert_eq!(
        s.order(UserId::from_u128(10), mine.id).await.expect("get"),
        Some(mine)
    );
    assert_eq!(reserved(&*s, 1).await, (d("500"), d("0")));
    assert!(
        s.exposure(AccountId::from_u128(2))
            .await
            .expect("exposure")
            .is_empty()
    );
}

pub async fn withdrawals_racing_inserts_never_let_both_stand_nor_leak<F, Fut>(factory: F)
where
    F: Fn() -> Fut,
    Fut: Future<Output = Arc<dyn RecordStore>>,
{
    let s = factory().await;
    s.create_account(&account(1, 10)).await.expect("create");
    // Cash for exactly one order of 10 × 100.
    s.post(&entry("dep", 1, "1000")).await.expect("deposit");
    let mut took_its_place = 0;
    for round in 0..30u128 {
        let (a, b) = (2 * round + 1, 2 * round + 2);
        place(&*s, &es_order(a, 1, Buy, "10", Some("100")), &[]).await;
        let withdrawal = {
            let s = s.clone();
            async move { withdraw(&*s, 1, a).await }
        };
        let insert_b = {
            let s = s.clone();
            async move {
                insert(&*s, &es_order(b, 1, Buy, "10", Some("100")), &[])
                    .await
                    .expect("insert")
            }
        };
        // Started in turn one first, then the other, so that either may win.
        let (withdrawn, inserted) = if round % 2 == 0 {
            let withdrawal = tokio::spawn(withdrawal);
            let insert_b = tokio::spawn(insert_b);
            tokio::join!(withdrawal, insert_b)
        } else {
            let insert_b = tokio::spawn(insert_b);
            let withdrawal = tokio::spawn(withdrawal);
            tokio::join!(withdrawal, insert_b)
        };
        assert!(
            withdrawn.expect("task"),
            "nothing else touched A: it is withdrawn"
        );
        let standing = listed(&*s, 1).await;
        match inserted.expect("task") {
            Ok(()) => {
                took_its_place += 1;
                assert_eq!(standing, [OrderId::from_u128(b)], "round {round}");
                assert_eq!(reserved(&*s, 1).await, (d("1000"), d("0")));
                assert!(withdraw(&*s, 1, b).await);
            }
            Err(refusal) => {
                assert!(
                    matches!(refusal, Refusal::BuyingPower { .. }),
                    "{refusal:?}"
                );
                assert!(standing.is_empty(), "round {round}: {standing:?}");
            }
        }
        assert_eq!(reserved(&*s, 1).await, (d("0"), d("0")), "round {round}");
    }
    assert!(
        s.exposure(AccountId::from_u128(1))
            .await
            .expect("exposure")
            .is_empty(),
        "every withdrawal gave back all it reserved ({took_its_place} of 30 inserts fit)"
    );
}
