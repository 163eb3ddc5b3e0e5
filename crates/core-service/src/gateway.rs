//! The brokers gateway: the core's link to the external brokers of broker accounts.
//!
//! For every broker account with a usable connection it follows the broker's execution
//! stream and publishes each report as a `broker.execution` command on `commands`
//! (partitioned by symbol, its id derived from the broker's event id), which the core
//! applies like a paper fill — the same path to orders, fills, positions, the ledger, the
//! reports and the WebSocket. A stream that drops is subscribed again (backing off up to
//! 30 s), and every (re)subscription is followed by a reconciliation, which catches up
//! what the broker did meanwhile. Every account is also reconciled at start and every
//! `broker_reconcile_seconds` (`app::reconcile`). What reconciliation cannot explain
//! halts the account's new orders and is reported three ways: the log (a warning), the
//! core's `/health` (`brokers`), and an `account.halted` event to the account's owner
//! on the WebSocket.
//!
//! Credentials the broker refuses on the stream mark the connection invalid with the
//! broker's reason; the gateway stops following it until the owner attaches new ones.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use app::AppState;
use brokers::{Broker, BrokerError, ExecutionReport};
use domain::events::{AccountHalted, Event, VenueFill};
use domain::{Account, AccountId, AccountKind, EventId};
use serde::Serialize;
use store::brokers::{BrokerConnection, ConnectionStatus};
use store::connect::streams;
use store::stream::OutgoingRecord;
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;

use crate::hub::{Hub, HubMessage};
use crate::runner::CoreHealth;

/// One broker account's link, as `/health` shows it.
#[derive(Debug, Clone, Default, Serialize, utoipa::ToSchema)]
pub struct BrokerLinkView {
    pub account_id: String,
    pub broker: String,
    /// Whether its execution stream is connected now.
    pub connected: bool,
    /// Reports received and published to the core.
    pub reports: u64,
    /// Orders brought up to date by reconciliation (missed reports).
    pub caught_up: u64,
    #[schema(nullable)]
    pub last_reconciled_unix_ms: Option<u64>,
    /// Why the account's new orders are halted, if they are.
    #[schema(nullable)]
    pub halted: Option<String>,
    /// The last error talking to the broker.
    #[schema(nullable)]
    pub error: Option<String>,
}

fn links(health: &CoreHealth) -> std::sync::MutexGuard<'_, BTreeMap<AccountId, BrokerLinkView>> {
    health
        .brokers
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

fn link<R>(
    health: &CoreHealth,
    account: AccountId,
    broker: &str,
    change: impl FnOnce(&mut BrokerLinkView) -> R,
) -> R {
    let mut links = links(health);
    let entry = links.entry(account).or_insert_with(|| BrokerLinkView {
        account_id: account.to_string(),
        broker: broker.to_owned(),
        ..BrokerLinkView::default()
    });
    change(entry)
}

/// The broker accounts and their routing connections.
async fn broker_accounts(app: &AppState) -> anyhow::Result<Vec<(Account, BrokerConnection)>> {
    let mut out = Vec::new();
    let mut after = None;
    loop {
        let page = app.accounts.all_accounts(after, 200).await?;
        let Some(last) = page.last() else { break };
        after = Some(last.id);
        for account in page {
            if account.kind != AccountKind::Broker {
                continue;
            }
            if let Some(connection) = app::venues::routing_connection(app, &account).await? {
                out.push((account, connection));
            }
        }
    }
    Ok(out)
}

/// The command carrying one report to the core.
pub fn report_record(
    account: &Account,
    broker: &str,
    connection: &str,
    report: &ExecutionReport,
    now: domain::Timestamp,
) -> OutgoingRecord {
    let fill = report.fill.as_ref().map(|f| VenueFill {
        execution_id: f.execution_id.clone(),
        quantity: f.quantity,
        price: f.price,
        fee: f.fee,
        time: f.time,
    });
    let execution = app::reconcile::execution(
        account,
        broker,
        &report.order,
        report.kind,
        report.event_id.clone(),
        fill,
    );
    let id = EventId::derived(&format!("broker:{connection}:{}", report.event_id));
    let envelope = Event::BrokerExecution(execution).to_envelope(id, now);
    OutgoingRecord::new(envelope.partition_key.clone(), envelope.to_vec())
}

