//! The highest (or lowest) of the last `period` values in amortized O(1) per update.
//!
//! A monotonic deque of candidates: a value is dropped as soon as a newer one is at least
//! as extreme, because it can never be the answer again (the newer one outlives it). The
//! front is then the extreme of the window; each value enters and leaves the deque once.

use std::collections::VecDeque;

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub(crate) enum Extreme {
    Highest,
    Lowest,
}

#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub(crate) struct RollingExtreme {
    extreme: Extreme,
    period: usize,
    /// (input index, value), oldest first, strictly more extreme towards the front.
    candidates: VecDeque<(usize, f64)>,
    next_index: usize,
}

impl RollingExtreme {
    pub(crate) fn new(extreme: Extreme, period: usize) -> Self {
        RollingExtreme {
            extreme,
            period,
            candidates: VecDeque::with_capacity(period),
            next_index: 0,
        }
    }

    /// Adds `value` and returns the extreme of the last `period` values (fewer while the
    /// window fills).
    pub(crate) fn push(&mut self, value: f64) -> f64 {
        let index = self.next_index;
        self.next_index += 1;
        while let Some(&(_, newest)) = self.candidates.back() {
            let outlived = match self.extreme {
                Extreme::Highest => newest <= value,
                Extreme::Lowest => newest >= value,
            };
            if !outlived {
                break;
            }
            self.candidates.pop_back();
        }
        self.candidates.push_back((index, value));
        while let Some(&(oldest, _)) = self.candidates.front() {
            if oldest + self.period > index {
                break;
            }
            self.candidates.pop_front();
        }
        // The value just pushed is inside the window, so the deque is not empty.
        self.candidates
            .front()
            .map_or(value, |&(_, extreme)| extreme)
    }

    pub(crate) fn clear(&mut self) {
        self.candidates.clear();
        self.next_index = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_a_scan_of_the_window() {
        let values: Vec<f64> = (0..500).map(|i| f64::from((i * 7919) % 613)).collect();
        for period in [1, 2, 3, 14, 50] {
            let mut highest = RollingExtreme::new(Extreme::Highest, period);
            let mut lowest = RollingExtreme::new(Extreme::Lowest, period);
            for (i, &v) in values.iter().enumerate() {
                let window = &values[(i + 1).saturating_sub(period)..=i];
                let max = window.iter().copied().fold(f64::MIN, f64::max);
                let min = window.iter().copied().fold(f64::MAX, f64::min);
                assert_eq!(highest.push(v), max, "period {period} at {i}");
                assert_eq!(lowest.push(v), min, "period {period} at {i}");
            }
        }
    }

    #[test]
    fn clear_starts_a_new_window() {
        let mut highest = RollingExtreme::new(Extreme::Highest, 3);
        highest.push(10.0);
        highest.clear();
        assert_eq!(highest.push(1.0), 1.0);
    }
}
