//! What a strategy sees and does: [`Setup`] at creation (register indicators), [`Context`]
//! in every callback (positions, cash, indicators, orders).

use domain::{
    AccountId, Candle, Decimal, DomainError, Money, OrderId, OrderType, Price, Quantity, Side,
    StrategyId, Symbol, TimeInForce, Timeframe, Timestamp,
};
use serde::{Deserialize, Serialize};

use super::{StrategyConfig, StrategyError};
use crate::indicators::{AnyIndicator, Bar, BarIndicator, IndicatorSpec};
use crate::paper::PaperOrder;
use crate::portfolio::Portfolio;
use crate::vec_map::VecMap;

/// A registered indicator, by index into its strategy's registry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct IndicatorId(usize);

impl IndicatorId {
    /// The id of the `index`-th registration of a strategy (ids are handed out in order).
    pub(crate) fn from_index(index: usize) -> Self {
        IndicatorId(index)
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Entry {
    symbol: Symbol,
    timeframe: Timeframe,
    spec: IndicatorSpec,
    indicator: AnyIndicator,
    values: Vec<Option<f64>>,
}

/// A strategy's indicators, updated by the engine as candles close. Serializable, so a
/// snapshot of the engine restores them exactly (no re-warming from history).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct IndicatorRegistry {
    entries: Vec<Entry>,
}

impl IndicatorRegistry {
    /// Registers `spec` on `symbol`'s `timeframe` candles; the same registration twice
    /// gives the same id.
    pub fn register(
        &mut self,
        symbol: Symbol,
        timeframe: Timeframe,
        spec: IndicatorSpec,
    ) -> Result<IndicatorId, StrategyError> {
        if let Some(i) = self
            .entries
            .iter()
            .position(|e| e.symbol == symbol && e.timeframe == timeframe && e.spec == spec)
        {
            return Ok(IndicatorId(i));
        }
        let indicator = spec.build().map_err(|e| DomainError::Invalid {
            field: "indicator",
            reason: e.to_string(),
        })?;
        let columns = spec.columns().len();
        self.entries.push(Entry {
            symbol,
            timeframe,
            spec,
            indicator,
            values: vec![None; columns],
        });
        Ok(IndicatorId(self.entries.len() - 1))
    }

    /// Feeds a closed candle to the indicators registered on its symbol and timeframe.
    pub fn on_candle(&mut self, candle: &Candle) {
        let mut bar = None;
        // Most indicators read the close only: then only it is converted.
        let close_only = self.entries.iter().all(|e| e.spec.reads_close_only());
        for e in &mut self.entries {
            if e.symbol == candle.symbol && e.timeframe == candle.timeframe {
                let bar = bar.get_or_insert_with(|| {
                    if close_only {
                        Bar {
                            close: domain::num::to_f64(candle.close.value()),
                            ..Bar::default()
                        }
                    } else {
                        Bar::from(candle)
                    }
                });
                e.values.clear();
                e.indicator.update(bar, &mut e.values);
            }
        }
    }

    /// The current values of an indicator, one per output column (`None` while warming
    /// up).
    pub fn values(&self, id: IndicatorId) -> &[Option<f64>] {
        self.entries
            .get(id.0)
            .map(|e| e.values.as_slice())
            .unwrap_or(&[])
    }

    /// The (symbol, timeframe) pairs that have indicators.
    pub fn subscriptions(&self) -> impl Iterator<Item = (Symbol, Timeframe)> + '_ {
        self.entries.iter().map(|e| (e.symbol, e.timeframe))
    }
}

/// Given to [`super::Strategy::init`]: the deployment and the indicator registry.
#[derive(Debug)]
pub struct Setup<'a> {
    pub(crate) config: &'a StrategyConfig,
    pub(crate) registry: &'a mut IndicatorRegistry,
}

impl Setup<'_> {
    pub fn config(&self) -> &StrategyConfig {
        self.config
    }

    pub fn indicator(
        &mut self,
        symbol: Symbol,
        timeframe: Timeframe,
        spec: IndicatorSpec,
    ) -> Result<IndicatorId, StrategyError> {
        self.registry.register(symbol, timeframe, spec)
    }
}

/// An order a strategy wants.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrderIntent {
    pub symbol: Symbol,
    pub side: Side,
    pub quantity: Quantity,
    pub order_type: OrderType,
    pub time_in_force: TimeInForce,
}

impl OrderIntent {
    pub fn market(symbol: Symbol, side: Side, quantity: Quantity) -> Self {
        OrderIntent {
            symbol,
            side,
            quantity,
            order_type: OrderType::Market,
            time_in_force: TimeInForce::Gtc,
        }
    }
}

/// What a strategy asked for during a callback; the engine carries it out afterwards.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Intent {
    Submit(PaperOrder),
    Cancel(OrderId),
}

/// Given to every strategy callback.
#[derive(Debug)]
pub struct Context<'a> {
    pub(crate) now: Timestamp,
    pub(crate) account: AccountId,
    pub(crate) strategy: StrategyId,
    pub(crate) portfolio: &'a Portfolio,
    pub(crate) registry: &'a IndicatorRegistry,
    /// The strategy's working orders and their symbols.
    pub(crate) open_orders: &'a VecMap<OrderId, Symbol>,
    pub(crate) intents: &'a mut Vec<Intent>,
    pub(crate) next_order: &'a mut u64,
}

impl Context<'_> {
    pub fn now(&self) -> Timestamp {
        self.now
    }

    pub fn account(&self) -> AccountId {
        self.account
    }

    pub fn cash(&self) -> Money {
        self.portfolio.cash()
    }

    /// Cash plus positions at the last prices.
    pub fn equity(&self) -> Result<Money, DomainError> {
        self.portfolio.equity()
    }

    /// Signed quantity held (positive long, negative short).
    pub fn position(&self, symbol: Symbol) -> Decimal {
        self.portfolio.quantity(symbol)
    }

    pub fn last_price(&self, symbol: Symbol) -> Option<Price> {
        self.portfolio.last_price(symbol)
    }

    /// All output values of an indicator.
    pub fn indicator(&self, id: IndicatorId) -> &[Option<f64>] {
        self.registry.values(id)
    }

    /// The first output of an indicator (the value, for single-output indicators).
    pub fn value(&self, id: IndicatorId) -> Option<f64> {
        self.registry.values(id).first().copied().flatten()
    }

    /// Orders of this strategy on `symbol` that are working or were submitted in this
    /// callback.
    pub fn open_orders(&self, symbol: Symbol) -> usize {
        let working = self.open_orders.values().filter(|s| **s == symbol).count();
        let new = self
            .intents
            .iter()
            .filter(|i| matches!(i, Intent::Submit(o) if o.symbol == symbol))
            .count();
        working + new
    }

    /// Submits an order; its id is derived from the strategy id and a counter (a UUID v5
    /// in the strategy's namespace), so a replay gives the same ids.
    pub fn submit(&mut self, intent: OrderIntent) -> OrderId {
        *self.next_order += 1;
        let id = OrderId::from_uuid(uuid::Uuid::new_v5(
            &self.strategy.as_uuid(),
            &self.next_order.to_be_bytes(),
        ));
        self.intents.push(Intent::Submit(PaperOrder {
            id,
            account_id: self.account,
            symbol: intent.symbol,
            side: intent.side,
            order_type: intent.order_type,
            time_in_force: intent.time_in_force,
            quantity: intent.quantity,
            placed_at: self.now,
            triggered: false,
        }));
        id
    }

    pub fn cancel(&mut self, order: OrderId) {
        self.intents.push(Intent::Cancel(order));
    }
}
