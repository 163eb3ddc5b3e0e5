//! What [`crate::export!`] wires the ABI's exports to: the one instance of the strategy,
//! the callbacks, snapshots. Not for direct use.

use core::cell::UnsafeCell;

use crate::{Candle, Context, Decimal, Fill, OrderId, Setup, Side, Strategy, Tick, sys};

/// The strategy instance. A module is single-threaded and the host never re-enters it,
/// so one callback at a time has it.
pub struct Slot<S>(UnsafeCell<Option<S>>);

// SAFETY: wasm32-unknown-unknown has one thread; the host calls one export at a time.
unsafe impl<S> Sync for Slot<S> {}

impl<S> Slot<S> {
    pub const fn new() -> Self {
        Slot(UnsafeCell::new(None))
    }

    #[allow(clippy::mut_from_ref)]
    fn get(&self) -> &mut Option<S> {
        // SAFETY: see the `Sync` impl: no two references are ever live at once.
        unsafe { &mut *self.0.get() }
    }
}

impl<S> Default for Slot<S> {
    fn default() -> Self {
        Self::new()
    }
}

/// The declaration string as the bytes of its custom section.
pub const fn bytes<const N: usize>(text: &str) -> [u8; N] {
    let source = text.as_bytes();
    let mut out = [0u8; N];
    let mut i = 0;
    while i < N {
        out[i] = source[i];
        i += 1;
    }
    out
}

static SNAPSHOT: Slot<Vec<u8>> = Slot::new();

pub fn alloc(len: i32) -> i32 {
    let buffer: &'static mut [u8] = vec![0u8; usize::try_from(len).unwrap_or(0)].leak();
    buffer.as_mut_ptr() as i32
}

fn with<S: Strategy>(slot: &Slot<S>, f: impl FnOnce(&mut S, &mut Context)) {
    let mut ctx = Context { _private: () };
    match slot.get() {
        Some(strategy) => f(strategy, &mut ctx),
        None => sys::fail("a callback before init"),
    }
}

pub fn init<S: Strategy>(slot: &Slot<S>) {
    // A panic anywhere stops the strategy with its message (the host shows it).
    std::panic::set_hook(Box::new(|info| {
        let message = info.to_string();
        sys::fail(&message);
    }));
    let mut setup = Setup { _private: () };
    *slot.get() = Some(S::init(&mut setup));
}

#[allow(clippy::too_many_arguments)]
pub fn on_candle<S: Strategy>(
    slot: &Slot<S>,
    symbol: i32,
    timeframe: i64,
    end_ms: i64,
    open: f64,
    high: f64,
    low: f64,
    close: f64,
    volume: f64,
) {
    let candle = Candle {
        symbol: usize::try_from(symbol).unwrap_or(0),
        timeframe: u32::try_from(timeframe).unwrap_or(0),
        end_ms,
        open,
        high,
        low,
        close,
        volume,
    };
    with(slot, |s, ctx| s.on_candle(&candle, ctx));
}

pub fn on_tick<S: Strategy>(slot: &Slot<S>, symbol: i32, time_ms: i64, price: f64, quantity: f64) {
    let tick = Tick {
        symbol: usize::try_from(symbol).unwrap_or(0),
        time_ms,
        price,
        quantity,
    };
    with(slot, |s, ctx| s.on_tick(&tick, ctx));
}

pub fn on_fill<S: Strategy>(
    slot: &Slot<S>,
    symbol: i32,
    side: i32,
    decimals: [(i64, i32); 3],
    order_hi: i64,
    order_lo: i64,
    time_ms: i64,
) {
    let d = |(m, s): (i64, i32)| Decimal::new(m, u32::try_from(s).unwrap_or(0));
    let fill = Fill {
        symbol: usize::try_from(symbol).unwrap_or(0),
        side: if side == 1 { Side::Sell } else { Side::Buy },
        quantity: d(decimals[0]),
        price: d(decimals[1]),
        fee: d(decimals[2]),
        order: OrderId((u128::from(order_hi as u64) << 64) | u128::from(order_lo as u64)),
        time_ms,
    };
    with(slot, |s, ctx| s.on_fill(&fill, ctx));
}

pub fn on_timer<S: Strategy>(slot: &Slot<S>, now_ms: i64) {
    with(slot, |s, ctx| s.on_timer(now_ms, ctx));
}

pub fn snapshot<S: Strategy>(slot: &Slot<S>) -> i64 {
    let bytes = match slot.get() {
        Some(strategy) => strategy.snapshot(),
        None => Vec::new(),
    };
    let kept = SNAPSHOT.get().insert(bytes);
    ((kept.len() as i64) << 32) | i64::from(kept.as_ptr() as u32)
}

pub fn restore<S: Strategy>(slot: &Slot<S>, ptr: i32, len: i32) {
    let len = usize::try_from(len).unwrap_or(0);
    // SAFETY: the host wrote `len` bytes at `ptr`, which `alloc` handed out and leaked.
    let bytes = unsafe { core::slice::from_raw_parts(ptr as usize as *const u8, len) };
    match slot.get() {
        Some(strategy) => strategy.restore(bytes),
        None => sys::fail("restore before init"),
    }
}
