//! The stub's exchange: one account's balances (free and locked per asset), its orders,
//! how printed trades fill them, and the events this sends to user-data subscribers
//! (`executionReport`, `outboundAccountPosition`) and market-data subscribers (`trade`,
//! `bookTicker`), in Binance's JSON shapes (decimals as strings with 8 places).
//!
//! Fills follow the paper venue's rules (`brokers::paper`): there is no book, so a trade
//! print stands for the liquidity. A market order fills at the trade's price; a limit
//! order when the trade is at or better than its limit; `STOP_LOSS`/`STOP_LOSS_LIMIT`
//! trigger when a trade reaches the stop (at or above it for a buy, at or below for a
//! sell), `TAKE_PROFIT`/`TAKE_PROFIT_LIMIT` the other way, then work as market or limit.
//! Each order fills at most the trade's quantity and the rest keeps working (a market
//! order too: it waits for the next print rather than expiring). IOC and FOK get one
//! trade: FOK fills entirely or expires, IOC expires what that trade did not fill — both
//! with execution type `EXPIRED`, as Binance reports them.
//!
//! Balances move as Binance moves them: a limit buy locks `price × quantity` of the quote
//! asset, a sell locks its quantity of the base asset, a fill releases the lock and pays;
//! commission (`commission_rate`, zero unless configured) is taken from what the fill
//! receives (the base asset on a buy, the quote asset on a sell). Market and stop-market
//! buys lock nothing (their price is not known); one that cannot pay when it fills
//! expires.

use std::collections::{BTreeMap, BTreeSet};

use rust_decimal::Decimal;
use serde_json::{Value, json};
use tokio::sync::mpsc::UnboundedSender;

/// A symbol the stub lists, with its filters.
#[derive(Debug, Clone)]
pub(crate) struct Listing {
    pub symbol: String,
    pub base: String,
    pub quote: String,
    pub tick_size: Decimal,
    pub min_price: Decimal,
    pub max_price: Decimal,
    pub step_size: Decimal,
    pub min_qty: Decimal,
    pub max_qty: Decimal,
    pub min_notional: Decimal,
    pub max_notional: Decimal,
}

impl Listing {
    /// A `<base>USDT` pair with prices on a cent grid and quantities on a 0.00001 grid.
    pub fn usdt(base: &str) -> Self {
        Listing {
            symbol: format!("{base}USDT"),
            base: base.to_string(),
            quote: "USDT".to_string(),
            tick_size: Decimal::new(1, 2),
            min_price: Decimal::new(1, 2),
            max_price: Decimal::from(1_000_000),
            step_size: Decimal::new(1, 5),
            min_qty: Decimal::new(1, 5),
            max_qty: Decimal::from(9_000),
            min_notional: Decimal::from(5),
            max_notional: Decimal::from(9_000_000),
        }
    }

    /// The `symbols[]` entry of `exchangeInfo`.
    pub fn to_json(&self) -> Value {
        json!({
            "symbol": self.symbol,
            "status": "TRADING",
            "baseAsset": self.base,
            "baseAssetPrecision": 8,
            "quoteAsset": self.quote,
            "quotePrecision": 8,
            "quoteAssetPrecision": 8,
            "baseCommissionPrecision": 8,
            "quoteCommissionPrecision": 8,
            "orderTypes": ["LIMIT", "LIMIT_MAKER", "MARKET", "STOP_LOSS", "STOP_LOSS_LIMIT",
                "TAKE_PROFIT", "TAKE_PROFIT_LIMIT"],
            "icebergAllowed": false,
            "ocoAllowed": false,
            "otoAllowed": false,
            "opoAllowed": false,
            "quoteOrderQtyMarketAllowed": false,
            "allowTrailingStop": false,
            "cancelReplaceAllowed": true,
            "amendAllowed": false,
            "pegInstructionsAllowed": false,
            "isSpotTradingAllowed": true,
            "isMarginTradingAllowed": false,
            "filters": [
                {
                    "filterType": "PRICE_FILTER",
                    "minPrice": fmt8(self.min_price),
                    "maxPrice": fmt8(self.max_price),
                    "tickSize": fmt8(self.tick_size),
                },
                {
                    "filterType": "LOT_SIZE",
                    "minQty": fmt8(self.min_qty),
                    "maxQty": fmt8(self.max_qty),
                    "stepSize": fmt8(self.step_size),
                },
                {
                    "filterType": "NOTIONAL",
                    "minNotional": fmt8(self.min_notional),
                    "applyMinToMarket": true,
                    "maxNotional": fmt8(self.max_notional),
                    "applyMaxToMarket": false,
                    "avgPriceMins": 5,
                },
            ],
            "permissions": [],
            "permissionSets": [["SPOT"]],
            "defaultSelfTradePreventionMode": "NONE",
            "allowedSelfTradePreventionModes": ["NONE"],
        })
    }
}

/// Binance's decimal strings: 8 places (every value the stub holds has at most 8).
pub(crate) fn fmt8(value: Decimal) -> String {
    format!("{:.8}", value)
}

/// Binance's refusal of a request: its code and message (the HTTP status is the
/// surface's business).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Refusal {
    pub code: i64,
    pub msg: String,
}

impl Refusal {
    pub fn new(code: i64, msg: impl Into<String>) -> Self {
        Refusal {
            code,
            msg: msg.into(),
        }
    }

    pub fn mandatory(name: &str) -> Self {
        Refusal::new(
            -1102,
            format!("Mandatory parameter '{name}' was not sent, was empty/null, or malformed."),
        )
    }

