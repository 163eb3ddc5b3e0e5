//! The values a request may carry, as types. Each one checks its rule while serde reads
//! it (so an error names the field) and states the same rule as its JSON Schema
//! (`utoipa::ToSchema`). The OpenAPI document is generated from these types, so it says
//! exactly what the server accepts: no more, no less (`scripts/fuzz-api` holds the two
//! together).
//!
//! Decimals are JSON strings of digits with an optional fraction (`"10.25"`): exact, and
//! the same in requests and answers. A JSON number is refused, because a binary float
//! cannot say which decimal it means.

use std::collections::BTreeMap;
use std::fmt;

use domain::Decimal;
use serde::de::{self, Deserializer};
use serde::{Deserialize, Serialize};
use utoipa::openapi::schema::{ObjectBuilder, Schema, Type};
use utoipa::openapi::{RefOr, SchemaFormat};

/// Regular expressions of the document, written for both ECMA-262 (the document's
/// dialect) and Python's `re` (schemathesis): character classes and counted repetition
/// only, no lookaround, no `\s`, no `\p{…}`.
pub mod pattern {
    /// Rust's `char::is_control` (Unicode category Cc).
    pub const CONTROL: &str = r"\x00-\x1f\x7f-\x9f";
    /// Rust's `char::is_whitespace` (Unicode White_Space), what `str::trim` removes.
    pub const SPACE: &str =
        r"\t\n\x0b\x0c\r \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000";

    /// Text that, trimmed, is 1 to `max` characters with no control character.
    pub fn trimmed_text(max: usize) -> String {
        let (s, c) = (SPACE, CONTROL);
        let inner = max.saturating_sub(2);
        format!("^[{s}]*[^{s}{c}]([^{c}]{{0,{inner}}}[^{s}{c}])?[{s}]*$")
    }

    /// A positive decimal of at most `int_digits` significant integer digits whose
    /// fraction, trailing zeros aside, is one of `fractions` (digit strings, none empty,
    /// none ending in 0) or, with `free_digits`, any digits up to that many.
    pub fn positive_decimal(int_digits: usize, fraction: &Fraction) -> String {
        let whole = format!("0*[1-9][0-9]{{0,{}}}", int_digits.saturating_sub(1));
        let (any, nonzero) = match fraction {
            Fraction::Digits(n) => (
                format!("[0-9]{{1,{n}}}0*"),
                format!("[0-9]{{0,{}}}[1-9]0*", n.saturating_sub(1)),
            ),
            Fraction::Steps(steps) => {
                let alternatives: Vec<String> = steps.iter().map(|f| format!("{f}0*")).collect();
                let nonzero = alternatives.join("|");
                if nonzero.is_empty() {
                    ("0+".to_owned(), String::new())
                } else {
                    (format!("0+|{nonzero}"), nonzero)
                }
            }
        };
        let mut out = format!("^({whole}(\\.({any}))?");
        if !nonzero.is_empty() {
            out.push_str(&format!("|0+\\.({nonzero})"));
        }
        out.push_str(")$");
        out
    }

    /// What the fraction of a decimal may be.
    #[derive(Debug, Clone, PartialEq, Eq)]
    pub enum Fraction {
        /// Up to this many digits.
        Digits(u32),
        /// One of these (the multiples of a tick or lot below 1, trailing zeros
        /// removed).
        Steps(Vec<String>),
    }

    /// The fractions a decimal on a grid of `step` can have: `Digits(s)` when the step
    /// is `10^-s` (or 1 and above: no fraction), else the list of multiples below 1.
    pub fn grid(step: domain::Decimal) -> Fraction {
        let step = step.normalize();
        if step >= domain::Decimal::ONE {
            return Fraction::Steps(Vec::new());
        }
        if step.mantissa() == 1 {
            return Fraction::Digits(step.scale());
        }
        let mut steps = Vec::new();
        let mut at = step;
        // A step below 1 with a mantissa above 1 (0.25, 0.05): at most 10^scale / 2
        // multiples; catalogs keep these small.
        while at < domain::Decimal::ONE && steps.len() < 1000 {
            let text = at.normalize().to_string();
            if let Some((_, fraction)) = text.split_once('.') {
                steps.push(fraction.to_owned());
            }
            at += step;
        }
        Fraction::Steps(steps)
    }
}

