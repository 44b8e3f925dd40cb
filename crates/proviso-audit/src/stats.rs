//! Interval estimates for a contaminated fraction from a sample.

/// Wilson score interval for `x` successes in `n` trials at 95%.
pub fn wilson(x: u64, n: u64) -> (f64, f64) {
    if n == 0 {
        return (0.0, 1.0);
    }
    let z = 1.959_963_984_540_054_f64;
    let (n, p) = (n as f64, x as f64 / n as f64);
    let denom = 1.0 + z * z / n;
    let centre = (p + z * z / (2.0 * n)) / denom;
    let half = z * (p * (1.0 - p) / n + z * z / (4.0 * n * n)).sqrt() / denom;
    ((centre - half).max(0.0), (centre + half).min(1.0))
}

/// ln P(X <= x) for X ~ Binomial(n, p), by summing the pmf in log space.
fn ln_cdf(x: u64, n: u64, p: f64) -> f64 {
    if p <= 0.0 {
        return 0.0;
    }
    if p >= 1.0 {
        return if x >= n { 0.0 } else { f64::NEG_INFINITY };
    }
    let (lp, lq) = (p.ln(), (1.0 - p).ln());
    let mut term = n as f64 * lq; // ln pmf(0)
    let mut acc = term;
    for k in 0..x.min(n) {
        term += ((n - k) as f64).ln() - ((k + 1) as f64).ln() + lp - lq;
        let (hi, lo) = if acc > term { (acc, term) } else { (term, acc) };
        acc = hi + (lo - hi).exp().ln_1p();
    }
    acc.min(0.0)
}

fn bisect(f: impl Fn(f64) -> bool) -> f64 {
    // f is true on [0, r) and false on [r, 1]; returns r.
    let (mut lo, mut hi) = (0.0f64, 1.0f64);
    for _ in 0..60 {
        let mid = 0.5 * (lo + hi);
        if f(mid) { lo = mid } else { hi = mid }
    }
    0.5 * (lo + hi)
}

/// Clopper–Pearson ("exact") interval for `x` in `n` at 95%.
pub fn clopper_pearson(x: u64, n: u64) -> (f64, f64) {
    if n == 0 {
        return (0.0, 1.0);
    }
    let a = 0.025f64.ln();
    // Lower: the p where P(X >= x) = 2.5%, i.e. P(X <= x-1) = 97.5%.
    let lower = if x == 0 {
        0.0
    } else {
        bisect(|p| ln_cdf(x - 1, n, p) > 0.975f64.ln())
    };
    // Upper: the p where P(X <= x) = 2.5%.
    let upper = if x == n {
        1.0
    } else {
        bisect(|p| ln_cdf(x, n, p) > a)
    };
    (lower, upper)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() < 1e-3
    }

    #[test]
    fn reference_values() {
        // R: binom.test(10, 100)$conf.int -> 0.04900469 0.17622260
        let (l, u) = clopper_pearson(10, 100);
        assert!(close(l, 0.049_005) && close(u, 0.176_223), "{l} {u}");
        // R: prop.test-free Wilson for 10/100 -> 0.0552 0.1744
        let (l, u) = wilson(10, 100);
        assert!(close(l, 0.055_229) && close(u, 0.174_366), "{l} {u}");
        assert_eq!(clopper_pearson(0, 50).0, 0.0);
        assert!(close(clopper_pearson(0, 50).1, 0.071_12));
        assert_eq!(clopper_pearson(50, 50).1, 1.0);
    }
}
