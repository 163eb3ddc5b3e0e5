//! The conformance suites against the in-memory adapters.

use std::sync::Arc;

use store::kv::{Clock, KvTable};
use store::memory::{MemoryKv, MemoryRecords, MemoryStream};
use store::records::RecordStore;
use store::stream::StreamLog;

async fn kv(clock: Clock) -> Arc<dyn KvTable> {
    Arc::new(MemoryKv::with_clock(clock))
}

async fn stream() -> Arc<dyn StreamLog> {
    Arc::new(MemoryStream::new(3))
}

async fn records() -> Arc<dyn RecordStore> {
    Arc::new(MemoryRecords::new())
}

mod kv_table {
    store::kv_conformance!(super::kv);
}

mod stream_log {
    store::stream_conformance!(super::stream);
}

mod record_store {
    store::records_conformance!(super::records);
}

/// Corners of the system-of-record contract the shared suite does not reach, asserted on
/// the SQLite adapter too: the memory adapter must give the reference's answers.
mod records_like_sqlite {
    use std::sync::Arc;

    use domain::{
        Account, AccountId, AccountKind, Currency, EventId, LedgerEntry, Money, ReportRow,
        Timestamp, UserId,
    };
    use store::ErrorKind;
    use store::memory::MemoryRecords;
    use store::records::{CommitBatch, OrderQuery, RecordStore};
    use store::sqlite::SqliteStore;

