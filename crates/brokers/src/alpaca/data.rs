//! [`AlpacaMarketData`]: Alpaca's market-data stream → [`Tick`]s. The handshake is
//! `connected` → `auth` → `authenticated` → `subscribe` (trades and quotes) →
//! `subscription`; then each trade (`t`) is a tick with the latest quote's (`q`) bid and
//! ask. JSON is asked for (no `Content-Type: application/msgpack`), and numbers are read
//! from their text.

use std::collections::HashMap;

use async_trait::async_trait;
use domain::{Price, Quantity, Symbol, Tick, Timestamp};
use serde_json::json;
use serde_json::value::RawValue;
use tokio::sync::mpsc;
use tokio::time::Instant;

use super::AlpacaConfig;
use super::socket::{self, Read, Socket};
use super::wire::{self, DataMessage};
use crate::{BrokerError, BrokerResult, MarketData, TickFeed};

const CAPACITY: usize = 4096;

/// See the module docs.
#[derive(Debug, Clone)]
pub struct AlpacaMarketData {
    config: AlpacaConfig,
}

impl AlpacaMarketData {
    /// Reads the feed at `config.endpoints.data` with `config`'s key.
    pub fn new(config: AlpacaConfig) -> Self {
        AlpacaMarketData { config }
    }
}

/// A frame's messages; Alpaca sends arrays, one message alone is taken too.
fn messages(payload: &[u8]) -> Result<Vec<DataMessage>, serde_json::Error> {
    let raw: Box<RawValue> = serde_json::from_slice(payload)?;
    if raw.get().trim_start().starts_with('[') {
        let items: Vec<Box<RawValue>> = serde_json::from_str(raw.get())?;
        // A message this adapter cannot read is skipped, not the whole frame.
        Ok(items
            .iter()
            .filter_map(|item| serde_json::from_str(item.get()).ok())
            .collect())
    } else {
        Ok(vec![serde_json::from_str(raw.get())?])
    }
}

/// The first message of `kind` in the next frames before `deadline`; an `error` message
/// instead is refused credentials (code 402) or a refusal.
async fn expect(socket: &mut Socket, kind: &str, deadline: Instant) -> BrokerResult<DataMessage> {
    loop {
        let payload = socket::next_before(socket, deadline).await?;
        let Ok(messages) = messages(&payload) else {
            continue;
        };
        for message in messages {
            if message.kind == kind {
                return Ok(message);
            }
            if message.kind == "error" {
                let text = message.msg.unwrap_or_default();
                return Err(match message.code {
                    Some(401..=403) => BrokerError::Unauthorized(text),
                    Some(405 | 406 | 429) => BrokerError::Unavailable(text),
                    _ => BrokerError::Rejected(text),
                });
            }
        }
    }
}

#[async_trait]
impl MarketData for AlpacaMarketData {
    fn name(&self) -> &'static str {
        "alpaca"
    }

    async fn subscribe(&self, symbols: &[Symbol]) -> BrokerResult<TickFeed> {
        let config = &self.config;
        let deadline = Instant::now() + config.timeout;
        // A pair (`BTC-USD`) is crypto; Alpaca writes share classes with a dot (`BRK.B`).
        let names: Vec<String> = symbols
            .iter()
            .map(|s| wire::alpaca_symbol(*s, s.as_str().contains('-')))
            .collect();
        let mut socket = socket::connect(&config.endpoints.data, config.timeout).await?;
        expect(&mut socket, "success", deadline).await?;
        let auth = json!({
            "action": "auth",
            "key": config.credentials.key_id(),
            "secret": config.credentials.secret_key(),
        });
        socket::send(&mut socket, &auth).await?;
        expect(&mut socket, "success", deadline).await?;
        let subscribe = json!({"action": "subscribe", "trades": names, "quotes": names});
        socket::send(&mut socket, &subscribe).await?;
        expect(&mut socket, "subscription", deadline).await?;
        let (sender, feed) = TickFeed::channel(CAPACITY);
        tokio::spawn(read(socket, sender));
        Ok(feed)
    }
}

