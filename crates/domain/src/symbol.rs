//! `Symbol` and `Currency`: short upper-case codes stored inline so they are `Copy` and
//! cheap to hash on the hot path (every tick and order carries a symbol).

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::error::DomainError;

/// An instrument's ticker: 1 to 15 characters from `A-Z 0-9 . - / _`, starting with a
/// letter or digit. Input is upper-cased (`aapl` → `AAPL`).
///
/// Ordered by length, then bytes (the order of the fields); maps keyed by symbol compare
/// two of them per step of a search, so the order is taken on one 128-bit number.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Symbol {
    len: u8,
    bytes: [u8; Symbol::MAX_LEN],
}

impl Symbol {
    /// The length and the bytes as one big-endian number: its order is theirs.
    #[inline(always)]
    fn key(&self) -> u128 {
        let mut key = [0u8; 16];
        key[0] = self.len;
        key[1..].copy_from_slice(&self.bytes);
        u128::from_be_bytes(key)
    }
}

impl Ord for Symbol {
    #[inline]
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.key().cmp(&other.key())
    }
}

impl PartialOrd for Symbol {
    #[inline]
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Symbol {
    pub const MAX_LEN: usize = 15;

    pub fn parse(input: &str) -> Result<Self, DomainError> {
        const FIELD: &str = "symbol";
        if input.is_empty() {
            return Err(DomainError::Empty { field: FIELD });
        }
        if input.len() > Self::MAX_LEN {
            return Err(DomainError::TooLong {
                field: FIELD,
                max: Self::MAX_LEN,
            });
        }
        let mut bytes = [0u8; Self::MAX_LEN];
        for (i, b) in input.bytes().enumerate() {
            let b = b.to_ascii_uppercase();
            let ok = b.is_ascii_uppercase()
                || b.is_ascii_digit()
                || (i > 0 && matches!(b, b'.' | b'-' | b'/' | b'_'));
            if !ok {
                return Err(DomainError::InvalidChars {
                    field: FIELD,
                    reason: "use A-Z, 0-9 and . - / _ (not first)",
                });
            }
            bytes[i] = b;
        }
        Ok(Symbol {
            len: input.len() as u8,
            bytes,
        })
    }

    pub fn as_str(&self) -> &str {
        // Only ASCII bytes are ever stored (checked in `parse`).
        std::str::from_utf8(&self.bytes[..self.len as usize]).unwrap_or("")
    }
}

impl FromStr for Symbol {
    type Err = DomainError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Symbol::parse(s)
    }
}

impl TryFrom<String> for Symbol {
    type Error = DomainError;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Symbol::parse(&value)
    }
}

impl From<Symbol> for String {
    fn from(s: Symbol) -> String {
        s.as_str().to_owned()
    }
}

impl fmt::Display for Symbol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Debug for Symbol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Symbol({})", self.as_str())
    }
}

/// An ISO 4217-style currency code: exactly three letters, upper-cased.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Currency([u8; 3]);

impl Currency {
    pub const USD: Currency = Currency(*b"USD");

    pub fn parse(input: &str) -> Result<Self, DomainError> {
        const FIELD: &str = "currency";
        let b = input.as_bytes();
        if b.len() != 3 || !b.iter().all(u8::is_ascii_alphabetic) {
            return Err(DomainError::Invalid {
                field: FIELD,
                reason: "expected a three-letter code such as USD".into(),
            });
        }
        Ok(Currency([
            b[0].to_ascii_uppercase(),
            b[1].to_ascii_uppercase(),
            b[2].to_ascii_uppercase(),
        ]))
    }

    pub fn as_str(&self) -> &str {
        std::str::from_utf8(&self.0).unwrap_or("")
    }

    /// Decimal places of the currency's smallest unit (ISO 4217 for fiat; 8 for the
    /// crypto currencies Stratus lists): what a person expects an amount shown to.
    pub fn minor_units(self) -> u32 {
        match &self.0 {
            b"JPY" | b"KRW" | b"VND" | b"CLP" | b"ISK" | b"HUF" => 0,
            b"BHD" | b"KWD" | b"OMR" | b"JOD" | b"TND" | b"IQD" | b"LYD" => 3,
            b"BTC" | b"ETH" => 8,
            _ => 2,
        }
    }
}

impl FromStr for Currency {
    type Err = DomainError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Currency::parse(s)
    }
}

impl TryFrom<String> for Currency {
    type Error = DomainError;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Currency::parse(&value)
    }
}

impl From<Currency> for String {
    fn from(c: Currency) -> String {
        c.as_str().to_owned()
    }
}

impl fmt::Display for Currency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Debug for Currency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Currency({})", self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn symbols_are_normalised_and_validated() {
        assert_eq!(Symbol::parse("aapl").unwrap().as_str(), "AAPL");
        assert_eq!(Symbol::parse("BTC/USD").unwrap().to_string(), "BTC/USD");
        assert!(Symbol::parse("").is_err());
        assert!(Symbol::parse("-ES").is_err());
        assert!(Symbol::parse("A B").is_err());
        assert!(Symbol::parse("ABCDEFGHIJKLMNOP").is_err());
        assert!(Symbol::parse("ÄPL").is_err());
        assert_eq!(
            serde_json::to_string(&Symbol::parse("es").unwrap()).unwrap(),
            "\"ES\""
        );
    }

    /// The order is the one of the fields, length first, then bytes.
    #[test]
    fn order_is_length_then_bytes() {
        let names = [
            "A",
            "B",
            "Z",
            "AA",
            "AB",
            "ZZ",
            "A0",
            "A-",
            "A.B",
            "AAPL",
            "AAPM",
            "ES",
            "ESZ4",
            "BTC/USD",
            "BTC/USDT",
            "9",
            "ABCDEFGHIJKLMNO",
            "ABCDEFGHIJKLMNP",
            "A_B",
        ];
        for a in names {
            for b in names {
                let (sa, sb) = (Symbol::parse(a).unwrap(), Symbol::parse(b).unwrap());
                let fields = (sa.len, sa.bytes).cmp(&(sb.len, sb.bytes));
                assert_eq!(sa.cmp(&sb), fields, "{a} vs {b}");
                assert_eq!(sa.partial_cmp(&sb), Some(fields));
                assert_eq!(sa == sb, fields.is_eq());
            }
        }
    }

    #[test]
    fn currencies_are_three_letters() {
        assert_eq!(Currency::parse("usd").unwrap(), Currency::USD);
        assert!(Currency::parse("US").is_err());
        assert!(Currency::parse("U5D").is_err());
    }
}
