//! [`AppError`]: what the application layer's operations fail with. The HTTP surface maps
//! it to a problem answer (`api::ApiError: From<AppError>`); nothing here knows HTTP.

use domain::DomainError;
use store::StoreError;

/// See the module docs.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AppError {
    /// A store or stream failed (its kind says whether to retry).
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A value broke a domain rule (the field is named).
    #[error(transparent)]
    Domain(#[from] DomainError),
    /// Something that cannot happen with valid data did (an overflow while valuing an
    /// account, a token that cannot be signed): logged, never shown.
    #[error("{0}")]
    Internal(String),
}

pub type AppResult<T> = Result<T, AppError>;
