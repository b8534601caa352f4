//! Medians of repeated samples.

/// The median of `values` (the mean of the two middle values for an even count), or `None` for
/// no values. NaNs sort last.
#[must_use]
pub fn median(values: &[f64]) -> Option<f64> {
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    let n = sorted.len();
    let upper = sorted.get(n / 2).copied()?;
    if n % 2 == 1 {
        return Some(upper);
    }
    let lower = sorted.get(n / 2 - 1).copied()?;
    Some(f64::midpoint(lower, upper))
}

/// The median of the element-wise ratios `a[i] / b[i]` of samples taken side by side (so a
/// change of machine load between rounds cancels out), or `None` for no pairs.
#[must_use]
pub fn median_ratio(a: &[f64], b: &[f64]) -> Option<f64> {
    let ratios: Vec<f64> = a
        .iter()
        .zip(b)
        .filter(|(_, y)| **y > 0.0)
        .map(|(x, y)| x / y)
        .collect();
    median(&ratios)
}

/// The first and third quartiles of `values` (nearest rank), or `None` for no values: the
/// spread around a median.
#[must_use]
pub fn quartiles(values: &[f64]) -> Option<[f64; 2]> {
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    let at = |q: usize| {
        sorted
            .get((sorted.len().saturating_sub(1) * q + 2) / 4)
            .copied()
    };
    Some([at(1)?, at(3)?])
}

/// `x` rounded to `places` decimal places (for readable JSON).
#[must_use]
pub fn round(x: f64, places: i32) -> f64 {
    let scale = 10f64.powi(places);
    (x * scale).round() / scale
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn medians() {
        assert_eq!(median(&[]), None);
        assert_eq!(median(&[3.0]), Some(3.0));
        assert_eq!(median(&[5.0, 1.0, 3.0]), Some(3.0));
        assert_eq!(median(&[4.0, 1.0, 3.0, 2.0]), Some(2.5));
        assert_eq!(median_ratio(&[2.0, 3.0, 10.0], &[1.0, 3.0, 5.0]), Some(2.0));
        assert_eq!(median_ratio(&[1.0], &[0.0]), None);
        assert_eq!(round(1.23456, 2), 1.23);
        assert_eq!(quartiles(&[]), None);
        assert_eq!(quartiles(&[5.0, 1.0, 4.0, 2.0, 3.0]), Some([2.0, 4.0]));
    }
}
