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
    Arc::new(fresh().await.records())
}

async fn fresh() -> PgStore {
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
    PgStore::connect(&format!("{base}/{name}")).await.unwrap()
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

#[tokio::test]
async fn money_of_fills_positions_and_orders_is_numeric_in_sql() {
    use domain::{
        Account, AccountId, AccountKind, Currency, Fill, Liquidity, Money, Position, Side, Symbol,
        Timestamp, TradeId, UserId,
    };
    use store::records::{AccountLedger, CommitBatch, CoreCommit};
    let pg = fresh().await;
    let records = pg.records();
    let account = AccountId::from_u128(1);
    records
        .create_account(&Account {
            id: account,
            user_id: UserId::from_u128(1),
            name: "a".into(),
            kind: AccountKind::Paper,
            base_currency: Currency::USD,
            cash: Money::ZERO,
            created_at: Timestamp::from_secs(1),
        })
        .await
        .unwrap();
    let symbol = Symbol::parse("ES").unwrap();
    let fill = |trade: u64, price: &str, quantity: &str| Fill {
        trade_id: TradeId(trade),
        order_id: domain::OrderId::from_u128(9),
        account_id: account,
        symbol,
        side: Side::Buy,
        price: price.parse().unwrap(),
        quantity: quantity.parse().unwrap(),
        fee: Money::parse("fee", "0.125").unwrap(),
        liquidity: Liquidity::Taker,
        time: Timestamp::from_secs(2),
    };
    let fills = vec![fill(1, "4500.25", "2"), fill(2, "4501.5", "1.5")];
    let mut position = Position::flat(symbol);
    for f in &fills {
        position.apply(f).unwrap();
    }
    records
        .commit(&CommitBatch {
            fills,
            positions: vec![(account, position)],
            ..CommitBatch::default()
        })
        .await
        .unwrap();
    let (notional, fees): (domain::Decimal, domain::Decimal) =
        sqlx::query_as("SELECT sum(price * quantity), sum(fee) FROM fills")
            .fetch_one(pg.pool())
            .await
            .unwrap();
    assert_eq!(notional, "15752.75".parse::<domain::Decimal>().unwrap());
    assert_eq!(fees, "0.25".parse::<domain::Decimal>().unwrap());
    let quantity: domain::Decimal = sqlx::query_scalar("SELECT quantity FROM positions")
        .fetch_one(pg.pool())
        .await
        .unwrap();
    assert_eq!(quantity, "3.5".parse::<domain::Decimal>().unwrap());
}
