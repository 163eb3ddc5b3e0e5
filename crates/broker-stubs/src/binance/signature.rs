//! Binance's request signatures (HMAC-SHA256 keys), verified as Binance documents them:
//!
//! - REST (`rest-api.md`, "SIGNED Endpoint Examples"): the payload is the query string
//!   concatenated without separator to the body, each as sent (percent-encoded), without
//!   the `signature` parameter; the signature is the hex HMAC of it under the secret key,
//!   compared without regard to case.
//! - WebSocket API (`web-socket-api.md`, "SIGNED request example (HMAC)"): every `params`
//!   entry but `signature`, sorted by name, as `name=value` joined by `&`. The docs sign the
//!   values as they are; the official SDK (`binance-common`'s `websocket_api_signature`)
//!   percent-encodes them first. The two agree on plain ASCII values, and the stub accepts
//!   either so that both the docs' example and the SDK verify.

use aws_lc_rs::hmac;
use serde_json::Value;

/// The hex HMAC-SHA256 of `payload` under `secret`.
#[cfg(test)]
pub(crate) fn sign(secret: &str, payload: &str) -> String {
    let key = hmac::Key::new(hmac::HMAC_SHA256, secret.as_bytes());
    hex::encode(hmac::sign(&key, payload.as_bytes()).as_ref())
}

/// Whether `signature` (hex, either case) is the HMAC of `payload` under `secret`.
pub(crate) fn verify(secret: &str, payload: &str, signature: &str) -> bool {
    let Ok(tag) = hex::decode(signature) else {
        return false;
    };
    let key = hmac::Key::new(hmac::HMAC_SHA256, secret.as_bytes());
    hmac::verify(&key, payload.as_bytes(), &tag).is_ok()
}

/// A raw `a=1&b=2` string without its `signature` pair, and that pair's decoded value.
fn strip_signature(raw: &str) -> (String, Option<String>) {
    let mut kept = Vec::new();
    let mut signature = None;
    for pair in raw.split('&').filter(|p| !p.is_empty()) {
        let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
        if name == "signature" {
            signature = form_urlencoded::parse(format!("v={value}").as_bytes())
                .next()
                .map(|(_, v)| v.into_owned());
        } else {
            kept.push(pair);
        }
    }
    (kept.join("&"), signature)
}

/// A REST request's signature payload and the signature it carries (the query's if
/// both the query and the body carry one, as Binance prefers the query's parameters).
pub(crate) fn rest_payload(query: &str, body: &str) -> (String, Option<String>) {
    let (query, in_query) = strip_signature(query);
    let (body, in_body) = strip_signature(body);
    (format!("{query}{body}"), in_query.or(in_body))
}

fn text(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// The WebSocket API's signature payloads for `params` (see the module docs): as the docs
/// build it, and with values percent-encoded as the SDK builds it.
pub(crate) fn ws_payloads(params: &serde_json::Map<String, Value>) -> [String; 2] {
    let mut entries: Vec<(&String, String)> = params
        .iter()
        .filter(|(k, _)| k.as_str() != "signature")
        .map(|(k, v)| (k, text(v)))
        .collect();
    entries.sort_by(|a, b| a.0.cmp(b.0));
    let plain = entries
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join("&");
    let encoded = form_urlencoded::Serializer::new(String::new())
        .extend_pairs(entries.iter().map(|(k, v)| (k.as_str(), v.as_str())))
        .finish();
    [plain, encoded]
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &str = "NhqPtmdSJYdKjVHjA7PZj4Mge3R5YNiP1e3UZjInClVN65XAbvqqM6A7H5fATj0j";

    #[test]
    fn the_rest_docs_example_verifies() {
        let query = "symbol=LTCBTC&side=BUY&type=LIMIT&timeInForce=GTC&quantity=1&price=0.1\
                     &recvWindow=5000&timestamp=1499827319559\
                     &signature=C8DB56825AE71D6D79447849E617115F4A920FA2ACDCAB2B053C4B2838BD6B71";
        let (payload, signature) = rest_payload(query, "");
        let signature = signature.expect("a signature");
        assert!(verify(SECRET, &payload, &signature), "case does not matter");
        assert_eq!(
            sign(SECRET, &payload),
            "c8db56825ae71d6d79447849e617115f4a920fa2acdcab2b053c4b2838bd6b71"
        );
        assert!(!verify("another secret", &payload, &signature));
        // Split between the query and the body: concatenated without a separator.
        let (payload, _) = rest_payload("symbol=LTCBTC&side=BUY", "type=LIMIT");
        assert_eq!(payload, "symbol=LTCBTC&side=BUYtype=LIMIT");
    }

    #[test]
    fn the_websocket_docs_example_verifies() {
        let params = serde_json::json!({
            "symbol": "BTCUSDT", "side": "SELL", "type": "LIMIT", "timeInForce": "GTC",
            "quantity": "0.01000000", "price": "52000.00", "recvWindow": 100,
            "timestamp": 1645423376532_i64,
            "apiKey": "vmPUZE6mv9SD5VNHk4HlWFsOr6aKE2zvsw0MuIgwCIPy6utIco14y7Ju91duEh8A",
            "signature": "aa1b5712c094bc4e57c05a1a5c1fd8d88dcd628338ea863fec7b88e59fe2db24",
        });
        let map = params.as_object().expect("an object");
        let [plain, encoded] = ws_payloads(map);
        assert_eq!(plain, encoded, "plain ASCII values need no encoding");
        assert!(verify(
            SECRET,
            &plain,
            "aa1b5712c094bc4e57c05a1a5c1fd8d88dcd628338ea863fec7b88e59fe2db24"
        ));
    }
}
