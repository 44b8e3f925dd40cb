//! The parameters an index is built with.

use serde::{Deserialize, Serialize};

/// Index parameters (stored in each segment; see `docs/audit.md` for why
/// these values).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Params {
    /// Tokens per fingerprinted window.
    pub k: usize,
    /// Winnowing window (in windows): shared runs of `w + k - 1` tokens or
    /// more are always found.
    pub w: usize,
    /// A matched run must be at least this many tokens to count as copied
    /// (two independent answers share shorter stock phrases).
    pub min_run: usize,
    /// MinHash values per signature.
    pub num_perm: usize,
    /// LSH bands.
    pub bands: usize,
    /// Rows per band (`bands * rows == num_perm`).
    pub rows: usize,
    /// Estimated Jaccard at or above which a candidate is a near duplicate.
    pub near_threshold: f64,
    /// The version of the tokenizer the index was built with
    /// ([`TOKENIZER`]), which its queries use too; a segment without it
    /// was built with version 1.
    #[serde(default = "tokenizer_v1")]
    pub tokenizer: u32,
    /// The key the index's window hashes are mixed with before winnowing
    /// (0: none, as every segment before format 7): which windows are kept
    /// as fingerprints and short phrases then depends on it, so a copier
    /// who has a reference but not the index cannot work out which
    /// positions to edit to leave no fingerprint. Chosen at random for a
    /// new index directory; every segment of a directory shares it.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub salt: u64,
}

fn is_zero(v: &u64) -> bool {
    *v == 0
}

/// The tokenizer's version: 1 read Traditional Chinese characters as they
/// are written; 2 reads them as Simplified (`crate::script`).
pub const TOKENIZER: u32 = 2;

fn tokenizer_v1() -> u32 {
    1
}

impl Default for Params {
    fn default() -> Self {
        Self {
            k: 8,
            w: 8,
            min_run: 20,
            num_perm: 128,
            bands: 32,
            rows: 4,
            near_threshold: 0.5,
            tokenizer: TOKENIZER,
            salt: 0,
        }
    }
}

impl Params {
    /// Today's defaults with the window hashes keyed by `salt` (0: none).
    pub fn keyed(salt: u64) -> Self {
        Self {
            salt,
            ..Self::default()
        }
    }
}
