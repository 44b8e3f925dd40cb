//! The two-sample test of the shift signal: unbiased maximum mean
//! discrepancy (Gretton et al., 2012) with a Gaussian kernel whose width is
//! the median pairwise distance, and a permutation test for its p-value.

/// The result of one test.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct MmdTest {
    /// The unbiased MMD² estimate.
    pub mmd2: f64,
    /// The permutation p-value (an estimate when the test stopped early).
    pub p_value: f64,
    /// Permutations run.
    pub permutations: usize,
}

/// Tests whether `x` and `y` (unit vectors of one dimension) come from the
/// same distribution. `None` when either sample has fewer than 4 vectors.
///
/// The permutation test stops as soon as the p-value is certain to exceed
/// `stop_above` (the caller does not care how much larger it is), so
/// samples from one distribution cost a handful of permutations. Each
/// permutation costs one pass over the pairs within the first sample: with
/// row sums `R_i` and the total `S`, `Σ_{i∈X} R_i = 2·XX + XY` and
/// `YY = S − XX − XY`.
pub fn test(
    x: &[&[f32]],
    y: &[&[f32]],
    permutations: usize,
    stop_above: f64,
    seed: u64,
) -> Option<MmdTest> {
    test_with(x, y, None, permutations, stop_above, seed)
}

/// The dot products of every pair of `v` (row-major, `v.len()²`), to pass
/// to [`test_with`] when the second sample stays the same between tests.
pub fn gram(v: &[&[f32]]) -> Vec<f32> {
    let m = v.len();
    let mut g = vec![0f32; m * m];
    for i in 0..m {
        for j in (i + 1)..m {
            let d = dot(v[i], v[j]);
            g[i * m + j] = d;
            g[j * m + i] = d;
        }
    }
    g
}

/// [`test`], with the second sample's [`gram`] matrix computed before.
pub fn test_with(
    x: &[&[f32]],
    y: &[&[f32]],
    y_gram: Option<&[f32]>,
    permutations: usize,
    stop_above: f64,
    seed: u64,
) -> Option<MmdTest> {
    let (n, m) = (x.len(), y.len());
    if n < 4 || m < 4 {
        return None;
    }
    let z: Vec<&[f32]> = x.iter().chain(y).copied().collect();
    let t = z.len();
    // Squared distances of unit vectors: 2 − 2·a·b (dot products in f32).
    let mut d2 = vec![0f32; t * t];
    let mut all = Vec::with_capacity(t * (t - 1) / 2);
    let y_gram = y_gram.filter(|g| g.len() == m * m);
    for i in 0..t {
        for j in (i + 1)..t {
            let dot = match y_gram {
                Some(g) if i >= n => g[(i - n) * m + (j - n)],
                _ => dot(z[i], z[j]),
            };
            let d = (2.0 - 2.0 * dot).max(0.0);
            d2[i * t + j] = d;
            d2[j * t + i] = d;
            all.push(d);
        }
    }
    let mid = all.len() / 2;
    let median = f64::from(*all.select_nth_unstable_by(mid, f32::total_cmp).1).max(1e-6);
    let mut k = vec![0f64; t * t];
    let mut row = vec![0f64; t];
    let mut total = 0.0;
    for i in 0..t {
        for j in (i + 1)..t {
            let v = (-f64::from(d2[i * t + j]) / median).exp();
            k[i * t + j] = v;
            k[j * t + i] = v;
            row[i] += v;
            row[j] += v;
            total += v;
        }
    }
    let (nf, mf) = (n as f64, m as f64);
    let stat = |first: &[usize]| -> f64 {
        let mut xx = 0.0;
        let mut rx = 0.0;
        for (p, &i) in first.iter().enumerate() {
            rx += row[i];
            let ki = &k[i * t..(i + 1) * t];
            for &j in &first[p + 1..] {
                xx += ki[j];
            }
        }
        let xy = rx - 2.0 * xx;
        let yy = total - xx - xy;
        2.0 * xx / (nf * (nf - 1.0)) + 2.0 * yy / (mf * (mf - 1.0)) - 2.0 * xy / (nf * mf)
    };
    let mut idx: Vec<usize> = (0..t).collect();
    let observed = stat(&idx[..n]);
    let mut rng = seed | 1;
    let mut at_least = 0usize;
    let mut ran = 0usize;
    // Stop once (at_least + 1) / (permutations + 1) > stop_above for sure.
    let give_up = (stop_above * (permutations + 1) as f64).ceil() as usize;
    for _ in 0..permutations {
        // A partial Fisher–Yates shuffle: only the first n places matter.
        for i in 0..n {
            rng = splitmix(rng);
            let j = i + (rng % (t - i) as u64) as usize;
            idx.swap(i, j);
        }
        ran += 1;
        if stat(&idx[..n]) >= observed {
            at_least += 1;
            if at_least >= give_up {
                break;
            }
        }
    }
    Some(MmdTest {
        mmd2: observed,
        p_value: (at_least + 1) as f64 / (ran + 1) as f64,
        permutations: ran,
    })
}

