//! The `Broker` port: where an account's orders go once they passed the pre-trade checks.
//! Its errors are its own ([`BrokerError`]): a venue's refusal, its rate limit, its
//! absence, an outcome that is not known — not HTTP answers.
//!
//! [`CoreBroker`] is built in (paper accounts): it records the order and its command (`order.place`,
//! `order.cancel`, `order.amend` on the `commands` stream, partitioned by symbol) in one
//! transaction through the outbox, then relays the outbox, so an order is never recorded
//! without its command nor the reverse. The streaming core matches it against the book
//! and market data and reports fills on `executions`. Adapters for external brokers
//! (reached through an account's broker connection) implement the same trait.

use async_trait::async_trait;
use domain::events::{AmendOrder, CancelOrder, Event, OrderRef};
use domain::{EventId, Order, Price, order::OrderRequest};
use store::records::{AmendHold, NewOrder, OrderLimits, OutboxEvent, Refusal, Reserved};

use store::StoreError;
use store::connect::streams;

use crate::state::AppState;

/// Why a broker could not do what it was asked.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BrokerError {
    /// The venue refused the request, with its reason.
    #[error("the broker refused: {0}")]
    Rejected(String),
    /// The venue asks to slow down; retry after this many seconds.
    #[error("the broker is rate limiting; retry after {retry_after} s")]
    RateLimited { retry_after: u64 },
    /// The venue cannot be reached now.
    #[error("the broker is unavailable: {0}")]
    Unavailable(String),
    /// The request may or may not have taken effect (a timeout after sending it): look
    /// the order up by its client id before sending it again.
    #[error("the outcome is unknown: {0}")]
    UnknownOutcome(String),
    /// The system of record failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

pub type BrokerResult<T> = Result<T, BrokerError>;

/// Brokers a connection may name (paper needs none).
pub const KNOWN_BROKERS: &[&str] = &["alpaca", "interactive_brokers", "binance", "coinbase"];

/// What submitting a new order led to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Submitted {
    Accepted,
    /// An order with this id or client order id already exists.
    Duplicate,
    /// The account cannot carry it (nothing was recorded).
    Refused(Refusal),
}

/// See the module docs.
#[async_trait]
pub trait Broker: Send + Sync {
    fn name(&self) -> &'static str;
    /// Records and submits a new order (state `new`), reserving what it needs of the
    /// account (`reserve_price` for a market or stop order; see `store::records::NewOrder`).
    async fn submit(
        &self,
        order: &Order,
        request: &OrderRequest,
        reserve_price: Option<Price>,
        limits: OrderLimits,
    ) -> BrokerResult<Submitted>;
    /// Asks for a working order to be cancelled.
    async fn cancel(&self, order: &Order) -> BrokerResult<()>;
    /// Asks for a working order to be changed, holding what the change adds to the
    /// order's reservation until it is applied.
    async fn amend(&self, amend: &AmendOrder, limits: OrderLimits) -> BrokerResult<Reserved>;
}

/// The built-in broker of paper accounts (see the module docs): it hands orders to the
/// streaming core, whose `engine::paper::PaperBroker` fills them.
#[derive(Debug, Clone)]
pub struct CoreBroker {
    state: AppState,
}

impl CoreBroker {
    pub fn new(state: AppState) -> Self {
        CoreBroker { state }
    }

    fn command(&self, event: &Event, id: EventId, time: domain::Timestamp) -> OutboxEvent {
        let envelope = event.to_envelope(id, time);
        OutboxEvent {
            event_id: id,
            stream: streams::COMMANDS.into(),
            partition_key: envelope.partition_key.clone(),
            payload: envelope.to_vec(),
        }
    }

    /// Commits a command for a recorded order through the outbox, then relays it.
    async fn send(&self, event: &Event) -> BrokerResult<()> {
        let outbox = self.command(event, EventId::random(), self.state.clock.now());
        self.state.outbox.enqueue(&[outbox]).await?;
        self.relay().await;
        Ok(())
    }

    /// Relays now, so the core sees the command at once; a failure here is only logged:
    /// the event is committed and the core's relay publishes it.
    async fn relay(&self) {
        if !self.state.settings.relays_inline() {
            return;
        }
        if let Err(e) = crate::outbox::relay(&*self.state.outbox, &*self.state.streams, 100).await {
            tracing::warn!(error = %e, "outbox relay after a command failed; the core will relay it");
        }
    }
}

#[async_trait]
impl Broker for CoreBroker {
    fn name(&self) -> &'static str {
        "paper"
    }

    async fn submit(
        &self,
        order: &Order,
        request: &OrderRequest,
        reserve_price: Option<Price>,
        limits: OrderLimits,
    ) -> BrokerResult<Submitted> {
        let id = EventId::derived(&format!("order.place:{}", order.id));
        // Stamped with the order's creation time: the core rebuilds the order from it.
        let outbox = self.command(&Event::PlaceOrder(request.clone()), id, order.created_at());
        let new = NewOrder {
            order,
            reserve_price,
            outbox: std::slice::from_ref(&outbox),
            limits,
        };
        match self.state.orders.insert_order(&new).await {
            Ok(Ok(())) => {}
            Ok(Err(refusal)) => return Ok(Submitted::Refused(refusal)),
            Err(e) if e.kind() == store::ErrorKind::ConditionFailed => {
                return Ok(Submitted::Duplicate);
            }
            Err(e) => return Err(BrokerError::Store(e)),
        }
        self.relay().await;
        Ok(Submitted::Accepted)
    }

    async fn cancel(&self, order: &Order) -> BrokerResult<()> {
        let command = CancelOrder {
            order: OrderRef {
                order_id: order.id,
                account_id: order.account_id,
                symbol: order.symbol,
            },
        };
        self.send(&Event::CancelOrder(command)).await
    }

    async fn amend(&self, amend: &AmendOrder, limits: OrderLimits) -> BrokerResult<Reserved> {
        let command = self.command(
            &Event::AmendOrder(*amend),
            EventId::random(),
            self.state.clock.now(),
        );
        let hold = AmendHold {
            account_id: amend.order.account_id,
            order_id: amend.order.order_id,
            quantity: amend.quantity,
            limit_price: amend.limit_price,
            stop_price: amend.stop_price,
            command: &command,
            limits,
        };
        let held = self.state.orders.hold_amend(&hold).await?;
        if held.is_ok() {
            self.relay().await;
        }
        Ok(held)
    }
}
