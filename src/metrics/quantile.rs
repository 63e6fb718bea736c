//! `histogram_quantile` with Prometheus' semantics (promql/quantile.go): linear
//! interpolation inside the bucket holding the rank, the lower bound of the first bucket
//! taken as 0, and the +Inf bucket answered with the highest finite bound.

/// `buckets` are (upper bound `le`, cumulative count), in any order. Returns NaN when the
/// histogram has no +Inf bucket, fewer than two buckets, or no observations.
pub fn histogram_quantile(q: f64, buckets: &[(f64, f64)]) -> f64 {
    if q.is_nan() {
        return f64::NAN;
    }
    if q < 0.0 {
        return f64::NEG_INFINITY;
    }
    if q > 1.0 {
        return f64::INFINITY;
    }
    let mut b: Vec<(f64, f64)> = buckets.to_vec();
    b.sort_by(|x, y| x.0.total_cmp(&y.0));
    if b.len() < 2 || b.last().is_none_or(|l| l.0 != f64::INFINITY) {
        return f64::NAN;
    }
    // Scrapes are not atomic: a later bucket may read lower than an earlier one. Prometheus
    // forces monotonicity the same way.
    for i in 1..b.len() {
        if b[i].1 < b[i - 1].1 {
            b[i].1 = b[i - 1].1;
        }
    }
    let total = b[b.len() - 1].1;
    if total == 0.0 {
        return f64::NAN;
    }
    let mut rank = q * total;
    let i = b.iter().position(|(_, c)| *c >= rank).unwrap_or(b.len() - 1);
    if i == b.len() - 1 {
        return b[b.len() - 2].0;
    }
    if i == 0 && b[0].0 <= 0.0 {
        return b[0].0;
    }
    let (start, prev) = if i == 0 { (0.0, 0.0) } else { (b[i - 1].0, b[i - 1].1) };
    let end = b[i].0;
    let count = b[i].1 - prev;
    rank -= prev;
    start + (end - start) * (rank / count)
}

#[cfg(test)]
mod tests {
    use super::*;

    // Linkerd-style buckets (ms): 10 requests in (0,1], 30 in (1,5], 50 in (5,10], 10 over 10.
    const B: &[(f64, f64)] = &[(1.0, 10.0), (5.0, 40.0), (10.0, 90.0), (f64::INFINITY, 100.0)];

    #[test]
    fn interpolates_like_prometheus() {
        // rank 50 falls in (5,10]: 5 + 5 * (50-40)/50 = 6.
        assert_eq!(histogram_quantile(0.5, B), 6.0);
        // rank 5 in the first bucket, whose lower bound is 0: 1 * 5/10.
        assert_eq!(histogram_quantile(0.05, B), 0.5);
        // rank 90 is exactly the top of (5,10].
        assert_eq!(histogram_quantile(0.9, B), 10.0);
        // rank 99 lands in +Inf: the highest finite bound.
        assert_eq!(histogram_quantile(0.99, B), 10.0);
        assert_eq!(histogram_quantile(1.5, B), f64::INFINITY);
        assert_eq!(histogram_quantile(-0.1, B), f64::NEG_INFINITY);
    }

    #[test]
    fn degenerate_histograms_are_nan() {
        assert!(histogram_quantile(0.5, &[(1.0, 3.0), (2.0, 4.0)]).is_nan(), "no +Inf");
        assert!(histogram_quantile(0.5, &[(f64::INFINITY, 4.0)]).is_nan(), "one bucket");
        assert!(
            histogram_quantile(0.5, &[(1.0, 0.0), (f64::INFINITY, 0.0)]).is_nan(),
            "empty"
        );
    }

    #[test]
    fn unsorted_and_non_monotonic_input() {
        let b = [(f64::INFINITY, 100.0), (10.0, 90.0), (1.0, 10.0), (5.0, 40.0)];
        assert_eq!(histogram_quantile(0.5, &b), 6.0);
        // 5 reads lower than 1 (a torn scrape): treated as 10, so rank 15 is in (5,10].
        let torn = [(1.0, 10.0), (5.0, 8.0), (10.0, 20.0), (f64::INFINITY, 20.0)];
        assert_eq!(histogram_quantile(0.75, &torn), 5.0 + 5.0 * (15.0 - 10.0) / 10.0);
    }
}
