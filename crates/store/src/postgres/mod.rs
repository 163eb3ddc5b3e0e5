//! The cloud system of record: Postgres through sqlx, migrated from `migrations/` at
//! start-up. Money is NUMERIC; rows that change together change in one transaction, with
//! the account row locked (`FOR UPDATE`) so concurrent postings cannot overdraw.

mod records;

use std::time::Duration;

use sqlx::PgPool;
use sqlx::postgres::PgPoolOptions;

pub use records::PgRecords;

use crate::error::{StoreError, StoreResult};

#[derive(Debug, Clone)]
pub struct PgStore {
    pool: PgPool,
}

impl PgStore {
    /// Connects to `url` (`postgres://user:pass@host:port/db`) and applies the migrations.
    pub async fn connect(url: &str) -> StoreResult<Self> {
        let pool = PgPoolOptions::new()
            .max_connections(16)
            .acquire_timeout(Duration::from_secs(10))
            .connect(url)
            .await?;
        sqlx::migrate!("../../migrations/postgres")
            .run(&pool)
            .await
            .map_err(|e| StoreError::internal(format!("Postgres migrations failed: {e}")))?;
        Ok(PgStore { pool })
    }

    /// Creates database `name` on the server of `admin_url` and returns its URL (tests
    /// and first-time setup: a fresh database per test run). `name` must be a plain
    /// identifier (letters, digits, `_`).
    pub async fn create_database(admin_url: &str, name: &str) -> StoreResult<String> {
        use sqlx::Connection;
        if name.is_empty()
            || !name
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
        {
            return Err(StoreError::invalid(format!(
                "database name {name:?}: use lower-case letters, digits and _"
            )));
        }
        let mut conn = sqlx::PgConnection::connect(admin_url).await?;
        sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
            .execute(&mut conn)
            .await?;
        let base = match admin_url.split_once('?') {
            Some((path, _)) => path,
            None => admin_url,
        };
        let (server, _) = base
            .rsplit_once('/')
            .ok_or_else(|| StoreError::invalid("the admin URL has no database part"))?;
        Ok(format!("{server}/{name}"))
    }

    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    pub fn records(&self) -> PgRecords {
        PgRecords::new(self.pool.clone())
    }
}
