//! Users' strategy modules over [`KvTable`], run against every key-value adapter as part
//! of `kv_conformance!`: stored whole in chunks, read back by their owner and by id,
//! idempotent per owner and bytes, capped per owner under racing uploads.

use std::future::Future;
use std::sync::Arc;

use domain::{Timestamp, UserId};
use serde_json::json;

use crate::error::ErrorKind;
use crate::kv::{Clock, KvTable};
use crate::strategy_modules::{
    CHUNK_BYTES, MAX_MODULE_BYTES, MAX_MODULES_PER_USER, ModuleDescription, StrategyModules,
    Upload, sha256_hex,
};

fn description(name: &str) -> ModuleDescription {
    ModuleDescription {
        name: name.into(),
        summary: format!("{name}, a test module"),
        abi_version: 1,
        params_schema: json!({"type": "object", "properties": {"period": {"type": "integer"}}}),
    }
}

/// `len` bytes that differ with `seed` (a module's bytes, as far as the store cares).
fn bytes(seed: u8, len: usize) -> Vec<u8> {
    (0..len)
        .map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed))
        .collect()
}

fn created(upload: Upload) -> crate::strategy_modules::StrategyModule {
    match upload {
        Upload::Created(m) => m,
        other => panic!("expected a new module, got {other:?}"),
    }
}

pub async fn strategy_modules_are_stored_whole_and_read_by_their_owner<F, Fut>(factory: F)
where
    F: Fn(Clock) -> Fut,
    Fut: Future<Output = Arc<dyn KvTable>>,
{
    let modules = StrategyModules::new(factory(Clock::system()).await);
    let (ada, bob) = (UserId::from_u128(1), UserId::from_u128(2));
    let at = Timestamp::from_nanos(1_700_000_000_000_000_000);
    // Three chunks, the last one short.
    let big = bytes(7, 2 * CHUNK_BYTES + 1234);
    let module = created(
        modules
            .upload(ada, description("big"), &big, at)
            .await
            .expect("upload"),
    );
    assert_eq!(
        (module.owner, module.size, module.sha256.clone()),
        (ada, big.len(), sha256_hex(&big))
    );
    assert_eq!(module.name, "big");
    let stored = modules.bytes(&module.id).await.expect("bytes");
    assert_eq!(stored.owner, ada);
    assert!(
        stored.bytes == big,
        "the bytes read back are the bytes written"
    );
    assert_eq!(modules.get(ada, &module.id).await.expect("get"), module);

    // The same bytes again: the same module, nothing new stored.
    let again = modules
        .upload(
            ada,
            description("renamed"),
            &big,
            Timestamp::from_nanos(at.nanos() + 1),
        )
        .await
        .expect("again");
    assert_eq!(again, Upload::Existing(module.clone()));
    // Another owner's upload of the same bytes is that owner's own module.
    let bobs = created(
        modules
            .upload(bob, description("bob's"), &big, at)
            .await
            .expect("bob"),
    );
    assert_ne!(bobs.id, module.id);

    let small = created(
        modules
            .upload(
                ada,
                description("small"),
                &bytes(9, 100),
                Timestamp::from_nanos(at.nanos() + 5),
            )
            .await
            .expect("small"),
    );
    let listed: Vec<String> = modules
        .list(ada)
        .await
        .expect("list")
        .into_iter()
        .map(|m| m.id)
        .collect();
    assert_eq!(
        listed,
        [module.id.clone(), small.id.clone()],
        "oldest first"
    );
    assert_eq!(modules.list(bob).await.expect("bob's list").len(), 1);

    // Another owner's id, an unknown id and a malformed one are all NotFound.
    for (owner, id) in [
        (bob, module.id.as_str()),
        (ada, "6f1c1f3e-8a52-4c1e-9a57-0c7c6b1f2d3e"),
        (ada, "module#x"),
    ] {
        let e = modules.get(owner, id).await.expect_err("not found");
        assert_eq!(e.kind(), ErrorKind::NotFound, "{id}");
        let e = modules.delete(owner, id).await.expect_err("not deleted");
        assert_eq!(e.kind(), ErrorKind::NotFound, "{id}");
    }
    assert_eq!(
        modules.bytes("nope").await.expect_err("malformed").kind(),
        ErrorKind::NotFound
    );

    modules.delete(ada, &module.id).await.expect("delete");
    assert_eq!(
        modules.bytes(&module.id).await.expect_err("gone").kind(),
        ErrorKind::NotFound
    );
    assert_eq!(
        modules
            .delete(ada, &module.id)
            .await
            .expect_err("twice")
            .kind(),
        ErrorKind::NotFound
    );
    assert_eq!(modules.list(ada).await.expect("list").len(), 1);
    // Its bytes can be uploaded again, as a new module.
    let back = created(
        modules
            .upload(ada, description("big"), &big, at)
            .await
            .expect("again after delete"),
    );
    assert_ne!(back.id, module.id);
    assert!(modules.bytes(&bobs.id).await.expect("bob's bytes").bytes == big);

    for bad in [Vec::new(), bytes(1, MAX_MODULE_BYTES + 1)] {
        let e = modules
            .upload(ada, description("bad"), &bad, at)
            .await
            .expect_err("refused");
        assert_eq!(e.kind(), ErrorKind::Invalid);
    }
    assert_eq!(modules.list(ada).await.expect("list").len(), 2);
}

