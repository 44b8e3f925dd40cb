//! MinHash over word 3-shingles, and LSH banding.

use crate::Token;

/// MinHash signatures by one-permutation hashing with optimal
/// densification (Shrivastava, 2017): one hash per shingle picks a bin and
/// a value, each bin keeps its minimum, and empty bins borrow from a bin
/// chosen by a fixed hash chain. One hash per shingle instead of one per
/// shingle and value, with the same estimator.
#[derive(Clone, Debug)]
pub struct MinHasher {
    n: usize,
    /// The first [`PROBES`] bins of each bin's densification chain,
    /// computed once: a short document leaves most bins empty, and hashing
    /// the chain for each of them cost more than the rest of its look-up.
    probes: Vec<u16>,
    /// For small signatures (up to [`FIRST_UP_TO`] bins): `first[j * n +
    /// f]`, the step at which bin `j`'s chain first reaches bin `f`
    /// (`u16::MAX`: not within [`FIRST_STEPS`]). A set that fills `e` bins
    /// then costs `min(e, n / e)` reads per empty bin instead of a chain of
    /// about `n / e` steps, which for a sentence (a few bins filled of 128)
    /// was most of the signature's time.
    first: Vec<u16>,
}

/// Steps of each bin's densification chain kept in [`MinHasher`] (a chain
/// runs about `bins / filled` steps; longer ones go on hashing).
const PROBES: usize = 32;

/// Signatures of at most this many values keep the first-reach table.
const FIRST_UP_TO: usize = 256;

/// Steps of a chain followed to fill the first-reach table (every bin is
/// reached within about `n ln n` steps, 620 for 128 bins).
const FIRST_STEPS: u64 = 8192;

/// The `t`-th bin of bin `j`'s densification chain, of `n` bins.
#[inline]
fn chain(j: usize, t: u64, n: u64) -> usize {
    (((mix64(((j as u64) << 32) | t) >> 32) * n) >> 32) as usize
}

use crate::fingerprint::mix64;

impl MinHasher {
    /// `n` values per signature (stored signatures depend on it).
    pub fn new(n: usize) -> Self {
        let n = n.max(1);
        // Chains are only kept when every bin number fits in 16 bits.
        let probes = if n <= usize::from(u16::MAX) {
            (0..n)
                .flat_map(|j| (0..PROBES as u64).map(move |t| chain(j, t, n as u64) as u16))
                .collect()
        } else {
            Vec::new()
        };
        let mut first = Vec::new();
        if n <= FIRST_UP_TO {
            first = vec![u16::MAX; n * n];
            for j in 0..n {
                let row = &mut first[j * n..(j + 1) * n];
                let mut left = n;
                let mut t = 0;
                while left > 0 && t < FIRST_STEPS {
                    let k = chain(j, t, n as u64);
                    if row[k] == u16::MAX {
                        row[k] = t as u16;
                        left -= 1;
                    }
                    t += 1;
                }
            }
        }
        Self { n, probes, first }
    }

    /// Number of values per signature.
    pub fn len(&self) -> usize {
        self.n
    }

    /// Whether it has no values (never: at least one).
    pub fn is_empty(&self) -> bool {
        self.n == 0
    }

    /// The signature of a set of shingle hashes (empty set: all `u32::MAX`).
    pub fn signature(&self, shingles: &[u64]) -> Vec<u32> {
        let mut bins = Vec::new();
        self.signature_into(shingles, &mut bins);
        bins
    }

    /// [`MinHasher::signature`] into `bins` (whatever it held replaced).
    pub(crate) fn signature_into(&self, shingles: &[u64], bins: &mut Vec<u32>) {
        let n = self.n as u64;
        bins.clear();
        bins.resize(self.n, u32::MAX);
        for &x in shingles {
            let h = mix64(x ^ crate::SEED);
            // The bin from the upper half (multiply-shift, no division), the
            // value from the lower half: independent bits.
            let b = (((h >> 32) * n) >> 32) as usize;
            let v = h as u32;
            if let Some(slot) = bins.get_mut(b) {
                *slot = (*slot).min(v);
            }
        }
        if shingles.is_empty() || !bins.contains(&u32::MAX) {
            return;
        }
        // The bins as hashed (on the stack for up to 256 values), read
        // while the empty ones are filled from them.
        let mut stack = [0u32; 256];
        let heap;
        let orig: &[u32] = match stack.get_mut(..bins.len()) {
            Some(s) => {
                s.copy_from_slice(bins);
                s
            }
            None => {
                heap = bins.clone();
                &heap
            }
        };
        let nfilled = orig.iter().filter(|&&v| v != u32::MAX).count();
        let by_first = !self.first.is_empty() && nfilled * nfilled < self.n;
        // Only a text with very few filled bins takes them from the table
        // of first reaches.
        let filled: Vec<usize> = if by_first {
            (0..self.n).filter(|&j| orig[j] != u32::MAX).collect()
        } else {
            Vec::new()
        };
        for (j, slot) in bins.iter_mut().enumerate() {
            if orig[j] != u32::MAX {
                continue;
            }
            if by_first {
                let row = self.first.get(j * self.n..(j + 1) * self.n).unwrap_or(&[]);
                // The filled bin the chain reaches first (steps differ: a
                // step reaches one bin).
                if let Some(&f) = filled
                    .iter()
                    .filter(|&&f| row.get(f).is_some_and(|&t| t != u16::MAX))
                    .min_by_key(|&&f| row[f])
                {
                    *slot = orig[f];
                    continue;
                }
            }
            let kept = self.probes.get(j * PROBES..(j + 1) * PROBES).unwrap_or(&[]);
            if let Some(v) = kept
                .iter()
                .map(|&k| orig[usize::from(k)])
                .find(|&v| v != u32::MAX)
            {
                *slot = v;
                continue;
            }
            let mut t = kept.len() as u64;
            loop {
                let k = chain(j, t, n);
                if orig[k] != u32::MAX {
                    *slot = orig[k];
                    break;
                }
                t += 1;
            }
        }
    }

