//! The typed stores written over [`KvTable`] (auth, idempotency, leases), run against
//! every key-value adapter as part of `kv_conformance!`.

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

use domain::UserId;

use crate::error::ErrorKind;
use crate::kv::{Clock, KvTable};
use crate::leases::{LeaseOutcome, Leases};
use crate::users::{
    ApiKeyRecord, Attempt, LoginGuard, RefreshTokens, Role, Rotation, UserRecord, UserStore,
};

fn user(n: u128, email: &str) -> UserRecord {
    UserRecord {
        id: UserId::from_u128(n),
        email: email.to_owned(),
        password_hash: "$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA".into(),
        role: Role::Trader,
        created_at: 1_700_000_000,
    }
}

pub async fn users_have_unique_emails_even_when_registering_at_once<F, Fut>(factory: F)
where
    F: Fn(Clock) -> Fut,
    Fut: Future<Output = Arc<dyn KvTable>>,
{
    let users = UserStore::new(factory(Clock::system()).await);
    users
        .create(&user(1, "Ada@Example.com"))
        .await
        .expect("create");
    assert_eq!(
        users
            .by_email("ada@example.COM")
            .await
            .expect("get")
            .map(|u| u.id),
        Some(UserId::from_u128(1))
    );
    assert_eq!(
        users
            .by_id(UserId::from_u128(1))
            .await
            .expect("get")
            .expect("user")
            .email,
        "ada@example.com"
    );
    let e = users
        .create(&user(2, "ADA@example.com"))
        .await
        .expect_err("taken");
    assert_eq!(e.kind(), ErrorKind::ConditionFailed);
    let promoted = users
        .set_role(UserId::from_u128(1), Role::Admin)
        .await
        .expect("promote");
    assert_eq!(promoted.role, Role::Admin);
    assert_eq!(
        users
            .by_email("ada@example.com")
            .await
            .expect("get")
            .map(|u| u.role),
        Some(Role::Admin)
    );
    let e = users
        .set_role(UserId::from_u128(99), Role::Admin)
        .await
        .expect_err("unknown");
    assert_eq!(e.kind(), ErrorKind::NotFound);
    assert_eq!(
        users.by_id(UserId::from_u128(2)).await.expect("get"),
        None,
        "no half-created user"
    );
    for round in 0..10u128 {
        let (a, b) = (users.clone(), users.clone());
        let email = format!("race{round}@example.com");
        let (ea, eb) = (email.clone(), email.clone());
        let first = tokio::spawn(async move { a.create(&user(100 + 2 * round, &ea)).await });
        let second = tokio::spawn(async move { b.create(&user(101 + 2 * round, &eb)).await });
        let results = [first.await.expect("task"), second.await.expect("task")];
        assert_eq!(
            results.iter().filter(|r| r.is_ok()).count(),
            1,
            "round {round}: {results:?}"
        );
    }
    assert_eq!(
        users.by_email("nobody@example.com").await.expect("get"),
        None
    );
    // The directory: user 1 and one winner of each of the ten races, in id order, with
    // their current role; a refused registration is not listed.
    assert_eq!(users.count(1000).await.expect("count"), 11);
    assert_eq!(
        users.count(5).await.expect("count"),
        5,
        "counted up to the cap"
    );
    let all = users.list(0, 100).await.expect("list");
    assert_eq!(all.len(), 11);
    assert_eq!(all[0].id, UserId::from_u128(1));
    assert_eq!(all[0].role, Role::Admin);
    let ids: Vec<UserId> = all.iter().map(|u| u.id).collect();
    let mut sorted = ids.clone();
    sorted.sort_by_key(|id| id.to_string());
    assert_eq!(ids, sorted);
    let page = users.list(3, 4).await.expect("page");
    assert_eq!(page, all[3..7].to_vec());
    assert!(users.list(11, 5).await.expect("past the end").is_empty());
    // Listing a listed user again changes nothing.
    users
        .ensure_listed(UserId::from_u128(1))
        .await
        .expect("listed");
    assert_eq!(users.count(1000).await.expect("count"), 11);
}

pub async fn api_keys_are_listed_found_and_revoked<F, Fut>(factory: F)
where
    F: Fn(Clock) -> Fut,
    Fut: Future<Output = Arc<dyn KvTable>>,
{
    let users = UserStore::new(factory(Clock::system()).await);
    let owner = UserId::from_u128(7);
    let key = |id: &str| ApiKeyRecord {
        key_id: id.into(),
        user_id: owner,
        name: format!("bot {id}"),
        prefix: "sk_live_ab".into(),
        created_at: 1,
        revoked: false,
    };
    users.add_api_key("hash-a", &key("a")).await.expect("add");
    users.add_api_key("hash-b", &key("b")).await.expect("add");
    assert_eq!(
        users.find_api_key("hash-a").await.expect("find"),
        Some((owner, "a".into()))
    );
    assert_eq!(users.api_keys(owner).await.expect("list").len(), 2);
    users.revoke_api_key(owner, "a").await.expect("revoke");
    assert_eq!(
        users.find_api_key("hash-a").await.expect("find"),
        None,
        "a revoked key stops working"
    );
    let listed = users.api_keys(owner).await.expect("list");
    assert!(
        listed.iter().any(|k| k.key_id == "a" && k.revoked)
            && listed.iter().any(|k| k.key_id == "b" && !k.revoked)
    );
    let e = users
        .revoke_api_key(UserId::from_u128(8), "b")
        .await
        .expect_err("not theirs");
    assert_eq!(e.kind(), ErrorKind::NotFound);
    assert!(users.find_api_key("hash-b").await.expect("find").is_some());
}

