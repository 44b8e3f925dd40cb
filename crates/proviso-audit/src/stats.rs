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

/// ln Γ(x) for x > 0 (Lanczos, g = 7, nine terms: about 15 significant
/// digits).
fn ln_gamma(x: f64) -> f64 {
    const C: [f64; 9] = [
        0.999_999_999_999_809_9,
        676.520_368_121_885_1,
        -1_259.139_216_722_402_8,
        771.323_428_777_653_1,
        -176.615_029_162_140_6,
        12.507_343_278_686_905,
        -0.138_571_095_265_720_12,
        9.984_369_578_019_572e-6,
        1.505_632_735_149_311_6e-7,
    ];
    if x < 0.5 {
        // Reflection: Γ(x) Γ(1 - x) = π / sin(π x).
        let pi = std::f64::consts::PI;
        return (pi / (pi * x).sin()).ln() - ln_gamma(1.0 - x);
    }
    let x = x - 1.0;
    let t = x + 7.5;
    let a = C
        .iter()
        .enumerate()
        .skip(1)
        .fold(C[0], |a, (i, c)| a + c / (x + i as f64));
    0.5 * std::f64::consts::TAU.ln() + (x + 0.5) * t.ln() - t + a.ln()
}

/// ln P(X <= x) for X ~ Binomial(n, p): the pmf summed in log space from
/// `x` downwards, until the terms (falling from the mode down) are too
/// small to matter (below e^-45 of the sum). A few thousand terms at
/// most instead of `x`: the bisections of a Clopper–Pearson interval for
/// 27,000 flagged of 422,000 took 0.1 s summing them all.
fn ln_cdf(x: u64, n: u64, p: f64) -> f64 {
    if p <= 0.0 {
        return 0.0;
    }
    if p >= 1.0 {
        return if x >= n { 0.0 } else { f64::NEG_INFINITY };
    }
    let (lp, lq) = (p.ln(), (-p).ln_1p());
    let (nf, mode) = (n as f64, ((n + 1) as f64 * p).floor() as u64);
    let mut k = x.min(n);
    let kf = k as f64;
    let mut term = ln_gamma(nf + 1.0) - ln_gamma(kf + 1.0) - ln_gamma(nf - kf + 1.0)
        + kf * lp
        + (nf - kf) * lq; // ln pmf(k)
    let mut acc = term;
    while k > 0 {
        term += (k as f64).ln() - ((n - k + 1) as f64).ln() - lp + lq;
        k -= 1;
        let (hi, lo) = if acc > term { (acc, term) } else { (term, acc) };
        acc = hi + (lo - hi).exp().ln_1p();
        if k <= mode && term < acc - 45.0 {
            break;
        }
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
        // R: binom.test(27149, 422064)$conf.int -> 0.06358604 0.06506868
        let (l, u) = clopper_pearson(27_149, 422_064);
        assert!(
            (l - 0.063_586_04).abs() < 1e-8 && (u - 0.065_068_68).abs() < 1e-8,
            "{l} {u}"
        );
    }

    /// The cut-off sum is the whole sum, and ln Γ is the log of the
    /// factorial, where they can be computed directly.
    #[test]
    fn cdf_and_gamma_agree_with_direct_sums() {
        let mut fact = 0.0f64;
        for k in 1..=170u32 {
            fact += f64::from(k).ln();
            let g = ln_gamma(f64::from(k) + 1.0);
            assert!((g - fact).abs() < 1e-9 * fact.max(1.0), "{k}: {g} {fact}");
        }
        for n in [1u64, 7, 60, 300, 1000] {
            for p in [0.001, 0.05, 0.3, 0.5, 0.93] {
                for x in (0..=n).step_by((n as usize / 13).max(1)) {
                    // Every term, by the recurrence from pmf(0).
                    let (lp, lq) = (f64::ln(p), f64::ln(1.0 - p));
                    let (mut term, mut sum) = (n as f64 * lq, 0.0f64);
                    for k in 0..=x {
                        if k > 0 {
                            term += ((n - k + 1) as f64).ln() - (k as f64).ln() + lp - lq;
                        }
                        sum += term.exp();
                    }
                    let got = ln_cdf(x, n, p).exp();
                    assert!(
                        (got - sum.min(1.0)).abs() < 1e-9,
                        "x {x} n {n} p {p}: {got} {sum}"
                    );
                }
            }
        }
    }
}