    /// Word 3-shingle hashes of tokens: the set MinHash is taken over,
    /// with repeats (a minimum does not change when a value repeats, so
    /// the signature is that of the set without sorting them out).
    pub fn shingle_set(tokens: &[Token]) -> Vec<u64> {
        let mut out = Vec::new();
        Self::shingle_set_into(tokens, &mut out);
        out
    }

    /// [`MinHasher::shingle_set`] into `out` (cleared first).
    pub(crate) fn shingle_set_into(tokens: &[Token], out: &mut Vec<u64>) {
        crate::fingerprint::shingles_into(tokens, 3, out);
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
    let mut out = Vec::new();
    band_keys_into(sig, bands, rows, &mut out);
    out
}

/// [`band_keys`] into `out` (cleared first); each band's bytes are laid
/// out on the stack (up to 15 rows; more, in a buffer).
pub(crate) fn band_keys_into(sig: &[u32], bands: usize, rows: usize, out: &mut Vec<u64>) {
    out.clear();
    let mut stack = [0u8; 64];
    let mut heap = Vec::new();
    for b in 0..bands {
        let Some(part) = sig.get(b * rows..(b + 1) * rows) else {
            break;
        };
        let len = 1 + rows * 4;
        let bytes: &mut [u8] = match stack.get_mut(..len) {
            Some(s) => s,
            None => {
                heap.resize(len, 0);
                &mut heap
            }
        };
        bytes[0] = b as u8;
        for (slot, v) in bytes[1..].chunks_exact_mut(4).zip(part) {
            slot.copy_from_slice(&v.to_le_bytes());
        }
        out.push(xxhash_rust::xxh3::xxh3_64_with_seed(bytes, crate::SEED));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tokenize;

    /// A band's key is xxh3 of its number (a byte) and its values (little
    /// endian), however many rows it has.
    #[test]
    fn band_keys_are_the_hash_of_their_bytes() {
        let sig: Vec<u32> = (0..160u32).map(|i| i.wrapping_mul(0x9E37_79B9)).collect();
        for (bands, rows) in [(32, 4), (16, 8), (8, 20), (160, 1)] {
            let want: Vec<u64> = (0..bands)
                .map(|b| {
                    let mut bytes = vec![b as u8];
                    for v in &sig[b * rows..(b + 1) * rows] {
                        bytes.extend_from_slice(&v.to_le_bytes());
                    }
                    xxhash_rust::xxh3::xxh3_64_with_seed(&bytes, crate::SEED)
                })
                .collect();
            assert_eq!(band_keys(&sig, bands, rows), want, "{bands} x {rows}");
        }
    }

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

    /// The kept chains give the signature the definition gives, for sets
    /// small enough that chains run past the kept steps, with signatures
    /// of a few sizes (a signature of more than 256 values keeps no table
    /// of first reaches), for sets of one to three hundred shingles.
    #[test]
    fn kept_chains_are_the_definition() {
        for (n, size) in [64usize, 100, 128, 256, 300]
            .into_iter()
            .flat_map(|n| [1u64, 2, 3, 5, 7, 8, 9, 10, 12, 14, 16, 40, 300].map(|s| (n, s)))
        {
            let m = MinHasher::new(n);
            let set: Vec<u64> = (0..size).map(|i| i * 7919 + size).collect();
            let mut want = vec![u32::MAX; n];
            for &x in &set {
                let h = mix64(x ^ crate::SEED);
                let b = (((h >> 32) * n as u64) >> 32) as usize;
                want[b] = want[b].min(h as u32);
            }
            let orig = want.clone();
            for (j, slot) in want.iter_mut().enumerate() {
                if orig[j] != u32::MAX {
                    continue;
                }
                let mut t = 0;
                loop {
                    let k = chain(j, t, n as u64);
                    if orig[k] != u32::MAX {
                        *slot = orig[k];
                        break;
                    }
                    t += 1;
                }
            }
            assert_eq!(m.signature(&set), want, "{n} bins, {size} shingles");
        }
    }

    #[test]
    fn estimates_track_true_jaccard() {
        let m = MinHasher::new(128);
        let mut err = 0.0;
        let cases = 60u32;
        for c in 0..cases {
            // Sets of 50..550 elements with a varying overlap.
            let size = 50 + c as usize * 8;
            let shared = (c as usize * size) / cases as usize;
            let a: Vec<u64> = (0..size as u64).map(|i| i + 1_000_000 * c as u64).collect();
            let b: Vec<u64> = (0..size as u64)
                .map(|i| {
                    if (i as usize) < shared {
                        i + 1_000_000 * c as u64
                    } else {
                        i + 9_000_000_000
                    }
                })
                .collect();
            let truth = shared as f64 / (2 * size - shared) as f64;
            err += (jaccard_estimate(&m.signature(&a), &m.signature(&b)) - truth).abs();
        }
        let mae = err / f64::from(cases);
        assert!(mae < 0.04, "mean absolute error {mae}");
    }
}
