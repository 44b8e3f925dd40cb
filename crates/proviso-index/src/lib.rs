//! The fingerprint index: what makes `proviso audit` find provider output
//! in training data, and say where it came from.
//!
//! Text is normalised ([`tokenize`]: NFKD, diacritics and zero-width
//! characters dropped, look-alike Cyrillic and Greek letters folded, case
//! folded, punctuation and Markdown decoration ignored) into tokens that
//! keep their byte offsets: words for space-separated scripts, single
//! characters for Chinese, Japanese and Korean. Two indexes sit over the
//! reference outputs:
//!
//! - **exact spans**: xxh3 hashes of k-token windows, winnowed with window
//!   w, so every shared run of at least `w + k - 1` tokens is found; hits on
//!   one diagonal are chained into matched runs;
//! - **near duplicates**: 128-value MinHash over word 3-shingles with LSH
//!   banding; every candidate is verified by the estimated Jaccard of the
//!   full signatures.
//!
//! ```
//! use proviso_index::{IndexBuilder, Params, Reference};
//! let mut b = IndexBuilder::new(Params::default());
//! let answer = "Photosynthesis is the process by which green plants and some other organisms use sunlight to synthesize foods from carbon dioxide and water, generating oxygen as a by-product.";
//! b.add(answer, Reference::file("answers.jsonl", 1));
//! let index = b.build()?;
//! let doc = format!("Intro text from a forum post. {} More unrelated text follows here.", answer.to_uppercase());
//! let m = index.query(&doc);
//! assert!(m.flagged);
//! assert_eq!(&doc[m.spans[0].0..m.spans[0].1].to_lowercase(), &answer.to_lowercase()[..answer.len() - 1]);
//! # Ok::<(), proviso_index::IndexError>(())
//! ```
#![deny(missing_docs)]

mod align;
mod background;
mod dir;
mod error;
mod fingerprint;
mod index;
mod minhash;
mod normalize;
mod params;
mod reference;
mod refs;
mod script;
mod segment;
mod store;

pub use align::{
    Alignment, BITS_PER_TOKEN, DEFAULT_KEPT as ALIGN_DEFAULT_KEPT,
    DEFAULT_KEPT_WITH_BACKGROUND as ALIGN_DEFAULT_KEPT_WITH_BACKGROUND,
    DEFAULT_MIN as ALIGN_DEFAULT_MIN,
    DEFAULT_MIN_WITH_BACKGROUND as ALIGN_DEFAULT_MIN_WITH_BACKGROUND,
    KEPT_MAX_TOKENS as ALIGN_KEPT_MAX_TOKENS, KEPT_MIN_TOKENS as ALIGN_KEPT_MIN_TOKENS, Rules,
    significance,
};
pub use background::Background;
pub use dir::{BACKGROUND, open_dir, read_background, segment_paths};
pub use error::IndexError;
pub use fingerprint::{shingles, winnow};
pub use index::{Index, IndexBuilder, IndexSet, Match, QueryResult};
pub use minhash::{MinHasher, jaccard_estimate};
pub use normalize::{Token, tokenize, tokenize_version};
pub use params::{Params, TOKENIZER};
pub use reference::Reference;
pub use segment::{
    COPY_BELOW, FORMAT_VERSION, check_opened, open_segment, read_segment, read_segment_copied,
    verify_segment, write_segment,
};

/// The fixed seed of every stored hash (xxh3): changing it invalidates
/// every index on disk.
pub const SEED: u64 = 0x5052_4f56_4953_4f31; // "PROVISO1"
