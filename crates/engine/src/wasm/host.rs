//! One module instance run as a [`Strategy`]: the host functions of the ABI, the view of
//! the engine a callback reads, and the fault handling.
//!
//! The module cannot hold a reference into the engine (the store's data is owned), so
//! before each callback the host copies into its state what the module can read — only
//! what it imports (a module that never asks for equity does not pay for computing it) —
//! and after a callback that returned normally it replays the orders and cancels the
//! module asked for into the [`Context`], in order. Order ids are derived exactly as
//! `Context::submit` derives them, so the id the module is handed is the order's id.

use std::sync::{Arc, Mutex};

use base64::Engine as _;
use domain::{
    Candle, Decimal, Fill, OrderId, OrderType, Price, Quantity, Side, StrategyId, Symbol, Tick,
    TimeInForce, Timeframe,
};
use wasmi::{
    AsContext, Caller, Linker, Memory, Store, StoreLimits, StoreLimitsBuilder, TrapCode, TypedFunc,
};

use super::{Compiled, Limits, WasmError, abi};
use crate::indicators::IndicatorSpec;
use crate::strategy::params::{ParamDoc, ParamKind, Params};
use crate::strategy::{
    Context, IndicatorId, OrderIntent, Setup, Strategy, StrategyConfig, StrategyError,
};

#[derive(Debug, Clone, Copy)]
enum ParamValue {
    Int(i64),
    Num(f64),
    Dec(Decimal),
}

#[derive(Debug)]
enum HostIntent {
    Submit(OrderIntent),
    Cancel(OrderId),
}

/// What the module can reach: the store's data.
#[derive(Debug)]
struct Host {
    store_limits: StoreLimits,
    limits: Limits,
    memory: Option<Memory>,
    params: Vec<(String, ParamValue)>,
    symbols: Vec<Symbol>,
    timeframes: Vec<Timeframe>,
    in_init: bool,
    registrations: Vec<(Symbol, Timeframe, IndicatorSpec)>,
    // The view of the engine for the current callback.
    now_ms: i64,
    cash: Decimal,
    equity: Option<Decimal>,
    positions: Vec<Decimal>,
    last_prices: Vec<Option<Decimal>>,
    open_orders: Vec<u32>,
    /// Every registered indicator's columns, flat; `columns[id]` = (start, len).
    values: Vec<f64>,
    columns: Vec<(usize, usize)>,
    // What the current callback asked for.
    strategy: StrategyId,
    next_order: u64,
    intents: Vec<HostIntent>,
    submitted: usize,
    logged: u32,
    /// The reason a host function stopped the module (the trap carries it too).
    failure: Option<String>,
}

impl Host {
    fn new(limits: Limits, symbols: Vec<Symbol>, timeframes: Vec<Timeframe>) -> Self {
        let n = symbols.len();
        Host {
            store_limits: StoreLimitsBuilder::new()
                .memory_size(limits.max_memory_bytes)
                .memories(1)
                .tables(4)
                .table_elements(100_000)
                .instances(1)
                .trap_on_grow_failure(true)
                .build(),
            limits,
            memory: None,
            params: Vec::new(),
            symbols,
            timeframes,
            in_init: false,
            registrations: Vec::new(),
            now_ms: 0,
            cash: Decimal::ZERO,
            equity: None,
            positions: vec![Decimal::ZERO; n],
            last_prices: vec![None; n],
            open_orders: vec![0; n],
            values: Vec::new(),
            columns: Vec::new(),
            strategy: StrategyId::from_u128(0),
            next_order: 0,
            intents: Vec::new(),
            submitted: 0,
            logged: 0,
            failure: None,
        }
    }
}

type HostResult<T> = Result<T, wasmi::Error>;

/// Stops the module: the reason is kept and the call traps.
fn stop<T>(caller: &mut Caller<'_, Host>, reason: String) -> HostResult<T> {
    caller.data_mut().failure = Some(reason.clone());
    Err(wasmi::Error::new(reason))
}

fn memory(caller: &Caller<'_, Host>) -> HostResult<Memory> {
    caller
        .data()
        .memory
        .ok_or_else(|| wasmi::Error::new("the module has no memory"))
}

fn read(caller: &mut Caller<'_, Host>, ptr: i32, len: i32, max: usize) -> HostResult<Vec<u8>> {
    let (Ok(at), Ok(n)) = (usize::try_from(ptr), usize::try_from(len)) else {
        return stop(caller, format!("negative pointer or length ({ptr}, {len})"));
    };
    if n > max {
        return stop(
            caller,
            format!("a {n}-byte argument; at most {max} are read"),
        );
    }
    let mut buffer = vec![0; n];
    let mem = memory(caller)?;
    if mem.read(&*caller, at, &mut buffer).is_err() {
        return stop(
            caller,
            format!("bytes {at}..{} are outside its memory", at + n),
        );
    }
    Ok(buffer)
}

