//! Crossover detection between two series, e.g. a fast and a slow moving average, or a
//! price and a band: the event most rule-based strategies trade on.
//!
//! Fed one pair `(a, b)` per step: [`Cross::Above`] when `a` goes from `≤ b` to `> b`,
//! [`Cross::Below`] when it goes from `≥ b` to `< b`. Touching (`a == b`) is not a cross
//! by itself; leaving the touch on the other side is. The first pair after `new()` or
//! `reset()` never crosses: there is no previous side to compare with. A pair with a NaN
//! compares as neither side, so it neither crosses nor is crossed from.

/// The direction in which `a` crossed `b`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub enum Cross {
    Above,
    Below,
}

#[derive(Debug, Clone, Default, serde::Serialize, serde::Deserialize)]
pub struct Crossover {
    previous: Option<(f64, f64)>,
}

impl Crossover {
    pub fn new() -> Self {
        Crossover::default()
    }

    pub fn update(&mut self, a: f64, b: f64) -> Option<Cross> {
        let (previous_a, previous_b) = self.previous.replace((a, b))?;
        if previous_a <= previous_b && a > b {
            Some(Cross::Above)
        } else if previous_a >= previous_b && a < b {
            Some(Cross::Below)
        } else {
            None
        }
    }

    pub fn reset(&mut self) {
        self.previous = None;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(pairs: &[(f64, f64)]) -> Vec<Option<Cross>> {
        let mut crossover = Crossover::new();
        pairs.iter().map(|&(a, b)| crossover.update(a, b)).collect()
    }

    #[test]
    fn reports_each_change_of_side() {
        let got = run(&[(1.0, 2.0), (3.0, 2.0), (4.0, 2.0), (1.0, 2.0), (0.0, 2.0)]);
        assert_eq!(
            got,
            [None, Some(Cross::Above), None, Some(Cross::Below), None]
        );
    }

    #[test]
    fn the_first_pair_never_crosses() {
        assert_eq!(run(&[(5.0, 1.0)]), [None]);
        assert_eq!(run(&[(1.0, 5.0)]), [None]);
    }

    #[test]
    fn leaving_a_touch_is_a_cross_touching_is_not() {
        let got = run(&[
            (1.0, 2.0),
            (2.0, 2.0),
            (3.0, 2.0),
            (2.0, 2.0),
            (2.0, 2.0),
            (1.0, 2.0),
        ]);
        assert_eq!(
            got,
            [
                None,
                None,
                Some(Cross::Above),
                None,
                None,
                Some(Cross::Below)
            ]
        );
    }

    #[test]
    fn both_series_moving_counts_only_their_order() {
        // a stays below b although both rise; then b falls through a.
        let got = run(&[(1.0, 2.0), (5.0, 6.0), (5.0, 4.0)]);
        assert_eq!(got, [None, None, Some(Cross::Above)]);
    }

    #[test]
    fn nan_neither_crosses_nor_is_crossed_from() {
        let got = run(&[(1.0, 2.0), (f64::NAN, 2.0), (3.0, 2.0), (1.0, 2.0)]);
        assert_eq!(got, [None, None, None, Some(Cross::Below)]);
    }

    #[test]
    fn reset_forgets_the_side() {
        let mut crossover = Crossover::new();
        crossover.update(1.0, 2.0);
        crossover.reset();
        assert_eq!(crossover.update(3.0, 2.0), None);
    }
}