/// A trade as a tick, with the quote in force; `None` for a print that is no tick (a
/// zero price, a symbol Stratus cannot write).
fn tick(
    message: &DataMessage,
    quotes: &HashMap<String, (Option<Price>, Option<Price>)>,
) -> Option<Tick> {
    let name = message.symbol.as_deref()?;
    let symbol = wire::stratus_symbol(name, name.contains('/')).ok()?;
    let (bid, ask) = quotes.get(name).copied().unwrap_or_default();
    Some(Tick {
        symbol,
        time: Timestamp::parse(message.t.as_deref()?).ok()?,
        price: Price::new(message.p.0?).ok()?,
        size: Quantity::new(message.s.0?).ok()?,
        bid,
        ask,
    })
}

async fn read(mut socket: Socket, sender: mpsc::Sender<BrokerResult<Tick>>) {
    // The latest bid and ask per Alpaca symbol (a side with no price is none).
    let mut quotes: HashMap<String, (Option<Price>, Option<Price>)> = HashMap::new();
    let ended = loop {
        let payload = tokio::select! {
            _ = sender.closed() => return,
            read = socket::next(&mut socket) => match read {
                Read::Payload(payload) => payload,
                Read::Ended(why) => break BrokerError::Unavailable(format!("alpaca market data ended: {why}")),
            },
        };
        let messages = match messages(&payload) {
            Ok(messages) => messages,
            Err(e) => {
                tracing::warn!(error = %e, "unreadable market-data frame skipped");
                continue;
            }
        };
        for message in messages {
            match message.kind.as_str() {
                "q" => {
                    if let Some(symbol) = message.symbol.clone() {
                        let side = |d: wire::Dec| d.0.and_then(|p| Price::new(p).ok());
                        quotes.insert(symbol, (side(message.bp), side(message.ap)));
                    }
                }
                "t" => match tick(&message, &quotes) {
                    Some(tick) => {
                        if sender.send(Ok(tick)).await.is_err() {
                            return;
                        }
                    }
                    None => {
                        tracing::debug!(symbol = ?message.symbol, "trade without a tick skipped")
                    }
                },
                "error" => {
                    let _ = sender
                        .send(Err(BrokerError::Unavailable(format!(
                            "alpaca market data: {} ({})",
                            message.msg.unwrap_or_default(),
                            message.code.unwrap_or_default()
                        ))))
                        .await;
                    return;
                }
                // success, subscription, and the channels not read here.
                _ => {}
            }
        }
    };
    tracing::info!(reason = %ended, "alpaca market data feed ended");
    let _ = sender.send(Err(ended)).await;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trades_take_the_latest_quote() {
        let frame = br#"[{"T":"q","S":"AAPL","bp":189.4,"ap":189.6,"t":"2024-03-01T15:00:00Z"},
            {"T":"t","S":"AAPL","i":1,"x":"V","p":189.5,"s":100,"t":"2024-03-01T15:00:01.25Z"},
            {"T":"b","S":"AAPL","o":1}]"#;
        let read = messages(frame).expect("frame");
        assert_eq!(read.len(), 3);
        let mut quotes = HashMap::new();
        let q = &read[0];
        quotes.insert(
            "AAPL".to_owned(),
            (
                Price::new(q.bp.0.expect("bp")).ok(),
                Price::new(q.ap.0.expect("ap")).ok(),
            ),
        );
        let aapl = tick(&read[1], &quotes).expect("tick");
        assert_eq!(aapl.price.value(), "189.5".parse().expect("d"));
        assert_eq!(aapl.size.value(), 100.into());
        assert_eq!(
            aapl.bid.map(Price::value),
            Some("189.4".parse().expect("d"))
        );
        assert_eq!(
            aapl.time,
            Timestamp::parse("2024-03-01T15:00:01.25Z").expect("t")
        );
        let btc = br#"{"T":"t","S":"BTC/USD","p":60000.01,"s":0.0001,"t":"2024-03-01T15:00:01Z"}"#;
        let btc = tick(&messages(btc).expect("frame")[0], &HashMap::new()).expect("tick");
        assert_eq!(btc.symbol.as_str(), "BTC-USD");
        assert_eq!(btc.size.value(), "0.0001".parse().expect("d"));
        assert_eq!((btc.bid, btc.ask), (None, None));
    }
}
