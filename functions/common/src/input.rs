//! Input types shared by request bodies.

use std::fmt;

use domain::Decimal;
use serde::de::{self, Deserializer, Visitor};
use serde::{Deserialize, Serialize};

/// A decimal in a request body: a JSON string (`"10.25"`, exact; preferred) or a JSON
/// number (read through its shortest decimal form, so `0.1` is 0.1). NaN, infinities,
/// exponents beyond `Decimal`'s range and other junk are refused with the field named.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct DecimalInput(pub Decimal);

impl<'de> Deserialize<'de> for DecimalInput {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = DecimalInput;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a decimal number such as \"10.25\"")
            }

            fn visit_str<E: de::Error>(self, v: &str) -> Result<DecimalInput, E> {
                let text = v.trim();
                if text.is_empty() || text.len() > 40 {
                    return Err(E::custom(format!("{v:?} is not a decimal number")));
                }
                let parsed = if text.contains(['e', 'E']) {
                    Decimal::from_scientific(text)
                } else {
                    text.parse::<Decimal>()
                };
                parsed
                    .map(DecimalInput)
                    .map_err(|_| E::custom(format!("{v:?} is not a decimal number")))
            }

            fn visit_i64<E: de::Error>(self, v: i64) -> Result<DecimalInput, E> {
                Ok(DecimalInput(Decimal::from(v)))
            }

            fn visit_u64<E: de::Error>(self, v: u64) -> Result<DecimalInput, E> {
                Ok(DecimalInput(Decimal::from(v)))
            }

            fn visit_f64<E: de::Error>(self, v: f64) -> Result<DecimalInput, E> {
                if !v.is_finite() {
                    return Err(E::custom("not a finite number"));
                }
                self.visit_str(&v.to_string())
            }
        }
        deserializer.deserialize_any(V)
    }
}

impl DecimalInput {
    pub fn value(self) -> Decimal {
        self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(json: &str) -> Result<Decimal, serde_json::Error> {
        serde_json::from_str::<DecimalInput>(json).map(|d| d.0)
    }

    #[test]
    fn strings_and_numbers_are_read_exactly() {
        assert_eq!(parse("\"10.25\"").expect("string").to_string(), "10.25");
        assert_eq!(parse("0.1").expect("float").to_string(), "0.1");
        assert_eq!(parse("42").expect("int").to_string(), "42");
        assert_eq!(parse("\"1e3\"").expect("exp").to_string(), "1000");
        assert!(parse("\"ten\"").is_err());
        assert!(parse("\"\"").is_err());
        assert!(parse("true").is_err());
        assert!(parse("\"1e400\"").is_err());
        assert!(parse("1e300").is_err(), "beyond Decimal's range");
    }
}
