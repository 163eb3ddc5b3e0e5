//! `stratus bench matching`: the order book under a command mix shaped like
//! exchange-core's benchmark.
//!
//! The mix: about 80% amend (mostly moving a resting order by a few ticks, sometimes
//! reducing it), 10% new GTC limit orders, 6% cancels, 3% aggressive IOC orders and 1%
//! market and FOK orders, around 1,000 resting orders per side. Commands are generated
//! once, from a seed, by simulating them on a book (so cancels and amends target orders
//! that are really live), then replayed on a fresh copy of the pre-filled book: once
//! untimed per command for throughput, once timing every command for the latency
//! percentiles (the clock reads add ~20–40 ns to each latency sample, not to throughput).

use std::hint::black_box;
use std::time::Instant;

use clap::Args;
use domain::events::{AmendOrder, CancelOrder, OrderRef};
use domain::order::OrderRequest;
use domain::{
    AccountId, Currency, Instrument, OrderId, OrderType, Price, Quantity, Side, Symbol,
    TimeInForce, Timestamp,
};
use engine::matching::{BookEvent, Command, OrderBook, RestingOrderView, SelfTradePrevention};
use engine::rng::SplitMix64;
use rustc_hash::FxHashMap;

use super::percentile;

#[derive(Debug, Args)]
pub struct MatchingArgs {
    /// Number of timed commands.
    #[arg(long, default_value_t = 1_000_000)]
    ops: usize,
    /// Seed of the command mix.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Resting orders per side to pre-fill and keep the book near.
    #[arg(long, default_value_t = 1_000)]
    depth: usize,
    /// Throughput passes; the best is reported (the least disturbed by other load).
    #[arg(long, default_value_t = 3)]
    passes: usize,
}

const MID: i64 = 10_000; // 100.00 in ticks of 0.01
const SPREAD_RANGE: i64 = 250;
const ACCOUNTS: u128 = 1_000;

struct Workload {
    prefill: Vec<Command>,
    commands: Vec<Command>,
}

struct Generator {
    rng: SplitMix64,
    instrument: Instrument,
    book: OrderBook,
    /// The resting orders of each side, kept exact from the simulation's events so the
    /// mix can target live orders and hold the depth near `target_depth`.
    live: [Vec<OrderId>; 2],
    live_at: FxHashMap<OrderId, usize>,
    next_id: u128,
    target_depth: usize,
}

fn side_index(side: Side) -> usize {
    match side {
        Side::Buy => 0,
        Side::Sell => 1,
    }
}

impl Generator {
    fn price(&self, ticks: i64) -> Price {
        self.instrument
            .ticks_to_price(ticks.max(1))
            .expect("benchmark prices are small and positive")
    }

    fn quantity(&self, lots: u64) -> Quantity {
        self.instrument
            .lots_to_quantity(lots)
            .expect("benchmark quantities are small")
    }

    fn account(&mut self) -> AccountId {
        AccountId::from_u128(1 + u128::from(self.rng.below(ACCOUNTS as u64)))
    }

    /// A passive price on `side`: within `SPREAD_RANGE` ticks behind the mid.
    fn passive_ticks(&mut self, side: Side) -> i64 {
        let offset = self.rng.range_i64(1, SPREAD_RANGE);
        match side {
            Side::Buy => MID - offset,
            Side::Sell => MID + offset,
        }
    }

    fn new_limit(&mut self, side: Side, ticks: i64, tif: TimeInForce, lots: u64) -> Command {
        let id = OrderId::from_u128(self.next_id);
        self.next_id += 1;
        let account = self.account();
        Command::Place(OrderRequest {
            id,
            client_order_id: None,
            account_id: account,
            symbol: self.instrument.symbol(),
            side,
            order_type: OrderType::Limit {
                limit_price: self.price(ticks),
            },
            time_in_force: tif,
            quantity: self.quantity(lots),
        })
    }

    /// A random resting order of `side`.
    fn pick_live(&mut self, side: Side) -> Option<RestingOrderView> {
        let list = &self.live[side_index(side)];
        if list.is_empty() {
            return None;
        }
        let id = list[self.rng.below(list.len() as u64) as usize];
        self.book.resting_order(id)
    }

    /// Brings the live lists up to date for an order the last command touched.
    fn refresh(&mut self, id: OrderId) {
        match (self.book.resting_order(id), self.live_at.get(&id).copied()) {
            (Some(view), None) => {
                let list = &mut self.live[side_index(view.side)];
                self.live_at.insert(id, list.len());
                list.push(id);
            }
            (None, Some(at)) => {
                self.live_at.remove(&id);
                for list in &mut self.live {
                    if list.get(at) == Some(&id) {
                        list.swap_remove(at);
                        if let Some(&moved) = list.get(at) {
                            self.live_at.insert(moved, at);
                        }
                        break;
                    }
                }
            }
            _ => {}
        }
    }

