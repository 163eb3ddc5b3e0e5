//! Reconciliation of a broker account with its broker: the broker's orders, positions
//! and cash compared with the system of record.
//!
//! - An order the records hold open is looked up at the broker by its id. Whatever the
//!   broker did that the records do not show yet (fills, a cancel, an expiry, new terms —
//!   while Stratus was down, or while the stream was away) becomes a `broker.execution`
//!   command carrying the broker's state, applied by the core like any report: the core
//!   applies the difference in cumulative quantity, and the command's id is derived from
//!   that state, so a catch-up found twice is applied once.
//! - An order still `new` that the broker never received (its send failed without an
//!   answer, or the process stopped in between) is withdrawn after [`UNSENT_GRACE`].
//! - What cannot be explained — an order working at the broker that Stratus did not
//!   place, an order Stratus holds working that the broker does not know, positions or
//!   cash that differ once every order is caught up — is a [`Discrepancy`]: it halts the
//!   account's new orders (the connection's `halt`) until its owner resolves it, and is
//!   never overwritten.

use std::collections::BTreeMap;

use brokers::{Broker, BrokerError, BrokerOrderState, ExecutionKind};
use domain::events::{BrokerExecution, Event, OrderRef, VenueFill};
use domain::{Account, Decimal, EventId, Money, Order, OrderStatus, Symbol, Timestamp};
use store::brokers::{BrokerConnection, ConnectionHalt};
use store::records::{OrderQuery, OutboxEvent};

use crate::routing::{RouteError, RouteResult};
use crate::state::AppState;

/// How long an order may stay `new` without the broker knowing it before it counts as
/// never sent: at least this, and never less than two request timeouts and a margin (a
/// send and the lookup after it may both take a timeout).
pub const UNSENT_GRACE_SECONDS: i64 = 30;

fn unsent_grace_nanos(state: &AppState) -> i64 {
    let timeouts = 2 * i64::from(state.settings.broker_timeout_ms) / 1_000 + 5;
    UNSENT_GRACE_SECONDS.max(timeouts) * domain::time::NANOS_PER_SECOND
}

/// Cash differences below this are rounding at the broker, not a discrepancy.
const CASH_TOLERANCE: Decimal = Decimal::from_parts(1, 0, 0, false, 2);

/// A difference reconciliation could not explain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Discrepancy {
    pub kind: DiscrepancyKind,
    pub reason: String,
}

/// What differs: orders (resolved at the broker only), or holdings (which the owner may
/// take as the broker has them).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DiscrepancyKind {
    Order,
    Holding,
}

impl Discrepancy {
    fn order(reason: String) -> Self {
        Discrepancy {
            kind: DiscrepancyKind::Order,
            reason,
        }
    }

    fn holding(reason: String) -> Self {
        Discrepancy {
            kind: DiscrepancyKind::Holding,
            reason,
        }
    }
}

/// What one pass found and did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Reconciliation {
    /// Catch-up commands sent to the core (orders the broker moved).
    pub caught_up: usize,
    /// Orders withdrawn as never sent.
    pub withdrawn: usize,
    pub discrepancies: Vec<Discrepancy>,
    /// Whether the account is halted after this pass (by it, or still from before).
    pub halted: bool,
}

/// The broker's state of an order as the report the core applies.
pub fn execution(
    account: &Account,
    broker: &str,
    state: &BrokerOrderState,
    kind: ExecutionKind,
    broker_event_id: String,
    fill: Option<VenueFill>,
) -> BrokerExecution {
    BrokerExecution {
        order: OrderRef {
            order_id: state.order_id,
            account_id: account.id,
            symbol: state.symbol,
        },
        broker: broker.to_owned(),
        broker_event_id,
        kind,
        quantity: state.quantity,
        limit_price: state.order_type.limit_price(),
        stop_price: state.order_type.stop_price(),
        filled_quantity: state.filled_quantity,
        average_price: state.average_price,
        fill,
        reason: state.reason.clone(),
    }
}

/// The command that carries `report` to the core, with its id.
pub fn command(report: &BrokerExecution, id: EventId, time: Timestamp) -> OutboxEvent {
    let envelope = Event::BrokerExecution(report.clone()).to_envelope(id, time);
    OutboxEvent {
        event_id: id,
        stream: store::connect::streams::COMMANDS.into(),
        partition_key: envelope.partition_key.clone(),
        payload: envelope.to_vec(),
    }
}