    /// A fresh SQLite file in the temporary directory.
    async fn temp_sqlite() -> SqliteStore {
        static NEXT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let dir = std::env::temp_dir().join(format!("stratus-like-sqlite-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        SqliteStore::open(&dir.join(format!("db-{n}.sqlite")))
            .await
            .expect("sqlite")
    }

    async fn adapters() -> Vec<(&'static str, Arc<dyn RecordStore>)> {
        let sqlite = temp_sqlite().await;
        vec![
            ("memory", Arc::new(MemoryRecords::new())),
            ("sqlite", Arc::new(sqlite.records())),
        ]
    }

    fn account(n: u128) -> Account {
        Account {
            id: AccountId::from_u128(n),
            user_id: UserId::from_u128(10),
            name: format!("paper {n}"),
            kind: AccountKind::Paper,
            base_currency: Currency::USD,
            // Ignored: an account starts with no cash.
            cash: Money::parse("cash", "5").expect("cash"),
            created_at: Timestamp::from_secs(1_700_000_000),
        }
    }

    fn entry(id: &str, account: u128, amount: &str) -> LedgerEntry {
        LedgerEntry {
            id: EventId::derived(id),
            account_id: AccountId::from_u128(account),
            kind: domain::LedgerKind::Deposit,
            amount: Money::parse("amount", amount).expect("amount"),
            reference: id.to_owned(),
            time: Timestamp::from_secs(1_700_000_100),
        }
    }

    fn order(n: u128, account: u128, client: Option<&str>) -> domain::Order {
        let symbol = domain::Symbol::parse("ES").expect("symbol");
        let instrument = domain::Instrument::new(
            symbol,
            domain::Decimal::new(1, 2),
            domain::Decimal::ONE,
            domain::Decimal::ONE,
            Currency::USD,
        )
        .expect("instrument");
        let request = domain::order::OrderRequest {
            id: domain::OrderId::from_u128(n),
            client_order_id: client.map(|c| domain::ClientOrderId::parse(c).expect("client")),
            account_id: AccountId::from_u128(account),
            symbol,
            side: domain::Side::Buy,
            order_type: domain::OrderType::Market,
            time_in_force: domain::TimeInForce::Ioc,
            quantity: "1".parse().expect("quantity"),
        };
        domain::Order::new(request, &instrument, Timestamp::from_secs(100 + n as i64))
            .expect("order")
    }

    fn cash(v: &str) -> Money {
        Money::parse("cash", v).expect("cash")
    }

    #[tokio::test]
    async fn a_batch_sees_its_own_earlier_writes() {
        for (name, s) in adapters().await {
            s.create_account(&account(1)).await.expect("create");
            let user = UserId::from_u128(10);
            assert_eq!(
                s.account(user, AccountId::from_u128(1))
                    .await
                    .expect("get")
                    .expect("acct")
                    .cash,
                Money::ZERO,
                "{name}"
            );
            // Deposit then spend in one batch; a repeated entry id applies once.
            let batch = CommitBatch {
                ledger: vec![
                    entry("dep", 1, "10"),
                    entry("dep", 1, "10"),
                    entry("spend", 1, "-10"),
                ],
                ..CommitBatch::default()
            };
            s.commit(&batch).await.expect(name);
            let ledger = s.ledger(AccountId::from_u128(1), 10).await.expect(name);
            assert_eq!(ledger.len(), 2, "{name}");
            assert_eq!(ledger[0].balance_after, Money::ZERO, "{name}");
            // Two new orders of one batch may not share a client order id.
            let e = s
                .commit(&CommitBatch {
                    orders: vec![order(1, 1, Some("c")), order(2, 1, Some("c"))],
                    ledger: vec![entry("later", 1, "3")],
                    ..CommitBatch::default()
                })
                .await
                .expect_err(name);
            assert_eq!(e.kind(), ErrorKind::ConditionFailed, "{name}");
            assert_eq!(s.order(user, order(1, 1, None).id).await.expect(name), None);
            // The same order twice in a batch is an insert, then an update.
            s.commit(&CommitBatch {
                orders: vec![order(1, 1, Some("c")), order(1, 1, Some("c"))],
                ..CommitBatch::default()
            })
            .await
            .expect(name);
            let all = OrderQuery {
                status: None,
                symbol: None,
                after: None,
                limit: 10,
            };
            assert_eq!(
                s.orders(AccountId::from_u128(1), &all)
                    .await
                    .expect(name)
                    .orders
                    .len(),
                1,
                "{name}"
            );
            let nothing = s
                .orders(AccountId::from_u128(1), &OrderQuery { limit: 0, ..all })
                .await
                .expect(name);
            assert!(
                nothing.orders.is_empty() && nothing.next.is_none(),
                "{name}"
            );
            assert_eq!(
                s.account(user, AccountId::from_u128(1))
                    .await
                    .expect(name)
                    .expect(name)
                    .cash,
                cash("0"),
                "{name}: the refused batch's deposit is gone with it"
            );
        }
    }

    #[tokio::test]
    async fn rows_of_unknown_accounts_are_invalid_and_change_nothing() {
        for (name, s) in adapters().await {
            s.create_account(&account(1)).await.expect("create");
            let e = s
                .insert_order(&store::records::NewOrder {
                    order: &order(1, 42, None),
                    reserve_price: None,
                    outbox: &[],
                    limits: store::records::OrderLimits::default(),
                })
                .await
                .expect_err(name);
            assert_eq!(e.kind(), ErrorKind::NotFound, "{name}: order");
            let position = domain::Position::flat(domain::Symbol::parse("ES").expect("symbol"));
            let e = s
                .commit(&CommitBatch {
                    positions: vec![(AccountId::from_u128(42), position)],
                    ledger: vec![entry("dep", 1, "1")],
                    ..CommitBatch::default()
                })
                .await
                .expect_err(name);
            assert_eq!(e.kind(), ErrorKind::Invalid, "{name}: position");
            assert!(
                s.ledger(AccountId::from_u128(1), 10)
                    .await
                    .expect(name)
                    .is_empty(),
                "{name}"
            );
            let report = ReportRow {
                account_id: AccountId::from_u128(42),
                day: "2026-11-20".parse().expect("day"),
                body: serde_json::json!({}),
            };
            let e = s.save_report(&report).await.expect_err(name);
            assert_eq!(e.kind(), ErrorKind::Invalid, "{name}: report");
            // Ranges that are empty either way round.
            assert!(
                s.reports(
                    AccountId::from_u128(1),
                    "2026-12-01".parse().expect("day"),
                    "2026-01-01".parse().expect("day")
                )
                .await
                .expect(name)
                .is_empty(),
                "{name}"
            );
            let es = domain::Symbol::parse("ES").expect("symbol");
            assert!(
                s.candles(
                    es,
                    domain::Timeframe::M1,
                    Timestamp::MAX,
                    Timestamp::EPOCH,
                    10
                )
                .await
                .expect(name)
                .is_empty(),
                "{name}"
            );
        }
    }
}
