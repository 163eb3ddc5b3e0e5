//! The JSON shapes the API returns. They are built from domain values here, apart from
//! the stored forms, so a storage change never changes the wire silently. Decimals are
//! strings (exact), times RFC 3339 UTC.

use domain::{
    Account, Decimal, Fill, LedgerEntry, Order, OrderStatus, OrderType, Position, PostedEntry,
};
use serde::Serialize;

pub use app::display::{Plain, derived_money, derived_price};

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = Account)]
pub struct AccountView {
    pub id: String,
    pub name: String,
    pub kind: &'static str,
    pub base_currency: String,
    pub cash: String,
    pub created_at: String,
}

impl From<&Account> for AccountView {
    fn from(a: &Account) -> Self {
        AccountView {
            id: a.id.to_string(),
            name: a.name.clone(),
            kind: a.kind.as_str(),
            base_currency: a.base_currency.to_string(),
            cash: a.cash.plain(),
            created_at: a.created_at.to_string(),
        }
    }
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = LedgerEntry)]
pub struct LedgerEntryView {
    pub id: String,
    pub kind: String,
    pub amount: String,
    pub balance_after: String,
    pub reference: String,
    pub time: String,
}

impl From<&PostedEntry> for LedgerEntryView {
    fn from(p: &PostedEntry) -> Self {
        let LedgerEntry {
            id,
            kind,
            amount,
            reference,
            time,
            ..
        } = &p.entry;
        LedgerEntryView {
            id: id.to_string(),
            kind: kind.to_string(),
            amount: amount.plain(),
            balance_after: p.balance_after.plain(),
            reference: reference.clone(),
            time: time.to_string(),
        }
    }
}

/// Whether an order may still trade or change: submitted (`new`, not yet acknowledged
/// by the core), accepted, or partially filled.
pub fn is_working(status: OrderStatus) -> bool {
    !status.is_terminal()
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = Order)]
pub struct OrderView {
    pub id: String,
    pub client_order_id: Option<String>,
    pub account_id: String,
    /// The strategy deployment that placed the order; null for an order placed over the API.
    #[schema(format = "uuid")]
    pub strategy_id: Option<String>,
    pub symbol: String,
    pub side: &'static str,
    #[serde(rename = "type")]
    pub order_type: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub limit_price: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stop_price: Option<String>,
    pub time_in_force: &'static str,
    pub quantity: String,
    pub filled_quantity: String,
    pub remaining_quantity: String,
    pub average_fill_price: Option<String>,
    pub status: &'static str,
    pub reason: Option<String>,
    pub created_at: String,
    pub updated_at: String,
}

pub fn order_type_name(t: &OrderType) -> &'static str {
    match t {
        OrderType::Market => "market",
        OrderType::Limit { .. } => "limit",
        OrderType::Stop { .. } => "stop",
        OrderType::StopLimit { .. } => "stop_limit",
    }
}

impl OrderView {
    /// The order as clients see it; `instruments` gives the tick its average fill price
    /// is shown to (see [`derived_price`]).
    pub fn new(o: &Order, instruments: &domain::InstrumentCatalog) -> Self {
        let t = o.order_type();
        let tick = instruments.get(o.symbol).map(|i| i.tick_size());
        OrderView {
            id: o.id.to_string(),
            client_order_id: o.client_order_id.as_ref().map(|c| c.as_str().to_owned()),
            account_id: o.account_id.to_string(),
            strategy_id: o.strategy_id.map(|s| s.to_string()),
            symbol: o.symbol.to_string(),
            side: o.side.as_str(),
            order_type: order_type_name(&t),
            limit_price: t.limit_price().map(|p| p.plain()),
            stop_price: t.stop_price().map(|p| p.plain()),
            time_in_force: o.time_in_force().as_str(),
            quantity: o.quantity().plain(),
            filled_quantity: o.filled_quantity().plain(),
            remaining_quantity: o.remaining_quantity().plain(),
            average_fill_price: o
                .average_fill_price()
                .map(|p| derived_price(p.value(), tick)),
            status: o.status().as_str(),
            reason: o.reason().map(str::to_owned),
            created_at: o.created_at().to_string(),
            updated_at: o.updated_at().to_string(),
        }
    }
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = Fill)]
pub struct FillView {
    pub order_id: String,
    pub trade_id: u64,
    pub symbol: String,
    pub side: &'static str,
    pub price: String,
    pub quantity: String,
    pub fee: String,
    pub liquidity: String,
    pub time: String,
}

impl From<&Fill> for FillView {
    fn from(f: &Fill) -> Self {
        FillView {
            order_id: f.order_id.to_string(),
            trade_id: f.trade_id.0,
            symbol: f.symbol.to_string(),
            side: f.side.as_str(),
            price: f.price.plain(),
            quantity: f.quantity.plain(),
            fee: f.fee.plain(),
            liquidity: serde_json::to_value(f.liquidity)
                .ok()
                .and_then(|v| v.as_str().map(str::to_owned))
                .unwrap_or_default(),
            time: f.time.to_string(),
        }
    }
}

