//! A running sum that does not drift.
//!
//! A moving sum adds each new value and subtracts each value leaving the window; with a
//! plain `f64` the rounding error of every one of those operations stays in the sum
//! forever, so after millions of updates the last digits are noise. Neumaier's variant of
//! Kahan summation carries the lost low-order bits in a second accumulator: the error is
//! then about one rounding of the current sum, however long the stream.

#[derive(Debug, Clone, Copy, Default, serde::Serialize, serde::Deserialize)]
pub(crate) struct CompensatedSum {
    sum: f64,
    /// The low-order bits that `sum` could not hold.
    compensation: f64,
}

impl CompensatedSum {
    pub(crate) fn add(&mut self, value: f64) {
        let total = self.sum + value;
        // Whichever operand is larger in magnitude is exact in `total`; the bits of the
        // smaller one that did not fit are recovered by subtracting back.
        if self.sum.abs() >= value.abs() {
            self.compensation += (self.sum - total) + value;
        } else {
            self.compensation += (value - total) + self.sum;
        }
        self.sum = total;
    }

    pub(crate) fn value(&self) -> f64 {
        self.sum + self.compensation
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_what_a_plain_sum_loses() {
        let mut compensated = CompensatedSum::default();
        let mut plain = 0.0f64;
        for value in [1e16, 1.0, -1e16] {
            compensated.add(value);
            plain += value;
        }
        assert_eq!(plain, 0.0);
        assert_eq!(compensated.value(), 1.0);
    }

    #[test]
    fn a_moving_sum_does_not_drift() {
        // A window of three over 0.1, 0.2, 0.3, …: add the newest, subtract the oldest.
        let values: Vec<f64> = (1..=1_000_000).map(|i| f64::from(i) * 0.1).collect();
        let mut sum = CompensatedSum::default();
        for (i, &value) in values.iter().enumerate() {
            sum.add(value);
            if i >= 3 {
                sum.add(-values[i - 3]);
            }
        }
        let exact: f64 = values[values.len() - 3..].iter().sum();
        assert!((sum.value() - exact).abs() <= 2.0 * exact * f64::EPSILON);
    }
}
