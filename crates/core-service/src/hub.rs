//! The in-process fan-out of what the core committed, to WebSocket clients: market data
//! for everyone, executions and positions for their account's owner only (the WebSocket
//! filters by the connection's user). A bounded broadcast channel: the core never waits
//! for a client, and a client that falls behind by more than the buffer is dropped.

use std::sync::Arc;

use domain::events::EventEnvelope;
use domain::{AccountId, Candle, Tick};
use tokio::sync::broadcast;

/// One thing that happened.
#[derive(Debug, Clone)]
pub enum HubMessage {
    Tick(Tick),
    Candle(Candle),
    /// An `executions` event (accepted, filled, cancelled, …) of an account.
    Execution {
        account: AccountId,
        event: EventEnvelope,
    },
    /// An account's position after a fill (the JSON of the position view).
    Position {
        account: AccountId,
        position: serde_json::Value,
    },
}

/// See the module docs.
#[derive(Debug, Clone)]
pub struct Hub {
    tx: broadcast::Sender<Arc<HubMessage>>,
}

/// Messages a client may be behind before it is dropped.
pub const CLIENT_BUFFER: usize = 4096;

impl Default for Hub {
    fn default() -> Self {
        Self::new(CLIENT_BUFFER)
    }
}

impl Hub {
    pub fn new(capacity: usize) -> Self {
        let (tx, _) = broadcast::channel(capacity.max(1));
        Hub { tx }
    }

    /// Publishes (never blocks; nobody listening is fine).
    pub fn publish(&self, message: HubMessage) {
        let _ = self.tx.send(Arc::new(message));
    }

    pub fn subscribe(&self) -> broadcast::Receiver<Arc<HubMessage>> {
        self.tx.subscribe()
    }
}
