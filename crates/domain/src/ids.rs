//! Identifier newtypes. Each is its own type so an `AccountId` can never be passed where an
//! `OrderId` is expected.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::error::DomainError;

macro_rules! uuid_id {
    ($(#[$meta:meta])* $name:ident, $field:literal) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(Uuid);

        impl $name {
            /// A new random id. Used at the edges (HTTP functions); the engine never makes
            /// random ids, it derives them (`derived`) so replays are identical.
            pub fn random() -> Self {
                $name(Uuid::new_v4())
            }

            /// A deterministic id derived from a name (UUID v5 in this type's namespace).
            pub fn derived(name: &str) -> Self {
                $name(Uuid::new_v5(&Self::NAMESPACE, name.as_bytes()))
            }

            const NAMESPACE: Uuid = Uuid::from_u128(
                0x5f6d_0000_0000_5000_8000_0000_0000_0000 ^ (fnv1a($field.as_bytes()) as u128),
            );

            pub const fn from_uuid(id: Uuid) -> Self {
                $name(id)
            }

            pub const fn from_u128(id: u128) -> Self {
                $name(Uuid::from_u128(id))
            }

            pub fn as_uuid(&self) -> Uuid {
                self.0
            }

            pub fn parse(input: &str) -> Result<Self, DomainError> {
                Uuid::try_parse(input).map($name).map_err(|_| DomainError::Invalid {
                    field: $field,
                    reason: "expected a UUID such as 0191e0a4-8b8c-7d53-9b1e-3c1f6c9a2b10".into(),
                })
            }
        }

        impl FromStr for $name {
            type Err = DomainError;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                $name::parse(s)
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                fmt::Display::fmt(&self.0, f)
            }
        }
    };
}

const fn fnv1a(bytes: &[u8]) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    let mut i = 0;
    while i < bytes.len() {
        hash ^= bytes[i] as u64;
        hash = hash.wrapping_mul(0x0100_0000_01b3);
        i += 1;
    }
    hash
}

uuid_id!(
    /// A person or bot that logs in.
    UserId, "user_id"
);
uuid_id!(
    /// A trading account (paper or broker-backed) owned by one user.
    AccountId, "account_id"
);
uuid_id!(
    /// An order, assigned by the platform when the order is first accepted at the edge.
    OrderId, "order_id"
);
uuid_id!(
    /// A deployed strategy instance.
    StrategyId, "strategy_id"
);
uuid_id!(
    /// A research job (a backtest or an optimisation) of one user.
    JobId, "job_id"
);
uuid_id!(
    /// An event's id: derived from what produced it, so a replay produces the same id and
    /// consumers can drop duplicates.
    EventId, "event_id"
);

/// The client's own id for an order, unique per account; the key of order idempotency.
///
/// 1 to 64 characters from `A-Z a-z 0-9 . _ : -` (what FIX `ClOrdID` values and bots'
/// UUIDs use), so it is safe in logs, URLs and store keys.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct ClientOrderId(String);

impl ClientOrderId {
    pub const MAX_LEN: usize = 64;

    pub fn parse(input: &str) -> Result<Self, DomainError> {
        const FIELD: &str = "client_order_id";
        if input.is_empty() {
            return Err(DomainError::Empty { field: FIELD });
        }
        if input.len() > Self::MAX_LEN {
            return Err(DomainError::TooLong {
                field: FIELD,
                max: Self::MAX_LEN,
            });
        }
        if !input
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._:-".contains(&b))
        {
            return Err(DomainError::InvalidChars {
                field: FIELD,
                reason: "allowed are letters, digits and . _ : -",
            });
        }
        Ok(ClientOrderId(input.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for ClientOrderId {
    type Error = DomainError;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        ClientOrderId::parse(&value)
    }
}

impl From<ClientOrderId> for String {
    fn from(id: ClientOrderId) -> String {
        id.0
    }
}

impl FromStr for ClientOrderId {
    type Err = DomainError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        ClientOrderId::parse(s)
    }
}

impl fmt::Display for ClientOrderId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_parse_and_print_as_uuids() {
        let id = AccountId::parse("0191e0a4-8b8c-7d53-9b1e-3c1f6c9a2b10").unwrap();
        assert_eq!(id.to_string(), "0191e0a4-8b8c-7d53-9b1e-3c1f6c9a2b10");
        let err = OrderId::parse("not-a-uuid").unwrap_err();
        assert_eq!(err.field(), Some("order_id"));
    }

    #[test]
    fn derived_ids_are_deterministic_and_distinct_per_type() {
        assert_eq!(OrderId::derived("x"), OrderId::derived("x"));
        assert_ne!(OrderId::derived("x"), OrderId::derived("y"));
        assert_ne!(
            OrderId::derived("x").as_uuid(),
            AccountId::derived("x").as_uuid()
        );
    }

    #[test]
    fn client_order_ids_are_validated() {
        assert!(ClientOrderId::parse("bot-7:2026.11.22_0001").is_ok());
        assert_eq!(
            ClientOrderId::parse("").unwrap_err().field(),
            Some("client_order_id")
        );
        assert!(ClientOrderId::parse(&"x".repeat(65)).is_err());
        assert!(ClientOrderId::parse("has space").is_err());
        assert!(ClientOrderId::parse("ünïcode").is_err());
        assert!(serde_json::from_str::<ClientOrderId>("\"a b\"").is_err());
    }
}
