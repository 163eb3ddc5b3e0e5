//! Downsampling a long curve to what a pixel grid can show: per pixel column, the lowest and
//! the highest point, in the order they occur.
//!
//! Unlike taking every n-th point, min/max per column keeps every spike and every trough
//! that would be visible at full resolution, so a drawdown does not vanish from the chart
//! because it fell between two samples.

/// Curves with more points than this are reduced; shorter ones are drawn as they are.
pub(crate) const MAX_POINTS: usize = 2_000;

#[derive(Debug, Clone, Copy)]
struct Extreme {
    index: usize,
    x: f64,
    y: f64,
}

/// The lowest and highest point seen in one pixel column.
#[derive(Debug, Clone, Copy)]
struct Column {
    low: Extreme,
    high: Extreme,
}

/// Reduces `points` (pixel coordinates, `len` of them) to at most two per pixel column of
/// the `[left, right]` band, plus the first and last point so the curve keeps its ends.
/// Columns are taken from `x`, so input need not be sorted for the bound to hold.
pub(crate) fn downsample(
    points: impl Iterator<Item = (f64, f64)>,
    len: usize,
    left: f64,
    right: f64,
) -> Vec<(f64, f64)> {
    if len <= MAX_POINTS {
        return points.collect();
    }
    let columns = (right - left).ceil().max(1.0) as usize + 1;
    let mut grid: Vec<Option<Column>> = vec![None; columns];
    let mut first = None;
    let mut last = None;
    for (index, (x, y)) in points.enumerate() {
        let point = Extreme { index, x, y };
        first.get_or_insert(point);
        last = Some(point);
        let column = ((x - left).floor().max(0.0) as usize).min(columns - 1);
        let cell = grid[column].get_or_insert(Column {
            low: point,
            high: point,
        });
        if y < cell.low.y {
            cell.low = point;
        }
        if y > cell.high.y {
            cell.high = point;
        }
    }
    let mut out: Vec<Extreme> = Vec::with_capacity(2 * columns + 2);
    out.extend(first);
    for column in grid.into_iter().flatten() {
        let (a, b) = if column.low.index <= column.high.index {
            (column.low, column.high)
        } else {
            (column.high, column.low)
        };
        out.push(a);
        if b.index != a.index {
            out.push(b);
        }
    }
    out.extend(last);
    out.dedup_by_key(|p| p.index);
    out.into_iter().map(|p| (p.x, p.y)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_curves_are_kept_whole() {
        let points: Vec<(f64, f64)> = (0..10).map(|i| (i as f64, i as f64)).collect();
        assert_eq!(
            downsample(points.iter().copied(), points.len(), 0.0, 100.0),
            points
        );
    }

    #[test]
    fn long_curves_keep_extremes_and_ends() {
        let n = 100_000;
        let points = (0..n).map(|i| {
            let x = i as f64 / n as f64 * 100.0;
            let y = if i == 50_001 { -500.0 } else { (i % 7) as f64 };
            (x, y)
        });
        let out = downsample(points, n, 0.0, 100.0);
        assert!(out.len() <= 2 * 101 + 2, "{}", out.len());
        assert!(out.iter().any(|&(_, y)| y == -500.0));
        assert_eq!(out.first(), Some(&(0.0, 0.0)));
        assert_eq!(out.last().map(|p| p.1), Some(((n - 1) % 7) as f64));
        assert!(out.windows(2).all(|w| w[0].0 <= w[1].0));
    }
}