/// A position with its mark.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = Position)]
pub struct PositionView {
    pub symbol: String,
    pub quantity: String,
    pub average_price: String,
    /// The last trade price, or the average price when none is known yet.
    pub mark: String,
    pub mark_source: &'static str,
    pub market_value: String,
    pub unrealized_pnl: String,
    pub realized_pnl: String,
    pub fees: String,
}

impl PositionView {
    /// `tick` and `currency` say how the derived figures are shown (see
    /// [`derived_price`]).
    pub fn new(
        p: &Position,
        mark: &app::portfolio::Mark,
        market_value: domain::Money,
        unrealized: domain::Money,
        tick: Option<Decimal>,
        currency: domain::Currency,
    ) -> Self {
        PositionView {
            symbol: p.symbol.to_string(),
            quantity: p.quantity().plain(),
            average_price: derived_price(p.average_price(), tick),
            mark: derived_price(mark.price.value(), tick),
            mark_source: mark.source,
            market_value: derived_money(market_value, currency),
            unrealized_pnl: derived_money(unrealized, currency),
            realized_pnl: derived_money(p.realized_pnl(), currency),
            fees: p.fees().plain(),
        }
    }
}

/// One symbol of a strategy deployment's performance.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = DeploymentSymbolPerformance)]
pub struct SymbolPerformanceView {
    pub symbol: String,
    /// Signed: long > 0, short < 0, flat 0.
    pub quantity: String,
    /// Of the open quantity (0 when flat).
    pub average_price: String,
    /// The last trade price; null before the core has seen a trade of the symbol.
    pub mark: Option<String>,
    pub realized_pnl: String,
    pub unrealized_pnl: String,
    pub fees: String,
}

/// A strategy deployment's P&L from its own fills (see `app::performance`).
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = DeploymentPerformance)]
pub struct PerformanceView {
    /// Every symbol the deployment has traded.
    pub positions: Vec<SymbolPerformanceView>,
    /// How many fills its orders have had.
    pub fills: u64,
    /// Before fees.
    pub realized_pnl: String,
    pub unrealized_pnl: String,
    pub fees: String,
    /// realized − fees + unrealized.
    pub net_pnl: String,
}

impl PerformanceView {
    /// `instruments` give each figure its tick and currency (see [`derived_price`]).
    pub fn new(p: &app::performance::Performance, instruments: &domain::InstrumentCatalog) -> Self {
        let currency = p
            .symbols
            .iter()
            .find_map(|s| instruments.get(s.position.symbol))
            .map(|i| i.currency());
        let money = |m: domain::Money, currency: Option<domain::Currency>| match currency {
            Some(c) => derived_money(m, c),
            None => m.plain(),
        };
        PerformanceView {
            positions: p
                .symbols
                .iter()
                .map(|s| {
                    let instrument = instruments.get(s.position.symbol);
                    let tick = instrument.map(|i| i.tick_size());
                    let currency = instrument.map(|i| i.currency());
                    SymbolPerformanceView {
                        symbol: s.position.symbol.to_string(),
                        quantity: s.position.quantity().plain(),
                        average_price: derived_price(s.position.average_price(), tick),
                        mark: s.mark.map(|m| m.plain()),
                        realized_pnl: money(s.position.realized_pnl(), currency),
                        unrealized_pnl: money(s.unrealized_pnl, currency),
                        fees: s.position.fees().plain(),
                    }
                })
                .collect(),
            fills: p.fills,
            realized_pnl: money(p.realized_pnl, currency),
            unrealized_pnl: money(p.unrealized_pnl, currency),
            fees: p.fees.plain(),
            net_pnl: money(p.net_pnl, currency),
        }
    }
}

/// Commit latency over the core's recent batches, in milliseconds (null before any).
#[derive(Debug, Clone, Copy, Serialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = CommitLatency)]
pub struct CommitLatencyView {
    pub p50: Option<f64>,
    pub p99: Option<f64>,
    pub max: Option<f64>,
}

impl From<store::core_status::CommitLatency> for CommitLatencyView {
    fn from(l: store::core_status::CommitLatency) -> Self {
        CommitLatencyView {
            p50: l.p50,
            p99: l.p99,
            max: l.max,
        }
    }
}

/// How far the core's reader of a stream is behind its newest record: time where the
/// stream can say (Kinesis), records where it can count them (the embedded log; the
/// count stops at 100,000); null where it cannot.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = StreamLag)]
pub struct StreamLagView {
    /// `commands`, `ticks` or `executions`.
    pub stream: String,
    pub lag_ms: Option<u64>,
    pub records_behind: Option<u64>,
}

impl From<&store::core_status::StreamLag> for StreamLagView {
    fn from(l: &store::core_status::StreamLag) -> Self {
        StreamLagView {
            stream: l.stream.clone(),
            lag_ms: l.lag_ms,
            records_behind: l.records_behind,
        }
    }
}
