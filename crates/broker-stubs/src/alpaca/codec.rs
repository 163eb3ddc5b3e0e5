//! The two codecs Alpaca's streams speak: JSON, and MessagePack for a client that opens
//! the connection with `Content-Type: application/msgpack` (alpaca-py's data stream always
//! does, and reads market-data times as MessagePack timestamps). Messages are built as
//! JSON values and converted on the way out; what a client sends is read in either form.

use axum::extract::ws::Message;
use axum::http::HeaderMap;
use axum::http::header::CONTENT_TYPE;
use domain::Timestamp;
use serde_json::{Map, Number, Value};

/// How a connection's frames are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Codec {
    /// JSON in text frames (the market-data stream).
    JsonText,
    /// JSON in binary frames (the paper/live `trade_updates` stream).
    JsonBinary,
    /// MessagePack in binary frames; on the market-data stream, `t` fields are
    /// MessagePack timestamps (extension type -1), as Alpaca sends them.
    MsgPack { timestamps: bool },
}

impl Codec {
    /// The codec a connection asked for with its upgrade request's headers.
    pub(crate) fn negotiate(headers: &HeaderMap, json: Codec, market_data: bool) -> Codec {
        let msgpack = headers
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.eq_ignore_ascii_case("application/msgpack"));
        if msgpack {
            Codec::MsgPack {
                timestamps: market_data,
            }
        } else {
            json
        }
    }

    pub(crate) fn encode(self, value: &Value) -> Message {
        match self {
            Codec::JsonText => Message::Text(value.to_string().into()),
            Codec::JsonBinary => Message::Binary(value.to_string().into_bytes().into()),
            Codec::MsgPack { timestamps } => {
                let mut bytes = Vec::new();
                // Writing into a Vec cannot fail.
                let _ =
                    rmpv::encode::write_value(&mut bytes, &to_msgpack(value, timestamps, false));
                Message::Binary(bytes.into())
            }
        }
    }
}

/// A client's message as a JSON value, whatever it was written in; `None` for frames that
/// carry no message (pings, closes) or that neither codec reads.
pub(crate) fn decode(message: &Message) -> Option<Value> {
    match message {
        Message::Text(text) => serde_json::from_str(text.as_str()).ok(),
        Message::Binary(bytes) => serde_json::from_slice(bytes).ok().or_else(|| {
            let mut reader: &[u8] = bytes;
            rmpv::decode::read_value(&mut reader)
                .ok()
                .map(|v| from_msgpack(&v))
        }),
        _ => None,
    }
}

fn to_msgpack(value: &Value, timestamps: bool, is_time: bool) -> rmpv::Value {
    match value {
        Value::Null => rmpv::Value::Nil,
        Value::Bool(b) => rmpv::Value::Boolean(*b),
        Value::Number(n) => {
            if let Some(u) = n.as_u64() {
                rmpv::Value::from(u)
            } else if let Some(i) = n.as_i64() {
                rmpv::Value::from(i)
            } else {
                rmpv::Value::F64(n.as_f64().unwrap_or_default())
            }
        }
        Value::String(s) => match Timestamp::parse(s) {
            Ok(t) if timestamps && is_time => timestamp(t),
            _ => rmpv::Value::from(s.as_str()),
        },
        Value::Array(items) => rmpv::Value::Array(
            items
                .iter()
                .map(|v| to_msgpack(v, timestamps, false))
                .collect(),
        ),
        Value::Object(map) => rmpv::Value::Map(
            map.iter()
                .map(|(k, v)| {
                    (
                        rmpv::Value::from(k.as_str()),
                        to_msgpack(v, timestamps, k == "t"),
                    )
                })
                .collect(),
        ),
    }
}

/// The MessagePack timestamp extension (type -1) in its 96-bit form: nanoseconds (u32)
/// then seconds (i64), big-endian.
fn timestamp(t: Timestamp) -> rmpv::Value {
    let nanos = t.nanos();
    let seconds = nanos.div_euclid(1_000_000_000);
    let sub = u32::try_from(nanos.rem_euclid(1_000_000_000)).unwrap_or(0);
    let mut bytes = Vec::with_capacity(12);
    bytes.extend_from_slice(&sub.to_be_bytes());
    bytes.extend_from_slice(&seconds.to_be_bytes());
    rmpv::Value::Ext(-1, bytes)
}

fn from_msgpack(value: &rmpv::Value) -> Value {
    match value {
        rmpv::Value::Boolean(b) => Value::Bool(*b),
        rmpv::Value::Integer(i) => i
            .as_u64()
            .map(Value::from)
            .or_else(|| i.as_i64().map(Value::from))
            .unwrap_or(Value::Null),
        rmpv::Value::F32(f) => Number::from_f64(f64::from(*f)).map_or(Value::Null, Value::Number),
        rmpv::Value::F64(f) => Number::from_f64(*f).map_or(Value::Null, Value::Number),
        rmpv::Value::String(s) => s
            .as_str()
            .map_or(Value::Null, |s| Value::String(s.to_owned())),
        rmpv::Value::Array(items) => Value::Array(items.iter().map(from_msgpack).collect()),
        rmpv::Value::Map(entries) => Value::Object(
            entries
                .iter()
                .filter_map(|(k, v)| Some((k.as_str()?.to_owned(), from_msgpack(v))))
                .collect::<Map<String, Value>>(),
        ),
        rmpv::Value::Nil | rmpv::Value::Binary(_) | rmpv::Value::Ext(..) => Value::Null,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn msgpack_round_trips_and_times_become_timestamps() {
        let message = json!([{"T": "t", "S": "AAPL", "p": 189.5, "s": 100, "i": 7,
            "t": "2024-03-01T15:00:00.123456789Z", "c": ["@"]}]);
        let Message::Binary(bytes) = (Codec::MsgPack { timestamps: true }).encode(&message) else {
            panic!("msgpack is binary");
        };
        let value = rmpv::decode::read_value(&mut &bytes[..]).expect("msgpack");
        let entry = &value[0];
        let time = entry
            .as_map()
            .and_then(|m| m.iter().find(|(k, _)| k.as_str() == Some("t")))
            .map(|(_, v)| v.clone())
            .expect("t");
        let rmpv::Value::Ext(-1, raw) = time else {
            panic!("a timestamp extension: {time:?}");
        };
        assert_eq!(raw.len(), 12);
        assert_eq!(
            u32::from_be_bytes([raw[0], raw[1], raw[2], raw[3]]),
            123_456_789
        );
        // What a client sends back in msgpack reads as the same JSON.
        let sent = json!({"action": "subscribe", "trades": ["AAPL"], "quotes": []});
        let packed = (Codec::MsgPack { timestamps: false }).encode(&sent);
        assert_eq!(decode(&packed), Some(sent));
    }
}
