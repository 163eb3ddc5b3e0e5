//! The [`KvTable`] contract.

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

use serde_json::json;

use crate::error::ErrorKind;
use crate::kv::{Clock, Condition, KvTable, KvWrite};

/// A clock the test moves by hand.
fn manual_clock(start: i64) -> (Clock, Arc<AtomicI64>) {
    let now = Arc::new(AtomicI64::new(start));
    let reader = now.clone();
    (
        Clock::from_fn(move || domain::Timestamp::from_secs(reader.load(Ordering::SeqCst))),
        now,
    )
}

async fn table<F, Fut>(factory: F) -> Arc<dyn KvTable>
where
    F: Fn(Clock) -> Fut,
    Fut: Future<Output = Arc<dyn KvTable>>,
{
    factory(Clock::system()).await
}

pub async fn put_get_and_versions<F, Fut>(factory: F)
where
    F: Fn(Clock) -> Fut,
    Fut: Future<Output = Arc<dyn KvTable>>,
{
    let t = table(factory).await;
    assert_eq!(t.get("user#1", "profile").await.expect("get"), None);
    let first = t
        .put(
            "user#1",
            "profile",
            json!({"name": "Ada"}),
            None,
            Condition::Always,
        )
        .await
        .expect("put");
    assert_eq!(first.version, 1);
    let second = t
        .put(
            "user#1",
            "profile",
            json!({"name": "Ada L."}),
            None,
            Condition::Always,
        )
        .await
        .expect("put");
    assert_eq!(second.version, 2);
    let got = t
        .get("user#1", "profile")
        .await
        .expect("get")
        .expect("present");
    assert_eq!(got.body, json!({"name": "Ada L."}));
    assert_eq!(got.version, 2);
    assert_eq!(got.expires_at, None);
    // Keys are exact: neighbours are other items.
    assert_eq!(t.get("user#1", "profil").await.expect("get"), None);
    assert_eq!(t.get("user#10", "profile").await.expect("get"), None);
    let unicode = t
        .put("ü/%_", "ß ", json!("x"), None, Condition::IfAbsent)
        .await
        .expect("put");
    assert_eq!(t.get("ü/%_", "ß ").await.expect("get"), Some(unicode));
}

pub async fn conditional_create_race_has_exactly_one_winner<F, Fut>(factory: F)
where
    F: Fn(Clock) -> Fut,
    Fut: Future<Output = Arc<dyn KvTable>>,
{
    let t = table(factory).await;
    for round in 0..20 {
        let key = format!("email#racer{round}@example.com");
        let (a, b) = (t.clone(), t.clone());
        let (ka, kb) = (key.clone(), key.clone());
        let first = tokio::spawn(async move {
            a.put(&ka, "user", json!({"by": "a"}), None, Condition::IfAbsent)
                .await
        });
        let second = tokio::spawn(async move {
            b.put(&kb, "user", json!({"by": "b"}), None, Condition::IfAbsent)
                .await
        });
        let results = [first.await.expect("task"), second.await.expect("task")];
        let wins = results.iter().filter(|r| r.is_ok()).count();
        assert_eq!(
            wins, 1,
            "round {round}: exactly one creator wins: {results:?}"
        );
        let loser = results
            .iter()
            .find_map(|r| r.as_ref().err())
            .expect("a loser");
        assert_eq!(loser.kind(), ErrorKind::ConditionFailed);
        let stored = t.get(&key, "user").await.expect("get").expect("present");
        let winner = results
            .iter()
            .find_map(|r| r.as_ref().ok())
            .expect("a winner");
        assert_eq!(stored.body, winner.body, "the stored item is the winner's");
    }
}

pub async fn optimistic_update_race_has_exactly_one_winner<F, Fut>(factory: F)
where
    F: Fn(Clock) -> Fut,
    Fut: Future<Output = Arc<dyn KvTable>>,
{
    let t = table(factory).await;
    t.put(
        "lock#ACCT",
        "attempts",
        json!({"failures": 0}),
        None,
        Condition::Always,
    )
    .await
    .expect("put");
    for round in 0..20 {
        let read = t
            .get("lock#ACCT", "attempts")
            .await
            .expect("get")
            .expect("present");
        let mut tasks = Vec::new();
        for writer in 0..2 {
            let t = t.clone();
            let version = read.version;
            tasks.push(tokio::spawn(async move {
                t.put(
                    "lock#ACCT",
                    "attempts",
                    json!({"failures": round + 1, "writer": writer}),
                    None,
                    Condition::IfVersion(version),
                )
                .await
            }));
        }
        let mut wins = 0;
        for task in tasks {
            match task.await.expect("task") {
                Ok(item) => {
                    wins += 1;
                    assert_eq!(item.version, read.version + 1);
                }
                Err(e) => assert_eq!(e.kind(), ErrorKind::ConditionFailed),
            }
        }
        assert_eq!(wins, 1, "round {round}");
    }
    let last = t
        .get("lock#ACCT", "attempts")
        .await
        .expect("get")
        .expect("present");
    assert_eq!(last.version, 21);
    assert_eq!(last.body["failures"], json!(20));
}