pub async fn strategy_modules_are_capped_per_user_even_when_uploading_at_once<F, Fut>(factory: F)
where
    F: Fn(Clock) -> Fut,
    Fut: Future<Output = Arc<dyn KvTable>>,
{
    let modules = StrategyModules::new(factory(Clock::system()).await);
    let ada = UserId::from_u128(1);
    let at = Timestamp::from_nanos(1_700_000_000_000_000_000);
    let first = MAX_MODULES_PER_USER - 3;
    for seed in 0..first {
        created(
            modules
                .upload(ada, description("m"), &bytes(seed as u8, 64), at)
                .await
                .expect("upload"),
        );
    }
    // Six different modules racing for the last three places, and three copies of one
    // module racing each other.
    let mut racers = Vec::new();
    for seed in 100..106u8 {
        let modules = modules.clone();
        racers.push(tokio::spawn(async move {
            modules
                .upload(ada, description("racer"), &bytes(seed, 64), at)
                .await
        }));
    }
    let results: Vec<Upload> = futures_join(racers).await;
    let made = results
        .iter()
        .filter(|u| matches!(u, Upload::Created(_)))
        .count();
    let full = results
        .iter()
        .filter(|u| matches!(u, Upload::Full { limit } if *limit == MAX_MODULES_PER_USER))
        .count();
    assert_eq!((made, full), (3, 3), "{results:?}");
    assert_eq!(
        modules.list(ada).await.expect("list").len(),
        MAX_MODULES_PER_USER
    );

    // A delete frees a place; copies of one module racing make one module.
    let oldest = modules.list(ada).await.expect("list").remove(0);
    modules.delete(ada, &oldest.id).await.expect("delete");
    let mut copies = Vec::new();
    for _ in 0..3 {
        let modules = modules.clone();
        copies.push(tokio::spawn(async move {
            modules
                .upload(ada, description("copy"), &bytes(200, 64), at)
                .await
        }));
    }
    let results = futures_join(copies).await;
    let ids: std::collections::BTreeSet<String> = results
        .iter()
        .map(|u| match u {
            Upload::Created(m) | Upload::Existing(m) => m.id.clone(),
            Upload::Full { .. } => panic!("a place was free: {results:?}"),
        })
        .collect();
    assert_eq!(ids.len(), 1, "{results:?}");
    assert_eq!(
        modules.list(ada).await.expect("list").len(),
        MAX_MODULES_PER_USER
    );
}

async fn futures_join(
    tasks: Vec<tokio::task::JoinHandle<crate::StoreResult<Upload>>>,
) -> Vec<Upload> {
    let mut out = Vec::new();
    for task in tasks {
        out.push(task.await.expect("task").expect("upload"));
    }
    out
}
