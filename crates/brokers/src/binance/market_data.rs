//! Binance's market streams as ticks: one combined-stream connection
//! (`<streams>/stream`, subscribed by `SUBSCRIBE` and confirmed before the feed is
//! returned) to `<symbol>@trade` and `<symbol>@bookTicker` of each symbol. Each `trade`
//! becomes a [`Tick`] (price `p`, size `q`, time `T`) carrying the latest `bookTicker`'s
//! best bid `b` and ask `a` for its symbol, once one has arrived. Symbols map as the
//! broker's do (`BTC-USD` ↔ `btcusdt`). The feed ends with an error when the connection
//! closes.

use std::collections::HashMap;
use std::time::Duration;

use async_trait::async_trait;
use domain::{Price, Symbol, Tick};
use futures_util::{SinkExt, StreamExt};
use serde::Deserialize;
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;

use super::config::Endpoints;
use super::wire::{Pair, decimal, millis, price, quantity, unreadable};
use crate::{BrokerError, BrokerResult, MarketData, TickFeed};

/// See the module docs.
#[derive(Debug, Clone)]
pub struct BinanceMarketData {
    streams: String,
    timeout: Duration,
}

impl BinanceMarketData {
    /// Market data from `endpoints.streams` (public: no credentials).
    pub fn new(endpoints: &Endpoints) -> Self {
        BinanceMarketData {
            streams: endpoints.streams.trim_end_matches('/').to_string(),
            timeout: Duration::from_secs(10),
        }
    }

    /// How long connecting and subscribing may take.
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }
}

#[derive(Debug, Deserialize)]
struct TradeJson {
    #[serde(rename = "s")]
    symbol: String,
    #[serde(rename = "p")]
    price: String,
    #[serde(rename = "q")]
    quantity: String,
    #[serde(rename = "T")]
    time: i64,
}

#[derive(Debug, Deserialize)]
struct BookTickerJson {
    #[serde(rename = "s")]
    symbol: String,
    #[serde(rename = "b")]
    bid: String,
    #[serde(rename = "a")]
    ask: String,
}

const SUBSCRIBE_ID: u64 = 1;

#[async_trait]
impl MarketData for BinanceMarketData {
    fn name(&self) -> &'static str {
        "binance"
    }

    async fn subscribe(&self, symbols: &[Symbol]) -> BrokerResult<TickFeed> {
        if symbols.is_empty() {
            return Err(BrokerError::Rejected(
                "a market data subscription needs at least one symbol".into(),
            ));
        }
        let pairs: HashMap<String, Symbol> =
            symbols.iter().map(|s| (Pair::of(*s).venue, *s)).collect();
        let streams: Vec<String> = pairs
            .keys()
            .flat_map(|venue| {
                let name = venue.to_lowercase();
                [format!("{name}@trade"), format!("{name}@bookTicker")]
            })
            .collect();
        let url = format!("{}/stream", self.streams);
        let (mut socket, _) =
            tokio::time::timeout(self.timeout, tokio_tungstenite::connect_async(&url))
                .await
                .map_err(|_| BrokerError::Unavailable("the market streams did not answer".into()))?
                .map_err(|e| BrokerError::Unavailable(format!("the market streams: {e}")))?;
        let request = json!({"method": "SUBSCRIBE", "params": streams, "id": SUBSCRIBE_ID});
        socket
            .send(Message::text(request.to_string()))
            .await
            .map_err(|e| BrokerError::Unavailable(format!("the market streams: {e}")))?;
        let confirmed = async {
            while let Some(message) = socket.next().await {
                let message = message
                    .map_err(|e| BrokerError::Unavailable(format!("the market streams: {e}")))?;
                let Message::Text(text) = message else {
                    continue;
                };
                let answer: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
                if answer["id"] == SUBSCRIBE_ID {
                    return match answer.get("result") {
                        Some(Value::Null) => Ok(()),
                        _ => Err(BrokerError::Rejected(format!(
                            "binance refused the subscription: {}",
                            answer["msg"].as_str().unwrap_or("no reason given")
                        ))),
                    };
                }
            }
            Err(BrokerError::Unavailable(
                "the market streams closed before answering".into(),
            ))
        };
        tokio::time::timeout(self.timeout, confirmed)
            .await
            .map_err(|_| {
                BrokerError::Unavailable("no answer to the market subscription".into())
            })??;

        let (sender, feed) = TickFeed::channel(4096);
        tokio::spawn(async move {
            let mut quotes: HashMap<String, (Option<Price>, Option<Price>)> = HashMap::new();
            let end = loop {
                let message = tokio::select! {
                    _ = sender.closed() => return,
                    message = socket.next() => message,
                };
                let text = match message {
                    Some(Ok(Message::Text(text))) => text,
                    Some(Ok(Message::Close(_))) | None => {
                        break BrokerError::Unavailable("the market stream closed".into());
                    }
                    Some(Err(e)) => {
                        break BrokerError::Unavailable(format!("the market stream failed: {e}"));
                    }
                    Some(Ok(_)) => continue,
                };
                match tick(&text, &pairs, &mut quotes) {
                    Ok(Some(tick)) => {
                        if sender.send(Ok(tick)).await.is_err() {
                            return;
                        }
                    }
                    Ok(None) => {}
                    Err(e) => tracing::warn!(error = %e, "a market stream message skipped"),
                }
            };
            let _ = sender.send(Err(end)).await;
        });
        Ok(feed)
    }
}

