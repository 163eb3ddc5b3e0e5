//! Order routing: where an account's orders go once they passed the pre-trade checks —
//! an [`OrderRouter`], chosen by [`router`] from the account's kind. Its errors are its
//! own ([`RouteError`]), not HTTP answers.
//!
//! [`PaperRouter`] (paper accounts) records the order and its command (`order.place`,
//! `order.cancel`, `order.amend` on the `commands` stream, partitioned by symbol) in one
//! transaction through the outbox, then relays the outbox, so an order is never recorded
//! without its command nor the reverse. The streaming core matches it against the book
//! and market data and reports fills on `executions`.
//!
//! [`VenueRouter`] (broker accounts) sends orders to the account's external broker through
//! its connection's `brokers::Broker` adapter. The order is recorded first (state `new`,
//! reserving buying power in the insert, so money checks hold under racing requests),
//! then sent. An order type the broker does not take is refused before the insert. When
//! the send fails, the broker is asked for the order by its id (a 5xx or an answer that
//! did not parse may hide an order it took; a 429 or refused keys are known not to): an
//! order it does not have is withdrawn with its reservation — nothing is recorded as sent
//! that was not —, one it has stands, and if it cannot say, the record stays `new` and
//! reconciliation settles it. From then on the broker's execution reports, applied by the
//! core, move the order. New orders are refused while the connection's keys are refused
//! or reconciliation halted it; cancels and amends still go to the broker.

use std::sync::Arc;

use async_trait::async_trait;
use brokers::{Broker, BrokerError, BrokerOrder, Replace};
use domain::events::{AmendOrder, CancelOrder, Event, OrderRef};
use domain::{Account, EventId, Instrument, Order, Price, order::OrderRequest};
use store::brokers::{BrokerConnection, ConnectionStatus};
use store::records::{AmendHold, NewOrder, OrderLimits, OutboxEvent, Refusal, Reserved};

use store::StoreError;
use store::connect::streams;

use crate::state::AppState;

/// Why an order could not be routed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RouteError {
    /// The account's broker did not do it (its refusal, rate limit, absence, an order it
    /// does not take, an outcome not known).
    #[error(transparent)]
    Broker(#[from] BrokerError),
    /// A broker account without a broker connection (it was removed).
    #[error("the account has no broker connection")]
    NoConnection,
    /// The broker refused the connection's credentials (its reason).
    #[error("the broker refused this account's credentials: {0}")]
    ConnectionInvalid(String),
    /// Reconciliation with the broker found a difference it could not explain.
    #[error("new orders are halted: {0}")]
    Halted(String),
    /// The system of record failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<crate::AppError> for RouteError {
    fn from(e: crate::AppError) -> Self {
        match e {
            crate::AppError::Store(e) => RouteError::Store(e),
            other => RouteError::Store(StoreError::internal(other.to_string())),
        }
    }
}

pub type RouteResult<T> = Result<T, RouteError>;

/// What submitting a new order led to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Submitted {
    Accepted,
    /// Recorded and sent, but the broker's answer is not known (it timed out, and looking
    /// the order up by its id did not settle it): the order stays `new` until
    /// reconciliation finds it at the broker or withdraws it.
    Pending,
    /// An order with this id or client order id already exists.
    Duplicate,
    /// The account cannot carry it (nothing was recorded).
    Refused(Refusal),
}

/// See the module docs.
#[async_trait]
pub trait OrderRouter: Send + Sync {
    /// `paper`, or the broker's adapter (`alpaca`, `binance`).
    fn name(&self) -> &'static str;
    /// Records and submits a new order (state `new`), reserving what it needs of the
    /// account (`reserve_price` for a market or stop order; see `store::records::NewOrder`).
    async fn submit(
        &self,
        order: &Order,
        request: &OrderRequest,
        reserve_price: Option<Price>,
        limits: OrderLimits,
    ) -> RouteResult<Submitted>;
    /// Asks for a working order to be cancelled.
    async fn cancel(&self, order: &Order) -> RouteResult<()>;
    /// Asks for a working order to be changed, holding what the change adds to the
    /// order's reservation until it is applied.
    async fn amend(
        &self,
        order: &Order,
        amend: &AmendOrder,
        limits: OrderLimits,
    ) -> RouteResult<Reserved>;
    /// The external broker's router, when it is one.
    fn venue(&self) -> Option<&VenueRouter> {
        None
    }
}

