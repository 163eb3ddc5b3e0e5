//! `PaperBroker`: fills strategy orders against market data, the same way in backtests
//! and in the live service.
//!
//! Orders fill completely or not at all (volume is not modelled). An order is checked
//! against the data that arrives after it (the engine runs the broker before strategies
//! see a bar or tick), so on bars an order placed while bar *t* was processed is first
//! checked against bar *t + 1*:
//!
//! | order | buy fills when | at |
//! |---|---|---|
//! | market | always | the bar's open |
//! | limit L | open ≤ L, else low ≤ L | the open if it gapped through L, else L |
//! | stop S | open ≥ S, else high ≥ S | the open if it gapped through S, else S |
//! | stop-limit S, L | triggers as a stop (at the open or at S); then fills as a limit at L from the trigger price on | the trigger price if it is within L, else later as a limit |
//!
//! Sells mirror these. On ticks, an order is checked against each later tick: market at
//! the tick's price, limit when the price reaches L (at the tick's price), stop when it
//! reaches S (at the tick's price).
//!
//! Costs: slippage (whole ticks, or basis points rounded up to the tick grid) moves
//! market and stop fills against the order; limit fills get their price. Commission is
//! per unit, a percentage of notional, or a fixed amount per fill. Both default to zero.
//!
//! Time in force: IOC and FOK orders get one chance (the next bar or tick) and are then
//! cancelled; DAY orders expire at their session's close on the instrument's calendar
//! (the end of the UTC day for an always-open market); GTC orders wait.

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use domain::{
    AccountId, Candle, Decimal, DomainError, Fill, Instrument, Liquidity, Money, OrderId,
    OrderType, Price, Quantity, Side, Symbol, Tick, TimeInForce, Timeframe, Timestamp, TradeId,
};
use serde::{Deserialize, Serialize};

/// Commission charged per fill.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", content = "value", rename_all = "snake_case")]
pub enum Commission {
    #[default]
    None,
    /// Money per unit traded.
    PerUnit(Decimal),
    /// Percent of the notional (0.1 = 0.1%).
    Percent(Decimal),
    /// Money per fill.
    Fixed(Decimal),
}

/// Price slippage on market and stop fills.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", content = "value", rename_all = "snake_case")]
pub enum Slippage {
    #[default]
    None,
    /// Whole ticks against the order.
    Ticks(u32),
    /// Basis points of the price against the order, rounded up to the tick grid.
    BasisPoints(Decimal),
}

/// Why a commission or slippage setting could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct CostParseError(String);

fn non_negative(kind: &str, text: &str) -> Result<Decimal, CostParseError> {
    domain::num::parse_decimal("value", text)
        .ok()
        .filter(|d| !d.is_sign_negative())
        .ok_or_else(|| CostParseError(format!("{kind} needs a non-negative number, got {text:?}")))
}

impl FromStr for Commission {
    type Err = CostParseError;
    /// `0`, `per_unit:0.005`, `percent:0.1` (or `0.1%`), `fixed:1`.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let valid = "valid: 0, per_unit:AMOUNT, percent:PCT (or PCT%), fixed:AMOUNT";
        if s == "0" || s == "none" {
            return Ok(Commission::None);
        }
        if let Some(pct) = s.strip_suffix('%') {
            return Ok(Commission::Percent(non_negative("percent", pct)?));
        }
        match s.split_once(':') {
            Some(("per_unit", v)) => Ok(Commission::PerUnit(non_negative("per_unit", v)?)),
            Some(("percent", v)) => Ok(Commission::Percent(non_negative("percent", v)?)),
            Some(("fixed", v)) => Ok(Commission::Fixed(non_negative("fixed", v)?)),
            _ => Err(CostParseError(format!("unknown commission {s:?}; {valid}"))),
        }
    }
}

impl FromStr for Slippage {
    type Err = CostParseError;
    /// `0`, `ticks:N`, `bps:N`.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let valid = "valid: 0, ticks:N, bps:N";
        if s == "0" || s == "none" {
            return Ok(Slippage::None);
        }
        match s.split_once(':') {
            Some(("ticks", v)) => v
                .parse::<u32>()
                .map(Slippage::Ticks)
                .map_err(|_| CostParseError(format!("ticks needs a whole number, got {v:?}"))),
            Some(("bps", v)) => Ok(Slippage::BasisPoints(non_negative("bps", v)?)),
            _ => Err(CostParseError(format!("unknown slippage {s:?}; {valid}"))),
        }
    }
}

impl fmt::Display for Commission {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Commission::None => write!(f, "none"),
            Commission::PerUnit(v) => write!(f, "{v} per unit"),
            Commission::Percent(v) => write!(f, "{v}%"),
            Commission::Fixed(v) => write!(f, "{v} per fill"),
        }
    }
}