/// A dot product in eight independent lanes, so the compiler can use SIMD
/// (a plain sum of f32 products is a serial dependency chain).
fn dot(a: &[f32], b: &[f32]) -> f32 {
    let mut acc = [0f32; 8];
    let (ca, cb) = (a.chunks_exact(8), b.chunks_exact(8));
    let (ra, rb) = (ca.remainder(), cb.remainder());
    for (x, y) in ca.zip(cb) {
        for l in 0..8 {
            acc[l] += x[l] * y[l];
        }
    }
    let tail: f32 = ra.iter().zip(rb).map(|(p, q)| p * q).sum();
    acc.iter().sum::<f32>() + tail
}

fn splitmix(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    let mut z = x;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::features::vector;

    fn vecs(texts: &[String]) -> Vec<Vec<f32>> {
        texts.iter().map(|t| vector(t)).collect()
    }

    #[test]
    fn same_distribution_is_not_rejected_and_a_shift_is() {
        let a: Vec<String> = (0..40)
            .map(|i| {
                format!(
                    "how do I cook {} with {} for dinner tonight",
                    ["rice", "pasta", "fish", "beans"][i % 4],
                    ["garlic", "lemon", "herbs", "chili", "butter"][i % 5]
                )
            })
            .collect();
        let b: Vec<String> = (0..40)
            .map(|i| {
                format!(
                    "how do I cook {} with {} for lunch today",
                    ["rice", "pasta", "fish", "beans"][(i + 1) % 4],
                    ["garlic", "lemon", "herbs", "chili", "butter"][(i + 2) % 5]
                )
            })
            .collect();
        let c: Vec<String> = (0..40)
            .map(|i| format!("Generate {i} diverse instructions with input and output for a dataset, step by step, topic {i}"))
            .collect();
        let (va, vb, vc) = (vecs(&a), vecs(&b), vecs(&c));
        fn r(v: &[Vec<f32>]) -> Vec<&[f32]> {
            v.iter().map(Vec::as_slice).collect()
        }
        let same = test(&r(&va)[..20], &r(&va)[20..], 200, 1.0, 7).unwrap();
        assert!(same.p_value > 0.05, "{same:?}");
        let shifted = test(&r(&va), &r(&vc), 200, 1.0, 7).unwrap();
        assert_eq!(shifted.permutations, 200);
        let early = test(&r(&va)[..20], &r(&va)[20..], 200, 0.03, 7).unwrap();
        assert!(early.permutations < 50 && early.p_value > 0.03, "{early:?}");
        assert!(shifted.p_value < 0.01, "{shifted:?}");
        assert!(shifted.mmd2 > same.mmd2);
        let _ = vb;
        assert!(test(&r(&va)[..3], &r(&vc), 10, 1.0, 1).is_none());
        let g = gram(&r(&vc));
        let cached = test_with(&r(&va), &r(&vc), Some(&g), 200, 1.0, 7).unwrap();
        assert!((cached.mmd2 - shifted.mmd2).abs() < 1e-6 && cached.p_value == shifted.p_value);
    }
}
