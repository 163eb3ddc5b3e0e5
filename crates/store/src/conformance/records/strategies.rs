//! `StrategyRecords`: deployments are saved, replaced, listed per account, and only their
//! owner finds one by id.

use super::*;
use domain::{StrategyRecord, StrategyStatus};

pub async fn deployments_are_kept_and_scoped_to_their_user<F, Fut>(factory: F)
where
    F: Fn() -> Fut,
    Fut: Future<Output = Arc<dyn RecordStore>>,
{
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
        reason: None,
    };
    s.save_strategy(&deployment).await.expect("save");
    deployment.status = StrategyStatus::Paused;
    s.save_strategy(&deployment).await.expect("pause");
    // The core stops a deployment with why (its reason is kept with it).
    let mut stopped = StrategyRecord {
        id: domain::StrategyId::from_u128(7),
        created_at: Timestamp::from_secs(20),
        ..deployment.clone()
    };
    s.save_strategy(&stopped).await.expect("save");
    stopped.status = StrategyStatus::Stopped;
    stopped.reason = Some("the module trapped: unreachable".into());
    s.save_strategy(&stopped).await.expect("stop");
    assert_eq!(
        s.strategy(UserId::from_u128(10), stopped.id)
            .await
            .expect("get"),
        Some(stopped.clone())
    );
    let other = StrategyRecord {
        id: domain::StrategyId::from_u128(6),
        account_id: AccountId::from_u128(2),
        created_at: Timestamp::from_secs(5),
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
        vec![deployment.clone(), stopped.clone()]
    );
    assert_eq!(
        s.strategies(None).await.expect("all"),
        vec![other, deployment, stopped],
        "every account's, oldest first"
    );
}