fn write(caller: &mut Caller<'_, Host>, ptr: i32, bytes: &[u8]) -> HostResult<()> {
    let Ok(at) = usize::try_from(ptr) else {
        return stop(caller, format!("negative pointer {ptr}"));
    };
    let mem = memory(caller)?;
    if mem.write(&mut *caller, at, bytes).is_err() {
        return stop(
            caller,
            format!("bytes {at}..{} are outside its memory", at + bytes.len()),
        );
    }
    Ok(())
}

fn text(caller: &mut Caller<'_, Host>, ptr: i32, len: i32) -> HostResult<String> {
    let bytes = read(caller, ptr, len, 4096)?;
    match String::from_utf8(bytes) {
        Ok(s) => Ok(s),
        Err(_) => stop(caller, "a string argument is not UTF-8".into()),
    }
}

/// A decimal as the ABI lays it out: i64 mantissa, u32 scale (≤ 18), u32 zero. Values
/// whose mantissa does not fit are rounded to fewer places (then saturate).
pub(crate) fn decimal_to_wire(d: Decimal) -> (i64, u32) {
    let mut d = d.normalize();
    loop {
        if let Ok(m) = i64::try_from(d.mantissa()) {
            if d.scale() <= 18 {
                return (m, d.scale());
            }
        }
        if d.scale() == 0 {
            return (
                if d.is_sign_negative() {
                    i64::MIN
                } else {
                    i64::MAX
                },
                0,
            );
        }
        d = d.round_dp(d.scale() - 1);
    }
}

fn decimal_bytes(d: Decimal) -> [u8; 16] {
    let (m, s) = decimal_to_wire(d);
    let mut out = [0; 16];
    out[..8].copy_from_slice(&m.to_le_bytes());
    out[8..12].copy_from_slice(&s.to_le_bytes());
    out
}

fn decimal_from(bytes: &[u8]) -> Result<Decimal, String> {
    let mut m = [0; 8];
    let mut s = [0; 4];
    m.copy_from_slice(bytes.get(..8).ok_or("short decimal")?);
    s.copy_from_slice(bytes.get(8..12).ok_or("short decimal")?);
    let scale = u32::from_le_bytes(s);
    if scale > 18 {
        return Err(format!("a decimal with scale {scale}; at most 18"));
    }
    Ok(Decimal::new(i64::from_le_bytes(m), scale))
}

fn i32_at(bytes: &[u8], at: usize) -> i32 {
    let mut b = [0; 4];
    b.copy_from_slice(&bytes[at..at + 4]);
    i32::from_le_bytes(b)
}

fn symbol_index(caller: &mut Caller<'_, Host>, symbol: i32) -> HostResult<usize> {
    match usize::try_from(symbol) {
        Ok(i) if i < caller.data().symbols.len() => Ok(i),
        _ => {
            let n = caller.data().symbols.len();
            stop(caller, format!("symbol index {symbol}; it has {n} symbols"))
        }
    }
}

fn param(caller: &mut Caller<'_, Host>, ptr: i32, len: i32) -> HostResult<ParamValue> {
    let name = text(caller, ptr, len)?;
    match caller.data().params.iter().find(|(n, _)| *n == name) {
        Some((_, v)) => Ok(*v),
        None => stop(
            caller,
            format!("reads parameter {name:?}, which its declaration does not have"),
        ),
    }
}

/// The order an ABI Order record describes, checked.
fn order_of(host: &Host, bytes: &[u8]) -> Result<(usize, OrderIntent), String> {
    let symbol = usize::try_from(i32_at(bytes, 0))
        .ok()
        .filter(|i| *i < host.symbols.len())
        .ok_or_else(|| format!("an order for symbol index {}", i32_at(bytes, 0)))?;
    let side = match i32_at(bytes, 4) {
        0 => Side::Buy,
        1 => Side::Sell,
        other => return Err(format!("an order with side {other} (0 buy, 1 sell)")),
    };
    let time_in_force = match i32_at(bytes, 12) {
        0 => TimeInForce::Gtc,
        1 => TimeInForce::Day,
        2 => TimeInForce::Ioc,
        3 => TimeInForce::Fok,
        other => return Err(format!("an order with time in force {other} (0..=3)")),
    };
    let quantity = decimal_from(&bytes[16..32])?;
    let quantity = Quantity::positive("quantity", quantity)
        .map_err(|_| format!("an order for quantity {quantity}; it must be above zero"))?;
    let price = |at: usize, what: &str| -> Result<Price, String> {
        let d = decimal_from(&bytes[at..at + 16])?;
        Price::new(d).map_err(|e| format!("an order with {what} {d}: {e}"))
    };
    let order_type = match i32_at(bytes, 8) {
        0 => OrderType::Market,
        1 => OrderType::Limit {
            limit_price: price(32, "limit price")?,
        },
        2 => OrderType::Stop {
            stop_price: price(48, "stop price")?,
        },
        3 => OrderType::StopLimit {
            stop_price: price(48, "stop price")?,
            limit_price: price(32, "limit price")?,
        },
        other => return Err(format!("an order of type {other} (0..=3)")),
    };
    Ok((
        symbol,
        OrderIntent {
            symbol: host.symbols[symbol],
            side,
            quantity,
            order_type,
            time_in_force,
        },
    ))
}