pub async fn idempotent_replay_returns_the_original<F, Fut>(factory: F)
where
    F: Fn(Clock) -> Fut,
    Fut: Future<Output = Arc<dyn KvTable>>,
{
    let t = table(factory).await;
    let original = json!({"request_hash": "abc", "response": {"order_id": "o-1"}});
    t.put(
        "idem#acct-1",
        "client-order-7",
        original.clone(),
        Some(4_000_000_000),
        Condition::IfAbsent,
    )
    .await
    .expect("first");
    // The retry of the same request: the write is refused and the original is returned.
    let replay = t
        .put(
            "idem#acct-1",
            "client-order-7",
            json!({"request_hash": "abc", "response": {"order_id": "o-2"}}),
            None,
            Condition::IfAbsent,
        )
        .await
        .expect_err("second write must not replace the first");
    assert_eq!(replay.kind(), ErrorKind::ConditionFailed);
    let stored = t
        .get("idem#acct-1", "client-order-7")
        .await
        .expect("get")
        .expect("present");
    assert_eq!(stored.body, original);
    assert_eq!(stored.version, 1);
    assert_eq!(stored.expires_at, Some(4_000_000_000));
    // Another account's key with the same client id is independent.
    t.put(
        "idem#acct-2",
        "client-order-7",
        json!({}),
        None,
        Condition::IfAbsent,
    )
    .await
    .expect("other account");
}

pub async fn ttl_attribute_is_written_and_expired_items_are_gone<F, Fut>(factory: F)
where
    F: Fn(Clock) -> Fut,
    Fut: Future<Output = Arc<dyn KvTable>>,
{
    let (clock, now) = manual_clock(1_700_000_000);
    let t = factory(clock).await;
    t.put(
        "refresh#h1",
        "token",
        json!({"family": "f1"}),
        Some(1_700_000_600),
        Condition::IfAbsent,
    )
    .await
    .expect("put");
    let item = t
        .get("refresh#h1", "token")
        .await
        .expect("get")
        .expect("present before expiry");
    assert_eq!(
        item.expires_at,
        Some(1_700_000_600),
        "TTL attribute written"
    );
    assert_eq!(t.query("refresh#h1", "", 10).await.expect("query").len(), 1);
    now.store(1_700_000_600, Ordering::SeqCst);
    assert_eq!(
        t.get("refresh#h1", "token").await.expect("get"),
        None,
        "gone at expiry"
    );
    assert!(
        t.query("refresh#h1", "", 10)
            .await
            .expect("query")
            .is_empty()
    );
    let replaced = t
        .put(
            "refresh#h1",
            "token",
            json!({"family": "f2"}),
            None,
            Condition::IfAbsent,
        )
        .await
        .expect("an expired item is absent");
    assert_eq!(replaced.version, 1, "a new item after expiry starts over");
    let e = t
        .put("refresh#h2", "token", json!({}), None, Condition::IfExists)
        .await
        .expect_err("absent");
    assert_eq!(e.kind(), ErrorKind::ConditionFailed);
}

pub async fn conditional_delete<F, Fut>(factory: F)
where
    F: Fn(Clock) -> Fut,
    Fut: Future<Output = Arc<dyn KvTable>>,
{
    let t = table(factory).await;
    let item = t
        .put(
            "lease#shard-1",
            "owner",
            json!({"owner": "core-a"}),
            None,
            Condition::Always,
        )
        .await
        .expect("put");
    let e = t
        .delete(
            "lease#shard-1",
            "owner",
            Condition::IfVersion(item.version + 1),
        )
        .await
        .expect_err("stale version");
    assert_eq!(e.kind(), ErrorKind::ConditionFailed);
    assert!(
        t.get("lease#shard-1", "owner")
            .await
            .expect("get")
            .is_some(),
        "a refused delete deletes nothing"
    );
    t.delete("lease#shard-1", "owner", Condition::IfVersion(item.version))
        .await
        .expect("delete");
    assert_eq!(t.get("lease#shard-1", "owner").await.expect("get"), None);
    t.delete("lease#shard-1", "owner", Condition::Always)
        .await
        .expect("deleting nothing is fine");
    let e = t
        .delete("lease#shard-1", "owner", Condition::IfExists)
        .await
        .expect_err("absent");
    assert_eq!(e.kind(), ErrorKind::ConditionFailed);
}

