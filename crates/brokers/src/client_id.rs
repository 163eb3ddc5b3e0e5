//! The client order id a venue is given for a Stratus order: the order's UUID without
//! hyphens (32 characters — within Binance's 36 and Alpaca's 128, and of the characters
//! both allow), and for the n-th replacement of it `-<n>` (n ≤ [`MAX_REVISION`]) (venues that replace an order
//! by a new one want a new, unique client id). Decoding gives the order id back whatever
//! the revision, so every report of a replaced order finds the one Stratus order.

use domain::OrderId;

/// The most replacements an order can have (the id stays within 36 characters).
pub const MAX_REVISION: u32 = 999;

/// The client order id of `order`'s `revision` (0: as first submitted; at most
/// [`MAX_REVISION`], which a caller checks before replacing).
pub fn encode(order: OrderId, revision: u32) -> String {
    let simple = order.as_uuid().simple().to_string();
    if revision == 0 {
        simple
    } else {
        format!("{simple}-{}", revision.min(MAX_REVISION))
    }
}

/// The order and revision a client order id names; `None` for ids Stratus did not make
/// (orders placed at the venue by other means).
pub fn decode(text: &str) -> Option<(OrderId, u32)> {
    let (uuid, revision) = match text.split_once('-') {
        Some((uuid, n)) if n.bytes().all(|b| b.is_ascii_digit()) => (uuid, n.parse().ok()?),
        Some(_) => return None,
        None => (text, 0),
    };
    if uuid.len() != 32 || revision > MAX_REVISION {
        return None;
    }
    OrderId::parse(uuid).ok().map(|id| (id, revision))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_with_revisions() {
        let id = OrderId::random();
        for revision in [0, 1, 7, 999] {
            let text = encode(id, revision);
            assert!(text.len() <= 36, "{text}");
            assert!(text.chars().all(|c| c.is_ascii_alphanumeric() || c == '-'));
            assert_eq!(decode(&text), Some((id, revision)));
        }
        assert_eq!(
            decode(&id.to_string()),
            None,
            "hyphenated UUIDs are not ours"
        );
        assert_eq!(decode("my-own-order"), None);
        assert_eq!(decode(&format!("{}-x", encode(id, 0))), None);
        assert_eq!(decode(&format!("{}-1000", encode(id, 0))), None);
    }
}
