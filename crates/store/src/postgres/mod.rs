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
        sqlx::migrate!("../../migrations")
            .run(&pool)
            .await
            .map_err(|e| StoreError::internal(format!("Postgres migrations failed: {e}")))?;
        Ok(PgStore { pool })
    }

    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    pub fn records(&self) -> PgRecords {
        PgRecords::new(self.pool.clone())
    }
}
