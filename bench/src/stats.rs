//! Summary statistics: median, spread and geometric means of time ratios.

/// Median of a sample (mean of the middle two for an even count); None when empty.
pub fn median(xs: &[f64]) -> Option<f64> {
    if xs.is_empty() {
        return None;
    }
    let mut v = xs.to_vec();
    v.sort_by(f64::total_cmp);
    let m = v.len() / 2;
    Some(if v.len() % 2 == 1 {
        v[m]
    } else {
        (v[m - 1] + v[m]) / 2.0
    })
}

pub fn min(xs: &[f64]) -> Option<f64> {
    xs.iter().copied().reduce(f64::min)
}

pub fn max(xs: &[f64]) -> Option<f64> {
    xs.iter().copied().reduce(f64::max)
}

/// Relative spread (max - min) / median: the noise figure used to judge changes.
pub fn spread(xs: &[f64]) -> Option<f64> {
    let med = median(xs)?;
    if med <= 0.0 {
        return None;
    }
    Some((max(xs)? - min(xs)?) / med)
}

/// Geometric mean of positive values; None when empty or any value is not positive
/// and finite (a ratio of a zero time has no meaningful logarithm).
pub fn geomean(xs: &[f64]) -> Option<f64> {
    if xs.is_empty() || xs.iter().any(|x| !x.is_finite() || *x <= 0.0) {
        return None;
    }
    Some((xs.iter().map(|x| x.ln()).sum::<f64>() / xs.len() as f64).exp())
}

/// Ratio of an engine's time to the baseline's; None when either is missing or the
/// baseline took no measurable time.
pub fn ratio(time: Option<f64>, baseline: Option<f64>) -> Option<f64> {
    match (time, baseline) {
        (Some(t), Some(b)) if b > 0.0 && t.is_finite() => Some(t / b),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn median_odd_even_empty() {
        assert_eq!(median(&[3.0, 1.0, 2.0]), Some(2.0));
        assert_eq!(median(&[4.0, 1.0, 3.0, 2.0]), Some(2.5));
        assert_eq!(median(&[]), None);
    }

    #[test]
    fn spread_is_relative_to_median() {
        let s = spread(&[0.9, 1.0, 1.2]).unwrap();
        assert!((s - 0.3).abs() < 1e-12);
        assert_eq!(spread(&[2.0]), Some(0.0));
    }

    #[test]
    fn geomean_of_ratios() {
        let g = geomean(&[2.0, 0.5]).unwrap();
        assert!((g - 1.0).abs() < 1e-12);
        let g = geomean(&[1.0, 4.0, 16.0]).unwrap();
        assert!((g - 4.0).abs() < 1e-12);
        assert_eq!(geomean(&[]), None);
        assert_eq!(geomean(&[1.0, 0.0]), None);
    }

    #[test]
    fn ratio_needs_both_sides() {
        assert_eq!(ratio(Some(3.0), Some(1.5)), Some(2.0));
        assert_eq!(ratio(None, Some(1.5)), None);
        assert_eq!(ratio(Some(1.0), None), None);
        assert_eq!(ratio(Some(1.0), Some(0.0)), None);
    }
}