/// Integer digits a decimal input may have (prices, quantities and amounts below 10^12:
/// their products stay far inside `Decimal`, ticks inside `i64`, lots inside `u64`).
pub const INTEGER_DIGITS: usize = 12;
/// Fraction digits a decimal input may have (12 + 16 = 28, `Decimal`'s precision).
pub const FRACTION_DIGITS: u32 = 16;
/// The longest decimal text accepted (leading and trailing zeros included).
pub const DECIMAL_TEXT_MAX: usize = 40;

fn string_schema(pattern: String, max_length: usize, description: &str) -> RefOr<Schema> {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .pattern(Some(pattern))
        .max_length(Some(max_length))
        .description(Some(description))
        .into()
}

/// Reads a positive decimal string with at most `fraction_digits` significant fraction
/// digits (see the module docs); the message says what is wrong.
fn positive_decimal(text: &str, fraction_digits: u32) -> Result<Decimal, String> {
    let bad = || format!("{text:?} is not a decimal number such as \"10.25\"");
    if text.is_empty() || text.chars().count() > DECIMAL_TEXT_MAX {
        return Err(bad());
    }
    let (whole, fraction) = match text.split_once('.') {
        Some((w, f)) => (w, Some(f)),
        None => (text, None),
    };
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    if !digits(whole) || fraction.is_some_and(|f| !digits(f)) {
        return Err(bad());
    }
    let whole = whole.trim_start_matches('0');
    let fraction = fraction.map_or("", |f| f.trim_end_matches('0'));
    if whole.len() > INTEGER_DIGITS {
        return Err(format!("must be below 10^{INTEGER_DIGITS}"));
    }
    if fraction.len() > fraction_digits as usize {
        return Err(format!("at most {fraction_digits} decimal places"));
    }
    let canonical = match (whole.is_empty(), fraction.is_empty()) {
        (true, true) => "0".to_owned(),
        (true, false) => format!("0.{fraction}"),
        (false, true) => whole.to_owned(),
        (false, false) => format!("{whole}.{fraction}"),
    };
    let value: Decimal = canonical.parse().map_err(|_| bad())?;
    if value <= Decimal::ZERO {
        return Err("must be greater than zero".to_owned());
    }
    Ok(value)
}

/// Deserializes a string, refusing every other JSON type with `expected`.
fn string<'de, D: Deserializer<'de>>(deserializer: D, expected: &str) -> Result<String, D::Error> {
    struct V<'a>(&'a str);
    impl de::Visitor<'_> for V<'_> {
        type Value = String;
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str(self.0)
        }
        fn visit_str<E: de::Error>(self, v: &str) -> Result<String, E> {
            Ok(v.to_owned())
        }
    }
    deserializer.deserialize_str(V(expected))
}

/// Declares a validated string-backed input type: its serde reading, its schema.
macro_rules! input_type {
    ($(#[$doc:meta])* $name:ident($inner:ty), $expected:literal, $check:expr, $schema:expr) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
        #[serde(transparent)]
        pub struct $name(pub $inner);

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                let text = string(deserializer, $expected)?;
                let check: fn(&str) -> Result<$inner, String> = $check;
                check(&text).map($name).map_err(de::Error::custom)
            }
        }

        impl utoipa::PartialSchema for $name {
            fn schema() -> RefOr<Schema> {
                let schema: fn() -> RefOr<Schema> = $schema;
                schema()
            }
        }

        impl utoipa::ToSchema for $name {}
    };
}

input_type!(
    /// A positive decimal: a price, a quantity, a limit (see the module docs).
    Positive(Decimal),
    "a decimal number as a string, such as \"10.25\"",
    |text| positive_decimal(text, FRACTION_DIGITS),
    || string_schema(
        pattern::positive_decimal(INTEGER_DIGITS, &pattern::Fraction::Digits(FRACTION_DIGITS)),
        DECIMAL_TEXT_MAX,
        "A positive decimal as a string (exact): below 10^12, at most 16 decimal places."
    )
);

/// Decimal places of a cash amount.
pub const AMOUNT_FRACTION_DIGITS: u32 = 8;

