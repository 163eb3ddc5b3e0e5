//! Write a Stratus trading strategy in Rust and run it in the platform's sandbox.
//!
//! A strategy is a type implementing [`Strategy`], exported with [`export!`] together
//! with its declaration (name, summary, parameter JSON Schema), and built with
//! `cargo build --release --target wasm32-unknown-unknown`. The resulting `.wasm` is
//! uploaded (`POST /strategy-modules`), then deployed, backtested and optimised like a
//! built-in strategy, or run locally with `stratus backtest --strategy-wasm FILE`.
//!
//! The contract with the host is `crates/engine/src/wasm/ABI.md` (ABI 1); this crate is
//! its guest side, so a strategy never touches raw pointers.
//!
//! ```ignore
//! use stratus_strategy::*;
//!
//! #[derive(Default)]
//! struct Buy { bought: bool }
//!
//! impl Strategy for Buy {
//!     fn init(_setup: &mut Setup) -> Self { Buy::default() }
//!     fn on_candle(&mut self, candle: &Candle, ctx: &mut Context) {
//!         if !self.bought {
//!             ctx.submit(Order::market(candle.symbol, Side::Buy, Decimal::ONE));
//!             self.bought = true;
//!         }
//!     }
//!     fn snapshot(&self) -> Vec<u8> { vec![self.bought as u8] }
//!     fn restore(&mut self, bytes: &[u8]) { self.bought = bytes.first() == Some(&1); }
//! }
//!
//! export!(Buy, r#"{"abi": 1, "name": "Buy once", "summary": "Buys one unit.", "params": {}}"#);
//! ```

mod decimal;
#[doc(hidden)]
pub mod entry;
mod sys;

pub use decimal::Decimal;

/// A symbol of the deployment, by index into its symbols (`0..Setup::symbol_count()`).
pub type SymbolIndex = usize;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    Buy,
    Sell,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OrderType {
    Market,
    Limit { limit: Decimal },
    Stop { stop: Decimal },
    StopLimit { stop: Decimal, limit: Decimal },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum TimeInForce {
    #[default]
    Gtc,
    Day,
    Ioc,
    Fok,
}

/// An order to submit through [`Context::submit`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Order {
    pub symbol: SymbolIndex,
    pub side: Side,
    pub quantity: Decimal,
    pub order_type: OrderType,
    pub time_in_force: TimeInForce,
}

impl Order {
    pub fn market(symbol: SymbolIndex, side: Side, quantity: Decimal) -> Self {
        Order {
            symbol,
            side,
            quantity,
            order_type: OrderType::Market,
            time_in_force: TimeInForce::Gtc,
        }
    }

    pub fn limit(symbol: SymbolIndex, side: Side, quantity: Decimal, limit: Decimal) -> Self {
        Order {
            order_type: OrderType::Limit { limit },
            ..Order::market(symbol, side, quantity)
        }
    }

    pub fn time_in_force(self, time_in_force: TimeInForce) -> Self {
        Order {
            time_in_force,
            ..self
        }
    }
}

/// An order's id (the platform's UUID, as a number).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct OrderId(pub u128);

/// A closed candle of one of the deployment's symbols and timeframes.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Candle {
    pub symbol: SymbolIndex,
    /// Seconds.
    pub timeframe: u32,
    /// Unix milliseconds of the candle's end.
    pub end_ms: i64,
    pub open: f64,
    pub high: f64,
    pub low: f64,
    pub close: f64,
    pub volume: f64,
}

/// A trade of one of the deployment's symbols.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Tick {
    pub symbol: SymbolIndex,
    pub time_ms: i64,
    pub price: f64,
    pub quantity: f64,
}

/// A fill of one of the strategy's orders (the position already includes it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Fill {
    pub symbol: SymbolIndex,
    pub side: Side,
    pub quantity: Decimal,
    pub price: Decimal,
    pub fee: Decimal,
    pub order: OrderId,
    pub time_ms: i64,
}

/// A registered indicator.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Indicator(i32);

/// Given to [`Strategy::init`]: the deployment's parameters, symbols and timeframes, and
/// indicator registration.
#[derive(Debug)]
pub struct Setup {
    _private: (),
}

impl Setup {
    /// An integer parameter (checked against the declaration, default filled in).
    pub fn param_int(&self, name: &str) -> i64 {
        sys::param_int(name)
    }

    /// A number parameter.
    pub fn param_num(&self, name: &str) -> f64 {
        sys::param_num(name)
    }

    /// A decimal parameter (`"format": "decimal"`).
    pub fn param_dec(&self, name: &str) -> Decimal {
        sys::param_dec(name)
    }

    pub fn symbol_count(&self) -> usize {
        sys::symbol_count()
    }

    /// The deployment's symbols, by index.
    pub fn symbols(&self) -> Vec<String> {
        (0..self.symbol_count()).map(sys::symbol_name).collect()
    }

    /// The deployment's timeframes in seconds; the first is the primary one.
    pub fn timeframes(&self) -> Vec<u32> {
        (0..sys::timeframe_count()).map(sys::timeframe).collect()
    }

    /// Registers an indicator the engine computes on `symbol`'s `timeframe` candles:
    /// `sma:30`, `ema:12`, `wma:10`, `rsi:14`, `macd:12:26:9`, `bbands:20:2`, `atr:14`,
    /// `stoch:14:3:3`, `vwap`. Its value includes each candle before `on_candle` sees it.
    pub fn indicator(&mut self, symbol: SymbolIndex, timeframe: u32, spec: &str) -> Indicator {
        Indicator(sys::indicator(symbol, timeframe, spec))
    }
}