/// The bars an indicator's windows hold, about (what its memory grows with).
fn periods(spec: &IndicatorSpec) -> usize {
    match *spec {
        IndicatorSpec::Sma(n)
        | IndicatorSpec::Ema(n)
        | IndicatorSpec::Wma(n)
        | IndicatorSpec::Rsi(n)
        | IndicatorSpec::Atr(n)
        | IndicatorSpec::BBands(n, _) => n,
        IndicatorSpec::Macd(a, b, c) | IndicatorSpec::Stoch(a, b, c) => {
            a.saturating_add(b).saturating_add(c)
        }
        IndicatorSpec::Vwap | IndicatorSpec::Obv => 1,
    }
}

/// The host functions of ABI.md.
fn linker(engine: &wasmi::Engine) -> Result<Linker<Host>, wasmi::Error> {
    let mut l = Linker::<Host>::new(engine);
    let m = abi::MODULE;
    l.func_wrap(
        m,
        "param_int",
        |mut c: Caller<'_, Host>, p: i32, n: i32| match param(&mut c, p, n)? {
            ParamValue::Int(v) => Ok(v),
            _ => stop(
                &mut c,
                "param_int of a parameter that is not an integer".into(),
            ),
        },
    )?;
    l.func_wrap(
        m,
        "param_num",
        |mut c: Caller<'_, Host>, p: i32, n: i32| match param(&mut c, p, n)? {
            ParamValue::Num(v) => Ok(v),
            ParamValue::Int(v) => Ok(v as f64),
            ParamValue::Dec(_) => stop(&mut c, "param_num of a decimal parameter".into()),
        },
    )?;
    l.func_wrap(
        m,
        "param_dec",
        |mut c: Caller<'_, Host>, p: i32, n: i32, out: i32| match param(&mut c, p, n)? {
            ParamValue::Dec(d) => write(&mut c, out, &decimal_bytes(d)),
            ParamValue::Int(v) => write(&mut c, out, &decimal_bytes(Decimal::from(v))),
            ParamValue::Num(_) => stop(&mut c, "param_dec of a number parameter".into()),
        },
    )?;
    l.func_wrap(m, "symbol_count", |c: Caller<'_, Host>| {
        i32::try_from(c.data().symbols.len()).unwrap_or(i32::MAX)
    })?;
    l.func_wrap(
        m,
        "symbol_name",
        |mut c: Caller<'_, Host>, symbol: i32, out: i32, cap: i32| {
            let i = symbol_index(&mut c, symbol)?;
            let name = c.data().symbols[i].as_str().as_bytes().to_vec();
            let n = name.len().min(usize::try_from(cap).unwrap_or(0));
            write(&mut c, out, &name[..n])?;
            Ok(i32::try_from(name.len()).unwrap_or(i32::MAX))
        },
    )?;
    l.func_wrap(m, "timeframe_count", |c: Caller<'_, Host>| {
        i32::try_from(c.data().timeframes.len()).unwrap_or(i32::MAX)
    })?;
    l.func_wrap(m, "timeframe", |mut c: Caller<'_, Host>, index: i32| {
        let tf = usize::try_from(index)
            .ok()
            .and_then(|i| c.data().timeframes.get(i).copied());
        match tf {
            Some(tf) => Ok(i64::from(tf.seconds())),
            None => stop(&mut c, format!("timeframe index {index}")),
        }
    })?;
    l.func_wrap(
        m,
        "indicator",
        |mut c: Caller<'_, Host>, symbol: i32, tf: i64, p: i32, n: i32| {
            if !c.data().in_init {
                return stop(&mut c, "registers an indicator outside init".into());
            }
            let i = symbol_index(&mut c, symbol)?;
            let spec_text = text(&mut c, p, n)?;
            let timeframe = u32::try_from(tf)
                .ok()
                .and_then(|s| Timeframe::from_seconds(s).ok())
                .filter(|t| c.data().timeframes.contains(t));
            let Some(timeframe) = timeframe else {
                return stop(
                    &mut c,
                    format!(
                        "an indicator on timeframe {tf} s, which is not one of the deployment's"
                    ),
                );
            };
            let spec = match IndicatorSpec::parse(&spec_text) {
                Ok(spec) => spec,
                Err(e) => return stop(&mut c, format!("indicator {spec_text:?}: {e}")),
            };
            let symbol = c.data().symbols[i];
            let host = c.data();
            let known = host
                .registrations
                .iter()
                .position(|(s, t, sp)| *s == symbol && *t == timeframe && *sp == spec);
            let id = match known {
                Some(id) => id,
                None => {
                    // Indicators live in the engine, outside the module's memory cap:
                    // their number and their windows are capped here (checked before
                    // anything is built).
                    let (max, max_periods) = (
                        host.limits.max_indicators,
                        host.limits.max_indicator_periods,
                    );
                    let periods = host
                        .registrations
                        .iter()
                        .map(|(.., sp)| periods(sp))
                        .fold(periods(&spec), usize::saturating_add);
                    if host.registrations.len() >= max {
                        return stop(&mut c, format!("registers more than {max} indicators"));
                    }
                    if periods > max_periods {
                        return stop(
                            &mut c,
                            format!(
                                "registers indicators over {max_periods} bars of periods in all"
                            ),
                        );
                    }
                    if spec.build().is_err() {
                        return stop(&mut c, format!("indicator {spec_text:?} cannot be built"));
                    }
                    let host = c.data_mut();
                    host.registrations.push((symbol, timeframe, spec));
                    host.registrations.len() - 1
                }
            };
            Ok(i32::try_from(id).unwrap_or(i32::MAX))
        },
    )?;
    l.func_wrap(
        m,
        "indicator_value",
        |mut c: Caller<'_, Host>, id: i32, column: i32| {
            let host = c.data();
            let found = usize::try_from(id)
                .ok()
                .and_then(|id| host.columns.get(id))
                .copied();
            let Some((start, len)) = found else {
                return stop(
                    &mut c,
                    format!("indicator id {id}, which it did not register"),
                );
            };
            match usize::try_from(column).ok().filter(|col| *col < len) {
                Some(col) => Ok(host.values[start + col]),
                None => stop(
                    &mut c,
                    format!("column {column} of an indicator with {len}"),
                ),
            }
        },
    )?;
    l.func_wrap(m, "now", |c: Caller<'_, Host>| c.data().now_ms)?;
    l.func_wrap(m, "cash", |mut c: Caller<'_, Host>, out: i32| {
        let cash = c.data().cash;
        write(&mut c, out, &decimal_bytes(cash))
    })?;
    l.func_wrap(m, "equity", |mut c: Caller<'_, Host>, out: i32| {
        match c.data().equity {
            Some(e) => write(&mut c, out, &decimal_bytes(e)).map(|()| 0),
            None => Ok(1),
        }
    })?;
    l.func_wrap(
        m,
        "position",
        |mut c: Caller<'_, Host>, symbol: i32, out: i32| {
            let i = symbol_index(&mut c, symbol)?;
            let held = c.data().positions[i];
            write(&mut c, out, &decimal_bytes(held))
        },
    )?;
    l.func_wrap(
        m,
        "last_price",
        |mut c: Caller<'_, Host>, symbol: i32, out: i32| {
            let i = symbol_index(&mut c, symbol)?;
            match c.data().last_prices[i] {
                Some(p) => write(&mut c, out, &decimal_bytes(p)).map(|()| 1),
                None => Ok(0),
            }
        },
    )?;
    l.func_wrap(m, "open_orders", |mut c: Caller<'_, Host>, symbol: i32| {
        let i = symbol_index(&mut c, symbol)?;
        Ok(i32::try_from(c.data().open_orders[i]).unwrap_or(i32::MAX))
    })?;
    l.func_wrap(m, "submit", |mut c: Caller<'_, Host>, ptr: i32| {
        if c.data().in_init {
            return stop(&mut c, "submits an order in init".into());
        }
        let bytes = read(&mut c, ptr, 64, 64)?;
        let (symbol, intent) = match order_of(c.data(), &bytes) {
            Ok(order) => order,
            Err(reason) => return stop(&mut c, format!("malformed order: {reason}")),
        };
        let host = c.data_mut();
        if host.submitted >= host.limits.max_orders_per_callback {
            let max = host.limits.max_orders_per_callback;
            return stop(&mut c, format!("more than {max} orders in one callback"));
        }
        host.submitted += 1;
        host.next_order += 1;
        let id = uuid::Uuid::new_v5(&host.strategy.as_uuid(), &host.next_order.to_be_bytes());
        host.open_orders[symbol] = host.open_orders[symbol].saturating_add(1);
        host.intents.push(HostIntent::Submit(intent));
        write(&mut c, ptr.saturating_add(64), id.as_bytes())
    })?;
    l.func_wrap(m, "cancel", |mut c: Caller<'_, Host>, ptr: i32| {
        let bytes = read(&mut c, ptr, 16, 16)?;
        let mut id = [0; 16];
        id.copy_from_slice(&bytes);
        let order = OrderId::from_uuid(uuid::Uuid::from_bytes(id));
        c.data_mut().intents.push(HostIntent::Cancel(order));
        Ok(())
    })?;
    l.func_wrap(m, "log", |mut c: Caller<'_, Host>, ptr: i32, len: i32| {
        let line = read(&mut c, ptr, len.min(512), 512)?;
        let host = c.data_mut();
        if host.logged < 16 {
            host.logged += 1;
            tracing::info!(
                target: "stratus::wasm",
                strategy = %host.strategy,
                "{}",
                String::from_utf8_lossy(&line)
            );
        }
        Ok(())
    })?;
    l.func_wrap(m, "fail", |mut c: Caller<'_, Host>, ptr: i32, len: i32| {
        let message = read(&mut c, ptr, len.min(1024), 1024)?;
        let message = String::from_utf8_lossy(&message).into_owned();
        stop::<()>(&mut c, format!("failed: {message}"))
    })?;
    Ok(l)
}