input_type!(
    /// A cash amount: positive, below 10^12, at most 8 decimal places.
    Amount(Decimal),
    "an amount as a string, such as \"1000\"",
    |text| positive_decimal(text, AMOUNT_FRACTION_DIGITS),
    || string_schema(
        pattern::positive_decimal(
            INTEGER_DIGITS,
            &pattern::Fraction::Digits(AMOUNT_FRACTION_DIGITS)
        ),
        DECIMAL_TEXT_MAX,
        "A positive amount as a string (exact): below 10^12, at most 8 decimal places."
    )
);

/// Trims `text` and checks it is 1 to `max` characters with no control character.
fn trimmed_text(text: &str, max: usize) -> Result<String, String> {
    let trimmed = text.trim();
    let count = trimmed.chars().count();
    if count == 0 || count > max || trimmed.chars().any(char::is_control) {
        return Err(format!("must be 1 to {max} printable characters"));
    }
    Ok(trimmed.to_owned())
}

input_type!(
    /// A name or label: 1 to 64 printable characters once trimmed (and kept trimmed).
    Name(String),
    "a name (a string)",
    |text| trimmed_text(text, 64),
    || ObjectBuilder::new()
        .schema_type(Type::String)
        .pattern(Some(pattern::trimmed_text(64)))
        .description(Some(
            "1 to 64 characters without control characters, surrounding spaces ignored."
        ))
        .into()
);

input_type!(
    /// A free-text note (a deposit's reference): up to 200 characters, no control
    /// characters, kept as sent.
    Note(String),
    "a note (a string)",
    |text| {
        if text.chars().count() > 200 || text.chars().any(char::is_control) {
            Err("at most 200 printable characters".to_owned())
        } else {
            Ok(text.to_owned())
        }
    },
    || ObjectBuilder::new()
        .schema_type(Type::String)
        .max_length(Some(200))
        .pattern(Some(format!("^[^{}]*$", pattern::CONTROL)))
        .description(Some("Up to 200 characters without control characters."))
        .into()
);

/// The email grammar: trimmed, then `local@domain`, the local part 1 to 64 of the
/// characters HTML allows there, the domain two or more labels of letters, digits and
/// inner hyphens. (A regular expression the document states as is.)
const EMAIL_LOCAL: &str = "[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]{1,64}";
const EMAIL_LABEL: &str = "[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?";

fn email_pattern() -> String {
    let s = pattern::SPACE;
    format!("^[{s}]*{EMAIL_LOCAL}@{EMAIL_LABEL}(\\.{EMAIL_LABEL})+[{s}]*$")
}

/// The longest email accepted, surrounding spaces included.
pub const EMAIL_MAX: usize = 254;

input_type!(
    /// An email address as accounts are registered with: lower-cased, trimmed.
    Email(String),
    "an email address (a string)",
    email,
    || ObjectBuilder::new()
        .schema_type(Type::String)
        .max_length(Some(EMAIL_MAX))
        .pattern(Some(email_pattern()))
        .description(Some("An email address (name@example.com); compared without case."))
        .into()
);

/// `text` as an email address is kept: trimmed, lower-cased; the message says what is
/// wrong with it.
pub fn email(text: &str) -> Result<String, String> {
    let bad = || "must look like name@example.com".to_owned();
    if text.chars().count() > EMAIL_MAX {
        return Err(format!("must be at most {EMAIL_MAX} characters"));
    }
    let trimmed = text.trim();
    let (local, domain) = trimmed.rsplit_once('@').ok_or_else(bad)?;
    let local_ok = (1..=64).contains(&local.len())
        && local
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b".!#$%&'*+/=?^_`{|}~-".contains(&b));
    let labels: Vec<&str> = domain.split('.').collect();
    let label_ok = |l: &&str| {
        (1..=63).contains(&l.len())
            && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
            && !l.starts_with('-')
            && !l.ends_with('-')
    };
    if !local_ok || labels.len() < 2 || !labels.iter().all(label_ok) {
        return Err(bad());
    }
    Ok(trimmed.to_lowercase())
}

/// Password length in characters.
pub const PASSWORD_MIN: usize = 12;
pub const PASSWORD_MAX: usize = 128;

