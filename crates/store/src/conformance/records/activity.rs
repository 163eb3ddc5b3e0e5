//! `PlatformActivity`: counts across every user for the operations dashboard.

use super::*;
use crate::records::{AccountActivity, MinuteActivity};

pub async fn activity_counts_orders_and_fills_per_minute_and_account<F, Fut>(factory: F)
where
    F: Fn() -> Fut,
    Fut: Future<Output = Arc<dyn RecordStore>>,
{
    let s = factory().await;
    assert_eq!(s.account_count().await.expect("count"), 0);
    s.create_account(&account(1, 10)).await.expect("create");
    fund(&*s, 1).await;
    s.create_account(&account(2, 20)).await.expect("create");
    fund(&*s, 2).await;
    s.create_account(&account(3, 20)).await.expect("create");
    assert_eq!(s.account_count().await.expect("count"), 3);
    // Orders at 60 s (minute 1), 61 s and 130 s (minute 2); fills at 125 s and 179 s.
    let first = order(1, 1, "ES", None, 60);
    let second = order(2, 1, "ES", None, 61);
    let third = order(3, 2, "ES", None, 130);
    for o in [&first, &second, &third] {
        place(&*s, o, &[]).await;
    }
    let fill = |o: &domain::Order, trade: u64, secs: i64| domain::Fill {
        trade_id: domain::TradeId(trade),
        order_id: o.id,
        account_id: o.account_id,
        symbol: o.symbol,
        side: o.side,
        price: "100.25".parse().expect("price"),
        quantity: "1".parse().expect("qty"),
        fee: Money::ZERO,
        liquidity: domain::Liquidity::Taker,
        time: Timestamp::from_secs(secs),
    };
    s.commit(&CommitBatch {
        fills: vec![fill(&first, 1, 125), fill(&third, 2, 179)],
        ..CommitBatch::default()
    })
    .await
    .expect("commit");
    let minute = |secs: i64, orders: u64, fills: u64| MinuteActivity {
        minute: Timestamp::from_secs(secs),
        orders,
        fills,
    };
    assert_eq!(
        s.activity(Timestamp::from_secs(0)).await.expect("activity"),
        [minute(60, 2, 0), minute(120, 1, 2)]
    );
    assert_eq!(
        s.activity(Timestamp::from_secs(61))
            .await
            .expect("activity"),
        [minute(60, 1, 0), minute(120, 1, 2)],
        "from `since` on"
    );
    assert!(
        s.activity(Timestamp::from_secs(180))
            .await
            .expect("activity")
            .is_empty()
    );
    let (a1, a2, a3) = (
        AccountId::from_u128(1),
        AccountId::from_u128(2),
        AccountId::from_u128(3),
    );
    let row = |account_id, orders, fills| AccountActivity {
        account_id,
        orders,
        fills,
    };
    assert_eq!(
        s.account_activity(&[a3, a1, a2])
            .await
            .expect("per account"),
        [row(a3, 0, 0), row(a1, 2, 1), row(a2, 1, 1)]
    );
    assert!(s.account_activity(&[]).await.expect("none").is_empty());
}