/// The router of `account`: paper, or its broker's. A broker account's new orders are
/// refused while its connection's credentials are refused or reconciliation halted it
/// (checked by `submit`); cancels and amends still go to the broker.
pub async fn router(state: &AppState, account: &Account) -> RouteResult<Box<dyn OrderRouter>> {
    if account.kind != domain::AccountKind::Broker {
        return Ok(Box::new(PaperRouter::new(state.clone())));
    }
    let connection = crate::venues::routing_connection(state, account)
        .await?
        .ok_or(RouteError::NoConnection)?;
    let broker = state.venues.broker(state, &connection)?;
    Ok(Box::new(VenueRouter {
        state: state.clone(),
        connection,
        broker,
    }))
}

/// The router of paper accounts (see the module docs): it hands orders to the
/// streaming core, whose `engine::paper::PaperBroker` fills them.
#[derive(Debug, Clone)]
pub struct PaperRouter {
    state: AppState,
}

impl PaperRouter {
    pub fn new(state: AppState) -> Self {
        PaperRouter { state }
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
    async fn send(&self, event: &Event) -> RouteResult<()> {
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
impl OrderRouter for PaperRouter {
    fn name(&self) -> &'static str {
        "paper"
    }

    async fn submit(
        &self,
        order: &Order,
        request: &OrderRequest,
        reserve_price: Option<Price>,
        limits: OrderLimits,
    ) -> RouteResult<Submitted> {
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
            Err(e) => return Err(RouteError::Store(e)),
        }
        self.relay().await;
        Ok(Submitted::Accepted)
    }

    async fn cancel(&self, order: &Order) -> RouteResult<()> {
        let command = CancelOrder {
            order: OrderRef {
                order_id: order.id,
                account_id: order.account_id,
                symbol: order.symbol,
            },
        };
        self.send(&Event::CancelOrder(command)).await
    }

    async fn amend(
        &self,
        _order: &Order,
        amend: &AmendOrder,
        limits: OrderLimits,
    ) -> RouteResult<Reserved> {
        self.hold(amend, limits).await
    }
}

impl PaperRouter {
    /// Holds what an amend adds to the order's reservation, with its command (one
    /// transaction), and relays the command when the hold was granted.
    async fn hold(&self, amend: &AmendOrder, limits: OrderLimits) -> RouteResult<Reserved> {
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

/// The router of broker accounts (see the module docs).
pub struct VenueRouter {
    state: AppState,
    connection: BrokerConnection,
    broker: Arc<dyn Broker>,
}

impl std::fmt::Debug for VenueRouter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VenueRouter")
            .field("broker", &self.broker.name())
            .field("connection", &self.connection.id)
            .finish_non_exhaustive()
    }
}

impl VenueRouter {
    fn broker_order(&self, order: &Order) -> BrokerOrder {
        let asset_class = self
            .state
            .instruments
            .get(order.symbol)
            .map(Instrument::asset_class)
            .unwrap_or_default();
        BrokerOrder {
            order_id: order.id,
            symbol: order.symbol,
            asset_class,
            side: order.side,
            order_type: order.order_type(),
            time_in_force: order.time_in_force(),
            quantity: order.quantity(),
        }
    }

    /// The broker's error, after recording what it says of the connection: refused
    /// credentials mark it invalid with the broker's reason.
    async fn failed(&self, e: BrokerError) -> RouteError {
        if let BrokerError::Unauthorized(reason) = &e {
            if let Err(store) = self
                .state
                .venues
                .invalidate(&self.state, &self.connection, reason)
                .await
            {
                tracing::warn!(error = %store, "could not mark the broker connection invalid");
            }
        }
        RouteError::Broker(e)
    }

    /// Whether the account may send new orders now and the broker takes `order` (asked
    /// before anything is recorded or sent).
    pub fn supports(&self, order: &Order) -> RouteResult<()> {
        if self.connection.status == ConnectionStatus::Invalid {
            return Err(RouteError::ConnectionInvalid(
                self.connection.status_reason.clone().unwrap_or_default(),
            ));
        }
        if let Some(halt) = &self.connection.halt {
            return Err(RouteError::Halted(halt.reason.clone()));
        }
        Ok(self.broker.supports(&self.broker_order(order))?)
    }

    /// After a failed send: whether the broker has the order after all (a 5xx, a body that
    /// did not parse, a refusal that was a duplicate of an order it took). `Ok(true)` if it
    /// has it, `Ok(false)` if it says it does not, `Err` if it could not say.
    async fn placed_after_all(&self, order: &Order) -> Result<bool, BrokerError> {
        match self.broker.order(order.id).await {
            Ok(_) => Ok(true),
            Err(BrokerError::NotFound(_)) => Ok(false),
            Err(e) => Err(e),
        }
    }
}

#[async_trait]
impl OrderRouter for VenueRouter {
    fn name(&self) -> &'static str {
        self.broker.name()
    }

