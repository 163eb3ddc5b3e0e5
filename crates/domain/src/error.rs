//! The one error type of the domain crate.
//!
//! Every variant names the field (or operation) it is about, so that the HTTP edge can
//! turn it into a problem body with per-field errors and the CLI into a message a person
//! can act on.

use crate::order::OrderStatus;

/// Why a domain value could not be built or an operation could not be applied.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DomainError {
    #[error("{field} must not be empty")]
    Empty { field: &'static str },
    #[error("{field} is longer than {max} characters")]
    TooLong { field: &'static str, max: usize },
    #[error("{field} contains invalid characters: {reason}")]
    InvalidChars {
        field: &'static str,
        reason: &'static str,
    },
    #[error("{field} is not a valid decimal number: {input:?}")]
    InvalidNumber { field: &'static str, input: String },
    #[error("{field} must be greater than zero")]
    NotPositive { field: &'static str },
    #[error("{field} must not be negative")]
    Negative { field: &'static str },
    #[error("{field} {value} is not a multiple of the tick size {tick_size}")]
    OffTick {
        field: &'static str,
        value: String,
        tick_size: String,
    },
    #[error("{field} {value} is not a multiple of the lot size {lot_size}")]
    OffLot {
        field: &'static str,
        value: String,
        lot_size: String,
    },
    #[error("{field} {value} is below the minimum quantity {minimum}")]
    BelowMinimum {
        field: &'static str,
        value: String,
        minimum: String,
    },
    #[error("{field} is out of range: {reason}")]
    OutOfRange { field: &'static str, reason: String },
    #[error("arithmetic overflow in {operation}")]
    Overflow { operation: &'static str },
    #[error("{field} is not valid: {reason}")]
    Invalid { field: &'static str, reason: String },
    #[error("cannot {action} an order that is {from}")]
    IllegalTransition {
        from: OrderStatus,
        action: &'static str,
    },
}

impl DomainError {
    /// The input field the error is about, when there is one (for per-field error lists).
    pub fn field(&self) -> Option<&'static str> {
        match self {
            DomainError::Empty { field }
            | DomainError::TooLong { field, .. }
            | DomainError::InvalidChars { field, .. }
            | DomainError::InvalidNumber { field, .. }
            | DomainError::NotPositive { field }
            | DomainError::Negative { field }
            | DomainError::OffTick { field, .. }
            | DomainError::OffLot { field, .. }
            | DomainError::BelowMinimum { field, .. }
            | DomainError::OutOfRange { field, .. }
            | DomainError::Invalid { field, .. } => Some(field),
            DomainError::Overflow { .. } | DomainError::IllegalTransition { .. } => None,
        }
    }

    pub(crate) fn overflow(operation: &'static str) -> Self {
        DomainError::Overflow { operation }
    }
}