impl fmt::Display for Slippage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Slippage::None => write!(f, "none"),
            Slippage::Ticks(n) => write!(f, "{n} ticks"),
            Slippage::BasisPoints(v) => write!(f, "{v} bps"),
        }
    }
}

/// Commission and slippage together.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CostModel {
    pub commission: Commission,
    pub slippage: Slippage,
}

/// An order waiting at the paper broker.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PaperOrder {
    pub id: OrderId,
    pub account_id: AccountId,
    pub symbol: Symbol,
    pub side: Side,
    pub order_type: OrderType,
    pub time_in_force: TimeInForce,
    pub quantity: Quantity,
    pub placed_at: Timestamp,
    /// A stop-limit whose stop has been reached (it now works as a limit).
    #[serde(default)]
    pub triggered: bool,
}

/// What the broker did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PaperEvent {
    Filled(Fill),
    /// An IOC/FOK order that did not fill on its one chance.
    Cancelled(PaperOrder),
    Expired(PaperOrder),
}

/// Fills orders against bars or ticks. See the module docs for the model.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PaperBroker {
    instruments: BTreeMap<Symbol, Instrument>,
    costs: CostModel,
    /// Waiting orders in submission order.
    pending: Vec<PaperOrder>,
    next_trade_id: u64,
    /// How many waiting orders are triggered stop-limits, when known (`None` after
    /// deserializing, until [`PaperBroker::reindex`]): a live snapshot asks for them
    /// after every batch, and should not walk every waiting order to learn there are none.
    #[serde(skip)]
    triggered_waiting: Option<usize>,
}

/// What a bar or tick offers an order: a possible fill price, or nothing.
struct Market {
    open: Price,
    high: Price,
    low: Price,
    time: Timestamp,
    /// Ticks fill at the tick's price; bars at the level crossed.
    is_tick: bool,
}

impl PaperBroker {
    pub fn new(costs: CostModel) -> Self {
        PaperBroker {
            instruments: BTreeMap::new(),
            costs,
            pending: Vec::new(),
            next_trade_id: 1,
            triggered_waiting: Some(0),
        }
    }

    pub fn add_instrument(&mut self, instrument: Instrument) {
        self.instruments.insert(instrument.symbol(), instrument);
    }

    pub fn instrument(&self, symbol: Symbol) -> Option<&Instrument> {
        self.instruments.get(&symbol)
    }

    pub fn costs(&self) -> CostModel {
        self.costs
    }

    /// Accepts an order for a later bar or tick. Refuses unknown symbols and quantities or
    /// prices off the instrument's grid.
    pub fn submit(&mut self, order: PaperOrder) -> Result<(), DomainError> {
        let instrument =
            self.instruments
                .get(&order.symbol)
                .ok_or_else(|| DomainError::Invalid {
                    field: "symbol",
                    reason: format!("no instrument {} at the paper broker", order.symbol),
                })?;
        instrument.validate_quantity("quantity", order.quantity)?;
        if let Some(p) = order.order_type.limit_price() {
            instrument.validate_price("limit_price", p)?;
        }
        if let Some(p) = order.order_type.stop_price() {
            instrument.validate_price("stop_price", p)?;
        }
        if order.triggered {
            self.count_triggered(1, 0);
        }
        self.pending.push(order);
        Ok(())
    }

    /// Keeps the count of triggered waiting orders, when it is known.
    fn count_triggered(&mut self, added: usize, removed: usize) {
        if let Some(n) = &mut self.triggered_waiting {
            *n = (*n + added).saturating_sub(removed);
        }
    }

    /// Counts the triggered waiting orders again (after deserializing).
    pub fn reindex(&mut self) {
        self.triggered_waiting = Some(self.pending.iter().filter(|o| o.triggered).count());
    }

    /// The ids of the waiting stop-limit orders whose stop has triggered.
    pub fn triggered_ids(&self) -> Vec<OrderId> {
        if self.triggered_waiting == Some(0) {
            return Vec::new();
        }
        self.pending
            .iter()
            .filter(|o| o.triggered)
            .map(|o| o.id)
            .collect()
    }

    /// Cancels a waiting order; false if there is none with this id.
    pub fn cancel(&mut self, id: OrderId) -> Option<PaperOrder> {
        let at = self.pending.iter().position(|o| o.id == id)?;
        let order = self.pending.remove(at);
        if order.triggered {
            self.count_triggered(0, 1);
        }
        Some(order)
    }

    /// A copy without the waiting orders, made without copying them first (a live runner
    /// snapshots the broker without them and resubmits them from the system of record,
    /// where they are kept anyway).
    pub fn without_pending(&self) -> PaperBroker {
        PaperBroker {
            instruments: self.instruments.clone(),
            costs: self.costs,
            pending: Vec::new(),
            next_trade_id: self.next_trade_id,
            triggered_waiting: Some(0),
        }
    }