/// What the broker's state of an order says happened, if the records do not show it.
fn catch_up_kind(order: &Order, at_broker: &BrokerOrderState) -> Option<ExecutionKind> {
    let terms_differ = at_broker.quantity != order.quantity()
        || at_broker.order_type.limit_price() != order.order_type().limit_price()
        || at_broker.order_type.stop_price() != order.order_type().stop_price();
    let filled_more = at_broker.filled_quantity > order.filled_quantity();
    match at_broker.status {
        OrderStatus::Filled if filled_more => Some(ExecutionKind::Fill),
        OrderStatus::PartiallyFilled if filled_more => Some(ExecutionKind::PartialFill),
        OrderStatus::Cancelled => Some(ExecutionKind::Cancelled),
        OrderStatus::Rejected => Some(ExecutionKind::Rejected),
        OrderStatus::Expired => Some(ExecutionKind::Expired),
        _ if filled_more => Some(ExecutionKind::PartialFill),
        _ if terms_differ => Some(ExecutionKind::Replaced),
        OrderStatus::Accepted if order.status() == OrderStatus::New => {
            Some(ExecutionKind::Accepted)
        }
        _ => None,
    }
}

/// The account's orders the records hold open (`new`, accepted, partially filled).
async fn open_orders(state: &AppState, account: &Account) -> RouteResult<Vec<Order>> {
    let mut out = Vec::new();
    for status in [
        OrderStatus::New,
        OrderStatus::Accepted,
        OrderStatus::PartiallyFilled,
    ] {
        let mut after = None;
        loop {
            let page = state
                .orders
                .orders(
                    account.id,
                    &OrderQuery {
                        status: Some(status),
                        symbol: None,
                        after,
                        limit: 500,
                    },
                )
                .await?;
            out.extend(page.orders);
            match page.next {
                Some(next) => after = Some(next),
                None => break,
            }
        }
    }
    Ok(out)
}

/// One pass over `account` (see the module docs). Broker errors end the pass early
/// (nothing is concluded from a broker that did not answer).
pub async fn reconcile(
    state: &AppState,
    account: &Account,
    connection: &BrokerConnection,
    broker: &dyn Broker,
) -> RouteResult<Reconciliation> {
    let mut result = Reconciliation::default();
    let now = state.clock.now();
    let name = broker.name();
    let open = open_orders(state, account).await?;
    let mut commands = Vec::new();
    for order in &open {
        match broker.order(order.id).await {
            Ok(at_broker) => {
                if let Some(kind) = catch_up_kind(order, &at_broker) {
                    let id = EventId::derived(&format!(
                        "reconcile:{}:{}:{}:{}:{:?}:{:?}",
                        order.id,
                        at_broker.status.as_str(),
                        at_broker.filled_quantity,
                        at_broker.quantity,
                        at_broker.order_type.limit_price(),
                        at_broker.order_type.stop_price(),
                    ));
                    let report = execution(
                        account,
                        name,
                        &at_broker,
                        kind,
                        format!("reconciliation:{id}"),
                        None,
                    );
                    commands.push(command(&report, id, now));
                }
            }
            Err(BrokerError::NotFound(_)) if order.status() == OrderStatus::New => {
                let age = now.nanos().saturating_sub(order.created_at().nanos());
                if age >= unsent_grace_nanos(state)
                    && state.orders.withdraw_order(account.id, order.id).await?
                {
                    tracing::info!(order_id = %order.id, "an order the broker never received is withdrawn");
                    result.withdrawn += 1;
                }
            }
            Err(BrokerError::NotFound(_)) => {
                result.discrepancies.push(Discrepancy::order(format!(
                    "order {} is working in Stratus but unknown to {name}",
                    order.id
                )));
            }
            Err(e) => return Err(RouteError::Broker(e)),
        }
    }
    let ours: std::collections::BTreeSet<_> = open.iter().map(|o| o.id).collect();
    for at_broker in broker.open_orders().await? {
        if !ours.contains(&at_broker.order_id)
            && state
                .orders
                .order(account.user_id, at_broker.order_id)
                .await?
                .is_none()
        {
            result.discrepancies.push(Discrepancy::order(format!(
                "{name} has a working order Stratus did not place ({} {} {} {})",
                at_broker.broker_order_id,
                at_broker.side.as_str(),
                at_broker.quantity,
                at_broker.symbol
            )));
        }
    }
    result.caught_up = commands.len();
    if !commands.is_empty() {
        state.outbox.enqueue(&commands).await?;
        if let Err(e) = crate::outbox::relay(&*state.outbox, &*state.streams, 500).await {
            tracing::warn!(error = %e, "relaying catch-up reports failed; the core relays them");
        }
    }
    // Positions and cash compare only once nothing is in flight: a pass that sent
    // catch-ups (or finds orders still `new`) compares on the next one.
    let settled = commands.is_empty() && !open.iter().any(|o| o.status() == OrderStatus::New);
    if settled {
        compare_holdings(state, account, connection, broker, &mut result).await?;
    }
    result.halted = connection.halt.is_some();
    if !result.discrepancies.is_empty() {
        let reason = result
            .discrepancies
            .iter()
            .map(|d| d.reason.as_str())
            .collect::<Vec<_>>()
            .join("; ");
        let at = state.clock.unix_seconds();
        state
            .brokers
            .update(account.id, &connection.id, |c| {
                if c.halt.is_none() {
                    c.halt = Some(ConnectionHalt {
                        reason: reason.clone(),
                        at,
                    });
                }
            })
            .await?;
        result.halted = true;
    }
    Ok(result)
}