    pub fn not_required(name: &str) -> Self {
        Refusal::new(-1106, format!("Parameter '{name}' sent when not required."))
    }

    fn filter(name: &str) -> Self {
        Refusal::new(-1013, format!("Filter failure: {name}"))
    }

    fn rejected(msg: &str) -> Self {
        Refusal::new(-2010, msg)
    }

    pub fn unknown_order() -> Self {
        Refusal::new(-2011, "Unknown order sent.")
    }

    pub fn no_such_order() -> Self {
        Refusal::new(-2013, "Order does not exist.")
    }

    pub fn bad_symbol() -> Self {
        Refusal::new(-1121, "Invalid symbol.")
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Side {
    Buy,
    Sell,
}

impl Side {
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "BUY" => Some(Side::Buy),
            "SELL" => Some(Side::Sell),
            _ => None,
        }
    }

    fn as_str(self) -> &'static str {
        match self {
            Side::Buy => "BUY",
            Side::Sell => "SELL",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum OrderKind {
    Limit,
    LimitMaker,
    Market,
    StopLoss,
    StopLossLimit,
    TakeProfit,
    TakeProfitLimit,
}

impl OrderKind {
    pub fn parse(text: &str) -> Option<Self> {
        Some(match text {
            "LIMIT" => OrderKind::Limit,
            "LIMIT_MAKER" => OrderKind::LimitMaker,
            "MARKET" => OrderKind::Market,
            "STOP_LOSS" => OrderKind::StopLoss,
            "STOP_LOSS_LIMIT" => OrderKind::StopLossLimit,
            "TAKE_PROFIT" => OrderKind::TakeProfit,
            "TAKE_PROFIT_LIMIT" => OrderKind::TakeProfitLimit,
            _ => return None,
        })
    }

    fn as_str(self) -> &'static str {
        match self {
            OrderKind::Limit => "LIMIT",
            OrderKind::LimitMaker => "LIMIT_MAKER",
            OrderKind::Market => "MARKET",
            OrderKind::StopLoss => "STOP_LOSS",
            OrderKind::StopLossLimit => "STOP_LOSS_LIMIT",
            OrderKind::TakeProfit => "TAKE_PROFIT",
            OrderKind::TakeProfitLimit => "TAKE_PROFIT_LIMIT",
        }
    }

    /// Takes `price`.
    pub fn priced(self) -> bool {
        matches!(
            self,
            OrderKind::Limit
                | OrderKind::LimitMaker
                | OrderKind::StopLossLimit
                | OrderKind::TakeProfitLimit
        )
    }

    /// Takes `stopPrice`.
    pub fn stopped(self) -> bool {
        matches!(
            self,
            OrderKind::StopLoss
                | OrderKind::StopLossLimit
                | OrderKind::TakeProfit
                | OrderKind::TakeProfitLimit
        )
    }

    /// Takes (and requires) `timeInForce`.
    pub fn timed(self) -> bool {
        matches!(
            self,
            OrderKind::Limit | OrderKind::StopLossLimit | OrderKind::TakeProfitLimit
        )
    }

    /// `newOrderRespType` when none is sent: `FULL` for market and limit, `ACK` else.
    fn default_response(self) -> ResponseType {
        match self {
            OrderKind::Limit | OrderKind::Market => ResponseType::Full,
            _ => ResponseType::Ack,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TimeInForce {
    Gtc,
    Ioc,
    Fok,
}

impl TimeInForce {
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "GTC" => Some(TimeInForce::Gtc),
            "IOC" => Some(TimeInForce::Ioc),
            "FOK" => Some(TimeInForce::Fok),
            _ => None,
        }
    }

    fn as_str(self) -> &'static str {
        match self {
            TimeInForce::Gtc => "GTC",
            TimeInForce::Ioc => "IOC",
            TimeInForce::Fok => "FOK",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ResponseType {
    Ack,
    Result,
    Full,
}

impl ResponseType {
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "ACK" => Some(ResponseType::Ack),
            "RESULT" => Some(ResponseType::Result),
            "FULL" => Some(ResponseType::Full),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Status {
    New,
    PartiallyFilled,
    Filled,
    Canceled,
    Expired,
}

impl Status {
    fn as_str(self) -> &'static str {
        match self {
            Status::New => "NEW",
            Status::PartiallyFilled => "PARTIALLY_FILLED",
            Status::Filled => "FILLED",
            Status::Canceled => "CANCELED",
            Status::Expired => "EXPIRED",
        }
    }

    fn is_open(self) -> bool {
        matches!(self, Status::New | Status::PartiallyFilled)
    }
}

/// A new order's parameters, parsed (see `rest::new_order`).
#[derive(Debug, Clone)]
pub(crate) struct NewOrder {
    pub symbol: String,
    pub side: Side,
    pub kind: OrderKind,
    pub time_in_force: Option<TimeInForce>,
    pub quantity: Decimal,
    pub price: Option<Decimal>,
    pub stop_price: Option<Decimal>,
    pub client_order_id: Option<String>,
    pub response: Option<ResponseType>,
}

/// Which order a query or cancel names.
#[derive(Debug, Clone)]
pub(crate) struct OrderRef {
    pub symbol: String,
    pub order_id: Option<u64>,
    pub client_order_id: Option<String>,
}

#[derive(Debug, Clone, Copy, Default)]
struct Balance {
    free: Decimal,
    locked: Decimal,
}

#[derive(Debug, Clone)]
struct Fill {
    price: Decimal,
    quantity: Decimal,
    commission: Decimal,
    commission_asset: String,
    trade_id: u64,
}

#[derive(Debug, Clone)]
struct StubOrder {
    order_id: u64,
    symbol: String,
    client_order_id: String,
    side: Side,
    kind: OrderKind,
    time_in_force: TimeInForce,
    price: Decimal,
    stop_price: Decimal,
    orig_qty: Decimal,
    executed_qty: Decimal,
    cum_quote: Decimal,
    status: Status,
    time: i64,
    update_time: i64,
    /// When it started working on the book (-1 for a stop not yet triggered).
    working_time: i64,
    triggered: bool,
    /// What it still holds locked, in `lock_asset`.
    locked: Decimal,
    lock_asset: String,
    fills: Vec<Fill>,
}

impl StubOrder {
    fn on_book(&self) -> bool {
        self.status.is_open() && (!self.kind.stopped() || self.triggered)
    }

    fn remaining(&self) -> Decimal {
        self.orig_qty - self.executed_qty
    }

    /// The fields every order response shares.
    fn common(&self, into: &mut serde_json::Map<String, Value>) {
        into.insert("price".into(), fmt8(self.price).into());
        into.insert("origQty".into(), fmt8(self.orig_qty).into());
        into.insert("executedQty".into(), fmt8(self.executed_qty).into());
        into.insert("origQuoteOrderQty".into(), fmt8(Decimal::ZERO).into());
        into.insert("cummulativeQuoteQty".into(), fmt8(self.cum_quote).into());
        into.insert("status".into(), self.status.as_str().into());
        into.insert("timeInForce".into(), self.time_in_force.as_str().into());
        into.insert("type".into(), self.kind.as_str().into());
        into.insert("side".into(), self.side.as_str().into());
    }

    /// `GET /api/v3/order` and `openOrders`.
    fn to_query_json(&self) -> Value {
        let mut map = serde_json::Map::new();
        map.insert("symbol".into(), self.symbol.clone().into());
        map.insert("orderId".into(), self.order_id.into());
        map.insert("orderListId".into(), (-1).into());
        map.insert("clientOrderId".into(), self.client_order_id.clone().into());
        self.common(&mut map);
        map.insert("stopPrice".into(), fmt8(self.stop_price).into());
        map.insert("icebergQty".into(), fmt8(Decimal::ZERO).into());
        map.insert("time".into(), self.time.into());
        map.insert("updateTime".into(), self.update_time.into());
        map.insert("isWorking".into(), self.on_book().into());
        map.insert("workingTime".into(), self.working_time.into());
        map.insert("selfTradePreventionMode".into(), "NONE".into());
        Value::Object(map)
    }

    /// `POST /api/v3/order` in the response type asked for.
    fn to_new_json(&self, response: ResponseType, transact_time: i64) -> Value {
        let mut map = serde_json::Map::new();
        map.insert("symbol".into(), self.symbol.clone().into());
        map.insert("orderId".into(), self.order_id.into());
        map.insert("orderListId".into(), (-1).into());
        map.insert("clientOrderId".into(), self.client_order_id.clone().into());
        map.insert("transactTime".into(), transact_time.into());
        if response == ResponseType::Ack {
            return Value::Object(map);
        }
        self.common(&mut map);
        if self.kind.stopped() {
            map.insert("stopPrice".into(), fmt8(self.stop_price).into());
        }
        map.insert("workingTime".into(), self.working_time.into());
        map.insert("selfTradePreventionMode".into(), "NONE".into());
        if response == ResponseType::Full {
            let fills: Vec<Value> = self
                .fills
                .iter()
                .map(|f| {
                    json!({
                        "price": fmt8(f.price),
                        "qty": fmt8(f.quantity),
                        "commission": fmt8(f.commission),
                        "commissionAsset": f.commission_asset,
                        "tradeId": f.trade_id,
                    })
                })
                .collect();
            map.insert("fills".into(), fills.into());
        }
        Value::Object(map)
    }

    /// `DELETE /api/v3/order` (and a cancel-replace's `cancelResponse`).
    fn to_cancel_json(&self, cancel_client_id: &str, transact_time: i64) -> Value {
        let mut map = serde_json::Map::new();
        map.insert("symbol".into(), self.symbol.clone().into());
        map.insert(
            "origClientOrderId".into(),
            self.client_order_id.clone().into(),
        );
        map.insert("orderId".into(), self.order_id.into());
        map.insert("orderListId".into(), (-1).into());
        map.insert("clientOrderId".into(), cancel_client_id.into());
        map.insert("transactTime".into(), transact_time.into());
        self.common(&mut map);
        if self.kind.stopped() {
            map.insert("stopPrice".into(), fmt8(self.stop_price).into());
        }
        map.insert("selfTradePreventionMode".into(), "NONE".into());
        Value::Object(map)
    }
}

/// A user-data subscriber: one `userDataStream.subscribe.signature` on one connection.
#[derive(Debug)]
struct UserSubscriber {
    connection: u64,
    subscription: u64,
    sender: UnboundedSender<(u64, Value)>,
}

/// A market-data connection and the streams it listens to.
#[derive(Debug)]
struct MarketSubscriber {
    connection: u64,
    streams: BTreeSet<String>,
    combined: bool,
    sender: UnboundedSender<String>,
}

/// What the next user-data events suffer (see `BinanceStub::duplicate_next_events`).
#[derive(Debug, Default)]
struct EventFaults {
    duplicate: usize,
    reorder: bool,
    held: Option<Value>,
}

/// See the module docs.
#[derive(Debug)]
pub(crate) struct Exchange {
    listings: Vec<Listing>,
    balances: BTreeMap<String, Balance>,
    orders: BTreeMap<u64, StubOrder>,
    trades: Vec<Value>,
    commission_rate: Decimal,
    last_price: BTreeMap<String, Decimal>,
    next_order_id: u64,
    next_trade_id: u64,
    next_execution_id: u64,
    next_update_id: u64,
    next_client_id: u64,
    /// The exchange's clock in milliseconds, never going back.
    now: i64,
    users: Vec<UserSubscriber>,
    markets: Vec<MarketSubscriber>,
    faults: EventFaults,
}

impl Exchange {
    pub fn new(
        listings: Vec<Listing>,
        balances: &[(String, Decimal)],
        commission_rate: Decimal,
    ) -> Self {
        Exchange {
            listings,
            balances: balances
                .iter()
                .map(|(asset, free)| {
                    (
                        asset.clone(),
                        Balance {
                            free: *free,
                            locked: Decimal::ZERO,
                        },
                    )
                })
                .collect(),
            orders: BTreeMap::new(),
            trades: Vec::new(),
            commission_rate,
            last_price: BTreeMap::new(),
            next_order_id: 1,
            next_trade_id: 1,
            next_execution_id: 1,
            next_update_id: 1,
            next_client_id: 1,
            now: 0,
            users: Vec::new(),
            markets: Vec::new(),
            faults: EventFaults::default(),
        }
    }

    /// Moves the exchange's clock to `wall` (milliseconds) unless that would turn it back.
    pub fn tick(&mut self, wall: i64) -> i64 {
        self.now = self.now.max(wall);
        self.now
    }

    pub fn listing(&self, symbol: &str) -> Option<&Listing> {
        self.listings.iter().find(|l| l.symbol == symbol)
    }

    pub fn listings(&self) -> &[Listing] {
        &self.listings
    }

    fn balance(&mut self, asset: &str) -> &mut Balance {
        self.balances.entry(asset.to_string()).or_default()
    }

    pub fn balance_of(&self, asset: &str) -> (Decimal, Decimal) {
        self.balances
            .get(asset)
            .map(|b| (b.free, b.locked))
            .unwrap_or_default()
    }

    /// How many orders (any status) carry this client order id.
    pub fn orders_with_client_id(&self, client_order_id: &str) -> usize {
        self.orders
            .values()
            .filter(|o| o.client_order_id == client_order_id)
            .count()
    }

    /// `GET /api/v3/account`.
    pub fn account_json(&self, omit_zero: bool) -> Value {
        let balances: Vec<Value> = self
            .balances
            .iter()
            .filter(|(_, b)| !omit_zero || !(b.free + b.locked).is_zero())
            .map(|(asset, b)| json!({"asset": asset, "free": fmt8(b.free), "locked": fmt8(b.locked)}))
            .collect();
        json!({
            "makerCommission": 0,
            "takerCommission": 0,
            "buyerCommission": 0,
            "sellerCommission": 0,
            "commissionRates": {
                "maker": fmt8(self.commission_rate),
                "taker": fmt8(self.commission_rate),
                "buyer": fmt8(Decimal::ZERO),
                "seller": fmt8(Decimal::ZERO),
            },
            "canTrade": true,
            "canWithdraw": true,
            "canDeposit": true,
            "brokered": false,
            "requireSelfTradePrevention": false,
            "preventSor": false,
            "updateTime": self.now,
            "accountType": "SPOT",
            "balances": balances,
            "permissions": ["SPOT"],
            "uid": 354937868,
        })
    }

    fn check_filters(&self, listing: &Listing, order: &NewOrder) -> Result<(), Refusal> {
        let on_grid = |value: Decimal, step: Decimal| step.is_zero() || (value % step).is_zero();
        for price in [order.price, order.stop_price].into_iter().flatten() {
            if price < listing.min_price
                || price > listing.max_price
                || !on_grid(price, listing.tick_size)
            {
                return Err(Refusal::filter("PRICE_FILTER"));
            }
        }
        let q = order.quantity;
        if q < listing.min_qty || q > listing.max_qty || !on_grid(q, listing.step_size) {
            return Err(Refusal::filter("LOT_SIZE"));
        }
        // Market orders are held to the minimum at the last price, when there is one.
        let price = order
            .price
            .or_else(|| self.last_price.get(&listing.symbol).copied());
        if let Some(price) = price {
            let notional = price * q;
            let max_applies = order.price.is_some();
            if notional < listing.min_notional || (max_applies && notional > listing.max_notional) {
                return Err(Refusal::filter("NOTIONAL"));
            }
        }
        Ok(())
    }

    /// Whether a trade at `price` has reached a stop order's trigger.
    fn stop_reached(kind: OrderKind, side: Side, stop: Decimal, price: Decimal) -> bool {
        let loss = matches!(kind, OrderKind::StopLoss | OrderKind::StopLossLimit);
        match (loss, side) {
            (true, Side::Buy) | (false, Side::Sell) => price >= stop,
            (true, Side::Sell) | (false, Side::Buy) => price <= stop,
        }
    }

    /// Places a new order (`POST /api/v3/order`), or refuses it as Binance does.
    pub fn place(&mut self, order: NewOrder) -> Result<Value, Refusal> {
        let listing = self
            .listing(&order.symbol)
            .cloned()
            .ok_or_else(Refusal::bad_symbol)?;
        self.check_filters(&listing, &order)?;
        if let Some(id) = &order.client_order_id {
            let taken = self
                .orders
                .values()
                .any(|o| o.status.is_open() && &o.client_order_id == id);
            if taken {
                return Err(Refusal::rejected("Duplicate order sent."));
            }
        }
        if let (Some(stop), Some(last)) = (order.stop_price, self.last_price.get(&order.symbol)) {
            if Self::stop_reached(order.kind, order.side, stop, *last) {
                return Err(Refusal::rejected("Order would trigger immediately."));
            }
        }
        let (lock_asset, lock) = match (order.side, order.price) {
            (Side::Buy, Some(price)) if order.kind.priced() => {
                (listing.quote.clone(), price * order.quantity)
            }
            (Side::Buy, _) => (listing.quote.clone(), Decimal::ZERO),
            (Side::Sell, _) => (listing.base.clone(), order.quantity),
        };
        if self.balance(&lock_asset).free < lock {
            return Err(Refusal::rejected(
                "Account has insufficient balance for requested action.",
            ));
        }
        let now = self.now;
        let order_id = self.next_order_id;
        self.next_order_id += 1;
        let client_order_id = order.client_order_id.clone().unwrap_or_else(|| {
            self.next_client_id += 1;
            format!("stubAuto{:014}", self.next_client_id)
        });
        let stub = StubOrder {
            order_id,
            symbol: order.symbol.clone(),
            client_order_id,
            side: order.side,
            kind: order.kind,
            time_in_force: order.time_in_force.unwrap_or(TimeInForce::Gtc),
            price: order.price.unwrap_or_default(),
            stop_price: order.stop_price.unwrap_or_default(),
            orig_qty: order.quantity,
            executed_qty: Decimal::ZERO,
            cum_quote: Decimal::ZERO,
            status: Status::New,
            time: now,
            update_time: now,
            working_time: if order.kind.stopped() { -1 } else { now },
            triggered: false,
            locked: lock,
            lock_asset: lock_asset.clone(),
            fills: Vec::new(),
        };
        let balance = self.balance(&lock_asset);
        balance.free -= lock;
        balance.locked += lock;
        let response = stub.to_new_json(
            order
                .response
                .unwrap_or_else(|| order.kind.default_response()),
            now,
        );
        self.orders.insert(order_id, stub);
        self.report(order_id, "NEW", None, None, None);
        if !lock.is_zero() {
            self.account_position(&[lock_asset]);
        }
        Ok(response)
    }

    fn find(&self, by: &OrderRef) -> Option<u64> {
        match (&by.order_id, &by.client_order_id) {
            (Some(id), client) => self
                .orders
                .get(id)
                .filter(|o| o.symbol == by.symbol)
                .filter(|o| client.as_ref().is_none_or(|c| &o.client_order_id == c))
                .map(|o| o.order_id),
            // A client id is unique among open orders only: the open one, else the latest.
            (None, Some(client)) => {
                let all: Vec<&StubOrder> = self
                    .orders
                    .values()
                    .filter(|o| o.symbol == by.symbol && &o.client_order_id == client)
                    .collect();
                all.iter()
                    .find(|o| o.status.is_open())
                    .or(all.last())
                    .map(|o| o.order_id)
            }
            (None, None) => None,
        }
    }

    /// `GET /api/v3/order`.
    pub fn query(&self, by: &OrderRef) -> Result<Value, Refusal> {
        if self.listing(&by.symbol).is_none() {
            return Err(Refusal::bad_symbol());
        }
        self.find(by)
            .and_then(|id| self.orders.get(&id))
            .map(StubOrder::to_query_json)
            .ok_or_else(Refusal::no_such_order)
    }

    /// `GET /api/v3/openOrders`.
    pub fn open_orders(&self, symbol: Option<&str>) -> Result<Value, Refusal> {
        if let Some(symbol) = symbol {
            if self.listing(symbol).is_none() {
                return Err(Refusal::bad_symbol());
            }
        }
        Ok(Value::Array(
            self.orders
                .values()
                .filter(|o| o.status.is_open() && symbol.is_none_or(|s| o.symbol == s))
                .map(StubOrder::to_query_json)
                .collect(),
        ))
    }

    /// `GET /api/v3/myTrades`.
    pub fn my_trades(&self, symbol: &str, order_id: Option<u64>) -> Result<Value, Refusal> {
        if self.listing(symbol).is_none() {
            return Err(Refusal::bad_symbol());
        }
        Ok(Value::Array(
            self.trades
                .iter()
                .filter(|t| t["symbol"] == symbol)
                .filter(|t| order_id.is_none_or(|id| t["orderId"] == id))
                .cloned()
                .collect(),
        ))
    }

    /// `DELETE /api/v3/order`: the cancel response, or -2011.
    pub fn cancel(
        &mut self,
        by: &OrderRef,
        cancel_client_id: Option<String>,
    ) -> Result<Value, Refusal> {
        if self.listing(&by.symbol).is_none() {
            return Err(Refusal::bad_symbol());
        }
        let Some(id) = self
            .find(by)
            .filter(|id| self.orders.get(id).is_some_and(|o| o.status.is_open()))
        else {
            return Err(Refusal::unknown_order());
        };
        let cancel_id = cancel_client_id.unwrap_or_else(|| {
            self.next_client_id += 1;
            format!("stubCancel{:012}", self.next_client_id)
        });
        let now = self.now;
        self.finish(id, Status::Canceled);
        let response = match self.orders.get(&id) {
            Some(order) => order.to_cancel_json(&cancel_id, now),
            None => return Err(Refusal::unknown_order()),
        };
        self.report(id, "CANCELED", None, Some(&cancel_id), None);
        Ok(response)
    }

    /// Ends an open order (cancelled or expired): releases what it holds locked.
    fn finish(&mut self, id: u64, status: Status) {
        let now = self.now;
        let Some(order) = self.orders.get_mut(&id) else {
            return;
        };
        order.status = status;
        order.update_time = now;
        let (asset, locked) = (order.lock_asset.clone(), order.locked);
        order.locked = Decimal::ZERO;
        if !locked.is_zero() {
            let balance = self.balance(&asset);
            balance.locked -= locked;
            balance.free += locked;
            self.account_position(&[asset]);
        }
    }

    /// A trade of `quantity` at `price` prints on `symbol`: the `trade` event goes to
    /// market subscribers and the working orders it reaches fill (module docs).
    pub fn trade(
        &mut self,
        symbol: &str,
        price: Decimal,
        quantity: Decimal,
    ) -> Result<(), Refusal> {
        if self.listing(symbol).is_none() {
            return Err(Refusal::bad_symbol());
        }
        self.last_price.insert(symbol.to_string(), price);
        let trade_id = self.next_trade_id;
        self.next_trade_id += 1;
        let now = self.now;
        let event = json!({
            "e": "trade", "E": now, "s": symbol, "t": trade_id,
            "p": fmt8(price), "q": fmt8(quantity), "T": now, "m": false, "M": true,
        });
        self.publish_market(&format!("{}@trade", symbol.to_lowercase()), &event);
        let working: Vec<u64> = self
            .orders
            .values()
            .filter(|o| o.symbol == symbol && o.status.is_open())
            .map(|o| o.order_id)
            .collect();
        for id in working {
            self.run(id, price, quantity);
        }
        Ok(())
    }

    /// The best bid and ask change: the `bookTicker` event goes to market subscribers.
    pub fn quote(
        &mut self,
        symbol: &str,
        bid: (Decimal, Decimal),
        ask: (Decimal, Decimal),
    ) -> Result<(), Refusal> {
        if self.listing(symbol).is_none() {
            return Err(Refusal::bad_symbol());
        }
        let update_id = self.next_update_id;
        self.next_update_id += 1;
        let event = json!({
            "u": update_id, "s": symbol,
            "b": fmt8(bid.0), "B": fmt8(bid.1), "a": fmt8(ask.0), "A": fmt8(ask.1),
        });
        self.publish_market(&format!("{}@bookTicker", symbol.to_lowercase()), &event);
        Ok(())
    }

    /// One order against one trade print (module docs).
    fn run(&mut self, id: u64, price: Decimal, available: Decimal) {
        let now = self.now;
        let Some(order) = self.orders.get_mut(&id) else {
            return;
        };
        let buy = order.side == Side::Buy;
        if order.kind.stopped() && !order.triggered {
            if !Self::stop_reached(order.kind, order.side, order.stop_price, price) {
                return;
            }
            order.triggered = true;
            order.working_time = now;
        }
        let reached = !order.kind.priced()
            || if buy {
                price <= order.price
            } else {
                price >= order.price
            };
        if !reached {
            return;
        }
        let tif = order.time_in_force;
        let remaining = order.remaining();
        let fills = if tif == TimeInForce::Fok && available < remaining {
            Decimal::ZERO
        } else {
            remaining.min(available)
        };
        if fills > Decimal::ZERO {
            self.fill(id, price, fills);
        }
        let Some(order) = self.orders.get(&id) else {
            return;
        };
        if matches!(tif, TimeInForce::Ioc | TimeInForce::Fok) && order.status.is_open() {
            let reason = if tif == TimeInForce::Fok {
                "UNFILLED_FOK_ORDER_EXPIRED"
            } else {
                "UNFILLED_IOC_QUANTITY_EXPIRED"
            };
            self.finish(id, Status::Expired);
            self.report(id, "EXPIRED", None, None, Some(reason));
        }
    }

    /// Fills `quantity` of order `id` at `price`: balances, the order, the reports.
    fn fill(&mut self, id: u64, price: Decimal, quantity: Decimal) {
        let now = self.now;
        let Some(order) = self.orders.get(&id).cloned() else {
            return;
        };
        let Some(listing) = self.listing(&order.symbol).cloned() else {
            return;
        };
        let cost = price * quantity;
        let rate = self.commission_rate;
        let (received_asset, received) = match order.side {
            Side::Buy => (listing.base.clone(), quantity),
            Side::Sell => (listing.quote.clone(), cost),
        };
        let commission = (received * rate).round_dp(8);
        // What the lock covers of this fill: the limit price for a priced buy, the
        // quantity for a sell; an unpriced buy pays from what is free.
        let release = match order.side {
            Side::Buy if order.kind.priced() => order.price * quantity,
            Side::Buy => Decimal::ZERO,
            Side::Sell => quantity,
        };
        if order.side == Side::Buy
            && !order.kind.priced()
            && self.balance(&listing.quote).free < cost
        {
            self.finish(id, Status::Expired);
            self.report(id, "EXPIRED", None, None, Some("EXCHANGE_CANCELED"));
            return;
        }
        {
            let lock = self.balance(&order.lock_asset);
            lock.locked -= release;
            lock.free += release;
        }
        match order.side {
            Side::Buy => self.balance(&listing.quote).free -= cost,
            Side::Sell => self.balance(&listing.base).free -= quantity,
        }
        self.balance(&received_asset).free += received - commission;

        let trade_id = self.next_trade_id;
        self.next_trade_id += 1;
        let Some(order) = self.orders.get_mut(&id) else {
            return;
        };
        order.locked -= release;
        order.executed_qty += quantity;
        order.cum_quote += cost;
        order.update_time = now;
        order.status = if order.remaining().is_zero() {
            Status::Filled
        } else {
            Status::PartiallyFilled
        };
        let fill = Fill {
            price,
            quantity,
            commission,
            commission_asset: received_asset.clone(),
            trade_id,
        };
        order.fills.push(fill.clone());
        self.trades.push(json!({
            "symbol": order.symbol,
            "id": trade_id,
            "orderId": order.order_id,
            "orderListId": -1,
            "price": fmt8(price),
            "qty": fmt8(quantity),
            "quoteQty": fmt8(cost),
            "commission": fmt8(commission),
            "commissionAsset": received_asset,
            "time": now,
            "isBuyer": order.side == Side::Buy,
            "isMaker": false,
            "isBestMatch": true,
        }));
        let done = !order.status.is_open();
        self.report(id, "TRADE", Some(&fill), None, None);
        if done {
            self.finish(id, Status::Filled);
        }
        self.account_position(&[listing.base, listing.quote]);
    }

    /// Publishes an `executionReport` for order `id` as it is now.
    fn report(
        &mut self,
        id: u64,
        execution: &str,
        fill: Option<&Fill>,
        cancel_client_id: Option<&str>,
        expiry_reason: Option<&str>,
    ) {
        let now = self.now;
        let execution_id = self.next_execution_id;
        self.next_execution_id += 1;
        let Some(order) = self.orders.get(&id) else {
            return;
        };
        let (client, original) = match cancel_client_id {
            Some(cancel) => (cancel.to_string(), order.client_order_id.clone()),
            None => (order.client_order_id.clone(), String::new()),
        };
        let mut event = json!({
            "e": "executionReport",
            "E": now,
            "s": order.symbol,
            "c": client,
            "S": order.side.as_str(),
            "o": order.kind.as_str(),
            "f": order.time_in_force.as_str(),
            "q": fmt8(order.orig_qty),
            "p": fmt8(order.price),
            "P": fmt8(order.stop_price),
            "F": fmt8(Decimal::ZERO),
            "g": -1,
            "C": original,
            "x": execution,
            "X": order.status.as_str(),
            "r": "NONE",
            "i": order.order_id,
            "l": fmt8(fill.map_or(Decimal::ZERO, |f| f.quantity)),
            "z": fmt8(order.executed_qty),
            "L": fmt8(fill.map_or(Decimal::ZERO, |f| f.price)),
            "n": fill.map_or_else(|| "0".to_string(), |f| fmt8(f.commission)),
            "N": fill.map(|f| f.commission_asset.clone()),
            "T": now,
            "t": fill.map_or(-1, |f| i64::try_from(f.trade_id).unwrap_or(i64::MAX)),
            "I": execution_id,
            "w": order.on_book(),
            "m": false,
            "M": false,
            "O": order.time,
            "Z": fmt8(order.cum_quote),
            "Y": fmt8(fill.map_or(Decimal::ZERO, |f| f.price * f.quantity)),
            "Q": fmt8(Decimal::ZERO),
            "V": "NONE",
        });
        if let Some(map) = event.as_object_mut() {
            if order.on_book() {
                map.insert("W".into(), order.working_time.into());
            }
            if let Some(reason) = expiry_reason {
                map.insert("eR".into(), reason.into());
            }
        }
        self.publish_user(event);
    }

    /// Publishes an `outboundAccountPosition` for `assets`.
    fn account_position(&mut self, assets: &[String]) {
        let balances: Vec<Value> = assets
            .iter()
            .map(|a| {
                let (free, locked) = self.balance_of(a);
                json!({"a": a, "f": fmt8(free), "l": fmt8(locked)})
            })
            .collect();
        let now = self.now;
        self.publish_user(
            json!({"e": "outboundAccountPosition", "E": now, "u": now, "B": balances}),
        );
    }

    fn publish_user(&mut self, event: Value) {
        let mut out = Vec::with_capacity(2);
        if self.faults.duplicate > 0 {
            self.faults.duplicate -= 1;
            out.push(event.clone());
            out.push(event);
        } else if self.faults.reorder && event["e"] == "executionReport" {
            match self.faults.held.take() {
                None => self.faults.held = Some(event),
                Some(held) => {
                    self.faults.reorder = false;
                    out.push(event);
                    out.push(held);
                }
            }
        } else {
            out.push(event);
        }
        for event in out {
            self.users
                .retain(|u| u.sender.send((u.subscription, event.clone())).is_ok());
        }
    }

    fn publish_market(&mut self, stream: &str, payload: &Value) {
        let raw = payload.to_string();
        let combined = json!({"stream": stream, "data": payload}).to_string();
        self.markets.retain(|m| {
            if !m.streams.contains(stream) {
                return !m.sender.is_closed();
            }
            let text = if m.combined { &combined } else { &raw };
            m.sender.send(text.clone()).is_ok()
        });
    }

    /// The next `n` user-data events are each sent twice.
    pub fn duplicate_next_events(&mut self, n: usize) {
        self.faults.duplicate += n;
    }

    /// The next `executionReport` is held back and sent after the one that follows it.
    pub fn reorder_next_events(&mut self) {
        self.faults.reorder = true;
    }

    /// Adds a user-data subscriber; `false` if the connection already has one (one
    /// subscription per account per connection).
    pub fn subscribe_user(
        &mut self,
        connection: u64,
        subscription: u64,
        sender: UnboundedSender<(u64, Value)>,
    ) -> bool {
        if self.users.iter().any(|u| u.connection == connection) {
            return false;
        }
        self.users.push(UserSubscriber {
            connection,
            subscription,
            sender,
        });
        true
    }

    /// Removes a connection's user-data subscriptions (`None`: all of them); the ids
    /// removed.
    pub fn unsubscribe_user(&mut self, connection: u64, subscription: Option<u64>) -> Vec<u64> {
        let mut removed = Vec::new();
        self.users.retain(|u| {
            let gone =
                u.connection == connection && subscription.is_none_or(|s| s == u.subscription);
            if gone {
                removed.push(u.subscription);
            }
            !gone
        });
        removed
    }

    /// A connection's user-data subscription ids.
    pub fn user_subscriptions(&self, connection: u64) -> Vec<u64> {
        self.users
            .iter()
            .filter(|u| u.connection == connection)
            .map(|u| u.subscription)
            .collect()
    }

    pub fn add_market(&mut self, connection: u64, combined: bool, sender: UnboundedSender<String>) {
        self.markets.push(MarketSubscriber {
            connection,
            streams: BTreeSet::new(),
            combined,
            sender,
        });
    }

    fn market(&mut self, connection: u64) -> Option<&mut MarketSubscriber> {
        self.markets.iter_mut().find(|m| m.connection == connection)
    }

    pub fn listen(&mut self, connection: u64, streams: &[String], on: bool) {
        if let Some(m) = self.market(connection) {
            for s in streams {
                if on {
                    m.streams.insert(s.clone());
                } else {
                    m.streams.remove(s);
                }
            }
        }
    }

    pub fn streams_of(&self, connection: u64) -> Vec<String> {
        self.markets
            .iter()
            .find(|m| m.connection == connection)
            .map(|m| m.streams.iter().cloned().collect())
            .unwrap_or_default()
    }

    pub fn set_combined(&mut self, connection: u64, combined: bool) {
        if let Some(m) = self.market(connection) {
            m.combined = combined;
        }
    }

    pub fn combined(&self, connection: u64) -> bool {
        self.markets
            .iter()
            .any(|m| m.connection == connection && m.combined)
    }

    pub fn remove_connection(&mut self, connection: u64) {
        self.markets.retain(|m| m.connection != connection);
        self.users.retain(|u| u.connection != connection);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dec(text: &str) -> Decimal {
        text.parse().expect("a decimal")
    }

    fn exchange() -> Exchange {
        Exchange::new(
            vec![Listing::usdt("BTC")],
            &[("USDT".into(), dec("1000")), ("BTC".into(), dec("1"))],
            Decimal::ZERO,
        )
    }

    fn limit(side: Side, qty: &str, price: &str) -> NewOrder {
        NewOrder {
            symbol: "BTCUSDT".into(),
            side,
            kind: OrderKind::Limit,
            time_in_force: Some(TimeInForce::Gtc),
            quantity: dec(qty),
            price: Some(dec(price)),
            stop_price: None,
            client_order_id: Some("a".into()),
            response: None,
        }
    }

    #[test]
    fn a_limit_buy_locks_then_pays_the_trade_price() {
        let mut ex = exchange();
        ex.place(limit(Side::Buy, "2", "100")).expect("placed");
        assert_eq!(ex.balance_of("USDT"), (dec("800"), dec("200")));
        ex.trade("BTCUSDT", dec("99"), dec("1")).expect("trade");
        assert_eq!(ex.balance_of("USDT"), (dec("801"), dec("100")));
        assert_eq!(ex.balance_of("BTC"), (dec("2"), Decimal::ZERO));
        ex.trade("BTCUSDT", dec("100"), dec("5")).expect("trade");
        assert_eq!(ex.balance_of("USDT"), (dec("801"), Decimal::ZERO));
        assert_eq!(ex.balance_of("BTC"), (dec("3"), Decimal::ZERO));
    }

    #[test]
    fn refusals_are_binances() {
        let mut ex = exchange();
        ex.place(limit(Side::Buy, "1", "10")).expect("placed");
        assert_eq!(
            ex.place(limit(Side::Buy, "1", "10"))
                .expect_err("a duplicate"),
            Refusal::new(-2010, "Duplicate order sent.")
        );
        let mut big = limit(Side::Buy, "100", "100");
        big.client_order_id = Some("b".into());
        assert_eq!(
            ex.place(big).expect_err("too big").msg,
            "Account has insufficient balance for requested action."
        );
        let mut off_grid = limit(Side::Buy, "1", "10.001");
        off_grid.client_order_id = Some("c".into());
        assert_eq!(
            ex.place(off_grid).expect_err("tick").msg,
            "Filter failure: PRICE_FILTER"
        );
        let unknown = OrderRef {
            symbol: "BTCUSDT".into(),
            order_id: Some(99),
            client_order_id: None,
        };
        assert_eq!(ex.query(&unknown).expect_err("unknown").code, -2013);
        assert_eq!(ex.cancel(&unknown, None).expect_err("unknown").code, -2011);
    }

    #[test]
    fn fok_fills_entirely_or_expires() {
        let mut ex = exchange();
        let mut fok = limit(Side::Buy, "2", "100");
        fok.time_in_force = Some(TimeInForce::Fok);
        ex.place(fok).expect("placed");
        ex.trade("BTCUSDT", dec("100"), dec("1")).expect("trade");
        let by = OrderRef {
            symbol: "BTCUSDT".into(),
            order_id: None,
            client_order_id: Some("a".into()),
        };
        let order = ex.query(&by).expect("found");
        assert_eq!(order["status"], "EXPIRED");
        assert_eq!(order["executedQty"], "0.00000000");
        assert_eq!(ex.balance_of("USDT"), (dec("1000"), Decimal::ZERO));
    }
}