    fn venue(&self) -> Option<&VenueRouter> {
        Some(self)
    }

    async fn submit(
        &self,
        order: &Order,
        _request: &OrderRequest,
        reserve_price: Option<Price>,
        limits: OrderLimits,
    ) -> RouteResult<Submitted> {
        let sent = self.broker_order(order);
        self.supports(order)?;
        let new = NewOrder {
            order,
            reserve_price,
            outbox: &[],
            limits,
        };
        match self.state.orders.insert_order(&new).await {
            Ok(Ok(())) => {}
            Ok(Err(refusal)) => return Ok(Submitted::Refused(refusal)),
            Err(e) if e.kind() == store::ErrorKind::ConditionFailed => {
                return Ok(Submitted::Duplicate);
            }
            Err(e) => return Err(RouteError::Store(e)),
        }
        let error = match self.broker.submit(&sent).await {
            Ok(state) => {
                tracing::info!(order_id = %order.id, broker = self.broker.name(), broker_order_id = %state.broker_order_id, "order sent to the broker");
                return Ok(Submitted::Accepted);
            }
            Err(e) => e,
        };
        // Only what the broker's protocol says was not applied counts as not placed; for
        // anything else (a 5xx, an answer that did not parse, a refusal, a timeout) the
        // broker is asked by the order's id first.
        let placed = match &error {
            BrokerError::Unsupported(_)
            | BrokerError::Unauthorized(_)
            | BrokerError::RateLimited { .. } => Ok(false),
            _ => self.placed_after_all(order).await,
        };
        match placed {
            Ok(true) => {
                tracing::info!(order_id = %order.id, broker = self.broker.name(), %error, "the broker has the order after all");
                Ok(Submitted::Accepted)
            }
            Ok(false) => {
                // Not placed: nothing may say it was.
                if let Err(store) = self
                    .state
                    .orders
                    .withdraw_order(order.account_id, order.id)
                    .await
                {
                    tracing::error!(order_id = %order.id, error = %store, "an order the broker did not take could not be withdrawn; reconciliation will");
                }
                Err(self.failed(error).await)
            }
            Err(lookup) => {
                // Kept as `new`: reconciliation finds it at the broker, or withdraws it.
                tracing::warn!(order_id = %order.id, %error, %lookup, "the broker's answer to an order is unknown");
                Ok(Submitted::Pending)
            }
        }
    }

    async fn cancel(&self, order: &Order) -> RouteResult<()> {
        match self.broker.cancel(order.id).await {
            Ok(()) => Ok(()),
            Err(e) => Err(self.failed(e).await),
        }
    }

    /// The new terms' reservation is held first (with the command that tells the core),
    /// so the broker never works terms the account cannot carry; then the broker
    /// replaces the order. If it refuses, a second command puts the old terms back in the
    /// records (a replace whose outcome is unknown is left to reconciliation, which takes
    /// the broker's terms).
    async fn amend(
        &self,
        order: &Order,
        amend: &AmendOrder,
        limits: OrderLimits,
    ) -> RouteResult<Reserved> {
        let paper = PaperRouter::new(self.state.clone());
        let held = paper.hold(amend, limits).await?;
        if held.is_err() {
            return Ok(held);
        }
        let replace = Replace {
            order_id: order.id,
            quantity: amend.quantity,
            limit_price: amend.limit_price,
            stop_price: amend.stop_price,
        };
        match self.broker.replace(&replace).await {
            Ok(_) => Ok(held),
            Err(BrokerError::UnknownOutcome(reason)) => {
                tracing::warn!(order_id = %order.id, %reason, "the broker's answer to a replace is unknown; reconciliation settles it");
                Ok(held)
            }
            Err(e) => {
                let back = AmendOrder {
                    order: amend.order,
                    quantity: amend.quantity.map(|_| order.quantity()),
                    limit_price: amend.limit_price.and(order.order_type().limit_price()),
                    stop_price: amend.stop_price.and(order.order_type().stop_price()),
                };
                match paper.hold(&back, limits).await {
                    Ok(Ok(())) => {}
                    other => {
                        tracing::error!(order_id = %order.id, result = ?other, "the old terms of an amend the broker refused could not be restored; reconciliation reports the difference");
                    }
                }
                Err(self.failed(e).await)
            }
        }
    }
}
