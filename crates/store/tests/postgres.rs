//! The system-of-record suite against a real Postgres (`DATABASE_URL`, which
//! `scripts/test` points at a throwaway cluster). Selected with `--features pg-tests`;
//! it then runs and must pass — without `DATABASE_URL` it fails, never skips.

#![cfg(feature = "pg-tests")]
#![allow(clippy::unwrap_used)] // integration tests: a failed unwrap is a failed test

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use sqlx::Connection;
use store::postgres::PgStore;
use store::records::RecordStore;

fn admin_url() -> String {
    std::env::var("DATABASE_URL").expect("pg-tests need DATABASE_URL (scripts/test sets it)")
}

/// A fresh database per test, created through the admin connection.
async fn records() -> Arc<dyn RecordStore> {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    let name = format!(
        "stratus_test_{}_{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::SeqCst)
    );
    let admin = admin_url();
    let mut conn = sqlx::PgConnection::connect(&admin).await.unwrap();
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
        .execute(&mut conn)
        .await
        .unwrap();
    let base = admin
        .rsplit_once('/')
        .map(|(base, _)| base.to_owned())
        .unwrap();
    let store = PgStore::connect(&format!("{base}/{name}")).await.unwrap();
    Arc::new(store.records())
}

mod record_store {
    store::records_conformance!(super::records);
}

#[tokio::test]
async fn migrations_apply_once_and_an_unreachable_server_is_retryable() {
    let url = admin_url();
    // Connecting twice runs the migrator twice: the second run is a no-op.
    PgStore::connect(&url).await.unwrap();
    PgStore::connect(&url).await.unwrap();
    let e = PgStore::connect("postgres://nobody@127.0.0.1:9/none")
        .await
        .unwrap_err();
    assert!(e.is_retryable(), "{e}");
}