pub async fn query_by_prefix_in_order<F, Fut>(factory: F)
where
    F: Fn(Clock) -> Fut,
    Fut: Future<Output = Arc<dyn KvTable>>,
{
    let t = table(factory).await;
    for sk in [
        "key#3", "key#1", "key#2", "key%x", "key_y", "other#1", "key#10",
    ] {
        t.put("user#9", sk, json!(sk), None, Condition::Always)
            .await
            .expect("put");
    }
    t.put(
        "user#90",
        "key#1",
        json!("elsewhere"),
        None,
        Condition::Always,
    )
    .await
    .expect("put");
    let keys = |items: Vec<crate::kv::KvItem>| items.into_iter().map(|i| i.sk).collect::<Vec<_>>();
    assert_eq!(
        keys(t.query("user#9", "key#", 100).await.expect("query")),
        ["key#1", "key#10", "key#2", "key#3"]
    );
    assert_eq!(
        keys(t.query("user#9", "key#", 2).await.expect("query")),
        ["key#1", "key#10"]
    );
    assert_eq!(
        keys(t.query("user#9", "key%", 100).await.expect("query")),
        ["key%x"],
        "% is not a wildcard"
    );
    assert_eq!(
        keys(t.query("user#9", "key_", 100).await.expect("query")),
        ["key_y"],
        "_ is not a wildcard"
    );
    assert_eq!(t.query("user#9", "", 100).await.expect("query").len(), 7);
    assert!(t.query("nobody", "", 100).await.expect("query").is_empty());
}

pub async fn transactions_are_all_or_nothing<F, Fut>(factory: F)
where
    F: Fn(Clock) -> Fut,
    Fut: Future<Output = Arc<dyn KvTable>>,
{
    let t = table(factory).await;
    let family = t
        .put(
            "family#f1",
            "state",
            json!({"revoked": false}),
            None,
            Condition::Always,
        )
        .await
        .expect("put");
    // Rotate a refresh token: the old one is consumed and the new one created together,
    // guarded by the family's version. One failing condition → nothing happens.
    let rotate = |old_condition| {
        vec![
            KvWrite::Put {
                pk: "refresh#old".into(),
                sk: "token".into(),
                body: json!({"used": true}),
                expires_at: None,
                condition: old_condition,
            },
            KvWrite::Put {
                pk: "refresh#new".into(),
                sk: "token".into(),
                body: json!({"used": false}),
                expires_at: Some(4_000_000_000),
                condition: Condition::IfAbsent,
            },
            KvWrite::Check {
                pk: "family#f1".into(),
                sk: "state".into(),
                condition: Condition::IfVersion(family.version),
            },
        ]
    };
    let e = t
        .transact(rotate(Condition::IfExists))
        .await
        .expect_err("old token absent");
    assert_eq!(e.kind(), ErrorKind::ConditionFailed);
    assert_eq!(
        t.get("refresh#new", "token").await.expect("get"),
        None,
        "no partial write"
    );

    t.put(
        "refresh#old",
        "token",
        json!({"used": false}),
        None,
        Condition::Always,
    )
    .await
    .expect("put");
    t.transact(rotate(Condition::IfExists))
        .await
        .expect("rotation");
    assert_eq!(
        t.get("refresh#old", "token")
            .await
            .expect("get")
            .expect("old")
            .body,
        json!({"used": true})
    );
    let new = t
        .get("refresh#new", "token")
        .await
        .expect("get")
        .expect("new");
    assert_eq!(new.expires_at, Some(4_000_000_000));

    // The same rotation again: the new token exists now, so the whole transaction fails
    // and the old one is left as it was.
    let before = t.get("refresh#old", "token").await.expect("get");
    assert!(t.transact(rotate(Condition::IfExists)).await.is_err());
    assert_eq!(t.get("refresh#old", "token").await.expect("get"), before);

    t.transact(vec![
        KvWrite::Delete {
            pk: "refresh#old".into(),
            sk: "token".into(),
            condition: Condition::IfExists,
        },
        KvWrite::Put {
            pk: "family#f1".into(),
            sk: "state".into(),
            body: json!({"revoked": true}),
            expires_at: None,
            condition: Condition::IfVersion(family.version),
        },
    ])
    .await
    .expect("revoke");
    assert_eq!(t.get("refresh#old", "token").await.expect("get"), None);
    assert_eq!(
        t.get("family#f1", "state")
            .await
            .expect("get")
            .expect("family")
            .version,
        family.version + 1
    );
}

pub async fn malformed_transactions_are_refused<F, Fut>(factory: F)
where
    F: Fn(Clock) -> Fut,
    Fut: Future<Output = Arc<dyn KvTable>>,
{
    let t = table(factory).await;
    let put = |pk: String| KvWrite::Put {
        pk,
        sk: "s".into(),
        body: json!(1),
        expires_at: None,
        condition: Condition::Always,
    };
    let e = t.transact(vec![]).await.expect_err("empty");
    assert_eq!(e.kind(), ErrorKind::Invalid);
    let e = t
        .transact((0..26).map(|i| put(format!("k{i}"))).collect())
        .await
        .expect_err("too many");
    assert_eq!(e.kind(), ErrorKind::Invalid);
    let e = t
        .transact(vec![put("same".into()), put("same".into())])
        .await
        .expect_err("duplicate key");
    assert_eq!(e.kind(), ErrorKind::Invalid);
    assert_eq!(t.get("k0", "s").await.expect("get"), None);
    t.transact((0..25).map(|i| put(format!("k{i}"))).collect())
        .await
        .expect("25 writes");
    assert!(t.get("k24", "s").await.expect("get").is_some());
}
