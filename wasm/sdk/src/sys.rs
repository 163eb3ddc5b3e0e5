//! The host functions of ABI.md, wrapped: the only unsafe code a strategy links.

use crate::{Decimal, Order, OrderId, OrderType, Side, SymbolIndex, TimeInForce};

#[link(wasm_import_module = "stratus")]
unsafe extern "C" {
    #[link_name = "param_int"]
    fn host_param_int(ptr: *const u8, len: usize) -> i64;
    #[link_name = "param_num"]
    fn host_param_num(ptr: *const u8, len: usize) -> f64;
    #[link_name = "param_dec"]
    fn host_param_dec(ptr: *const u8, len: usize, out: *mut u8);
    #[link_name = "symbol_count"]
    fn host_symbol_count() -> i32;
    #[link_name = "symbol_name"]
    fn host_symbol_name(symbol: i32, out: *mut u8, cap: i32) -> i32;
    #[link_name = "timeframe_count"]
    fn host_timeframe_count() -> i32;
    #[link_name = "timeframe"]
    fn host_timeframe(index: i32) -> i64;
    #[link_name = "indicator"]
    fn host_indicator(symbol: i32, timeframe: i64, ptr: *const u8, len: usize) -> i32;
    #[link_name = "indicator_value"]
    fn host_indicator_value(id: i32, column: i32) -> f64;
    #[link_name = "now"]
    fn host_now() -> i64;
    #[link_name = "cash"]
    fn host_cash(out: *mut u8);
    #[link_name = "equity"]
    fn host_equity(out: *mut u8) -> i32;
    #[link_name = "position"]
    fn host_position(symbol: i32, out: *mut u8);
    #[link_name = "last_price"]
    fn host_last_price(symbol: i32, out: *mut u8) -> i32;
    #[link_name = "open_orders"]
    fn host_open_orders(symbol: i32) -> i32;
    #[link_name = "submit"]
    fn host_submit(order: *mut u8);
    #[link_name = "cancel"]
    fn host_cancel(id: *const u8);
    #[link_name = "log"]
    fn host_log(ptr: *const u8, len: usize);
    #[link_name = "fail"]
    fn host_fail(ptr: *const u8, len: usize);
}

/// A Decimal as laid out in memory (16 bytes, 8-aligned).
#[repr(C, align(8))]
#[derive(Default)]
struct WireDecimal {
    mantissa: i64,
    scale: u32,
    zero: u32,
}

impl WireDecimal {
    fn of(d: Decimal) -> Self {
        WireDecimal {
            mantissa: d.mantissa,
            scale: d.scale,
            zero: 0,
        }
    }

    fn decimal(&self) -> Decimal {
        Decimal::new(self.mantissa, self.scale)
    }
}

/// An Order as laid out in memory (80 bytes, 8-aligned).
#[repr(C, align(8))]
struct WireOrder {
    symbol: i32,
    side: i32,
    order_type: i32,
    time_in_force: i32,
    quantity: WireDecimal,
    limit: WireDecimal,
    stop: WireDecimal,
    id: [u8; 16],
}

fn index(symbol: SymbolIndex) -> i32 {
    i32::try_from(symbol).unwrap_or(i32::MAX)
}

pub fn param_int(name: &str) -> i64 {
    unsafe { host_param_int(name.as_ptr(), name.len()) }
}

pub fn param_num(name: &str) -> f64 {
    unsafe { host_param_num(name.as_ptr(), name.len()) }
}

pub fn param_dec(name: &str) -> Decimal {
    let mut out = WireDecimal::default();
    unsafe { host_param_dec(name.as_ptr(), name.len(), (&raw mut out).cast()) };
    out.decimal()
}

pub fn symbol_count() -> usize {
    usize::try_from(unsafe { host_symbol_count() }).unwrap_or(0)
}

pub fn symbol_name(symbol: SymbolIndex) -> String {
    let mut buffer = [0u8; 64];
    let len = unsafe { host_symbol_name(index(symbol), buffer.as_mut_ptr(), 64) };
    let len = usize::try_from(len).unwrap_or(0).min(64);
    String::from_utf8_lossy(&buffer[..len]).into_owned()
}

pub fn timeframe_count() -> usize {
    usize::try_from(unsafe { host_timeframe_count() }).unwrap_or(0)
}

pub fn timeframe(i: usize) -> u32 {
    u32::try_from(unsafe { host_timeframe(index(i)) }).unwrap_or(0)
}

pub fn indicator(symbol: SymbolIndex, timeframe: u32, spec: &str) -> i32 {
    unsafe {
        host_indicator(
            index(symbol),
            i64::from(timeframe),
            spec.as_ptr(),
            spec.len(),
        )
    }
}

pub fn indicator_value(id: i32, column: usize) -> f64 {
    unsafe { host_indicator_value(id, index(column)) }
}

pub fn now() -> i64 {
    unsafe { host_now() }
}

pub fn cash() -> Decimal {
    let mut out = WireDecimal::default();
    unsafe { host_cash((&raw mut out).cast()) };
    out.decimal()
}

pub fn equity() -> Option<Decimal> {
    let mut out = WireDecimal::default();
    (unsafe { host_equity((&raw mut out).cast()) } == 0).then(|| out.decimal())
}

pub fn position(symbol: SymbolIndex) -> Decimal {
    let mut out = WireDecimal::default();
    unsafe { host_position(index(symbol), (&raw mut out).cast()) };
    out.decimal()
}

pub fn last_price(symbol: SymbolIndex) -> Option<Decimal> {
    let mut out = WireDecimal::default();
    (unsafe { host_last_price(index(symbol), (&raw mut out).cast()) } == 1).then(|| out.decimal())
}

pub fn open_orders(symbol: SymbolIndex) -> usize {
    usize::try_from(unsafe { host_open_orders(index(symbol)) }).unwrap_or(0)
}

pub fn submit(order: &Order) -> OrderId {
    let (order_type, limit, stop) = match order.order_type {
        OrderType::Market => (0, Decimal::ZERO, Decimal::ZERO),
        OrderType::Limit { limit } => (1, limit, Decimal::ZERO),
        OrderType::Stop { stop } => (2, Decimal::ZERO, stop),
        OrderType::StopLimit { stop, limit } => (3, limit, stop),
    };
    let mut wire = WireOrder {
        symbol: index(order.symbol),
        side: match order.side {
            Side::Buy => 0,
            Side::Sell => 1,
        },
        order_type,
        time_in_force: match order.time_in_force {
            TimeInForce::Gtc => 0,
            TimeInForce::Day => 1,
            TimeInForce::Ioc => 2,
            TimeInForce::Fok => 3,
        },
        quantity: WireDecimal::of(order.quantity),
        limit: WireDecimal::of(limit),
        stop: WireDecimal::of(stop),
        id: [0; 16],
    };
    unsafe { host_submit((&raw mut wire).cast()) };
    OrderId(u128::from_be_bytes(wire.id))
}

pub fn cancel(order: OrderId) {
    let id = order.0.to_be_bytes();
    unsafe { host_cancel(id.as_ptr()) }
}

pub fn log(line: &str) {
    unsafe { host_log(line.as_ptr(), line.len()) }
}

pub fn fail(message: &str) {
    unsafe { host_fail(message.as_ptr(), message.len()) }
}