    fn random_side(&mut self) -> Side {
        if self.rng.chance(0.5) {
            Side::Buy
        } else {
            Side::Sell
        }
    }

    fn next_command(&mut self) -> Command {
        let side = self.random_side();
        let roll = self.rng.below(100);
        let depth = self.live[side_index(side)].len();
        if roll < 80 {
            if let Some(view) = self.pick_live(side) {
                let order = OrderRef {
                    order_id: view.id,
                    account_id: view.account_id,
                    symbol: self.instrument.symbol(),
                };
                let current = self.instrument.price_to_ticks(view.price).unwrap_or(MID);
                let lots = self
                    .instrument
                    .quantity_to_lots(view.remaining)
                    .unwrap_or(1);
                let filled = self.instrument.quantity_to_lots(view.filled).unwrap_or(0);
                if self.rng.below(100) < 15 && lots > 1 {
                    return Command::Amend(AmendOrder {
                        order,
                        quantity: Some(self.quantity(filled + lots - 1)),
                        limit_price: None,
                        stop_price: None,
                    });
                }
                let step = self.rng.range_i64(-3, 3);
                let bound = |t: i64| match side {
                    Side::Buy => t.clamp(MID - SPREAD_RANGE, MID + 2),
                    Side::Sell => t.clamp(MID - 2, MID + SPREAD_RANGE),
                };
                let ticks = bound(current + if step == 0 { 1 } else { step });
                return Command::Amend(AmendOrder {
                    order,
                    quantity: None,
                    limit_price: Some(self.price(ticks)),
                    stop_price: None,
                });
            }
        }
        // New orders and cancels hold the depth between 90% and 110% of the target: a
        // new order on a full side becomes a cancel and a cancel on a thin side a new order.
        let (thin, full) = (
            depth < self.target_depth * 9 / 10,
            depth > self.target_depth * 11 / 10,
        );
        let wants_new = (roll < 90 && !full) || (roll < 96 && thin);
        if wants_new {
            let ticks = self.passive_ticks(side);
            let lots = 1 + self.rng.below(20);
            return self.new_limit(side, ticks, TimeInForce::Gtc, lots);
        }
        if roll < 96 {
            if let Some(view) = self.pick_live(side) {
                return Command::Cancel(CancelOrder {
                    order: OrderRef {
                        order_id: view.id,
                        account_id: view.account_id,
                        symbol: self.instrument.symbol(),
                    },
                });
            }
        }
        let lots = 1 + self.rng.below(10);
        if roll < 99 {
            let ticks = match side {
                Side::Buy => MID + 5,
                Side::Sell => MID - 5,
            };
            return self.new_limit(side, ticks, TimeInForce::Ioc, lots);
        }
        let id = OrderId::from_u128(self.next_id);
        self.next_id += 1;
        let account = self.account();
        let tif = if self.rng.chance(0.5) {
            TimeInForce::Fok
        } else {
            TimeInForce::Ioc
        };
        Command::Place(OrderRequest {
            id,
            client_order_id: None,
            account_id: account,
            symbol: self.instrument.symbol(),
            side,
            order_type: OrderType::Market,
            time_in_force: tif,
            quantity: self.quantity(lots),
        })
    }

    /// Applies a command to the simulation book and updates the live lists.
    fn simulate(&mut self, command: &Command, out: &mut Vec<BookEvent>) {
        out.clear();
        self.book.execute(command, Timestamp::EPOCH, out);
        for event in out.iter() {
            match event {
                BookEvent::Trade(t) => {
                    self.refresh(t.maker_order_id);
                    self.refresh(t.taker_order_id);
                }
                BookEvent::Accepted(o) | BookEvent::Expired(o) | BookEvent::Triggered(o) => {
                    self.refresh(o.order_id)
                }
                BookEvent::Cancelled(o) | BookEvent::Rejected(o) => self.refresh(o.order.order_id),
                BookEvent::Amended(a) => self.refresh(a.order.order_id),
            }
        }
    }
}

fn instrument() -> Instrument {
    let symbol = Symbol::parse("BENCH").expect("constant symbol is valid");
    Instrument::new(
        symbol,
        rust_decimal::Decimal::new(1, 2),
        1.into(),
        1.into(),
        Currency::USD,
    )
    .expect("constant instrument is valid")
}