/// How long a stream must stay up for its next reconnection to start from a short wait.
const STEADY: Duration = Duration::from_secs(30);

/// The least time between two reconciliations of one account (a stream that keeps
/// reconnecting asks for one each time).
const RECONCILE_AT_MOST_EVERY: Duration = Duration::from_secs(5);

/// Follows one connection's execution stream until shutdown (see the module docs).
async fn follow(
    app: AppState,
    account: Account,
    connection: BrokerConnection,
    broker: Arc<dyn Broker>,
    health: Arc<CoreHealth>,
    resubscribed: mpsc::UnboundedSender<AccountId>,
    mut shutdown: watch::Receiver<bool>,
) {
    let name = broker.name();
    let mut backoff = Duration::from_secs(1);
    loop {
        if *shutdown.borrow() {
            return;
        }
        match broker.executions().await {
            Ok(mut feed) => {
                let subscribed = tokio::time::Instant::now();
                link(&health, account.id, name, |l| {
                    l.connected = true;
                    l.error = None;
                });
                tracing::info!(account_id = %account.id, broker = name, "following the broker's executions");
                // Whatever happened while the stream was away is caught up now.
                let _ = resubscribed.send(account.id);
                loop {
                    let next = tokio::select! {
                        next = feed.next() => next,
                        _ = shutdown.changed() => return,
                    };
                    match next {
                        Some(Ok(report)) => {
                            let record = report_record(
                                &account,
                                name,
                                &connection.id,
                                &report,
                                app.clock.now(),
                            );
                            match app.streams.publish(streams::COMMANDS, vec![record]).await {
                                Ok(_) => link(&health, account.id, name, |l| l.reports += 1),
                                Err(e) => {
                                    // Reconciliation brings it in from the broker's state.
                                    tracing::warn!(account_id = %account.id, error = %e, "a broker report could not be published");
                                }
                            }
                        }
                        Some(Err(e)) => {
                            // A stream that stayed up a while starts over from a short
                            // wait; one that keeps dropping at once backs off.
                            if subscribed.elapsed() >= STEADY {
                                backoff = Duration::from_secs(1);
                            }
                            link(&health, account.id, name, |l| {
                                l.connected = false;
                                l.error = Some(e.to_string());
                            });
                            tracing::warn!(account_id = %account.id, broker = name, error = %e, "the broker's execution stream ended");
                            break;
                        }
                        None => {
                            if subscribed.elapsed() >= STEADY {
                                backoff = Duration::from_secs(1);
                            }
                            link(&health, account.id, name, |l| l.connected = false);
                            break;
                        }
                    }
                }
            }
            Err(BrokerError::Unauthorized(reason)) => {
                tracing::warn!(account_id = %account.id, broker = name, %reason, "the broker refused the credentials");
                if let Err(e) = app.venues.invalidate(&app, &connection, &reason).await {
                    tracing::warn!(error = %e, "could not mark the connection invalid");
                }
                link(&health, account.id, name, |l| {
                    l.connected = false;
                    l.error = Some(format!("credentials refused: {reason}"));
                });
                return;
            }
            Err(e) => {
                link(&health, account.id, name, |l| {
                    l.connected = false;
                    l.error = Some(e.to_string());
                });
            }
        }
        tokio::select! {
            _ = tokio::time::sleep(backoff) => {}
            _ = shutdown.changed() => return,
        }
        backoff = (backoff * 2).min(Duration::from_secs(30));
    }
}