input_type!(
    /// A new password: 12 to 128 characters (length is what makes a password strong;
    /// composition rules are not asked, as NIST SP 800-63B advises).
    NewPassword(String),
    "a password (a string)",
    |text| {
        let n = text.chars().count();
        if n < PASSWORD_MIN {
            Err(format!("must be at least {PASSWORD_MIN} characters"))
        } else if n > PASSWORD_MAX {
            Err(format!("must be at most {PASSWORD_MAX} characters"))
        } else {
            Ok(text.to_owned())
        }
    },
    || ObjectBuilder::new()
        .schema_type(Type::String)
        .min_length(Some(PASSWORD_MIN))
        .max_length(Some(PASSWORD_MAX))
        .format(Some(SchemaFormat::Custom("password".into())))
        .into()
);

input_type!(
    /// A client's order id: 1 to 64 of `A-Z a-z 0-9 . _ : -`.
    ClientOrderIdInput(domain::ClientOrderId),
    "a client order id (a string)",
    |text| domain::ClientOrderId::parse(text).map_err(|e| e.to_string()),
    || ObjectBuilder::new()
        .schema_type(Type::String)
        .pattern(Some("^[A-Za-z0-9._:-]{1,64}$"))
        .description(Some(
            "Idempotency key per account: the same body again returns the original order (200); another body is a 409."
        ))
        .into()
);

/// A timeframe as the API writes it: a number without leading zeros and a unit
/// (`1m`, `15m`, `4h`, `1d`, `1w`), at most 52 weeks.
fn timeframe(text: &str) -> Result<domain::Timeframe, String> {
    if text.starts_with('0') {
        return Err(format!(
            "{text:?} is not a timeframe; write the number without leading zeros (1m, 4h, 1d)"
        ));
    }
    domain::Timeframe::parse(text).map_err(|e| e.to_string())
}

/// The timeframes up to 52 weeks, unit by unit, as alternatives of whole numbers.
fn timeframe_pattern() -> String {
    // s: up to 7 digits (≤ 9,999,999 s < 52 w); m ≤ 524,160; h ≤ 8,736; d ≤ 364; w ≤ 52.
    let minutes = "[1-9][0-9]{0,4}|[1-4][0-9]{5}|5[01][0-9]{4}|52[0-3][0-9]{3}|5240[0-9]{2}|5241[0-5][0-9]|524160";
    let hours = "[1-9][0-9]{0,2}|[1-7][0-9]{3}|8[0-6][0-9]{2}|87[0-2][0-9]|873[0-6]";
    let days = "[1-9][0-9]?|[12][0-9]{2}|3[0-5][0-9]|36[0-4]";
    let weeks = "[1-9]|[1-4][0-9]|5[0-2]";
    format!("^(([1-9][0-9]{{0,6}})s|({minutes})m|({hours})h|({days})d|({weeks})w)$")
}

input_type!(
    /// A candle timeframe (see [`timeframe`]).
    TimeframeInput(domain::Timeframe),
    "a timeframe such as \"1m\" (a string)",
    timeframe,
    || ObjectBuilder::new()
        .schema_type(Type::String)
        .pattern(Some(timeframe_pattern()))
        .description(Some("A number and a unit s, m, h, d or w (1m, 15m, 4h, 1d), at most 52 weeks."))
        .into()
);

fn symbol(text: &str) -> Result<domain::Symbol, String> {
    domain::Symbol::parse(text).map_err(|e| e.to_string())
}

fn symbol_schema() -> RefOr<Schema> {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .pattern(Some(symbol_pattern()))
        .into()
}

/// The symbol grammar (letters compared without case): what `domain::Symbol` parses.
fn symbol_pattern() -> String {
    format!(
        "^[A-Za-z0-9][A-Za-z0-9./_-]{{0,{}}}$",
        domain::Symbol::MAX_LEN - 1
    )
}

input_type!(
    /// A symbol as written (the document's `Instrument` lists those traded here; the
    /// served document narrows this to them).
    SymbolInput(domain::Symbol),
    "a symbol such as \"AAPL\" (a string)",
    symbol,
    symbol_schema
);

input_type!(
    /// A symbol that must be an instrument traded here (the handler checks the catalog;
    /// the served document lists them: see `crate::openapi::for_catalog`).
    InstrumentSymbol(domain::Symbol),
    "a symbol such as \"AAPL\" (a string)",
    symbol,
    symbol_schema
);