pub async fn refresh_tokens_rotate_and_reuse_revokes_the_family<F, Fut>(factory: F)
where
    F: Fn(Clock) -> Fut,
    Fut: Future<Output = Arc<dyn KvTable>>,
{
    let now = Arc::new(AtomicI64::new(1_700_000_000));
    let reader = now.clone();
    let tokens = RefreshTokens::new(
        factory(Clock::from_fn(move || {
            domain::Timestamp::from_secs(reader.load(Ordering::SeqCst))
        }))
        .await,
    );
    let user = UserId::from_u128(3);
    let expiry = 1_700_000_000 + 86_400;
    tokens
        .issue(user, "fam-1", "t1", expiry)
        .await
        .expect("issue");
    assert_eq!(
        tokens.family_of("t1").await.expect("family"),
        Some("fam-1".into())
    );
    assert_eq!(
        tokens.rotate("t1", "t2", expiry).await.expect("rotate"),
        Rotation::Rotated {
            user,
            family: "fam-1".into()
        }
    );
    assert_eq!(
        tokens.rotate("t2", "t3", expiry).await.expect("rotate"),
        Rotation::Rotated {
            user,
            family: "fam-1".into()
        }
    );
    // t1 again: stolen and replayed. The family dies; even the latest token is refused.
    assert_eq!(
        tokens.rotate("t1", "t9", expiry).await.expect("rotate"),
        Rotation::ReuseDetected {
            user,
            family: "fam-1".into()
        }
    );
    assert_eq!(
        tokens.rotate("t3", "t4", expiry).await.expect("rotate"),
        Rotation::Invalid
    );
    assert_eq!(
        tokens
            .rotate("unknown", "t5", expiry)
            .await
            .expect("rotate"),
        Rotation::Invalid
    );
    // Expiry: a token past its TTL is invalid.
    tokens
        .issue(user, "fam-2", "u1", 1_700_000_100)
        .await
        .expect("issue");
    now.store(1_700_000_100, Ordering::SeqCst);
    assert_eq!(
        tokens.rotate("u1", "u2", expiry).await.expect("rotate"),
        Rotation::Invalid
    );
    // Logout revokes a family.
    now.store(1_700_000_000, Ordering::SeqCst);
    tokens
        .issue(user, "fam-3", "v1", expiry)
        .await
        .expect("issue");
    tokens.revoke_family("fam-3").await.expect("revoke");
    assert_eq!(
        tokens.rotate("v1", "v2", expiry).await.expect("rotate"),
        Rotation::Invalid
    );
}

pub async fn racing_rotations_of_one_token_are_a_reuse<F, Fut>(factory: F)
where
    F: Fn(Clock) -> Fut,
    Fut: Future<Output = Arc<dyn KvTable>>,
{
    let tokens = RefreshTokens::new(factory(Clock::system()).await);
    let user = UserId::from_u128(4);
    let expiry = 4_000_000_000;
    for round in 0..5 {
        let family = format!("fam-race-{round}");
        let old = format!("old-{round}");
        tokens
            .issue(user, &family, &old, expiry)
            .await
            .expect("issue");
        let (a, b) = (tokens.clone(), tokens.clone());
        let (oa, ob) = (old.clone(), old.clone());
        let (na, nb) = (format!("new-a-{round}"), format!("new-b-{round}"));
        let first = tokio::spawn(async move { a.rotate(&oa, &na, expiry).await });
        let second = tokio::spawn(async move { b.rotate(&ob, &nb, expiry).await });
        let results = [
            first.await.expect("task").expect("rotate"),
            second.await.expect("task").expect("rotate"),
        ];
        let rotated = results
            .iter()
            .filter(|r| matches!(r, Rotation::Rotated { .. }))
            .count();
        assert!(rotated <= 1, "round {round}: both rotated: {results:?}");
        assert!(
            results
                .iter()
                .any(|r| matches!(r, Rotation::ReuseDetected { .. })),
            "round {round}: the second use must be seen: {results:?}"
        );
        assert_eq!(
            tokens
                .rotate(&format!("new-a-{round}"), "x", expiry)
                .await
                .expect("rotate"),
            Rotation::Invalid
        );
        assert_eq!(
            tokens
                .rotate(&format!("new-b-{round}"), "y", expiry)
                .await
                .expect("rotate"),
            Rotation::Invalid
        );
    }
}

