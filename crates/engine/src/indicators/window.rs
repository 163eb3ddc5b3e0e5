//! The last `period` values of a series, oldest first: the window of a moving statistic.

use std::collections::VecDeque;

#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub(crate) struct Window {
    period: usize,
    values: VecDeque<f64>,
}

impl Window {
    pub(crate) fn new(period: usize) -> Self {
        Window {
            period,
            values: VecDeque::with_capacity(period),
        }
    }

    /// Appends `value` and returns the value that left the window to make room, if any.
    pub(crate) fn push(&mut self, value: f64) -> Option<f64> {
        let leaving = if self.is_full() {
            self.values.pop_front()
        } else {
            None
        };
        self.values.push_back(value);
        leaving
    }

    pub(crate) fn is_full(&self) -> bool {
        self.values.len() == self.period
    }

    /// Number of values held (at most the period).
    pub(crate) fn len(&self) -> usize {
        self.values.len()
    }

    /// Oldest first.
    pub(crate) fn iter(&self) -> impl Iterator<Item = f64> + '_ {
        self.values.iter().copied()
    }

    pub(crate) fn clear(&mut self) {
        self.values.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn holds_the_last_period_values() {
        let mut window = Window::new(2);
        assert_eq!(window.push(1.0), None);
        assert!(!window.is_full());
        assert_eq!(window.push(2.0), None);
        assert!(window.is_full());
        assert_eq!(window.push(3.0), Some(1.0));
        assert_eq!(window.iter().collect::<Vec<_>>(), [2.0, 3.0]);
        window.clear();
        assert_eq!(window.len(), 0);
    }
}
