//! The background: phrases common in text the provider did not write
//! (human text, other models' answers), kept beside the index so that
//! what everyone writes is not taken as evidence of a copy.
//!
//! A background is the set of every 5-token phrase (`crate::align::K`
//! tokens, as 16-bit token hashes, the alignment's seeds) of its texts.
//! A query skips the seeds the background holds, and an exact run counts
//! only the tokens that some phrase of it outside the background covers:
//! "bring the mixture to a boil, then reduce the heat" matches in many
//! answers to many recipes, and is no evidence that one was copied.
//!
//! File (`background.pvb` in the index directory): `PVXBG001`, the
//! tokenizer version (u32), the number of phrases (u64), the phrases'
//! keys sorted (u64 each), xxh3 of everything before (u64), all little
//! endian.

use std::collections::HashSet;
use std::hash::{BuildHasherDefault, Hasher};

use crate::align::seed_keys;

const MAGIC: &[u8; 8] = b"PVXBG001";

/// Keys are hashes already: the set uses them as they are.
#[derive(Default)]
pub(crate) struct Identity(u64);

impl Hasher for Identity {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0 << 8) | u64::from(b);
        }
    }
    fn write_u64(&mut self, n: u64) {
        self.0 = n;
    }
}

/// Phrases common in text the provider did not write.
#[derive(Clone, Debug, Default)]
pub struct Background {
    keys: HashSet<u64, BuildHasherDefault<Identity>>,
    tokenizer: u32,
}

impl Background {
    /// An empty background for an index whose tokenizer is `tokenizer`.
    pub fn new(tokenizer: u32) -> Background {
        Background {
            keys: HashSet::default(),
            tokenizer,
        }
    }

    /// Adds the phrases of `texts` (tokenised on every core).
    pub fn add_texts(&mut self, texts: &[String]) {
        use rayon::prelude::*;
        let v = self.tokenizer;
        let keys: Vec<Vec<u64>> = texts
            .par_iter()
            .map(|t| {
                let toks: Vec<u16> = crate::normalize::tokenize_version(t, v)
                    .iter()
                    .map(|t| t.hash as u16)
                    .collect();
                seed_keys(&toks).collect()
            })
            .collect();
        self.keys.extend(keys.into_iter().flatten());
    }

    /// Whether the background holds the phrase with this key.
    #[inline]
    pub(crate) fn holds(&self, key: u64) -> bool {
        self.keys.contains(&key)
    }

    /// Distinct phrases held.
    pub fn len(&self) -> usize {
        self.keys.len()
    }

    /// Whether it holds no phrase.
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// The tokenizer version its phrases were made with (it must be the
    /// index's).
    pub fn tokenizer(&self) -> u32 {
        self.tokenizer
    }

    /// The file's bytes.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut keys: Vec<u64> = self.keys.iter().copied().collect();
        keys.sort_unstable();
        let mut out = Vec::with_capacity(28 + keys.len() * 8);
        out.extend_from_slice(MAGIC);
        out.extend_from_slice(&self.tokenizer.to_le_bytes());
        out.extend_from_slice(&(keys.len() as u64).to_le_bytes());
        for k in keys {
            out.extend_from_slice(&k.to_le_bytes());
        }
        let sum = xxhash_rust::xxh3::xxh3_64_with_seed(&out, crate::SEED);
        out.extend_from_slice(&sum.to_le_bytes());
        out
    }

    /// Writes the file to `path`, atomically (a reader sees the old
    /// background or the new, never half of one).
    pub fn write(&self, path: &std::path::Path) -> Result<(), crate::IndexError> {
        crate::segment::write_atomically(path, &self.to_bytes())
    }

    /// Reads a file's bytes, or says what is wrong with them.
    pub fn from_bytes(b: &[u8]) -> Result<Background, String> {
        if b.len() < 28 || &b[..8] != MAGIC {
            return Err("not a Proviso background file (or truncated)".into());
        }
        let u64_at = |i: usize| {
            let mut a = [0u8; 8];
            a.copy_from_slice(&b[i..i + 8]);
            u64::from_le_bytes(a)
        };
        let body = b.len() - 8;
        if xxhash_rust::xxh3::xxh3_64_with_seed(&b[..body], crate::SEED) != u64_at(body) {
            return Err(crate::store::CHECKSUM_MISMATCH.into());
        }
        let mut t = [0u8; 4];
        t.copy_from_slice(&b[8..12]);
        let n = u64_at(12);
        let fits = n.checked_mul(8).and_then(|x| x.checked_add(20)) == Some(body as u64);
        let n = usize::try_from(n).ok().filter(|_| fits);
        let Some(n) = n else {
            return Err("the number of phrases does not match the file's size".into());
        };
        Ok(Background {
            keys: (0..n).map(|i| u64_at(20 + i * 8)).collect(),
            tokenizer: u32::from_le_bytes(t),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_refuses_damage() {
        let mut b = Background::new(crate::TOKENIZER);
        b.add_texts(&["bring the mixture to a boil, then reduce the heat".to_string()]);
        assert_eq!(b.len(), 6);
        let bytes = b.to_bytes();
        let back = Background::from_bytes(&bytes).unwrap();
        assert_eq!(back.len(), 6);
        assert_eq!(back.tokenizer(), crate::TOKENIZER);
        let toks: Vec<u16> = crate::tokenize("Then REDUCE the heat, and wait")
            .iter()
            .map(|t| t.hash as u16)
            .collect();
        // "then reduce the heat and" is not in it; nothing of five is.
        assert!(seed_keys(&toks).all(|k| !back.holds(k)));
        let toks: Vec<u16> = crate::tokenize("To a boil, THEN reduce the heat!")
            .iter()
            .map(|t| t.hash as u16)
            .collect();
        assert_eq!(seed_keys(&toks).filter(|k| back.holds(*k)).count(), 3);
        let mut bad = bytes.clone();
        bad[25] ^= 1;
        assert!(
            Background::from_bytes(&bad)
                .unwrap_err()
                .contains("checksum")
        );
        assert!(Background::from_bytes(&bytes[..20]).is_err());
        assert!(Background::from_bytes(b"PVXBG001").is_err());
        // A count that disagrees with the size, under a good checksum.
        let mut lying = bytes[..bytes.len() - 8].to_vec();
        lying[12] += 1;
        let sum = xxhash_rust::xxh3::xxh3_64_with_seed(&lying, crate::SEED);
        lying.extend_from_slice(&sum.to_le_bytes());
        let e = Background::from_bytes(&lying).unwrap_err();
        assert!(e.contains("does not match"), "{e}");
    }
}
