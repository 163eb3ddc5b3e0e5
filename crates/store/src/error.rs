//! The one error type of the store crate, with a kind that says what the caller can do.

use std::fmt;

/// What went wrong, as far as a caller cares: retry, report a conflict, or give up.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorKind {
    /// The thing asked for does not exist.
    NotFound,
    /// A conditional write lost: the item exists, or changed since it was read. Not
    /// retryable as is; the caller decides (idempotency replay, 409, re-read).
    ConditionFailed,
    /// The backend is not reachable (connection refused, DNS, closed pool). Retryable.
    Unavailable,
    /// The backend asked us to slow down (DynamoDB/Kinesis throughput). Retryable with
    /// backoff.
    Throttled,
    /// No answer in time. Retryable; the write may or may not have happened, so only
    /// idempotent operations may be retried blindly.
    Timeout,
    /// The request was invalid for the backend (bad name, item too large, bad data).
    Invalid,
    /// Stored data could not be decoded, or the backend failed in an unexpected way.
    Internal,
}

impl ErrorKind {
    pub fn is_retryable(self) -> bool {
        matches!(
            self,
            ErrorKind::Unavailable | ErrorKind::Throttled | ErrorKind::Timeout
        )
    }
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ErrorKind::NotFound => "not found",
            ErrorKind::ConditionFailed => "condition failed",
            ErrorKind::Unavailable => "unavailable",
            ErrorKind::Throttled => "throttled",
            ErrorKind::Timeout => "timeout",
            ErrorKind::Invalid => "invalid request",
            ErrorKind::Internal => "internal error",
        })
    }
}

/// A store or stream failure: its kind and a message for logs (never shown to clients).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{kind}: {message}")]
pub struct StoreError {
    pub kind: ErrorKind,
    pub message: String,
}

impl StoreError {
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        StoreError {
            kind,
            message: message.into(),
        }
    }

    pub fn condition_failed(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::ConditionFailed, message)
    }

    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::NotFound, message)
    }

    pub fn invalid(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Invalid, message)
    }

    pub fn internal(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Internal, message)
    }

    pub fn kind(&self) -> ErrorKind {
        self.kind
    }

    pub fn is_retryable(&self) -> bool {
        self.kind.is_retryable()
    }
}

impl From<sqlx::Error> for StoreError {
    fn from(e: sqlx::Error) -> Self {
        let kind = match &e {
            sqlx::Error::RowNotFound => ErrorKind::NotFound,
            sqlx::Error::Io(_) | sqlx::Error::Tls(_) | sqlx::Error::PoolClosed => {
                ErrorKind::Unavailable
            }
            sqlx::Error::PoolTimedOut => ErrorKind::Timeout,
            sqlx::Error::Database(db) => match db.kind() {
                sqlx::error::ErrorKind::UniqueViolation => ErrorKind::ConditionFailed,
                sqlx::error::ErrorKind::ForeignKeyViolation
                | sqlx::error::ErrorKind::NotNullViolation
                | sqlx::error::ErrorKind::CheckViolation => ErrorKind::Invalid,
                // Postgres serialization failures and deadlocks are transient: the same
                // statement can succeed on retry.
                _ if db.code().is_some_and(|c| c == "40001" || c == "40P01") => {
                    ErrorKind::Unavailable
                }
                _ => ErrorKind::Internal,
            },
            sqlx::Error::ColumnDecode { .. }
            | sqlx::Error::Decode(_)
            | sqlx::Error::TypeNotFound { .. } => ErrorKind::Internal,
            _ => ErrorKind::Internal,
        };
        StoreError::new(kind, e.to_string())
    }
}

impl From<rusqlite::Error> for StoreError {
    fn from(e: rusqlite::Error) -> Self {
        use rusqlite::ffi;
        let kind = match &e {
            rusqlite::Error::QueryReturnedNoRows => ErrorKind::NotFound,
            rusqlite::Error::SqliteFailure(failure, _) => match failure.extended_code {
                ffi::SQLITE_CONSTRAINT_UNIQUE | ffi::SQLITE_CONSTRAINT_PRIMARYKEY => {
                    ErrorKind::ConditionFailed
                }
                ffi::SQLITE_CONSTRAINT_FOREIGNKEY
                | ffi::SQLITE_CONSTRAINT_NOTNULL
                | ffi::SQLITE_CONSTRAINT_CHECK => ErrorKind::Invalid,
                // "database is locked" (another process holds the file past the busy
                // timeout) is transient: the same statement can succeed on retry.
                _ if matches!(
                    failure.code,
                    rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked
                ) =>
                {
                    ErrorKind::Unavailable
                }
                _ if matches!(
                    failure.code,
                    rusqlite::ErrorCode::CannotOpen
                        | rusqlite::ErrorCode::DiskFull
                        | rusqlite::ErrorCode::SystemIoFailure
                ) =>
                {
                    ErrorKind::Unavailable
                }
                _ => ErrorKind::Internal,
            },
            _ => ErrorKind::Internal,
        };
        StoreError::new(kind, e.to_string())
    }
}

impl From<serde_json::Error> for StoreError {
    fn from(e: serde_json::Error) -> Self {
        StoreError::internal(format!("stored JSON could not be read: {e}"))
    }
}

pub type StoreResult<T> = Result<T, StoreError>;