/// One combined-stream message: a tick for a trade, the quote kept for a book ticker.
fn tick(
    text: &str,
    pairs: &HashMap<String, Symbol>,
    quotes: &mut HashMap<String, (Option<Price>, Option<Price>)>,
) -> BrokerResult<Option<Tick>> {
    let frame: Value = serde_json::from_str(text).map_err(unreadable)?;
    let Some(stream) = frame["stream"].as_str() else {
        return Ok(None);
    };
    let data = frame["data"].clone();
    if stream.ends_with("@bookTicker") {
        let book: BookTickerJson = serde_json::from_value(data).map_err(unreadable)?;
        quotes.insert(
            book.symbol,
            (price("b", &book.bid)?, price("a", &book.ask)?),
        );
        return Ok(None);
    }
    if !stream.ends_with("@trade") {
        return Ok(None);
    }
    let trade: TradeJson = serde_json::from_value(data).map_err(unreadable)?;
    let Some(symbol) = pairs.get(&trade.symbol) else {
        return Ok(None);
    };
    let (bid, ask) = quotes.get(&trade.symbol).copied().unwrap_or((None, None));
    Ok(Some(Tick {
        symbol: *symbol,
        time: millis(trade.time),
        price: price("p", &trade.price)?.ok_or_else(|| unreadable("a trade at zero"))?,
        size: quantity("q", decimal("q", &trade.quantity)?)?,
        bid,
        ask,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trades_carry_the_latest_quote() {
        let btc = Symbol::parse("BTC-USD").expect("symbol");
        let pairs = HashMap::from([("BTCUSDT".to_string(), btc)]);
        let mut quotes = HashMap::new();
        let trade = r#"{"stream":"btcusdt@trade","data":{"e":"trade","E":1,"s":"BTCUSDT","t":5,"p":"100.50000000","q":"0.25000000","T":1700000000000,"m":false,"M":true}}"#;
        let first = tick(trade, &pairs, &mut quotes)
            .expect("read")
            .expect("a tick");
        assert_eq!((first.bid, first.ask), (None, None));
        let book = r#"{"stream":"btcusdt@bookTicker","data":{"u":1,"s":"BTCUSDT","b":"100.40000000","B":"1.00000000","a":"100.60000000","A":"2.00000000"}}"#;
        assert_eq!(tick(book, &pairs, &mut quotes).expect("read"), None);
        let second = tick(trade, &pairs, &mut quotes)
            .expect("read")
            .expect("a tick");
        assert_eq!(second.symbol, btc);
        assert_eq!(second.price, Price::parse("p", "100.5").expect("price"));
        assert_eq!(second.bid, Some(Price::parse("b", "100.4").expect("price")));
        assert_eq!(second.ask, Some(Price::parse("a", "100.6").expect("price")));
        assert_eq!(second.time, millis(1_700_000_000_000));
    }
}