    pub fn pending(&self) -> &[PaperOrder] {
        &self.pending
    }

    /// Waiting orders of one account and symbol.
    pub fn pending_count(&self, account: AccountId, symbol: Symbol) -> usize {
        self.pending
            .iter()
            .filter(|o| o.account_id == account && o.symbol == symbol)
            .count()
    }

    /// Checks the waiting orders of `bar.symbol` against a bar.
    pub fn on_bar(&mut self, bar: &Candle, out: &mut Vec<PaperEvent>) {
        let market = Market {
            open: bar.open,
            high: bar.high,
            low: bar.low,
            time: bar.start,
            is_tick: false,
        };
        self.run(bar.symbol, &market, out);
    }

    /// Checks the waiting orders of `tick.symbol` against a trade.
    pub fn on_tick(&mut self, tick: &Tick, out: &mut Vec<PaperEvent>) {
        let market = Market {
            open: tick.price,
            high: tick.price,
            low: tick.price,
            time: tick.time,
            is_tick: true,
        };
        self.run(tick.symbol, &market, out);
    }

    fn run(&mut self, symbol: Symbol, market: &Market, out: &mut Vec<PaperEvent>) {
        if !self.pending.iter().any(|o| o.symbol == symbol) {
            return;
        }
        // In place: the orders that stay keep their order, and nothing is allocated.
        let mut pending = std::mem::take(&mut self.pending);
        let (mut triggered, mut gone_triggered) = (0, 0);
        pending.retain_mut(|order| {
            let was_triggered = order.triggered;
            let stays = self.keeps(order, symbol, market, out);
            triggered += usize::from(order.triggered && !was_triggered);
            gone_triggered += usize::from(order.triggered && !stays);
            stays
        });
        self.pending = pending;
        self.count_triggered(triggered, gone_triggered);
    }

    /// When a `DAY` order expires: its session's close on the instrument's calendar
    /// (the end of the UTC day for an always-open market).
    fn day_expiry(&self, order: &PaperOrder) -> Timestamp {
        match self.instruments.get(&order.symbol) {
            Some(i) => i.calendar().calendar().day_order_expiry(order.placed_at),
            None => Timeframe::D1.period_end(Timeframe::D1.period_start(order.placed_at)),
        }
    }

    /// Whether `order` keeps waiting after `market` (else it filled, was cancelled or
    /// expired, and `out` says which).
    fn keeps(
        &mut self,
        order: &mut PaperOrder,
        symbol: Symbol,
        market: &Market,
        out: &mut Vec<PaperEvent>,
    ) -> bool {
        // Orders are only ever checked against data that arrived after them: the
        // engine runs the broker on a bar or tick before strategies see it.
        if order.symbol != symbol {
            return true;
        }
        if order.time_in_force == TimeInForce::Day && market.time >= self.day_expiry(order) {
            out.push(PaperEvent::Expired(order.clone()));
            return false;
        }
        match self.fill_price(order, market) {
            Some((price, liquidity)) => {
                match self.fill(order, price, liquidity, market.time) {
                    Ok(fill) => out.push(PaperEvent::Filled(fill)),
                    // A fill whose costs overflow cannot happen with real prices; the order
                    // is dropped as cancelled rather than left to fail forever.
                    Err(_) => out.push(PaperEvent::Cancelled(order.clone())),
                }
                false
            }
            None if matches!(order.time_in_force, TimeInForce::Ioc | TimeInForce::Fok) => {
                out.push(PaperEvent::Cancelled(order.clone()));
                false
            }
            None => true,
        }
    }

    /// Where `order` fills against `market`, if it does.
    fn fill_price(&self, order: &mut PaperOrder, m: &Market) -> Option<(Price, Liquidity)> {
        let buy = order.side == Side::Buy;
        // Reached when the price went to `level` or beyond in the order's favour (limit)
        // or against it (stop).
        let limit_fill = |level: Price| -> Option<Price> {
            if buy {
                if m.open <= level {
                    Some(m.open)
                } else if m.low <= level {
                    Some(if m.is_tick { m.low } else { level })
                } else {
                    None
                }
            } else if m.open >= level {
                Some(m.open)
            } else if m.high >= level {
                Some(if m.is_tick { m.high } else { level })
            } else {
                None
            }
        };
        let stop_trigger = |stop: Price| -> Option<Price> {
            if buy {
                if m.open >= stop {
                    Some(m.open)
                } else if m.high >= stop {
                    Some(if m.is_tick { m.high } else { stop })
                } else {
                    None
                }
            } else if m.open <= stop {
                Some(m.open)
            } else if m.low <= stop {
                Some(if m.is_tick { m.low } else { stop })
            } else {
                None
            }
        };
        match order.order_type {
            OrderType::Market => Some((self.slipped(order, m.open), Liquidity::Taker)),
            OrderType::Limit { limit_price } => {
                limit_fill(limit_price).map(|p| (p, Liquidity::Maker))
            }
            OrderType::Stop { stop_price } => {
                stop_trigger(stop_price).map(|p| (self.slipped(order, p), Liquidity::Taker))
            }
            OrderType::StopLimit {
                stop_price,
                limit_price,
            } => {
                if !order.triggered {
                    let trigger = stop_trigger(stop_price)?;
                    order.triggered = true;
                    let within = if buy {
                        trigger <= limit_price
                    } else {
                        trigger >= limit_price
                    };
                    return within.then_some((trigger, Liquidity::Taker));
                }
                limit_fill(limit_price).map(|p| (p, Liquidity::Maker))
            }
        }
    }

