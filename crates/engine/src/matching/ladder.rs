//! One side of an order book: its price levels, found by price in O(1) and kept in
//! price order for the walk from the best price outwards.
//!
//! A `BTreeMap<price, Level>` alone costs a tree search for every cancel, amend and rest.
//! Here a hash map finds a level by price and a `BTreeSet` of prices is touched only when
//! a level appears or empties; the best price is cached. An exchange-core-shaped command
//! mix (mostly moves between existing levels) then does one hash lookup per level access.

use std::collections::BTreeSet;

use domain::{Price, Side};
use rustc_hash::FxHashMap;

use super::book::NIL;

/// One price level: its decimal price (for trade events) and its FIFO queue of nodes.
#[derive(Debug, Clone)]
pub(super) struct Level {
    pub price: Price,
    pub head: u32,
    pub tail: u32,
    /// Sum of the remaining lots of the queue.
    pub total: u64,
}

#[derive(Debug, Clone)]
pub(super) struct Ladder {
    side: Side,
    by_price: FxHashMap<i64, u32>,
    prices: BTreeSet<i64>,
    levels: Vec<Level>,
    free: Vec<u32>,
    best: Option<i64>,
}

impl Ladder {
    pub fn new(side: Side) -> Self {
        Ladder {
            side,
            by_price: FxHashMap::default(),
            prices: BTreeSet::new(),
            levels: Vec::new(),
            free: Vec::new(),
            best: None,
        }
    }

    /// The best price of this side and its level: highest bid, lowest ask.
    pub fn best(&self) -> Option<(i64, u32)> {
        let ticks = self.best?;
        self.by_price.get(&ticks).map(|&at| (ticks, at))
    }

    pub fn find(&self, ticks: i64) -> Option<u32> {
        self.by_price.get(&ticks).copied()
    }

    pub fn level(&self, at: u32) -> &Level {
        &self.levels[at as usize]
    }

    pub fn level_mut(&mut self, at: u32) -> &mut Level {
        &mut self.levels[at as usize]
    }

    fn is_better(&self, a: i64, b: i64) -> bool {
        match self.side {
            Side::Buy => a > b,
            Side::Sell => a < b,
        }
    }

    /// The level at `ticks`, created empty if there is none.
    pub fn get_or_insert(&mut self, ticks: i64, price: Price) -> u32 {
        if let Some(&at) = self.by_price.get(&ticks) {
            return at;
        }
        let level = Level {
            price,
            head: NIL,
            tail: NIL,
            total: 0,
        };
        let at = match self.free.pop() {
            Some(at) => {
                self.levels[at as usize] = level;
                at
            }
            None => {
                self.levels.push(level);
                (self.levels.len() - 1) as u32
            }
        };
        self.by_price.insert(ticks, at);
        self.prices.insert(ticks);
        if self.best.is_none_or(|best| self.is_better(ticks, best)) {
            self.best = Some(ticks);
        }
        at
    }

    /// Removes the (empty) level at `ticks`.
    pub fn remove(&mut self, ticks: i64) {
        let Some(at) = self.by_price.remove(&ticks) else {
            return;
        };
        self.free.push(at);
        self.prices.remove(&ticks);
        if self.best == Some(ticks) {
            self.best = match self.side {
                Side::Buy => self.prices.last().copied(),
                Side::Sell => self.prices.first().copied(),
            };
        }
    }

    /// Levels from the best price outwards.
    pub fn iter(&self) -> Box<dyn Iterator<Item = (i64, &Level)> + '_> {
        let level = move |t: &i64| (*t, &self.levels[self.by_price[t] as usize]);
        match self.side {
            Side::Buy => Box::new(self.prices.iter().rev().map(level)),
            Side::Sell => Box::new(self.prices.iter().map(level)),
        }
    }
}