/// What the broker holds, by Stratus symbol.
async fn holdings(broker: &dyn Broker) -> RouteResult<BTreeMap<Symbol, Decimal>> {
    let mut held: BTreeMap<Symbol, Decimal> = BTreeMap::new();
    for p in broker.positions().await? {
        *held.entry(p.symbol).or_default() += p.quantity;
    }
    Ok(held)
}

/// What Stratus's fills made, by symbol.
async fn recorded(state: &AppState, account: &Account) -> RouteResult<BTreeMap<Symbol, Decimal>> {
    let mut ours: BTreeMap<Symbol, Decimal> = BTreeMap::new();
    for p in state.orders.positions(account.id).await? {
        *ours.entry(p.symbol).or_default() += p.quantity();
    }
    Ok(ours)
}

/// A broker account's starting point, recorded once: the broker's cash posted as the
/// opening balance (its entry id derived from the account), and what the broker held then
/// that Stratus's fills did not make (kept on the connection: reconciliation compares
/// what changes from there, so holdings that predate the account — or a connection
/// attached again — are not a difference; Stratus does not value them).
pub async fn open(
    state: &AppState,
    account: &Account,
    connection: &BrokerConnection,
    broker: &dyn Broker,
) -> RouteResult<()> {
    if connection.opening_positions.is_some() {
        return Ok(());
    }
    let at_broker = broker.account().await?;
    let mut held = holdings(broker).await?;
    for (symbol, quantity) in recorded(state, account).await? {
        *held.entry(symbol).or_default() -= quantity;
    }
    held.retain(|_, q| !q.is_zero());
    if at_broker.cash.value() > Decimal::ZERO {
        let entry = domain::LedgerEntry {
            id: EventId::derived(&format!("broker-opening:{}", account.id)),
            account_id: account.id,
            kind: domain::LedgerKind::Deposit,
            amount: at_broker.cash,
            reference: format!("opening balance at {}", connection.broker),
            time: state.clock.now(),
        };
        match state.accounts.post(&entry).await {
            Ok(_) => {}
            Err(e) if e.kind() == store::ErrorKind::ConditionFailed => {}
            Err(e) => return Err(e.into()),
        }
    }
    state
        .brokers
        .update(account.id, &connection.id, |c| {
            c.opening_positions.get_or_insert_with(|| held.clone());
        })
        .await?;
    Ok(())
}