pub async fn failed_logins_lock_the_email_and_rate_limits_refill<F, Fut>(factory: F)
where
    F: Fn(Clock) -> Fut,
    Fut: Future<Output = Arc<dyn KvTable>>,
{
    let now = Arc::new(AtomicI64::new(1_700_000_000));
    let reader = now.clone();
    let guard = LoginGuard::new(
        factory(Clock::from_fn(move || {
            domain::Timestamp::from_secs(reader.load(Ordering::SeqCst))
        }))
        .await,
    );
    let t0 = 1_700_000_000;
    for n in 1..5 {
        assert_eq!(
            guard
                .record_failure("Eve@example.com", t0, 5, 900)
                .await
                .expect("count"),
            Attempt::Counted(n)
        );
    }
    assert_eq!(
        guard
            .record_failure("eve@example.com", t0, 5, 900)
            .await
            .expect("lock"),
        Attempt::Locked(t0 + 900)
    );
    assert_eq!(
        guard
            .locked_until("EVE@example.com", t0 + 10)
            .await
            .expect("locked"),
        Some(t0 + 900)
    );
    assert_eq!(
        guard
            .record_failure("eve@example.com", t0 + 10, 5, 900)
            .await
            .expect("still"),
        Attempt::Locked(t0 + 900)
    );
    assert_eq!(
        guard
            .locked_until("eve@example.com", t0 + 900)
            .await
            .expect("free"),
        None,
        "the lock runs out"
    );
    now.store(t0 + 901, Ordering::SeqCst);
    assert_eq!(
        guard
            .record_failure("eve@example.com", t0 + 901, 5, 900)
            .await
            .expect("again"),
        Attempt::Counted(1)
    );
    guard.reset("eve@example.com").await.expect("reset");
    assert_eq!(
        guard
            .record_failure("eve@example.com", t0 + 902, 5, 900)
            .await
            .expect("after reset"),
        Attempt::Counted(1)
    );
    // Concurrent failures are all counted.
    let mut tasks = Vec::new();
    for _ in 0..4 {
        let g = guard.clone();
        tasks.push(tokio::spawn(async move {
            g.record_failure("mallory@example.com", t0 + 950, 10, 900)
                .await
        }));
    }
    for t in tasks {
        t.await.expect("task").expect("count");
    }
    assert_eq!(
        guard
            .record_failure("mallory@example.com", t0 + 950, 10, 900)
            .await
            .expect("count"),
        Attempt::Counted(5)
    );
    // A bucket of 3 refilling one a second.
    let ms = (t0 + 950) * 1000;
    for _ in 0..3 {
        assert!(
            guard
                .allow("ip#192.0.2.1", ms, 3, 1.0)
                .await
                .expect("allow")
        );
    }
    assert!(
        !guard.allow("ip#192.0.2.1", ms, 3, 1.0).await.expect("deny"),
        "the fourth is refused"
    );
    assert!(
        guard
            .allow("ip#192.0.2.2", ms, 3, 1.0)
            .await
            .expect("allow"),
        "other clients are separate"
    );
    assert!(
        guard
            .allow("ip#192.0.2.1", ms + 1_000, 3, 1.0)
            .await
            .expect("refilled")
    );
}

pub async fn leases_are_exclusive_renewable_and_expire<F, Fut>(factory: F)
where
    F: Fn(Clock) -> Fut,
    Fut: Future<Output = Arc<dyn KvTable>>,
{
    let now = Arc::new(AtomicI64::new(1_700_000_000));
    let reader = now.clone();
    let leases = Leases::new(
        factory(Clock::from_fn(move || {
            domain::Timestamp::from_secs(reader.load(Ordering::SeqCst))
        }))
        .await,
    );
    let t0 = 1_700_000_000;
    assert!(matches!(
        leases
            .acquire("ticks/shard-0", "core-a", t0, 30)
            .await
            .expect("a"),
        LeaseOutcome::Acquired(_)
    ));
    assert!(
        matches!(leases.acquire("ticks/shard-0", "core-b", t0 + 5, 30).await.expect("b"), LeaseOutcome::Held(l) if l.owner == "core-a")
    );
    assert!(
        matches!(leases.acquire("ticks/shard-0", "core-a", t0 + 20, 30).await.expect("renew"), LeaseOutcome::Acquired(l) if l.expires_at == t0 + 50)
    );
    now.store(t0 + 50, Ordering::SeqCst);
    assert!(
        matches!(leases.acquire("ticks/shard-0", "core-b", t0 + 50, 30).await.expect("takeover"), LeaseOutcome::Acquired(l) if l.owner == "core-b")
    );
    leases
        .release("ticks/shard-0", "core-a")
        .await
        .expect("not the owner: no effect");
    assert!(matches!(
        leases
            .acquire("ticks/shard-0", "core-a", t0 + 51, 30)
            .await
            .expect("a"),
        LeaseOutcome::Held(_)
    ));
    leases
        .release("ticks/shard-0", "core-b")
        .await
        .expect("release");
    assert!(matches!(
        leases
            .acquire("ticks/shard-0", "core-a", t0 + 52, 30)
            .await
            .expect("a"),
        LeaseOutcome::Acquired(_)
    ));
}