fn generate(seed: u64, ops: usize, depth: usize) -> (Workload, OrderBook) {
    let instrument = instrument();
    let mut g = Generator {
        rng: SplitMix64::new(seed),
        book: OrderBook::new(instrument.clone(), SelfTradePrevention::CancelIncoming),
        instrument,
        live: [Vec::new(), Vec::new()],
        live_at: FxHashMap::default(),
        next_id: 1,
        target_depth: depth,
    };
    let mut out = Vec::new();
    let mut prefill = Vec::with_capacity(depth * 2);
    for _ in 0..depth {
        for side in [Side::Buy, Side::Sell] {
            let ticks = g.passive_ticks(side);
            let lots = 1 + g.rng.below(20);
            let command = g.new_limit(side, ticks, TimeInForce::Gtc, lots);
            g.simulate(&command, &mut out);
            prefill.push(command);
        }
    }
    let start_book = g.book.clone();
    let mut commands = Vec::with_capacity(ops);
    for _ in 0..ops {
        let command = g.next_command();
        g.simulate(&command, &mut out);
        commands.push(command);
    }
    (Workload { prefill, commands }, start_book)
}

/// The share of each kind of command, for the log line.
fn command_mix(commands: &[Command]) -> String {
    let mut counts = [0usize; 5];
    for c in commands {
        let kind = match c {
            Command::Amend(_) => 0,
            Command::Place(r) if r.time_in_force == TimeInForce::Gtc => 1,
            Command::Cancel(_) => 2,
            Command::Place(r) if r.order_type == OrderType::Market => 4,
            Command::Place(_) => 3,
            Command::ExpireDayOrders { .. } => 4,
        };
        counts[kind] += 1;
    }
    let pct = |n: usize| 100.0 * n as f64 / commands.len().max(1) as f64;
    format!(
        "{:.1}% amend, {:.1}% new GTC, {:.1}% cancel, {:.1}% IOC limit, {:.1}% market IOC/FOK",
        pct(counts[0]),
        pct(counts[1]),
        pct(counts[2]),
        pct(counts[3]),
        pct(counts[4])
    )
}

pub fn run(args: MatchingArgs) -> anyhow::Result<()> {
    anyhow::ensure!(args.ops > 0, "--ops must be at least 1");
    anyhow::ensure!(args.depth > 0, "--depth must be at least 1");
    anyhow::ensure!(args.passes > 0, "--passes must be at least 1");
    let (workload, start_book) = generate(args.seed, args.ops, args.depth);
    let mix = command_mix(&workload.commands);
    eprintln!(
        "matching: {} pre-fill orders, {} commands (seed {}): {mix}",
        workload.prefill.len(),
        workload.commands.len(),
        args.seed
    );

    let now = Timestamp::EPOCH;
    let mut out: Vec<BookEvent> = Vec::with_capacity(64);

    // Throughput: the whole replay under one clock, best of `passes`.
    let (mut events, mut trades) = (0usize, 0usize);
    let mut rates = Vec::with_capacity(args.passes);
    for _ in 0..args.passes {
        let mut book = start_book.clone();
        (events, trades) = (0, 0);
        let started = Instant::now();
        for command in &workload.commands {
            book.execute(command, now, &mut out);
            events += out.len();
            trades += out
                .iter()
                .filter(|e| matches!(e, BookEvent::Trade(_)))
                .count();
            out.clear();
        }
        let elapsed = started.elapsed();
        black_box(&book);
        rates.push(workload.commands.len() as f64 / elapsed.as_secs_f64());
    }
    eprintln!(
        "matching: throughput passes {:?} ops/s",
        rates.iter().map(|r| r.round()).collect::<Vec<_>>()
    );
    let ops_per_sec = rates.iter().copied().fold(0.0, f64::max);

    // Latency: the same replay, every command timed.
    let mut book = start_book;
    let mut samples: Vec<u64> = Vec::with_capacity(workload.commands.len());
    for command in &workload.commands {
        let t0 = Instant::now();
        book.execute(command, now, &mut out);
        samples.push(t0.elapsed().as_nanos() as u64);
        out.clear();
    }
    samples.sort_unstable();
    eprintln!(
        "matching: {events} events, {trades} trades, {} bids / {} asks resting at the end",
        book.resting_orders(Side::Buy).len(),
        book.resting_orders(Side::Sell).len()
    );

    let line = serde_json::json!({
        "bench": "matching",
        "ops": workload.commands.len(),
        "ops_per_sec": ops_per_sec.round(),
        "p50_ns": percentile(&samples, 50.0),
        "p99_ns": percentile(&samples, 99.0),
        "p999_ns": percentile(&samples, 99.9),
    });
    println!("{line}");
    Ok(())
}