    /// `price` moved against the order by the slippage, on the tick grid.
    fn slipped(&self, order: &PaperOrder, price: Price) -> Price {
        let Some(instrument) = self.instruments.get(&order.symbol) else {
            return price;
        };
        let tick = instrument.tick_size();
        let amount = match self.costs.slippage {
            Slippage::None => return price,
            Slippage::Ticks(n) => tick.checked_mul(Decimal::from(n)),
            Slippage::BasisPoints(bps) => price
                .value()
                .checked_mul(bps)
                .and_then(|v| v.checked_div(Decimal::from(10_000)))
                .and_then(|v| v.checked_div(tick))
                .map(|ticks| ticks.ceil())
                .and_then(|ticks| ticks.checked_mul(tick)),
        };
        let Some(amount) = amount else { return price };
        let moved = match order.side {
            Side::Buy => price.value().checked_add(amount),
            Side::Sell => price.value().checked_sub(amount),
        };
        // A sell slipped to zero or below keeps the smallest price on the grid.
        moved
            .and_then(|v| Price::new(v).ok())
            .unwrap_or_else(|| Price::new(tick).unwrap_or(price))
    }

    fn commission(&self, price: Price, quantity: Quantity) -> Result<Money, DomainError> {
        let overflow = DomainError::Overflow {
            operation: "commission",
        };
        Ok(Money::new(match self.costs.commission {
            Commission::None => Decimal::ZERO,
            Commission::PerUnit(per) => per.checked_mul(quantity.value()).ok_or(overflow)?,
            Commission::Percent(pct) => price
                .checked_notional(quantity)?
                .value()
                .checked_mul(pct)
                .and_then(|v| v.checked_div(Decimal::ONE_HUNDRED))
                .ok_or(overflow)?,
            Commission::Fixed(fee) => fee,
        }))
    }

