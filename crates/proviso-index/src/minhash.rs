//! MinHash over word 3-shingles, and LSH banding.

use crate::Token;

/// Computes MinHash signatures with `n` hash functions `a_i * x + b_i`
/// (mod 2^64, upper 32 bits kept) over shingle hashes.
#[derive(Clone, Debug)]
pub struct MinHasher {
    a: Vec<u64>,
    b: Vec<u64>,
}

impl MinHasher {
    /// `n` permutations from a fixed seed (stored signatures depend on it).
    pub fn new(n: usize) -> Self {
        let mut s = 0x2545_F491_4F6C_DD1Du64;
        let mut next = || {
            s ^= s >> 12;
            s ^= s << 25;
            s ^= s >> 27;
            s.wrapping_mul(0x2545_F491_4F6C_DD1D)
        };
        let a = (0..n).map(|_| next() | 1).collect();
        let b = (0..n).map(|_| next()).collect();
        Self { a, b }
    }

    /// Number of values per signature.
    pub fn len(&self) -> usize {
        self.a.len()
    }

    /// Whether it has no hash functions.
    pub fn is_empty(&self) -> bool {
        self.a.is_empty()
    }

    /// The signature of a set of shingle hashes (empty set: all `u32::MAX`).
    pub fn signature(&self, shingles: &[u64]) -> Vec<u32> {
        let mut sig = vec![u32::MAX; self.a.len()];
        for &x in shingles {
            for (i, s) in sig.iter_mut().enumerate() {
                let v = (self.a[i].wrapping_mul(x).wrapping_add(self.b[i]) >> 32) as u32;
                if v < *s {
                    *s = v;
                }
            }
        }
        sig
    }

    /// Word 3-shingle hashes of tokens (the set MinHash is taken over).
    pub fn shingle_set(tokens: &[Token]) -> Vec<u64> {
        let mut v = crate::shingles(tokens, 3);
        v.sort_unstable();
        v.dedup();
        v
    }
}

/// The share of equal positions: an estimate of the Jaccard similarity.
pub fn jaccard_estimate(a: &[u32], b: &[u32]) -> f64 {
    if a.is_empty() || a.len() != b.len() {
        return 0.0;
    }
    a.iter().zip(b).filter(|(x, y)| x == y).count() as f64 / a.len() as f64
}

/// Band keys of a signature: `bands` bands of `rows` values each.
pub fn band_keys(sig: &[u32], bands: usize, rows: usize) -> Vec<u64> {
    (0..bands)
        .filter_map(|b| {
            let part = sig.get(b * rows..(b + 1) * rows)?;
            let mut bytes = Vec::with_capacity(rows * 4 + 1);
            bytes.push(b as u8);
            for v in part {
                bytes.extend_from_slice(&v.to_le_bytes());
            }
            Some(xxhash_rust::xxh3::xxh3_64_with_seed(&bytes, crate::SEED))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tokenize;

    #[test]
    fn similar_texts_have_similar_signatures() {
        let m = MinHasher::new(128);
        let a = "the quick brown fox jumps over the lazy dog and keeps running through the green field all day long";
        let b = "the quick brown fox jumps over the lazy cat and keeps running through the green field all day long";
        let c = "an entirely different sentence about databases indexes and query planning in practice today";
        let sa = m.signature(&MinHasher::shingle_set(&tokenize(a)));
        let sb = m.signature(&MinHasher::shingle_set(&tokenize(b)));
        let sc = m.signature(&MinHasher::shingle_set(&tokenize(c)));
        assert!(jaccard_estimate(&sa, &sb) > 0.6);
        assert!(jaccard_estimate(&sa, &sc) < 0.1);
        assert_eq!(band_keys(&sa, 32, 4).len(), 32);
    }
}
