//! The [`RecordStore`] contract.

use std::future::Future;
use std::sync::Arc;

use domain::{AccountId, Currency, EventId, Money, Timestamp, UserId};

use crate::error::ErrorKind;
use crate::records::{
    Account, AccountKind, Checkpoint, CommitBatch, LedgerEntry, OutboxEvent, RecordStore, Snapshot,
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

    s.commit(&batch("-10")).await.expect("commit");
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
