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

/// Tokens in a row an output must share with its request for them to
/// count as supplied by the request (the request is the client's to
/// write: a shorter run would let a prompt stuffed with common phrasing
/// hide more of the provider's own writing).
pub const SUPPLIED_RUN: usize = 8;

/// Which of an output's tokens its request supplied: those inside a run
/// of [`SUPPLIED_RUN`] tokens that the request holds too (a passage to
/// correct or translate, a table to complete, a quotation, code to fix).
pub(crate) fn supplied(tokens: &[crate::Token], prompt: &[crate::Token]) -> Vec<bool> {
    let mut marks = vec![false; tokens.len()];
    if prompt.len() < SUPPLIED_RUN || tokens.len() < SUPPLIED_RUN {
        return marks;
    }
    let grams: std::collections::HashSet<u64> =
        shingles(prompt, SUPPLIED_RUN).into_iter().collect();
    for (i, h) in shingles(tokens, SUPPLIED_RUN).iter().enumerate() {
        if grams.contains(h) {
            for m in &mut marks[i..i + SUPPLIED_RUN] {
                *m = true;
            }
        }
    }
    marks
}

/// An output's fingerprints. With its request (`prompt`), the text the
/// request supplied is not the provider's writing and is no evidence of a
/// copy: no fingerprint holds a token of it, the MinHash signature leaves
/// it out, and its tokens are stored changed, so no run is extended
/// across it.
pub(crate) fn fingerprint_one(
    p: &Params,
    hasher: &MinHasher,
    text: &str,
    prompt: Option<&str>,
) -> Parts {
    let tokens = crate::normalize::tokenize_version(text, p.tokenizer);
    let marks = match prompt {
        Some(prompt) => supplied(
            &tokens,
            &crate::normalize::tokenize_version(prompt, p.tokenizer),
        ),
        None => Vec::new(),
    };
    let is_supplied = |i: usize| marks.get(i).copied().unwrap_or(false);
    let mut sh = shingles(&tokens, p.k);
    crate::fingerprint::key_in_place(&mut sh, p.salt);
    let mut exact: Vec<(u64, u32)> = if tokens.len() < p.w + p.k - 1 {
        // Too short for winnowing's guarantee: keep every window.
        sh.iter().enumerate().map(|(i, h)| (*h, i as u32)).collect()
    } else {
        winnow(&sh, p.w)
    };
    let own: Vec<crate::Token>;
    let kept: &[crate::Token] = if marks.contains(&true) {
        exact.retain(|&(_, pos)| !(pos as usize..pos as usize + p.k).any(is_supplied));
        own = tokens
            .iter()
            .enumerate()
            .filter(|(i, _)| !is_supplied(*i))
            .map(|(_, t)| *t)
            .collect();
        &own
    } else {
        &tokens
    };
    // A short reference's short phrases too (winnowed), under keys of
    // their own in the same table: candidates for alignment only.
    let (short_k, short_w) = (crate::fingerprint::SHORT_K, crate::fingerprint::SHORT_W);
    if (short_k..=crate::fingerprint::SHORT_MAX_TOKENS).contains(&tokens.len()) {
        let mut seen = std::collections::HashSet::new();
        let mut short = shingles(&tokens, short_k);
        crate::fingerprint::key_in_place(&mut short, p.salt);
        for (h, pos) in winnow(&short, short_w) {
            if !(pos as usize..pos as usize + short_k).any(is_supplied) && seen.insert(h) {
                exact.push((crate::fingerprint::short_key(h), pos));
            }
        }
    }
    let sig = hasher.signature(&MinHasher::shingle_set(kept));
    let bands = if kept.is_empty() {
        Vec::new()
    } else {
        band_keys(&sig, p.bands, p.rows)
    };
    Parts {
        exact,
        sig,
        bands,
        // 16 bits per token, to extend matched runs to their exact ends;
        // a supplied token's bits inverted, so that a run stops there.
        toks: tokens
            .iter()
            .enumerate()
            .map(|(i, t)| {
                if is_supplied(i) {
                    !(t.hash as u16)
                } else {
                    t.hash as u16
                }
            })
            .collect(),
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
        let parts = fingerprint_one(&self.c.params, &self.hasher, text, None);
        self.push(parts, reference)
    }

    /// Adds one reference output with the request that produced it (its
    /// text: every string the request sent): what the output repeats of
    /// the request is not taken as evidence of a copy. Returns its number.
    pub fn add_with_prompt(&mut self, text: &str, prompt: &str, reference: Reference) -> u32 {
        let parts = fingerprint_one(&self.c.params, &self.hasher, text, Some(prompt));
        self.push(parts, reference)
    }

    /// Adds reference outputs in order, fingerprinting them on every core
    /// (the numbers follow on from those already added).
    pub fn add_all(&mut self, items: Vec<(String, Reference)>) {
        self.add_all_prompted(items.into_iter().map(|(t, r)| (t, None, r)).collect());
    }

    /// [`IndexBuilder::add_all`], each output with its request's text
    /// when known ([`IndexBuilder::add_with_prompt`]).
    pub fn add_all_prompted(&mut self, items: Vec<(String, Option<String>, Reference)>) {
        use rayon::prelude::*;
        let (params, hasher) = (&self.c.params, &self.hasher);
        let parts: Vec<Parts> = items
            .par_iter()
            .map(|(text, prompt, _)| fingerprint_one(params, hasher, text, prompt.as_deref()))
            .collect();
        for (parts, (_, _, reference)) in parts.into_iter().zip(items) {
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
