//! `AccountLedger`: accounts scoped to their user, idempotent postings that never overdraw.

use super::*;

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