/// A broker's credentials: 1 to 10 named values, names of letters, digits and `_` (1 to
/// 64), values 1 to 4,096 characters.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct Credentials(pub BTreeMap<String, String>);

impl<'de> Deserialize<'de> for Credentials {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let map = BTreeMap::<String, String>::deserialize(deserializer)?;
        if map.is_empty() || map.len() > 10 {
            return Err(de::Error::custom("give 1 to 10 credential fields"));
        }
        for (name, value) in &map {
            if name.is_empty()
                || name.len() > 64
                || !name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
            {
                return Err(de::Error::custom(format!(
                    "{name:?}: names are 1 to 64 letters, digits or _"
                )));
            }
            let n = value.chars().count();
            if n == 0 || n > 4096 {
                return Err(de::Error::custom(format!(
                    "{name}: values are 1 to 4096 characters"
                )));
            }
        }
        Ok(Credentials(map))
    }
}

impl utoipa::PartialSchema for Credentials {
    fn schema() -> RefOr<Schema> {
        let value = ObjectBuilder::new()
            .schema_type(Type::String)
            .min_length(Some(1))
            .max_length(Some(4096));
        ObjectBuilder::new()
            .schema_type(Type::Object)
            .property_names(Some(
                ObjectBuilder::new()
                    .schema_type(Type::String)
                    .pattern(Some("^[A-Za-z0-9_]{1,64}$")),
            ))
            .additional_properties(Some(value))
            .min_properties(Some(1))
            .max_properties(Some(10))
            .description(Some(
                "The broker's credential fields by name; stored sealed, never returned.",
            ))
            .into()
    }
}

impl utoipa::ToSchema for Credentials {}