/// The differences in positions and cash between the broker and the records, read so
/// that nothing in flight shows as one: a symbol with an order the records hold open is
/// not compared (its fills may be on their way), the broker is read before and after the
/// records and a symbol is compared only if both reads agree, and cash only when no
/// order is open at all and both of the broker's cash reads agree.
async fn differences(
    state: &AppState,
    account: &Account,
    connection: &BrokerConnection,
    broker: &dyn Broker,
) -> RouteResult<Vec<Discrepancy>> {
    let name = broker.name();
    let mut found = Vec::new();
    let Some(opening) = &connection.opening_positions else {
        return Ok(found);
    };
    let cash_before = broker.account().await?;
    let before = holdings(broker).await?;
    let open_orders = open_orders(state, account).await?;
    let ours = recorded(state, account).await?;
    let current = state.accounts.account_by_id(account.id).await?;
    let after = holdings(broker).await?;
    let cash_after = broker.account().await?;
    let busy: std::collections::BTreeSet<Symbol> = open_orders.iter().map(|o| o.symbol).collect();
    let symbols: std::collections::BTreeSet<Symbol> = before
        .keys()
        .chain(after.keys())
        .chain(ours.keys())
        .chain(opening.keys())
        .copied()
        .collect();
    for symbol in symbols {
        let read = |m: &BTreeMap<Symbol, Decimal>| m.get(&symbol).copied().unwrap_or_default();
        if busy.contains(&symbol) || read(&before) != read(&after) {
            continue;
        }
        let changed = read(&after) - opening.get(&symbol).copied().unwrap_or_default();
        let filled = read(&ours);
        if changed != filled {
            found.push(Discrepancy::holding(format!(
                "{symbol} at {name} changed by {} since the account opened, by Stratus's fills {}",
                changed.normalize(),
                filled.normalize()
            )));
        }
    }
    if let Some(current) = current {
        let steady = cash_before.cash == cash_after.cash;
        let difference = (cash_after.cash.value() - current.cash.value()).abs();
        if open_orders.is_empty() && steady && difference > CASH_TOLERANCE {
            found.push(Discrepancy::holding(format!(
                "{name} has {} {} in cash, Stratus {}",
                cash_after.cash.value().normalize(),
                cash_after.currency,
                current.cash.value().normalize()
            )));
        }
    }
    Ok(found)
}

/// Positions and cash at the broker against the records.
async fn compare_holdings(
    state: &AppState,
    account: &Account,
    connection: &BrokerConnection,
    broker: &dyn Broker,
    result: &mut Reconciliation,
) -> RouteResult<()> {
    if connection.opening_positions.is_none() {
        // Opened while the broker was away: its starting point is taken now, and
        // compared from the next pass on.
        return open(state, account, connection, broker).await;
    }
    result
        .discrepancies
        .extend(differences(state, account, connection, broker).await?);
    Ok(())
}

/// The owner's answer to a halt, after looking at the broker: what differs now is taken
/// as it is — a cash difference posted to the ledger as an adjustment naming both figures
/// (its id derived from them, so a repeated request posts it once), a position difference
/// added to the account's starting point (Stratus does not invent fills) — and the halt
/// lifted. Orders the broker moved are caught up first; while any are in flight the halt
/// stays (ask again).
pub async fn resolve(
    state: &AppState,
    account: &Account,
    connection: &BrokerConnection,
    broker: &dyn Broker,
) -> RouteResult<Reconciliation> {
    let mut pass = reconcile(state, account, connection, broker).await?;
    let open = open_orders(state, account).await?;
    let orders_differ = pass
        .discrepancies
        .iter()
        .any(|d| d.kind == DiscrepancyKind::Order);
    if orders_differ || pass.caught_up > 0 || open.iter().any(|o| o.status() == OrderStatus::New) {
        return Ok(pass);
    }
    let Some(opening) = connection.opening_positions.clone() else {
        return Ok(pass);
    };
    let busy: std::collections::BTreeSet<Symbol> = open.iter().map(|o| o.symbol).collect();
    let before = holdings(broker).await?;
    let ours = recorded(state, account).await?;
    let mut adjusted = opening.clone();
    let symbols: std::collections::BTreeSet<Symbol> = before
        .keys()
        .chain(ours.keys())
        .chain(opening.keys())
        .copied()
        .collect();
    let mut blocked = Vec::new();
    for symbol in symbols {
        let read = |m: &BTreeMap<Symbol, Decimal>| m.get(&symbol).copied().unwrap_or_default();
        let start = read(&before) - read(&ours);
        if start == read(&opening) {
            continue;
        }
        if busy.contains(&symbol) {
            blocked.push(Discrepancy::holding(format!(
                "{symbol} differs from the broker while an order in it works: resolve after it ends"
            )));
            continue;
        }
        adjusted.insert(symbol, start);
    }
    adjusted.retain(|_, q| !q.is_zero());
    let at_broker = broker.account().await?;
    if let Some(current) = state.accounts.account_by_id(account.id).await? {
        let amount = at_broker.cash.value() - current.cash.value();
        if open.is_empty() && amount.abs() > CASH_TOLERANCE {
            let entry = domain::LedgerEntry {
                id: EventId::derived(&format!(
                    "broker-adjustment:{}:{}:{}",
                    account.id,
                    current.cash.value().normalize(),
                    at_broker.cash.value().normalize()
                )),
                account_id: account.id,
                kind: if amount >= Decimal::ZERO {
                    domain::LedgerKind::Deposit
                } else {
                    domain::LedgerKind::Withdrawal
                },
                amount: Money::new(amount),
                reference: format!(
                    "adjustment to {}'s cash ({} → {})",
                    connection.broker,
                    current.cash.value().normalize(),
                    at_broker.cash.value().normalize()
                ),
                time: state.clock.now(),
            };
            match state.accounts.post(&entry).await {
                Ok(_) => {}
                Err(e) if e.kind() == store::ErrorKind::ConditionFailed => {}
                Err(e) => return Err(e.into()),
            }
        }
    }
    let lift = blocked.is_empty();
    let updated = state
        .brokers
        .update(account.id, &connection.id, |c| {
            c.opening_positions = Some(adjusted.clone());
            if lift {
                c.halt = None;
            }
        })
        .await?;
    pass.discrepancies = blocked;
    pass.halted = updated.halt.is_some();
    Ok(pass)
}