    fn fill(
        &mut self,
        order: &PaperOrder,
        price: Price,
        liquidity: Liquidity,
        time: Timestamp,
    ) -> Result<Fill, DomainError> {
        let fee = self.commission(price, order.quantity)?;
        let trade_id = TradeId(self.next_trade_id);
        self.next_trade_id += 1;
        Ok(Fill {
            trade_id,
            order_id: order.id,
            account_id: order.account_id,
            symbol: order.symbol,
            side: order.side,
            price,
            quantity: order.quantity,
            fee,
            liquidity,
            time,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use domain::Currency;
    use rust_decimal_macros::dec;

    fn es() -> Instrument {
        Instrument::new(
            Symbol::parse("ES").unwrap(),
            dec!(0.25),
            dec!(1),
            dec!(1),
            Currency::USD,
        )
        .unwrap()
    }

    fn bar(start: i64, o: &str, h: &str, l: &str, c: &str) -> Candle {
        Candle {
            symbol: es().symbol(),
            timeframe: Timeframe::M1,
            start: Timestamp::from_secs(start),
            end: Timestamp::from_secs(start + 60),
            open: o.parse().unwrap(),
            high: h.parse().unwrap(),
            low: l.parse().unwrap(),
            close: c.parse().unwrap(),
            volume: Quantity::ZERO,
            trades: 0,
        }
    }

    fn order(id: u128, side: Side, order_type: OrderType, tif: TimeInForce) -> PaperOrder {
        PaperOrder {
            id: OrderId::from_u128(id),
            account_id: AccountId::from_u128(1),
            symbol: es().symbol(),
            side,
            order_type,
            time_in_force: tif,
            quantity: Quantity::new(dec!(2)).unwrap(),
            placed_at: Timestamp::from_secs(0),
            triggered: false,
        }
    }

    fn p(s: &str) -> Price {
        s.parse().unwrap()
    }

    fn fills(broker: &mut PaperBroker, b: &Candle) -> Vec<(u128, String)> {
        let mut out = Vec::new();
        broker.on_bar(b, &mut out);
        out.into_iter()
            .filter_map(|e| match e {
                PaperEvent::Filled(f) => {
                    Some((f.order_id.as_uuid().as_u128(), f.price.to_string()))
                }
                _ => None,
            })
            .collect()
    }

    fn broker(costs: CostModel) -> PaperBroker {
        let mut b = PaperBroker::new(costs);
        b.add_instrument(es());
        b
    }

    #[test]
    fn fill_model_on_bars() {
        use OrderType::*;
        let cases: Vec<(&str, Side, OrderType, Candle, Option<&str>)> = vec![
            (
                "market buy at the open",
                Side::Buy,
                Market,
                bar(60, "100", "101", "99", "100"),
                Some("100"),
            ),
            (
                "buy limit touched",
                Side::Buy,
                Limit {
                    limit_price: p("99.5"),
                },
                bar(60, "100", "101", "99", "100"),
                Some("99.5"),
            ),
            (
                "buy limit gapped through",
                Side::Buy,
                Limit {
                    limit_price: p("99.5"),
                },
                bar(60, "98", "99", "97", "98"),
                Some("98"),
            ),
            (
                "buy limit not reached",
                Side::Buy,
                Limit {
                    limit_price: p("98"),
                },
                bar(60, "100", "101", "99", "100"),
                None,
            ),
            (
                "sell limit touched",
                Side::Sell,
                Limit {
                    limit_price: p("100.5"),
                },
                bar(60, "100", "101", "99", "100"),
                Some("100.5"),
            ),
            (
                "buy stop touched",
                Side::Buy,
                Stop {
                    stop_price: p("100.75"),
                },
                bar(60, "100", "101", "99", "100"),
                Some("100.75"),
            ),
            (
                "buy stop gapped through",
                Side::Buy,
                Stop {
                    stop_price: p("100.75"),
                },
                bar(60, "102", "103", "101", "102"),
                Some("102"),
            ),
            (
                "sell stop touched",
                Side::Sell,
                Stop {
                    stop_price: p("99.25"),
                },
                bar(60, "100", "101", "99", "100"),
                Some("99.25"),
            ),
            (
                "stop-limit triggers within the limit",
                Side::Buy,
                StopLimit {
                    stop_price: p("100.5"),
                    limit_price: p("101"),
                },
                bar(60, "100", "101", "99", "100"),
                Some("100.5"),
            ),
            (
                "stop-limit gaps past its limit",
                Side::Buy,
                StopLimit {
                    stop_price: p("100.5"),
                    limit_price: p("101"),
                },
                bar(60, "102", "103", "101.5", "102"),
                None,
            ),
        ];
        for (name, side, order_type, b, expect) in cases {
            let mut broker = broker(CostModel::default());
            broker
                .submit(order(1, side, order_type, TimeInForce::Gtc))
                .unwrap();
            let got = fills(&mut broker, &b);
            assert_eq!(got.first().map(|(_, p)| p.as_str()), expect, "{name}");
        }
    }

    fn tick(secs: i64, price: &str) -> Tick {
        Tick {
            symbol: es().symbol(),
            time: Timestamp::from_secs(secs),
            price: price.parse().unwrap(),
            size: Quantity::new(dec!(1)).unwrap(),
            bid: None,
            ask: None,
        }
    }

    fn tick_fills(broker: &mut PaperBroker, t: &Tick) -> Vec<(u128, String)> {
        let mut out = Vec::new();
        broker.on_tick(t, &mut out);
        out.into_iter()
            .filter_map(|e| match e {
                PaperEvent::Filled(f) => {
                    assert_eq!(f.time, t.time, "fills carry the tick's time");
                    Some((f.order_id.as_uuid().as_u128(), f.price.to_string()))
                }
                _ => None,
            })
            .collect()
    }

    /// On ticks every fill is at the tick's price: a limit that the price reached or went
    /// through, a stop the price reached or passed, a market order at the next trade.
    #[test]
    fn fill_model_on_ticks() {
        use OrderType::*;
        let buy_limit = Limit {
            limit_price: p("99.5"),
        };
        let sell_limit = Limit {
            limit_price: p("100.5"),
        };
        let buy_stop = Stop {
            stop_price: p("100.5"),
        };
        let sell_stop = Stop {
            stop_price: p("99.5"),
        };
        let stop_limit = StopLimit {
            stop_price: p("100.5"),
            limit_price: p("101"),
        };
        let cases: Vec<(&str, Side, OrderType, &str, Option<&str>)> = vec![
            ("market buy", Side::Buy, Market, "100.25", Some("100.25")),
            ("market sell", Side::Sell, Market, "99.75", Some("99.75")),
            (
                "buy limit above the price",
                Side::Buy,
                buy_limit,
                "99.75",
                None,
            ),
            (
                "buy limit touched",
                Side::Buy,
                buy_limit,
                "99.5",
                Some("99.5"),
            ),
            (
                "buy limit traded through",
                Side::Buy,
                buy_limit,
                "99",
                Some("99"),
            ),
            (
                "sell limit below the price",
                Side::Sell,
                sell_limit,
                "100.25",
                None,
            ),
            (
                "sell limit touched",
                Side::Sell,
                sell_limit,
                "100.5",
                Some("100.5"),
            ),
            (
                "sell limit traded through",
                Side::Sell,
                sell_limit,
                "101",
                Some("101"),
            ),
            ("buy stop not reached", Side::Buy, buy_stop, "100.25", None),
            (
                "buy stop touched",
                Side::Buy,
                buy_stop,
                "100.5",
                Some("100.5"),
            ),
            (
                "buy stop passed",
                Side::Buy,
                buy_stop,
                "100.75",
                Some("100.75"),
            ),
            (
                "sell stop not reached",
                Side::Sell,
                sell_stop,
                "99.75",
                None,
            ),
            ("sell stop passed", Side::Sell, sell_stop, "99", Some("99")),
            (
                "stop-limit within its limit",
                Side::Buy,
                stop_limit,
                "100.75",
                Some("100.75"),
            ),
            (
                "stop-limit past its limit",
                Side::Buy,
                stop_limit,
                "101.25",
                None,
            ),
        ];
        for (name, side, order_type, price, expect) in cases {
            let mut broker = broker(CostModel::default());
            broker
                .submit(order(1, side, order_type, TimeInForce::Gtc))
                .unwrap();
            let got = tick_fills(&mut broker, &tick(60, price));
            assert_eq!(got.first().map(|(_, p)| p.as_str()), expect, "{name}");
            assert_eq!(
                broker.pending().len(),
                usize::from(expect.is_none()),
                "{name}"
            );
        }
    }

    #[test]
    fn on_ticks_orders_wait_for_the_price_and_ioc_gets_one_tick() {
        let mut b = broker(CostModel {
            commission: Commission::None,
            slippage: Slippage::Ticks(1),
        });
        b.submit(order(
            1,
            Side::Buy,
            OrderType::StopLimit {
                stop_price: p("100.5"),
                limit_price: p("101"),
            },
            TimeInForce::Gtc,
        ))
        .unwrap();
        b.submit(order(
            2,
            Side::Buy,
            OrderType::Limit {
                limit_price: p("99"),
            },
            TimeInForce::Ioc,
        ))
        .unwrap();
        b.submit(order(3, Side::Sell, OrderType::Market, TimeInForce::Gtc))
            .unwrap();
        let mut out = Vec::new();
        b.on_tick(&tick(60, "101.5"), &mut out);
        let ids: Vec<(u128, &'static str)> = out
            .iter()
            .map(|e| match e {
                PaperEvent::Filled(f) => (f.order_id.as_uuid().as_u128(), "filled"),
                PaperEvent::Cancelled(o) => (o.id.as_uuid().as_u128(), "cancelled"),
                PaperEvent::Expired(o) => (o.id.as_uuid().as_u128(), "expired"),
            })
            .collect();
        assert_eq!(ids, [(2, "cancelled"), (3, "filled")]);
        let PaperEvent::Filled(sell) = &out[1] else {
            panic!()
        };
        assert_eq!(
            sell.price,
            p("101.25"),
            "one tick of slippage against the seller"
        );
        assert_eq!(
            b.pending().len(),
            1,
            "the stop-limit triggered, above its limit"
        );
        assert!(b.pending()[0].triggered);
        assert!(tick_fills(&mut b, &tick(61, "101.25")).is_empty());
        assert_eq!(
            tick_fills(&mut b, &tick(62, "100.75")),
            vec![(1, "100.75".to_owned())],
            "then it works as a limit at 101, filled at the tick's price, unslipped"
        );
    }

    #[test]
    fn per_unit_commission_is_charged_on_the_quantity() {
        let mut b = broker(CostModel {
            commission: "per_unit:0.005".parse().unwrap(),
            slippage: Slippage::None,
        });
        let mut big = order(1, Side::Buy, OrderType::Market, TimeInForce::Gtc);
        big.quantity = Quantity::new(dec!(37)).unwrap();
        b.submit(big).unwrap();
        let mut out = Vec::new();
        b.on_tick(&tick(60, "100"), &mut out);
        let PaperEvent::Filled(fill) = &out[0] else {
            panic!()
        };
        assert_eq!(
            fill.fee.value(),
            dec!(0.185),
            "37 × 0.005, whatever the price"
        );
    }

    #[test]
    fn orders_wait_for_a_later_bar_and_stop_limits_work_as_limits_after_triggering() {
        let mut broker = broker(CostModel::default());
        assert!(fills(&mut broker, &bar(60, "100", "101", "99", "100")).is_empty());
        // Submitted after that bar: it is checked from the next one on.
        let o = order(
            1,
            Side::Buy,
            OrderType::StopLimit {
                stop_price: p("100.5"),
                limit_price: p("101"),
            },
            TimeInForce::Gtc,
        );
        broker.submit(o).unwrap();
        assert!(
            fills(&mut broker, &bar(120, "102", "103", "101.5", "102")).is_empty(),
            "triggered, above the limit"
        );
        assert_eq!(
            fills(&mut broker, &bar(180, "102", "102", "100.75", "101")),
            vec![(1, "101".to_owned())]
        );
    }

    #[test]
    fn slippage_and_commission() {
        let costs = CostModel {
            commission: "percent:0.1".parse().unwrap(),
            slippage: "ticks:2".parse().unwrap(),
        };
        let mut b = broker(costs);
        b.submit(order(1, Side::Buy, OrderType::Market, TimeInForce::Gtc))
            .unwrap();
        b.submit(order(
            2,
            Side::Sell,
            OrderType::Limit {
                limit_price: p("100.5"),
            },
            TimeInForce::Gtc,
        ))
        .unwrap();
        let mut out = Vec::new();
        b.on_bar(&bar(60, "100", "101", "99", "100"), &mut out);
        let PaperEvent::Filled(buy) = &out[0] else {
            panic!()
        };
        assert_eq!(buy.price, p("100.5"), "two ticks of 0.25 against the buyer");
        assert_eq!(buy.fee.value(), dec!(0.201), "0.1% of 201");
        let PaperEvent::Filled(sell) = &out[1] else {
            panic!()
        };
        assert_eq!(sell.price, p("100.5"), "limits are not slipped");

        let mut b = broker(CostModel {
            commission: "fixed:1.5".parse().unwrap(),
            slippage: "bps:10".parse().unwrap(),
        });
        b.submit(order(1, Side::Sell, OrderType::Market, TimeInForce::Gtc))
            .unwrap();
        let mut out = Vec::new();
        b.on_bar(&bar(60, "100", "101", "99", "100"), &mut out);
        let PaperEvent::Filled(sell) = &out[0] else {
            panic!()
        };
        assert_eq!(
            sell.price,
            p("99.75"),
            "10 bps of 100 = 0.1, rounded up to one tick"
        );
        assert_eq!(sell.fee.value(), dec!(1.5));
    }

    #[test]
    fn ioc_gets_one_chance_and_day_orders_expire_overnight() {
        let mut b = broker(CostModel::default());
        b.submit(order(
            1,
            Side::Buy,
            OrderType::Limit {
                limit_price: p("90"),
            },
            TimeInForce::Ioc,
        ))
        .unwrap();
        b.submit(order(
            2,
            Side::Buy,
            OrderType::Limit {
                limit_price: p("90"),
            },
            TimeInForce::Day,
        ))
        .unwrap();
        b.submit(order(
            3,
            Side::Buy,
            OrderType::Limit {
                limit_price: p("90"),
            },
            TimeInForce::Gtc,
        ))
        .unwrap();
        let mut out = Vec::new();
        b.on_bar(&bar(60, "100", "101", "99", "100"), &mut out);
        assert!(matches!(&out[..], [PaperEvent::Cancelled(o)] if o.id == OrderId::from_u128(1)));
        out.clear();
        b.on_bar(&bar(86_400 + 60, "100", "101", "99", "100"), &mut out);
        assert!(matches!(&out[..], [PaperEvent::Expired(o)] if o.id == OrderId::from_u128(2)));
        assert_eq!(b.pending().len(), 1);
    }

    #[test]
    fn day_orders_on_an_exchange_calendar_expire_at_their_sessions_close() {
        use domain::{AssetClass, CalendarCode, ClosedMarketPolicy};
        let mut b = PaperBroker::new(CostModel::default());
        b.add_instrument(es().with_market(
            AssetClass::Future,
            CalendarCode::Xnys,
            ClosedMarketPolicy::Queue,
        ));
        let at = |text: &str| Timestamp::parse(text).unwrap().nanos() / 1_000_000_000;
        let limit = OrderType::Limit {
            limit_price: p("90"),
        };
        // Placed on Monday 2026-12-07 during the session (New York closes 21:00 UTC in
        // winter), and on Saturday: that one lives until Monday's close too.
        let mut monday = order(1, Side::Buy, limit, TimeInForce::Day);
        monday.placed_at = Timestamp::from_secs(at("2026-12-07T15:00:00Z"));
        let mut saturday = order(2, Side::Buy, limit, TimeInForce::Day);
        saturday.placed_at = Timestamp::from_secs(at("2026-12-05T15:00:00Z"));
        let mut christmas_eve = order(3, Side::Buy, limit, TimeInForce::Day);
        christmas_eve.placed_at = Timestamp::from_secs(at("2026-12-24T15:00:00Z"));
        for o in [monday, saturday, christmas_eve] {
            b.submit(o).unwrap();
        }
        let mut out = Vec::new();
        b.on_tick(&tick(at("2026-12-07T20:59:59Z"), "100"), &mut out);
        assert!(out.is_empty(), "still in the session: {out:?}");
        b.on_tick(&tick(at("2026-12-07T21:00:00Z"), "100"), &mut out);
        let expired: Vec<OrderId> = out
            .iter()
            .filter_map(|e| match e {
                PaperEvent::Expired(o) => Some(o.id),
                _ => None,
            })
            .collect();
        assert_eq!(expired, [OrderId::from_u128(1), OrderId::from_u128(2)]);
        out.clear();
        // The early close before Christmas: 13:00 in New York.
        b.on_tick(&tick(at("2026-12-24T17:59:00Z"), "100"), &mut out);
        assert!(out.is_empty());
        b.on_tick(&tick(at("2026-12-24T18:00:00Z"), "100"), &mut out);
        assert!(matches!(&out[..], [PaperEvent::Expired(o)] if o.id == OrderId::from_u128(3)));
    }

    #[test]
    fn bad_orders_and_settings_are_refused() {
        let mut b = broker(CostModel::default());
        let mut o = order(
            1,
            Side::Buy,
            OrderType::Limit {
                limit_price: p("100.1"),
            },
            TimeInForce::Gtc,
        );
        assert!(b.submit(o.clone()).is_err(), "off the tick grid");
        o.symbol = Symbol::parse("NQ").unwrap();
        assert!(b.submit(o).is_err(), "unknown symbol");
        for bad in ["1", "percent:-1", "per_unit:x", "fee:1"] {
            assert!(bad.parse::<Commission>().is_err(), "{bad}");
        }
        for bad in ["ticks:-1", "ticks:1.5", "bps:abc", "pips:1"] {
            assert!(bad.parse::<Slippage>().is_err(), "{bad}");
        }
        assert_eq!(
            "0.1%".parse::<Commission>().unwrap(),
            Commission::Percent(dec!(0.1))
        );
    }

    #[test]
    fn triggered_stop_limits_are_known_without_a_walk_and_survive_a_round_trip() {
        let mut b = broker(CostModel::default());
        let stop_limit = |id| {
            order(
                id,
                Side::Buy,
                OrderType::StopLimit {
                    stop_price: p("100.5"),
                    limit_price: p("101"),
                },
                TimeInForce::Gtc,
            )
        };
        b.submit(stop_limit(1)).unwrap();
        b.submit(stop_limit(2)).unwrap();
        b.submit(order(
            3,
            Side::Buy,
            OrderType::Limit {
                limit_price: p("90"),
            },
            TimeInForce::Gtc,
        ))
        .unwrap();
        assert!(b.triggered_ids().is_empty());
        // Both stops trigger above their limit, so both keep waiting, as limits.
        assert!(tick_fills(&mut b, &tick(60, "101.5")).is_empty());
        let ids = |b: &PaperBroker| -> Vec<u128> {
            b.triggered_ids()
                .iter()
                .map(|id| id.as_uuid().as_u128())
                .collect()
        };
        assert_eq!(ids(&b), [1, 2]);
        // Cancelled, one leaves; filled, the other does.
        assert!(b.cancel(OrderId::from_u128(1)).is_some_and(|o| o.triggered));
        assert_eq!(ids(&b), [2]);
        // A copy made by serializing counts again when reindexed; unindexed, it walks.
        let mut copy: PaperBroker =
            serde_json::from_str(&serde_json::to_string(&b).unwrap()).unwrap();
        assert_eq!(ids(&copy), [2]);
        copy.reindex();
        assert_eq!(ids(&copy), [2]);
        assert_eq!(
            tick_fills(&mut b, &tick(61, "100.75")),
            vec![(2, "100.75".to_owned())]
        );
        assert!(b.triggered_ids().is_empty());
        assert_eq!(b.pending().len(), 1);
        assert!(b.without_pending().triggered_ids().is_empty());
        // A triggered order submitted again (a restart resubmits working orders) counts.
        let mut resubmitted = stop_limit(4);
        resubmitted.triggered = true;
        b.submit(resubmitted).unwrap();
        assert_eq!(ids(&b), [4]);
    }
}