/// A failed call as a sentence: the host's reason, or the trap's.
fn reason(host: &Host, error: &wasmi::Error, callback: &str, fuel: u64) -> String {
    if let Some(failure) = &host.failure {
        return format!("{callback}: {failure}");
    }
    let why = match error.as_trap_code() {
        Some(TrapCode::OutOfFuel) => format!("ran out of fuel ({fuel} per call)"),
        Some(TrapCode::StackOverflow) => format!(
            "call stack exhausted (more than {} frames deep)",
            host.limits.max_call_depth
        ),
        Some(TrapCode::GrowthOperationLimited) => format!(
            "grew its memory past the limit of {} bytes",
            host.limits.max_memory_bytes
        ),
        Some(TrapCode::UnreachableCodeReached) => "trapped (unreachable: a panic)".into(),
        Some(code) => format!("trapped: {code}"),
        None => {
            let text = error.to_string();
            if text.contains("limit") && text.contains("memory") {
                format!(
                    "grew its memory past the limit of {} bytes",
                    host.limits.max_memory_bytes
                )
            } else {
                format!("trapped: {text}")
            }
        }
    };
    format!("{callback}: {why}")
}

type OnCandle = TypedFunc<(i32, i64, i64, f64, f64, f64, f64, f64), ()>;
type OnTick = TypedFunc<(i32, i64, f64, f64), ()>;
type OnFill = TypedFunc<(i32, i32, i64, i32, i64, i32, i64, i32, i64, i64, i64), ()>;

