//! The WebSocket plumbing both Alpaca streams share: connecting within a time limit,
//! sending JSON, and reading the next message's payload (text or binary — the paper
//! `trade_updates` stream sends binary frames, market data text).

use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use serde_json::Value;
use tokio::net::TcpStream;
use tokio::time::Instant;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};
use url::Url;

use crate::{BrokerError, BrokerResult};

pub(crate) type Socket = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// Opens a connection to `url` (its path names the stream), within `timeout`.
pub(crate) async fn connect(url: &Url, timeout: Duration) -> BrokerResult<Socket> {
    match tokio::time::timeout(timeout, tokio_tungstenite::connect_async(url.as_str())).await {
        Ok(Ok((socket, _))) => Ok(socket),
        Ok(Err(e)) => Err(BrokerError::Unavailable(format!(
            "cannot connect to {url}: {e}"
        ))),
        Err(_) => Err(BrokerError::Unavailable(format!(
            "no connection to {url} within {timeout:?}"
        ))),
    }
}

pub(crate) async fn send(socket: &mut Socket, message: &Value) -> BrokerResult<()> {
    socket
        .send(Message::text(message.to_string()))
        .await
        .map_err(|e| BrokerError::Unavailable(format!("the stream failed: {e}")))
}

/// What reading a stream gave.
#[derive(Debug)]
pub(crate) enum Read {
    /// A message's payload (a text frame's bytes or a binary frame's).
    Payload(Vec<u8>),
    /// The stream ended: closed by the venue (with its reason), or the connection broke.
    Ended(String),
}

/// The next text or binary payload (pings are answered by the library as it reads).
pub(crate) async fn next(socket: &mut Socket) -> Read {
    loop {
        match socket.next().await {
            Some(Ok(Message::Text(text))) => return Read::Payload(text.as_bytes().to_vec()),
            Some(Ok(Message::Binary(bytes))) => return Read::Payload(bytes.to_vec()),
            Some(Ok(Message::Close(frame))) => {
                let reason = frame
                    .map(|f| format!("{} {}", f.code, f.reason))
                    .unwrap_or_else(|| "no reason given".into());
                return Read::Ended(format!("closed by alpaca ({reason})"));
            }
            Some(Ok(_)) => {}
            Some(Err(e)) => return Read::Ended(format!("the connection failed: {e}")),
            None => return Read::Ended("the connection closed".into()),
        }
    }
}

/// The next payload before `deadline` (a handshake step); the stream's end or the
/// deadline is `Unavailable`.
pub(crate) async fn next_before(socket: &mut Socket, deadline: Instant) -> BrokerResult<Vec<u8>> {
    match tokio::time::timeout_at(deadline, next(socket)).await {
        Ok(Read::Payload(payload)) => Ok(payload),
        Ok(Read::Ended(why)) => Err(BrokerError::Unavailable(why)),
        Err(_) => Err(BrokerError::Unavailable(
            "alpaca did not answer the stream's handshake in time".into(),
        )),
    }
}