/// Reconciles one account and reports what it found.
async fn reconcile_one(
    app: &AppState,
    hub: &Hub,
    health: &CoreHealth,
    account: &Account,
    connection: &BrokerConnection,
    broker: &dyn Broker,
) {
    let name = broker.name();
    let was_halted = connection.halt.is_some();
    match app::reconcile::reconcile(app, account, connection, broker).await {
        Ok(result) => {
            let halted = app
                .brokers
                .get(account.id, &connection.id)
                .await
                .ok()
                .flatten()
                .and_then(|c| c.halt.map(|h| h.reason));
            let now_ms = u64::try_from(app.clock.now().nanos() / 1_000_000).unwrap_or_default();
            link(health, account.id, name, |l| {
                l.caught_up += result.caught_up as u64;
                l.last_reconciled_unix_ms = Some(now_ms);
                l.halted = halted.clone();
            });
            if let (false, Some(reason)) = (was_halted, halted) {
                tracing::warn!(account_id = %account.id, broker = name, %reason, "reconciliation halted the account's new orders");
                let event = Event::AccountHalted(AccountHalted {
                    account_id: account.id,
                    reason,
                });
                let id = EventId::derived(&format!("halted:{}:{now_ms}", account.id));
                hub.publish(HubMessage::Execution {
                    account: account.id,
                    event: event.to_envelope(id, app.clock.now()),
                });
            }
        }
        Err(e) => {
            tracing::warn!(account_id = %account.id, broker = name, error = %e, "reconciliation could not finish; it runs again");
            link(health, account.id, name, |l| l.error = Some(e.to_string()));
        }
    }
}

/// Runs the gateway until `shutdown` turns true (see the module docs).
pub async fn run(
    app: AppState,
    hub: Hub,
    health: Arc<CoreHealth>,
    mut shutdown: watch::Receiver<bool>,
) {
    let every = Duration::from_secs(u64::from(app.settings.broker_reconcile_seconds.max(1)));
    let (resubscribed, mut requests) = mpsc::unbounded_channel::<AccountId>();
    let mut followers: BTreeMap<String, JoinHandle<()>> = BTreeMap::new();
    let mut known: BTreeMap<AccountId, (Account, BrokerConnection)> = BTreeMap::new();
    let mut next_pass = tokio::time::Instant::now();
    let mut last_reconciled: BTreeMap<AccountId, tokio::time::Instant> = BTreeMap::new();
    loop {
        let only = tokio::select! {
            _ = tokio::time::sleep_until(next_pass) => None,
            Some(account) = requests.recv() => Some(account),
            _ = shutdown.changed() => break,
        };
        if *shutdown.borrow() {
            break;
        }
        let accounts = match broker_accounts(&app).await {
            Ok(a) => a,
            Err(e) => {
                tracing::warn!(error = %e, "broker accounts cannot be listed; retrying");
                next_pass = tokio::time::Instant::now() + Duration::from_secs(1);
                continue;
            }
        };
        if only.is_none() {
            next_pass = tokio::time::Instant::now() + every;
        }
        known.clear();
        for (account, connection) in accounts {
            known.insert(account.id, (account, connection));
        }
        // Followers of connections that are gone or refused stop.
        followers.retain(|id, task| {
            let keep = !task.is_finished()
                && known
                    .values()
                    .any(|(_, c)| &c.id == id && c.status != ConnectionStatus::Invalid);
            if !keep {
                task.abort();
            }
            keep
        });
        for (account, connection) in known.values() {
            if only.is_some_and(|a| a != account.id) {
                continue;
            }
            if connection.status == ConnectionStatus::Invalid {
                continue;
            }
            let broker = match app.venues.broker(&app, connection) {
                Ok(b) => b,
                Err(e) => {
                    link(&health, account.id, &connection.broker, |l| {
                        l.error = Some(e.to_string());
                    });
                    continue;
                }
            };
            if !followers.contains_key(&connection.id) {
                let task = tokio::spawn(follow(
                    app.clone(),
                    account.clone(),
                    connection.clone(),
                    broker.clone(),
                    health.clone(),
                    resubscribed.clone(),
                    shutdown.clone(),
                ));
                followers.insert(connection.id.clone(), task);
            }
            if let Some(last) = last_reconciled
                .get(&account.id)
                .filter(|t| t.elapsed() < RECONCILE_AT_MOST_EVERY)
            {
                // Deferred, not dropped: a (re)subscription's catch-up comes a little later.
                next_pass = next_pass.min(*last + RECONCILE_AT_MOST_EVERY);
                continue;
            }
            last_reconciled.insert(account.id, tokio::time::Instant::now());
            reconcile_one(&app, &hub, &health, account, connection, &*broker).await;
            if *shutdown.borrow() {
                break;
            }
        }
    }
    for (_, task) in followers {
        task.abort();
    }
}