#[derive(Debug)]
struct Exports {
    alloc: TypedFunc<i32, i32>,
    init: TypedFunc<(), ()>,
    on_candle: OnCandle,
    on_tick: Option<OnTick>,
    on_fill: Option<OnFill>,
    on_timer: Option<TypedFunc<i64, ()>>,
    snapshot: TypedFunc<(), i64>,
    restore: TypedFunc<(i32, i32), ()>,
}

#[derive(Debug)]
struct Instance {
    store: Store<Host>,
    exports: Exports,
    /// Why the last snapshot failed (`snapshot` has `&self`): the strategy faults with
    /// it at its next callback.
    snapshot_failure: Option<String>,
}

fn instantiate(compiled: &Compiled, host: Host) -> Result<Instance, WasmError> {
    let engine = &compiled.engine;
    let failed = |e: wasmi::Error| WasmError::Instantiate(e.to_string());
    let fuel = host.limits.fuel_init;
    let mut store = Store::new(engine, host);
    store.limiter(|h| &mut h.store_limits);
    store.set_fuel(fuel).map_err(failed)?;
    let instance = linker(engine)
        .map_err(failed)?
        .instantiate_and_start(&mut store, &compiled.module)
        .map_err(failed)?;
    let memory = instance
        .get_memory(&store, "memory")
        .ok_or_else(|| WasmError::Export("no `memory` export".into()))?;
    store.data_mut().memory = Some(memory);
    let missing = |name: &str| WasmError::Export(format!("`{name}` has the wrong signature"));
    macro_rules! func {
        ($name:literal) => {
            instance
                .get_typed_func(&store, $name)
                .map_err(|_| missing($name))?
        };
    }
    macro_rules! optional {
        ($name:literal) => {
            match instance.get_export(&store, $name) {
                Some(_) => Some(func!($name)),
                None => None,
            }
        };
    }
    let exports = Exports {
        alloc: func!("stratus_alloc"),
        init: func!("stratus_init"),
        on_candle: func!("stratus_on_candle"),
        on_tick: optional!("stratus_on_tick"),
        on_fill: optional!("stratus_on_fill"),
        on_timer: optional!("stratus_on_timer"),
        snapshot: func!("stratus_snapshot"),
        restore: func!("stratus_restore"),
    };
    Ok(Instance {
        store,
        exports,
        snapshot_failure: None,
    })
}

/// Instantiates a module once with nothing deployed: data segments, memory and tables
/// within the caps (the upload check).
pub(crate) fn probe_instantiate(compiled: &Compiled, limits: &Limits) -> Result<(), WasmError> {
    instantiate(compiled, Host::new(*limits, Vec::new(), Vec::new())).map(|_| ())
}

/// What the module imports to read, decided once.
#[derive(Debug, Clone, Copy, Default)]
struct Reads {
    cash: bool,
    equity: bool,
    positions: bool,
    last_prices: bool,
    open_orders: bool,
    indicators: bool,
}

/// A user's module deployed as a strategy. See the module docs.
#[derive(Debug)]
pub struct WasmStrategy {
    name: String,
    instance: Mutex<Instance>,
    reads: Reads,
    symbols: Vec<Symbol>,
    fault: Option<String>,
    /// Fuel left to spend (see `Limits::fuel_per_second`), and when it was last topped up
    /// (engine time, ms).
    bucket: u64,
    refilled_ms: Option<i64>,
    _compiled: Arc<Compiled>,
}