/// A query string's calendar date, written `YYYY-MM-DD` (four-digit years only): a 400
/// naming `field` otherwise.
pub fn query_date(field: &str, text: &str) -> Result<domain::NaiveDate, crate::ApiError> {
    let shaped = text.len() == 10
        && text.bytes().enumerate().all(|(i, b)| {
            if i == 4 || i == 7 {
                b == b'-'
            } else {
                b.is_ascii_digit()
            }
        });
    shaped
        .then(|| domain::NaiveDate::parse_from_str(text, "%Y-%m-%d").ok())
        .flatten()
        .ok_or_else(|| {
            crate::ApiError::bad_query(field, format!("{text:?} is not a date like 2026-12-01"))
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn positive(json: &str) -> Result<String, String> {
        serde_json::from_str::<Positive>(json)
            .map(|d| d.0.to_string())
            .map_err(|e| e.to_string())
    }

    /// Checks a value against a pattern the way the document means it (anchored).
    fn matches(pattern: &str, text: &str) -> bool {
        regex_lite::Regex::new(pattern)
            .expect("the pattern compiles")
            .is_match(text)
    }

    #[test]
    fn decimals_are_strings_read_exactly() {
        assert_eq!(positive("\"10.25\"").as_deref(), Ok("10.25"));
        assert_eq!(positive("\"007.500\"").as_deref(), Ok("7.5"));
        assert_eq!(
            positive("\"0.0000000000000001\"").as_deref(),
            Ok("0.0000000000000001")
        );
        for bad in [
            "10.25",
            "\"\"",
            "\"ten\"",
            "\"1e3\"",
            "\"-1\"",
            "\"+1\"",
            "\" 1\"",
            "\"1.\"",
            "\".5\"",
            "\"0\"",
            "\"0.000\"",
            "\"1_000\"",
            "\"1000000000000\"",
            "true",
            "\"0.00000000000000001\"",
        ] {
            assert!(positive(bad).is_err(), "{bad}");
        }
    }

    /// The schema's pattern accepts exactly what the type accepts, over a sweep of
    /// shapes near every boundary.
    #[test]
    fn the_decimal_patterns_say_what_the_parsers_accept() {
        let cases = [
            (
                "positive",
                pattern::positive_decimal(
                    INTEGER_DIGITS,
                    &pattern::Fraction::Digits(FRACTION_DIGITS),
                ),
                FRACTION_DIGITS,
            ),
            (
                "amount",
                pattern::positive_decimal(
                    INTEGER_DIGITS,
                    &pattern::Fraction::Digits(AMOUNT_FRACTION_DIGITS),
                ),
                AMOUNT_FRACTION_DIGITS,
            ),
        ];
        let mut texts = vec![
            "0".to_owned(),
            "00".to_owned(),
            "0.0".to_owned(),
            "1".to_owned(),
            "01".to_owned(),
            "1.0".to_owned(),
            "1.".to_owned(),
            ".1".to_owned(),
            "-1".to_owned(),
            "1e3".to_owned(),
            "999999999999".to_owned(),
            "1000000000000".to_owned(),
            "0999999999999.9".to_owned(),
        ];
        for places in 0..20 {
            texts.push(format!("0.{}1", "0".repeat(places)));
            texts.push(format!("1.{}1", "0".repeat(places)));
            texts.push(format!("1.{}10000", "0".repeat(places)));
            texts.push(format!("{}1", "0".repeat(places)));
        }
        for (name, pattern, places) in cases {
            for text in &texts {
                let parsed = positive_decimal(text, places).is_ok();
                let short = text.chars().count() <= DECIMAL_TEXT_MAX;
                assert_eq!(matches(&pattern, text) && short, parsed, "{name}: {text:?}");
            }
        }
    }

    #[test]
    fn grid_patterns_follow_the_tick() {
        let quarter = pattern::positive_decimal(12, &pattern::grid("0.25".parse().expect("tick")));
        for (text, ok) in [
            ("1", true),
            ("1.25", true),
            ("1.50", true),
            ("0.75", true),
            ("0.5", true),
            ("1.2", false),
            ("0.0", false),
            ("0.05", false),
            ("12.750", true),
        ] {
            assert_eq!(matches(&quarter, text), ok, "{text}");
        }
        let cent = pattern::positive_decimal(12, &pattern::grid("0.01".parse().expect("tick")));
        for (text, ok) in [
            ("1", true),
            ("1.25", true),
            ("1.255", false),
            ("0.01", true),
            ("0.001", false),
            ("0.010", true),
        ] {
            assert_eq!(matches(&cent, text), ok, "{text}");
        }
        let whole = pattern::positive_decimal(12, &pattern::grid(domain::Decimal::ONE));
        for (text, ok) in [
            ("1", true),
            ("1.0", true),
            ("1.5", false),
            ("0.5", false),
            ("0", false),
        ] {
            assert_eq!(matches(&whole, text), ok, "{text}");
        }
    }

    #[test]
    fn text_patterns_say_what_the_parsers_accept() {
        let name = pattern::trimmed_text(64);
        let texts = [
            "a",
            " a ",
            "\ta\n",
            "",
            " ",
            "a\u{7}b",
            "a b",
            &"x".repeat(64),
            &"x".repeat(65),
            &format!(" {} ", "x".repeat(64)),
            "\u{3000}名前\u{3000}",
            "a\u{85}",
            "\u{feff}a",
        ];
        for text in texts {
            assert_eq!(
                matches(&name, text),
                trimmed_text(text, 64).is_ok(),
                "{text:?}"
            );
        }
        let email = email_pattern();
        for text in [
            "ada@example.com",
            " Ada@Example.COM ",
            "a@b",
            "a@b.c",
            "@b.co",
            "a@-b.co",
            "a@b-.co",
            "a@b..co",
            "a b@c.co",
            "a@b.co.",
            "x+tag@sub.example.org",
            "é@b.co",
        ] {
            let parsed = serde_json::from_value::<Email>(serde_json::json!(text)).is_ok();
            assert_eq!(matches(&email, text), parsed, "{text:?}");
        }
    }

    #[test]
    fn timeframes_are_canonical_and_the_pattern_agrees() {
        let p = timeframe_pattern();
        for text in [
            "1s",
            "9999999s",
            "10000000s",
            "1m",
            "524160m",
            "524161m",
            "8736h",
            "8737h",
            "364d",
            "365d",
            "52w",
            "53w",
            "01m",
            "0m",
            "1É",
            "É",
            "m",
            "1x",
            "60s",
        ] {
            assert_eq!(matches(&p, text), timeframe(text).is_ok(), "{text}");
        }
    }
}
