//! The embedded file's schema: `migrations/sqlite/*.sql`, compiled in, applied in order,
//! each in its own transaction, and recorded in `schema_migrations` with a checksum so a
//! file changed after it was applied is refused rather than silently diverging.

use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params};

use crate::error::{StoreError, StoreResult};

struct Migration {
    version: i64,
    name: &'static str,
    sql: &'static str,
}

macro_rules! migration {
    ($version:literal, $name:literal) => {
        Migration {
            version: $version,
            name: $name,
            sql: include_str!(concat!(
                "../../../../migrations/sqlite/",
                stringify!($version),
                "_",
                $name,
                ".sql"
            )),
        }
    };
}

const MIGRATIONS: &[Migration] = &[
    migration!(20261122000001, "kv_and_stream"),
    migration!(20261122000002, "records"),
    migration!(20261122000003, "orders"),
    migration!(20261122000004, "strategies_candles_reports"),
    migration!(20261201000005, "account_exposure"),
    migration!(20261202000006, "applied_commands"),
    migration!(20261206000007, "reservations"),
    migration!(20261207000008, "research_jobs"),
    migration!(20261208000009, "order_strategies"),
    migration!(20261208000010, "activity_by_time"),
    migration!(20261209000011, "order_holds_by_order"),
];

/// FNV-1a, 64 bits: enough to notice an edited file (not a security boundary).
fn checksum(sql: &str) -> i64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in sql.bytes() {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    i64::from_ne_bytes(hash.to_ne_bytes())
}

/// Applies the migrations `conn` has not seen.
pub(super) fn run(conn: &Connection) -> StoreResult<()> {
    conn.execute_batch(
        "CREATE TABLE IF NOT EXISTS schema_migrations (
             version  INTEGER PRIMARY KEY,
             name     TEXT    NOT NULL,
             checksum INTEGER NOT NULL
         );",
    )?;
    adopt_sqlx_history(conn)?;
    for m in MIGRATIONS {
        let applied: Option<i64> = conn
            .query_row(
                "SELECT checksum FROM schema_migrations WHERE version = ?",
                [m.version],
                |r| r.get(0),
            )
            .optional()?;
        match applied {
            Some(sum) if sum == checksum(m.sql) || sum == 0 => continue,
            Some(_) => {
                return Err(StoreError::internal(format!(
                    "SQLite migration {}_{} changed after it was applied to this file",
                    m.version, m.name
                )));
            }
            None => {}
        }
        let tx = rusqlite::Transaction::new_unchecked(conn, TransactionBehavior::Immediate)?;
        tx.execute_batch(m.sql).map_err(|e| {
            StoreError::internal(format!(
                "SQLite migration {}_{} failed: {e}",
                m.version, m.name
            ))
        })?;
        tx.execute(
            "INSERT INTO schema_migrations (version, name, checksum) VALUES (?, ?, ?)",
            params![m.version, m.name, checksum(m.sql)],
        )?;
        tx.commit()?;
    }
    Ok(())
}

/// Files created by earlier builds (which used sqlx's migrator) list their migrations in
/// `_sqlx_migrations`; those are taken as applied (checksum 0: not comparable).
fn adopt_sqlx_history(conn: &Connection) -> StoreResult<()> {
    let has_sqlx: bool = conn.query_row(
        "SELECT EXISTS (SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = '_sqlx_migrations')",
        [],
        |r| r.get(0),
    )?;
    if has_sqlx {
        conn.execute(
            "INSERT OR IGNORE INTO schema_migrations (version, name, checksum)
             SELECT version, description, 0 FROM _sqlx_migrations WHERE success",
            [],
        )?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn migrations_are_in_order_and_apply_once() {
        assert!(MIGRATIONS.windows(2).all(|w| w[0].version < w[1].version));
        let conn = Connection::open_in_memory().expect("open");
        run(&conn).expect("first run");
        run(&conn).expect("second run changes nothing");
        let count: i64 = conn
            .query_row("SELECT count(*) FROM schema_migrations", [], |r| r.get(0))
            .expect("count");
        assert_eq!(count, i64::try_from(MIGRATIONS.len()).expect("small"));
    }

    #[test]
    fn an_edited_migration_is_refused() {
        let conn = Connection::open_in_memory().expect("open");
        run(&conn).expect("run");
        conn.execute(
            "UPDATE schema_migrations SET checksum = 42 WHERE version = ?",
            [MIGRATIONS[0].version],
        )
        .expect("tamper");
        let err = run(&conn).expect_err("refused");
        assert!(
            err.to_string().contains("changed after it was applied"),
            "{err}"
        );
    }

    #[test]
    fn a_file_made_by_the_sqlx_migrator_is_adopted() {
        let conn = Connection::open_in_memory().expect("open");
        conn.execute_batch(
            "CREATE TABLE _sqlx_migrations (version BIGINT PRIMARY KEY, description TEXT NOT NULL,
                 success BOOLEAN NOT NULL);",
        )
        .expect("sqlx table");
        let (old, new) = MIGRATIONS.split_at(MIGRATIONS.len() - 1);
        for m in old {
            conn.execute_batch(m.sql).expect("old schema");
            conn.execute(
                "INSERT INTO _sqlx_migrations VALUES (?, ?, TRUE)",
                params![m.version, m.name],
            )
            .expect("history");
        }
        // The old migrations are not run again (they would fail: their tables exist);
        // the new one is.
        run(&conn).expect("adopted");
        let table: i64 = conn
            .query_row(
                "SELECT count(*) FROM schema_migrations WHERE version = ? AND checksum <> 0",
                [new[0].version],
                |r| r.get(0),
            )
            .expect("new one applied");
        assert_eq!(table, 1);
    }

    #[test]
    fn every_file_is_listed() {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../../migrations/sqlite");
        let mut files: Vec<String> = std::fs::read_dir(dir)
            .expect("migrations dir")
            .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
            .collect();
        files.sort();
        let listed: Vec<String> = MIGRATIONS
            .iter()
            .map(|m| format!("{}_{}.sql", m.version, m.name))
            .collect();
        assert_eq!(files, listed);
    }
}