impl WasmStrategy {
    /// Checks `config`'s parameters against the module's declaration and instantiates it.
    pub(crate) fn new(
        name: &str,
        compiled: Arc<Compiled>,
        config: &StrategyConfig,
        limits: Limits,
    ) -> Result<Self, StrategyError> {
        let docs: Vec<ParamDoc<'_>> = compiled.params.iter().map(|p| p.doc()).collect();
        let checked = Params::new(&compiled.info.name, &config.params, &docs)?;
        let mut params = Vec::with_capacity(docs.len());
        for doc in &docs {
            let value = match doc.kind {
                ParamKind::Integer { .. } => {
                    ParamValue::Int(i64::try_from(checked.integer(doc.name)?).unwrap_or(i64::MAX))
                }
                ParamKind::Number { .. } => ParamValue::Num(checked.number(doc.name)?),
                ParamKind::PositiveDecimal => {
                    let d = checked.positive_decimal(doc.name)?;
                    // The module reads it as the ABI's decimal: exactly, or not at all.
                    let (m, s) = decimal_to_wire(d);
                    if Decimal::new(m, s) != d {
                        return Err(StrategyError::InvalidParam {
                            strategy: compiled.info.name.clone(),
                            param: doc.name.to_owned(),
                            reason: format!(
                                "{d} does not fit a module's decimal (at most 18 places and 19 digits)"
                            ),
                        });
                    }
                    ParamValue::Dec(d)
                }
            };
            params.push((doc.name.to_owned(), value));
        }
        let mut host = Host::new(limits, config.symbols.clone(), config.timeframes.clone());
        host.params = params;
        let instance = instantiate(&compiled, host).map_err(|e| StrategyError::Module {
            reason: e.to_string(),
        })?;
        let has = |name: &str| compiled.imports.has(name);
        let reads = Reads {
            cash: has("cash"),
            equity: has("equity"),
            positions: has("position"),
            last_prices: has("last_price"),
            open_orders: has("open_orders"),
            indicators: has("indicator_value"),
        };
        Ok(WasmStrategy {
            name: name.to_owned(),
            instance: Mutex::new(instance),
            reads,
            symbols: config.symbols.clone(),
            fault: None,
            bucket: limits.fuel_init,
            refilled_ms: None,
            _compiled: compiled,
        })
    }

    fn symbol_index(&self, symbol: Symbol) -> Option<i32> {
        self.symbols
            .iter()
            .position(|s| *s == symbol)
            .and_then(|i| i32::try_from(i).ok())
    }

    /// Copies what the module can read for this callback into its state.
    fn prepare(reads: Reads, host: &mut Host, ctx: &Context<'_>) {
        host.now_ms = ctx.now().nanos().div_euclid(1_000_000);
        host.strategy = ctx.strategy;
        host.next_order = *ctx.next_order;
        host.intents.clear();
        host.submitted = 0;
        host.logged = 0;
        host.failure = None;
        if reads.cash {
            host.cash = ctx.cash().value();
        }
        if reads.equity {
            host.equity = ctx.equity().ok().map(|m| m.value());
        }
        for (i, &symbol) in host.symbols.iter().enumerate() {
            if reads.positions {
                host.positions[i] = ctx.position(symbol);
            }
            if reads.last_prices {
                host.last_prices[i] = ctx.last_price(symbol).map(Price::value);
            }
            if reads.open_orders {
                host.open_orders[i] = u32::try_from(ctx.open_orders(symbol)).unwrap_or(u32::MAX);
            }
        }
        if reads.indicators {
            host.values.clear();
            for (id, (start, len)) in host.columns.iter_mut().enumerate() {
                let values = ctx.indicator(IndicatorId::from_index(id));
                *start = host.values.len();
                *len = values.len();
                host.values
                    .extend(values.iter().map(|v| v.unwrap_or(f64::NAN)));
            }
        }
    }

