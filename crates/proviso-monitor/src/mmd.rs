//! The two-sample test of the shift signal: unbiased maximum mean
//! discrepancy (Gretton et al., 2012) with a Gaussian kernel whose width is
//! the median pairwise distance, and a permutation test for its p-value.

/// The result of one test.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct MmdTest {
    /// The unbiased MMD² estimate.
    pub mmd2: f64,
    /// The permutation p-value.
    pub p_value: f64,
}

/// Tests whether `x` and `y` (vectors of one dimension) come from the same
/// distribution. `None` when either sample has fewer than 4 vectors.
pub fn test(x: &[&[f32]], y: &[&[f32]], permutations: usize, seed: u64) -> Option<MmdTest> {
    let (n, m) = (x.len(), y.len());
    if n < 4 || m < 4 {
        return None;
    }
    let z: Vec<&[f32]> = x.iter().chain(y).copied().collect();
    let t = z.len();
    let mut d2 = vec![0f64; t * t];
    let mut all = Vec::with_capacity(t * (t - 1) / 2);
    for i in 0..t {
        for j in (i + 1)..t {
            let d: f64 = z[i]
                .iter()
                .zip(z[j])
                .map(|(a, b)| f64::from(a - b) * f64::from(a - b))
                .sum();
            d2[i * t + j] = d;
            d2[j * t + i] = d;
            all.push(d);
        }
    }
    all.sort_by(f64::total_cmp);
    let median = all[all.len() / 2].max(1e-6);
    let k: Vec<f64> = d2.iter().map(|d| (-d / median).exp()).collect();
    let stat = |idx: &[usize]| -> f64 {
        let (a, b) = idx.split_at(n);
        let mean_within = |s: &[usize]| {
            let mut acc = 0.0;
            for (p, &i) in s.iter().enumerate() {
                for &j in &s[p + 1..] {
                    acc += k[i * t + j];
                }
            }
            2.0 * acc / (s.len() * (s.len() - 1)) as f64
        };
        let mut cross = 0.0;
        for &i in a {
            for &j in b {
                cross += k[i * t + j];
            }
        }
        mean_within(a) + mean_within(b) - 2.0 * cross / (n * m) as f64
    };
    let mut idx: Vec<usize> = (0..t).collect();
    let observed = stat(&idx);
    let mut rng = seed | 1;
    let mut at_least = 0usize;
    for _ in 0..permutations {
        for i in (1..t).rev() {
            rng = splitmix(rng);
            let j = (rng % (i as u64 + 1)) as usize;
            idx.swap(i, j);
        }
        if stat(&idx) >= observed {
            at_least += 1;
        }
    }
    Some(MmdTest {
        mmd2: observed,
        p_value: (at_least + 1) as f64 / (permutations + 1) as f64,
    })
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
        let same = test(&r(&va)[..20], &r(&va)[20..], 200, 7).unwrap();
        assert!(same.p_value > 0.05, "{same:?}");
        let shifted = test(&r(&va), &r(&vc), 200, 7).unwrap();
        assert!(shifted.p_value < 0.01, "{shifted:?}");
        assert!(shifted.mmd2 > same.mmd2);
        let _ = vb;
        assert!(test(&r(&va)[..3], &r(&vc), 10, 1).is_none());
    }
}
