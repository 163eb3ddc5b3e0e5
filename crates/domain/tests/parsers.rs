//! Every parser a client's text reaches answers with a value or an error, never a panic,
//! whatever the text: multi-byte characters at any position included.

#![allow(clippy::unwrap_used)] // tests: a failed unwrap is a failed test

use domain::{
    AccountId, ClientOrderId, Currency, Money, OrderId, Price, Quantity, Symbol, Timeframe,
    Timestamp,
};
use proptest::prelude::*;

fn parse_everything(text: &str) {
    let _ = Timeframe::parse(text);
    let _ = Timestamp::parse(text);
    let _ = Symbol::parse(text);
    let _ = Currency::parse(text);
    let _ = ClientOrderId::parse(text);
    let _ = AccountId::parse(text);
    let _ = OrderId::parse(text);
    let _ = domain::num::parse_decimal("amount", text);
    let _ = Price::parse("price", text);
    let _ = Quantity::parse("quantity", text);
    let _ = Money::parse("amount", text);
}

#[test]
fn a_timeframe_ending_in_a_multibyte_character_is_an_error() {
    for text in ["1É", "É", "5ḿ", "1💥", "💥m", "１m", "1m\u{301}"] {
        let e = Timeframe::parse(text).expect_err(text);
        assert!(e.to_string().contains("is not a timeframe"), "{text}: {e}");
    }
    assert_eq!(Timeframe::parse("15m").unwrap().seconds(), 900);
}

#[test]
fn hand_picked_texts_never_panic() {
    for text in [
        "",
        "É",
        "1É",
        "ÉÉ",
        "1",
        "m",
        "-",
        "+",
        ".",
        "1e99",
        "9".repeat(200).as_str(),
        "\u{0}",
        "\u{feff}1m",
        "1\u{0}",
        "AAPL\u{301}",
        "💥",
        "-0",
        "0.0000000000000000000000000001",
        "79228162514264337593543950336",
        "2026-13-40T25:61:61Z",
        "2026-01-01T00:00:00+99:99",
    ] {
        parse_everything(text);
    }
}

proptest! {
    #[test]
    fn any_text_never_panics(text in any::<String>()) {
        parse_everything(&text);
    }

    #[test]
    fn any_short_text_of_the_grammar_s_characters_never_panics(text in "[0-9.eE+\\-:TZÉ💥smhdw ]{0,12}") {
        parse_everything(&text);
    }
}