    /// Runs one callback with the per-callback budget; on success replays what it asked
    /// for into `ctx`, on failure records the fault (and asks for nothing).
    fn run(
        &mut self,
        ctx: &mut Context<'_>,
        callback: &str,
        call: impl FnOnce(&mut Store<Host>, &Exports) -> Result<(), wasmi::Error>,
    ) {
        if self.fault.is_some() {
            return;
        }
        let reads = self.reads;
        let Ok(instance) = self.instance.get_mut() else {
            self.fault = Some(format!("{callback}: the module's state was lost"));
            return;
        };
        if let Some(failure) = instance.snapshot_failure.take() {
            self.fault = Some(failure);
            return;
        }
        let limits = instance.store.data().limits;
        // Top the bucket up for the engine time that passed since the last callback.
        let now_ms = ctx.now().nanos().div_euclid(1_000_000);
        if let Some(last) = self.refilled_ms {
            let elapsed = u64::try_from(now_ms.saturating_sub(last)).unwrap_or(0);
            let earned = elapsed.saturating_mul(limits.fuel_per_second) / 1000;
            self.bucket = self.bucket.saturating_add(earned).min(limits.fuel_init);
        }
        self.refilled_ms = Some(now_ms);
        let fuel = limits.fuel_per_callback.min(self.bucket);
        let budget = || {
            format!(
                "{callback}: used up its fuel budget ({} a second of market time, {} at most in a burst)",
                limits.fuel_per_second, limits.fuel_init
            )
        };
        if fuel == 0 {
            self.fault = Some(budget());
            return;
        }
        Self::prepare(reads, instance.store.data_mut(), ctx);
        let outcome = instance
            .store
            .set_fuel(fuel)
            .and_then(|()| call(&mut instance.store, &instance.exports));
        let left = instance.store.get_fuel().unwrap_or(0);
        self.bucket = self.bucket.saturating_sub(fuel.saturating_sub(left));
        match outcome {
            Ok(()) => {
                for intent in instance.store.data_mut().intents.drain(..) {
                    match intent {
                        HostIntent::Submit(order) => {
                            ctx.submit(order);
                        }
                        HostIntent::Cancel(id) => ctx.cancel(id),
                    }
                }
            }
            Err(e) => {
                let host = instance.store.data_mut();
                host.intents.clear();
                let out_of_fuel = e.as_trap_code() == Some(TrapCode::OutOfFuel);
                self.fault = Some(if out_of_fuel && fuel < limits.fuel_per_callback {
                    budget()
                } else {
                    reason(host, &e, callback, fuel)
                });
            }
        }
    }
}

impl WasmStrategy {
    /// The module's snapshot bytes, on the per-callback budget (it runs at every
    /// commit of the live core).
    fn take_snapshot(instance: &mut Instance) -> Result<Vec<u8>, String> {
        let store = &mut instance.store;
        let limits = store.data().limits;
        let fuel = limits.fuel_per_callback;
        store.data_mut().failure = None;
        let packed = store
            .set_fuel(fuel)
            .and_then(|()| instance.exports.snapshot.call(&mut *store, ()))
            .map_err(|e| reason(store.data(), &e, "snapshot", fuel))?;
        let packed = packed as u64;
        let (ptr, len) = ((packed & 0xffff_ffff) as usize, (packed >> 32) as usize);
        if len > limits.max_snapshot_bytes {
            return Err(format!(
                "snapshot: {len} bytes; at most {}",
                limits.max_snapshot_bytes
            ));
        }
        let memory = store
            .data()
            .memory
            .ok_or_else(|| "snapshot: the module has no memory".to_owned())?;
        let mut bytes = vec![0; len];
        memory
            .read(store.as_context(), ptr, &mut bytes)
            .map_err(|_| "snapshot: its bytes are outside its memory".to_owned())?;
        Ok(bytes)
    }
}

impl Strategy for WasmStrategy {
    fn name(&self) -> &str {
        &self.name
    }

    fn init(&mut self, setup: &mut Setup<'_>) -> Result<(), StrategyError> {
        let Ok(instance) = self.instance.get_mut() else {
            return Err(StrategyError::Module {
                reason: "init: the module's state was lost".into(),
            });
        };
        let store = &mut instance.store;
        let fuel = store.data().limits.fuel_init;
        store.data_mut().failure = None;
        store.data_mut().in_init = true;
        let outcome = store
            .set_fuel(fuel)
            .and_then(|()| instance.exports.init.call(&mut *store, ()));
        store.data_mut().in_init = false;
        if let Err(e) = outcome {
            return Err(StrategyError::Module {
                reason: reason(store.data(), &e, "init", fuel),
            });
        }
        // The registry of a fresh slot is empty and dedupes as the host did: the ids the
        // module was handed are the registry's.
        let registrations = store.data().registrations.clone();
        for (expected, (symbol, timeframe, spec)) in registrations.into_iter().enumerate() {
            let id = setup.indicator(symbol, timeframe, spec)?;
            if id != IndicatorId::from_index(expected) {
                return Err(StrategyError::Module {
                    reason: "init: indicator ids disagree with the engine's".into(),
                });
            }
        }
        let n = store.data().registrations.len();
        store.data_mut().columns = vec![(0, 0); n];
        Ok(())
    }

    fn on_candle(&mut self, candle: &Candle, ctx: &mut Context<'_>) {
        let Some(symbol) = self.symbol_index(candle.symbol) else {
            return;
        };
        let f = domain::num::to_f64;
        let args = (
            symbol,
            i64::from(candle.timeframe.seconds()),
            candle.end.nanos().div_euclid(1_000_000),
            f(candle.open.value()),
            f(candle.high.value()),
            f(candle.low.value()),
            f(candle.close.value()),
            f(candle.volume.value()),
        );
        self.run(ctx, "on_candle", |store, e| e.on_candle.call(store, args));
    }

    fn on_tick(&mut self, tick: &Tick, ctx: &mut Context<'_>) {
        let Some(symbol) = self.symbol_index(tick.symbol) else {
            return;
        };
        let f = domain::num::to_f64;
        let args = (
            symbol,
            tick.time.nanos().div_euclid(1_000_000),
            f(tick.price.value()),
            f(tick.size.value()),
        );
        self.run(ctx, "on_tick", |store, e| match &e.on_tick {
            Some(func) => func.call(store, args),
            None => Ok(()),
        });
    }