/// Given to every callback: the account and the orders.
#[derive(Debug)]
pub struct Context {
    _private: (),
}

impl Context {
    /// The engine's time, Unix milliseconds (the data's time in a backtest).
    pub fn now_ms(&self) -> i64 {
        sys::now()
    }

    pub fn cash(&self) -> Decimal {
        sys::cash()
    }

    /// Cash plus positions at their last prices (`None` when a price is missing).
    pub fn equity(&self) -> Option<Decimal> {
        sys::equity()
    }

    /// Signed quantity held (negative: short).
    pub fn position(&self, symbol: SymbolIndex) -> Decimal {
        sys::position(symbol)
    }

    pub fn last_price(&self, symbol: SymbolIndex) -> Option<Decimal> {
        sys::last_price(symbol)
    }

    /// This strategy's working orders on `symbol`, those submitted in this callback
    /// included.
    pub fn open_orders(&self, symbol: SymbolIndex) -> usize {
        sys::open_orders(symbol)
    }

    /// The first output of an indicator; `None` while it warms up.
    pub fn value(&self, indicator: Indicator) -> Option<f64> {
        self.column(indicator, 0)
    }

    /// Output `column` of an indicator (MACD: line, signal, histogram; Bollinger:
    /// upper, middle, lower; …).
    pub fn column(&self, indicator: Indicator, column: usize) -> Option<f64> {
        let v = sys::indicator_value(indicator.0, column);
        (!v.is_nan()).then_some(v)
    }

    /// Submits an order; it reaches the market after the callback returns.
    pub fn submit(&mut self, order: Order) -> OrderId {
        sys::submit(&order)
    }

    /// Cancels a working order of this strategy (nothing if it is not working).
    pub fn cancel(&mut self, order: OrderId) {
        sys::cancel(order)
    }

    /// A line in the operator's log (at most 512 bytes, 16 lines per callback).
    pub fn log(&self, line: &str) {
        sys::log(line)
    }
}

/// What a strategy implements. Everything it remembers must be in [`Strategy::snapshot`]:
/// a restarted core creates it again with [`Strategy::init`] and hands it the bytes.
pub trait Strategy: Sized + 'static {
    /// Reads parameters, registers indicators, returns the strategy.
    fn init(setup: &mut Setup) -> Self;

    /// A candle of one of its symbols and timeframes closed.
    fn on_candle(&mut self, candle: &Candle, ctx: &mut Context);

    fn on_tick(&mut self, _tick: &Tick, _ctx: &mut Context) {}

    fn on_fill(&mut self, _fill: &Fill, _ctx: &mut Context) {}

    fn on_timer(&mut self, _now_ms: i64, _ctx: &mut Context) {}

    fn snapshot(&self) -> Vec<u8>;

    /// Puts back what [`Strategy::snapshot`] returned; panic to refuse bytes it cannot
    /// read (the restore then fails with the message).
    fn restore(&mut self, bytes: &[u8]);
}

/// Exports a [`Strategy`] type with its declaration (a JSON string literal, see ABI.md):
/// writes the `stratus.strategy` custom section and the ABI's exported functions.
#[macro_export]
macro_rules! export {
    ($strategy:ty, $declaration:expr) => {
        const _: () = {
            const DECLARATION: &str = $declaration;
            #[unsafe(link_section = "stratus.strategy")]
            #[used]
            static SECTION: [u8; DECLARATION.len()] = $crate::entry::bytes(DECLARATION);

            static STATE: $crate::entry::Slot<$strategy> = $crate::entry::Slot::new();

            #[unsafe(no_mangle)]
            extern "C" fn stratus_alloc(len: i32) -> i32 {
                $crate::entry::alloc(len)
            }
            #[unsafe(no_mangle)]
            extern "C" fn stratus_init() {
                $crate::entry::init(&STATE)
            }
            #[unsafe(no_mangle)]
            extern "C" fn stratus_on_candle(
                symbol: i32,
                timeframe: i64,
                end_ms: i64,
                open: f64,
                high: f64,
                low: f64,
                close: f64,
                volume: f64,
            ) {
                $crate::entry::on_candle(
                    &STATE, symbol, timeframe, end_ms, open, high, low, close, volume,
                )
            }
            #[unsafe(no_mangle)]
            extern "C" fn stratus_on_tick(symbol: i32, time_ms: i64, price: f64, quantity: f64) {
                $crate::entry::on_tick(&STATE, symbol, time_ms, price, quantity)
            }
            #[unsafe(no_mangle)]
            extern "C" fn stratus_on_fill(
                symbol: i32,
                side: i32,
                qty_mantissa: i64,
                qty_scale: i32,
                price_mantissa: i64,
                price_scale: i32,
                fee_mantissa: i64,
                fee_scale: i32,
                order_hi: i64,
                order_lo: i64,
                time_ms: i64,
            ) {
                $crate::entry::on_fill(
                    &STATE,
                    symbol,
                    side,
                    [
                        (qty_mantissa, qty_scale),
                        (price_mantissa, price_scale),
                        (fee_mantissa, fee_scale),
                    ],
                    order_hi,
                    order_lo,
                    time_ms,
                )
            }
            #[unsafe(no_mangle)]
            extern "C" fn stratus_on_timer(now_ms: i64) {
                $crate::entry::on_timer(&STATE, now_ms)
            }
            #[unsafe(no_mangle)]
            extern "C" fn stratus_snapshot() -> i64 {
                $crate::entry::snapshot(&STATE)
            }
            #[unsafe(no_mangle)]
            extern "C" fn stratus_restore(ptr: i32, len: i32) {
                $crate::entry::restore(&STATE, ptr, len)
            }
        };
    };
}
