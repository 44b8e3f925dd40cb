//! Building an index from reference outputs.

use super::*;

/// What one reference output contributes to an index, computed apart
/// from the others.
pub(crate) struct Parts {
    pub(crate) exact: Vec<(u64, u32)>,
    pub(crate) sig: Vec<u32>,
    pub(crate) bands: Vec<u64>,
    pub(crate) toks: Vec<u16>,
}

pub(crate) fn fingerprint_one(p: &Params, hasher: &MinHasher, text: &str) -> Parts {
    let tokens = crate::normalize::tokenize_version(text, p.tokenizer);
    let sh = shingles(&tokens, p.k);
    let exact = if tokens.len() < p.w + p.k - 1 {
        // Too short for winnowing's guarantee: keep every window.
        sh.iter().enumerate().map(|(i, h)| (*h, i as u32)).collect()
    } else {
        winnow(&sh, p.w)
    };
    let sig = hasher.signature(&MinHasher::shingle_set(&tokens));
    let bands = band_keys(&sig, p.bands, p.rows);
    Parts {
        exact,
        sig,
        bands,
        // 16 bits per token, to extend matched runs to their exact ends.
        toks: tokens.iter().map(|t| t.hash as u16).collect(),
    }
}

/// Adds reference outputs, then [`IndexBuilder::build`].
pub struct IndexBuilder {
    c: Contents,
    hasher: MinHasher,
}

/// What an index holds, before it is laid out: built up by
/// [`IndexBuilder`], gathered from segments by [`Index::merge`], or read
/// from a format-1 file.
#[derive(Default)]
pub(crate) struct Contents {
    pub params: Params,
    pub refs: Vec<Reference>,
    /// (key, reference, position), one per posting, under the keys of the
    /// format being written.
    pub exact: Vec<(u64, u32, u32)>,
    pub bands: Vec<(u64, u32)>,
    pub sigs: Vec<u32>,
    pub tok_start: Vec<u64>,
    pub toks: Vec<u16>,
}

impl IndexBuilder {
    /// An empty builder.
    pub fn new(params: Params) -> Self {
        let hasher = MinHasher::new(params.num_perm);
        Self {
            c: Contents {
                params,
                ..Contents::default()
            },
            hasher,
        }
    }

    /// Number of references added.
    pub fn len(&self) -> usize {
        self.c.refs.len()
    }

    /// Whether nothing was added.
    pub fn is_empty(&self) -> bool {
        self.c.refs.is_empty()
    }

    /// Adds one reference output. Returns its number.
    pub fn add(&mut self, text: &str, reference: Reference) -> u32 {
        let parts = fingerprint_one(&self.c.params, &self.hasher, text);
        self.push(parts, reference)
    }

    /// Adds reference outputs in order, fingerprinting them on every core
    /// (the numbers follow on from those already added).
    pub fn add_all(&mut self, items: Vec<(String, Reference)>) {
        use rayon::prelude::*;
        let (params, hasher) = (&self.c.params, &self.hasher);
        let parts: Vec<Parts> = items
            .par_iter()
            .map(|(text, _)| fingerprint_one(params, hasher, text))
            .collect();
        for (parts, (_, reference)) in parts.into_iter().zip(items) {
            self.push(parts, reference);
        }
    }

    pub(crate) fn push(&mut self, parts: Parts, mut reference: Reference) -> u32 {
        let c = &mut self.c;
        let id = c.refs.len() as u32;
        reference.tokens = parts.toks.len() as u32;
        c.exact.extend(
            parts
                .exact
                .into_iter()
                .map(|(h, pos)| (crate::fingerprint::spread(h), id, pos)),
        );
        c.bands.extend(parts.bands.into_iter().map(|b| (b, id)));
        c.sigs.extend_from_slice(&parts.sig);
        c.tok_start.push(c.toks.len() as u64);
        c.toks.extend_from_slice(&parts.toks);
        c.refs.push(reference);
        id
    }

    /// Sorts everything into a queryable index (laid out as a segment).
    /// Fails only past a limit of the format (2^32 fingerprints, bands or
    /// references in one segment): split the input.
    pub fn build(self) -> Result<Index, IndexError> {
        Index::assemble(self.c)
    }
}