    fn on_fill(&mut self, fill: &Fill, ctx: &mut Context<'_>) {
        let Some(symbol) = self.symbol_index(fill.symbol) else {
            return;
        };
        let (qm, qs) = decimal_to_wire(fill.quantity.value());
        let (pm, ps) = decimal_to_wire(fill.price.value());
        let (fm, fs) = decimal_to_wire(fill.fee.value());
        let id = fill.order_id.as_uuid().as_u128();
        let scale = |s: u32| i32::try_from(s).unwrap_or(0);
        let args = (
            symbol,
            i32::from(fill.side == Side::Sell),
            qm,
            scale(qs),
            pm,
            scale(ps),
            fm,
            scale(fs),
            (id >> 64) as u64 as i64,
            id as u64 as i64,
            fill.time.nanos().div_euclid(1_000_000),
        );
        self.run(ctx, "on_fill", |store, e| match &e.on_fill {
            Some(func) => func.call(store, args),
            None => Ok(()),
        });
    }

    fn on_timer(&mut self, now: domain::Timestamp, ctx: &mut Context<'_>) {
        let now_ms = now.nanos().div_euclid(1_000_000);
        self.run(ctx, "on_timer", |store, e| match &e.on_timer {
            Some(func) => func.call(store, now_ms),
            None => Ok(()),
        });
    }

    fn snapshot(&self) -> serde_json::Value {
        if self.fault.is_some() {
            return serde_json::Value::Null;
        }
        let Ok(mut instance) = self.instance.lock() else {
            return serde_json::json!({"error": "the module's state was lost"});
        };
        let instance = &mut *instance;
        match Self::take_snapshot(instance) {
            Ok(bytes) => serde_json::json!({
                "bytes": base64::engine::general_purpose::STANDARD.encode(bytes)
            }),
            Err(failure) => {
                // Kept for the next callback, which stops the strategy with it; until
                // then the snapshot says why it has no state.
                instance.snapshot_failure = Some(failure.clone());
                serde_json::json!({ "error": failure })
            }
        }
    }

    fn restore(&mut self, state: &serde_json::Value) -> Result<(), StrategyError> {
        let bad = |reason: String| StrategyError::BadSnapshot {
            strategy: self.name.clone(),
            reason,
        };
        if let Some(error) = state.get("error").and_then(|e| e.as_str()) {
            return Err(bad(format!("the snapshot failed: {error}")));
        }
        let Some(encoded) = state.get("bytes").and_then(|b| b.as_str()) else {
            // Nothing saved yet (a snapshot taken before the first callback is `bytes`
            // too; a null state is a fresh start).
            return if state.is_null() {
                Ok(())
            } else {
                Err(bad("expected {\"bytes\": base64}".into()))
            };
        };
        let Ok(instance) = self.instance.get_mut() else {
            return Err(bad("the module's state was lost".into()));
        };
        let max = instance.store.data().limits.max_snapshot_bytes;
        // Checked before decoding: base64 is 4 characters for 3 bytes.
        if encoded.len() / 4 * 3 > max {
            return Err(bad(format!("over {max} bytes")));
        }
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(encoded)
            .map_err(|e| bad(e.to_string()))?;
        let store = &mut instance.store;
        store.data_mut().failure = None;
        let fuel = store.data().limits.fuel_init;
        let len = i32::try_from(bytes.len()).map_err(|_| bad("too large".into()))?;
        let exports = &instance.exports;
        let outcome = store.set_fuel(fuel).and_then(|()| {
            let ptr = exports.alloc.call(&mut *store, len)?;
            let at = usize::try_from(ptr).map_err(|_| wasmi::Error::new("negative pointer"))?;
            let memory = store
                .data()
                .memory
                .ok_or_else(|| wasmi::Error::new("no memory"))?;
            memory
                .write(&mut *store, at, &bytes)
                .map_err(|_| wasmi::Error::new("stratus_alloc returned memory it does not have"))?;
            exports.restore.call(&mut *store, (ptr, len))
        });
        outcome.map_err(|e| bad(reason(store.data(), &e, "restore", fuel)))
    }

    fn fault(&self) -> Option<&str> {
        self.fault.as_deref()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decimals_travel_as_mantissa_and_scale() {
        let d = Decimal::new(123_456, 3);
        let bytes = decimal_bytes(d);
        assert_eq!(decimal_from(&bytes), Ok(d));
        assert_eq!(decimal_to_wire(Decimal::new(1_500, 3)), (15, 1));
        // 28 places do not fit in 18: rounded.
        let tiny = Decimal::from_i128_with_scale(1_234_567_890_123_456_789_012_345_678, 28);
        let (m, s) = decimal_to_wire(tiny);
        assert!(s <= 18);
        assert!((Decimal::new(m, s) - tiny).abs() < Decimal::new(1, 17));
        let mut bad = decimal_bytes(d);
        bad[8] = 19;
        assert!(decimal_from(&bad).is_err());
    }
}