#[cfg(test)]
mod tests {
    use super::*;
    use domain::{AccountId, OrderId, OrderType, Price, Quantity, Side, TimeInForce};

    fn order(quantity: &str) -> Order {
        let request = domain::order::OrderRequest {
            id: OrderId::from_u128(7),
            client_order_id: None,
            account_id: AccountId::from_u128(1),
            symbol: Symbol::parse("AAPL").expect("symbol"),
            side: Side::Buy,
            order_type: OrderType::Limit {
                limit_price: Price::parse("price", "100").expect("price"),
            },
            time_in_force: TimeInForce::Gtc,
            quantity: Quantity::parse("quantity", quantity).expect("quantity"),
        };
        let instrument = domain::Instrument::new(
            request.symbol,
            Decimal::new(1, 2),
            Decimal::ONE,
            Decimal::ONE,
            domain::Currency::USD,
        )
        .expect("instrument");
        let mut order = Order::new(request, &instrument, Timestamp::EPOCH).expect("order");
        order.accept(Timestamp::EPOCH).expect("accept");
        order
    }

    fn at_broker(order: &Order, status: OrderStatus, filled: &str) -> BrokerOrderState {
        BrokerOrderState {
            order_id: order.id,
            broker_order_id: "b-1".into(),
            symbol: order.symbol,
            side: order.side,
            order_type: order.order_type(),
            time_in_force: order.time_in_force(),
            quantity: order.quantity(),
            status,
            filled_quantity: Quantity::parse("q", filled).expect("qty"),
            average_price: None,
            reason: None,
            updated_at: Timestamp::EPOCH,
        }
    }

    #[test]
    fn only_what_the_records_do_not_show_is_caught_up() {
        let o = order("3");
        let same = at_broker(&o, OrderStatus::Accepted, "0");
        assert_eq!(catch_up_kind(&o, &same), None);
        let filled = at_broker(&o, OrderStatus::Filled, "3");
        assert_eq!(catch_up_kind(&o, &filled), Some(ExecutionKind::Fill));
        let partial = at_broker(&o, OrderStatus::PartiallyFilled, "1");
        assert_eq!(
            catch_up_kind(&o, &partial),
            Some(ExecutionKind::PartialFill)
        );
        let cancelled = at_broker(&o, OrderStatus::Cancelled, "1");
        assert_eq!(
            catch_up_kind(&o, &cancelled),
            Some(ExecutionKind::Cancelled)
        );
        let mut replaced = same.clone();
        replaced.quantity = Quantity::parse("q", "5").expect("qty");
        assert_eq!(catch_up_kind(&o, &replaced), Some(ExecutionKind::Replaced));
    }
}
