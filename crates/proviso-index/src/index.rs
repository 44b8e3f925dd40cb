//! Building and querying the index.

use serde::{Deserialize, Serialize};

use crate::minhash::band_keys;
use crate::{MinHasher, jaccard_estimate, shingles, tokenize, winnow};

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
        }
    }
}

/// Where a reference output came from.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Reference {
    /// The file it was read from, or `ledger`.
    pub source: String,
    /// Its line or row in the file (1-based).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub row: Option<u64>,
    /// The ledger record id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub record_id: Option<String>,
    /// The key that obtained it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key_id: Option<String>,
    /// The key's team.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub team: Option<String>,
    /// The model that produced it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
    /// When (RFC 3339).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time: Option<String>,
    /// Its length in tokens (filled in by the index).
    #[serde(default)]
    pub tokens: u32,
}

impl Reference {
    /// A reference read from row `row` of `path`.
    pub fn file(path: &str, row: u64) -> Self {
        Self {
            source: path.to_owned(),
            row: Some(row),
            ..Self::default()
        }
    }
}

/// How a document matched one reference.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Match {
    /// The reference's number in the index.
    pub reference: u32,
    /// `exact` (a copied span) or `near` (a near duplicate as a whole).
    pub kind: &'static str,
    /// The longest run of tokens shared in order.
    pub longest_run: usize,
    /// The share of the reference's tokens that the runs cover.
    pub reference_coverage: f64,
    /// Estimated Jaccard similarity of the whole texts.
    pub jaccard: f64,
    /// Matched byte ranges in the document.
    pub spans: Vec<(usize, usize)>,
}

/// What a query found.
#[derive(Clone, Debug, Default, Serialize)]
pub struct QueryResult {
    /// Whether the document holds provider output.
    pub flagged: bool,
    /// The matches, best first.
    pub matches: Vec<Match>,
    /// Tokens in the document.
    pub tokens: usize,
    /// The longest matched run over all references.
    pub longest_run: usize,
    /// The share of the document's tokens inside matched runs.
    pub covered: f64,
    /// The best Jaccard estimate.
    pub jaccard: f64,
    /// Matched byte ranges, merged.
    pub spans: Vec<(usize, usize)>,
}

/// Adds reference outputs, then [`IndexBuilder::build`].
pub struct IndexBuilder {
    params: Params,
    refs: Vec<Reference>,
    exact: Vec<(u64, u32, u32)>,
    bands: Vec<(u64, u32)>,
    sigs: Vec<u32>,
    toks: Vec<u16>,
    tok_start: Vec<u64>,
    hasher: MinHasher,
}

impl IndexBuilder {
    /// An empty builder.
    pub fn new(params: Params) -> Self {
        let hasher = MinHasher::new(params.num_perm);
        Self {
            params,
            refs: Vec::new(),
            exact: Vec::new(),
            bands: Vec::new(),
            sigs: Vec::new(),
            toks: Vec::new(),
            tok_start: Vec::new(),
            hasher,
        }
    }

    /// Number of references added.
    pub fn len(&self) -> usize {
        self.refs.len()
    }

    /// Whether nothing was added.
    pub fn is_empty(&self) -> bool {
        self.refs.is_empty()
    }

    /// Adds one reference output. Returns its number.
    pub fn add(&mut self, text: &str, mut reference: Reference) -> u32 {
        let id = self.refs.len() as u32;
        let tokens = tokenize(text);
        reference.tokens = tokens.len() as u32;
        let p = &self.params;
        let sh = shingles(&tokens, p.k);
        if tokens.len() < p.w + p.k - 1 {
            // Too short for winnowing's guarantee: keep every window.
            self.exact
                .extend(sh.iter().enumerate().map(|(i, h)| (*h, id, i as u32)));
        } else {
            self.exact
                .extend(winnow(&sh, p.w).into_iter().map(|(h, pos)| (h, id, pos)));
        }
        let sig = self.hasher.signature(&MinHasher::shingle_set(&tokens));
        self.bands.extend(
            band_keys(&sig, p.bands, p.rows)
                .into_iter()
                .map(|b| (b, id)),
        );
        self.sigs.extend_from_slice(&sig);
        // 16 bits per token, to extend matched runs to their exact ends.
        self.tok_start.push(self.toks.len() as u64);
        self.toks.extend(tokens.iter().map(|t| t.hash as u16));
        self.refs.push(reference);
        id
    }

    /// Sorts everything into a queryable index.
    pub fn build(mut self) -> Index {
        self.exact.sort_unstable();
        self.bands.sort_unstable();
        let mut ix = Index::from_parts(self.params, self.refs, self.exact, self.bands, self.sigs);
        ix.toks = self.toks;
        ix.tok_start = self.tok_start;
        ix
    }
}

/// An immutable index.
pub struct Index {
    pub(crate) params: Params,
    pub(crate) refs: Vec<Reference>,
    pub(crate) exact: Vec<(u64, u32, u32)>,
    pub(crate) bands: Vec<(u64, u32)>,
    pub(crate) sigs: Vec<u32>,
    pub(crate) toks: Vec<u16>,
    pub(crate) tok_start: Vec<u64>,
    directory: Vec<u32>,
    dir_bits: u32,
    band_dir: Vec<u32>,
    band_bits: u32,
    longest_ref: usize,
    hasher: MinHasher,
}

/// A directory over a sorted array of 64-bit keys: entry `b` is the first
/// position whose top `bits` bits are at least `b`, so a look-up touches a
/// bucket of about one entry instead of binary-searching the whole array
/// (which is a cache miss per step).
struct Directory;

impl Directory {
    fn build(keys: impl Iterator<Item = u64>, len: usize) -> (u32, Vec<u32>) {
        let bits = (usize::BITS - len.max(1).leading_zeros()).clamp(8, 26);
        let mut dir = vec![0u32; (1usize << bits) + 1];
        let mut counts = vec![0u32; 1usize << bits];
        for k in keys {
            counts[(k >> (64 - bits)) as usize] += 1;
        }
        let mut acc = 0u32;
        for (b, c) in counts.iter().enumerate() {
            dir[b] = acc;
            acc += c;
        }
        dir[1usize << bits] = acc;
        (bits, dir)
    }
}

fn bucket<'a, T>(
    items: &'a [T],
    dir: &[u32],
    bits: u32,
    key: u64,
    key_of: impl Fn(&T) -> u64,
) -> &'a [T] {
    let b = (key >> (64 - bits)) as usize;
    let (lo, hi) = match (dir.get(b), dir.get(b + 1)) {
        (Some(&lo), Some(&hi)) => (lo as usize, hi as usize),
        _ => return &[],
    };
    let slice = items.get(lo..hi).unwrap_or(&[]);
    let start = slice.partition_point(|e| key_of(e) < key);
    let end = start + slice[start..].partition_point(|e| key_of(e) == key);
    &slice[start..end]
}

impl Index {
    pub(crate) fn from_parts(
        params: Params,
        refs: Vec<Reference>,
        exact: Vec<(u64, u32, u32)>,
        bands: Vec<(u64, u32)>,
        sigs: Vec<u32>,
    ) -> Self {
        let (dir_bits, directory) = Directory::build(exact.iter().map(|e| e.0), exact.len());
        let (band_bits, band_dir) = Directory::build(bands.iter().map(|e| e.0), bands.len());
        let hasher = MinHasher::new(params.num_perm);
        let longest_ref = refs.iter().map(|r| r.tokens as usize).max().unwrap_or(0);
        Self {
            longest_ref,
            params,
            refs,
            exact,
            bands,
            sigs,
            toks: Vec::new(),
            tok_start: Vec::new(),
            directory,
            dir_bits,
            band_dir,
            band_bits,
            hasher,
        }
    }

    /// A summary for `Debug`.
    fn summary(&self) -> String {
        format!(
            "Index {{ refs: {}, fingerprints: {}, bands: {} }}",
            self.refs.len(),
            self.exact.len(),
            self.bands.len()
        )
    }

    /// Merges several indexes with the same parameters (segments).
    pub fn merge(parts: Vec<Index>) -> Option<Index> {
        let params = parts.first()?.params.clone();
        let (mut refs, mut exact, mut bands, mut sigs) =
            (Vec::new(), Vec::new(), Vec::new(), Vec::new());
        let (mut toks, mut tok_start) = (Vec::new(), Vec::new());
        for p in parts {
            if p.params != params {
                return None;
            }
            let off = refs.len() as u32;
            refs.extend(p.refs);
            exact.extend(p.exact.into_iter().map(|(h, r, pos)| (h, r + off, pos)));
            bands.extend(p.bands.into_iter().map(|(b, r)| (b, r + off)));
            sigs.extend(p.sigs);
            let toff = toks.len() as u64;
            tok_start.extend(p.tok_start.into_iter().map(|s| s + toff));
            toks.extend(p.toks);
        }
        exact.sort_unstable();
        bands.sort_unstable();
        let mut ix = Index::from_parts(params, refs, exact, bands, sigs);
        ix.toks = toks;
        ix.tok_start = tok_start;
        Some(ix)
    }

    /// The parameters.
    pub fn params(&self) -> &Params {
        &self.params
    }

    /// The references.
    pub fn references(&self) -> &[Reference] {
        &self.refs
    }

    /// Number of references.
    pub fn len(&self) -> usize {
        self.refs.len()
    }

    /// Whether it holds no reference.
    pub fn is_empty(&self) -> bool {
        self.refs.is_empty()
    }

    fn lookup(&self, h: u64) -> &[(u64, u32, u32)] {
        bucket(&self.exact, &self.directory, self.dir_bits, h, |e| e.0)
    }

    fn signature(&self, r: u32) -> &[u32] {
        let n = self.params.num_perm;
        self.sigs
            .get(r as usize * n..(r as usize + 1) * n)
            .unwrap_or(&[])
    }

    /// The reference's token at `i` (16 bits), if stored.
    fn ref_tok(&self, r: u32, i: i64) -> Option<u16> {
        let start = *self.tok_start.get(r as usize)?;
        let len = self.refs.get(r as usize)?.tokens as i64;
        if i < 0 || i >= len {
            return None;
        }
        self.toks.get(start as usize + i as usize).copied()
    }

    /// Grows a run `[first, end)` of document tokens on diagonal `diag`
    /// while the reference's tokens agree.
    fn extend(
        &self,
        r: u32,
        diag: i64,
        mut first: usize,
        mut end: usize,
        doc: &[crate::Token],
    ) -> (usize, usize) {
        if self.toks.is_empty() {
            return (first, end);
        }
        while first > 0
            && self.ref_tok(r, first as i64 - 1 + diag) == Some(doc[first - 1].hash as u16)
        {
            first -= 1;
        }
        while end < doc.len() && self.ref_tok(r, end as i64 + diag) == Some(doc[end].hash as u16) {
            end += 1;
        }
        (first, end)
    }

    /// Looks a document up.
    pub fn query(&self, text: &str) -> QueryResult {
        let p = &self.params;
        let tokens = tokenize(text);
        let mut res = QueryResult {
            tokens: tokens.len(),
            ..QueryResult::default()
        };
        if tokens.is_empty() || self.refs.is_empty() {
            return res;
        }
        let sh = shingles(&tokens, p.k);
        // Exact: fingerprint hits, chained along diagonals into runs.
        let mut hits: Vec<(u32, i64, u32)> = Vec::new();
        for (h, pos) in winnow(&sh, p.w) {
            for &(_, r, rpos) in self.lookup(h) {
                hits.push((r, i64::from(rpos) - i64::from(pos), pos));
            }
        }
        hits.sort_unstable();
        // (ref, diagonal, first doc pos, last doc pos)
        let mut runs: Vec<(u32, i64, u32, u32)> = Vec::new();
        for (r, diag, pos) in hits {
            match runs.last_mut() {
                Some(l) if l.0 == r && l.1 == diag && l.3 + (p.w as u32) >= pos => l.3 = pos,
                _ => runs.push((r, diag, pos, pos)),
            }
        }
        let mut by_ref: std::collections::BTreeMap<u32, Match> = std::collections::BTreeMap::new();
        let mut covered = vec![false; tokens.len()];
        for (r, diag, first, last) in runs {
            // Extend the run token by token to where the texts part.
            let (first, end_excl) = self.extend(
                r,
                diag,
                first as usize,
                (last as usize + p.k).min(tokens.len()),
                &tokens,
            );
            let (first, last) = (
                first as u32,
                (end_excl.saturating_sub(p.k.min(end_excl))) as u32,
            );
            let len = end_excl - first as usize;
            let reference = &self.refs[r as usize];
            let rtok = reference.tokens.max(1) as usize;
            let whole_short_ref =
                rtok >= p.k.min(8) && len.min(rtok) * 10 >= rtok * 9 && rtok < p.min_run;
            if len < p.min_run && !whole_short_ref {
                continue;
            }
            let _ = last;
            let end_tok = end_excl - 1;
            for c in &mut covered[first as usize..=end_tok] {
                *c = true;
            }
            let span = (
                tokens[first as usize].start as usize,
                tokens[end_tok].end as usize,
            );
            let m = by_ref.entry(r).or_insert_with(|| Match {
                reference: r,
                kind: "exact",
                longest_run: 0,
                reference_coverage: 0.0,
                jaccard: 0.0,
                spans: Vec::new(),
            });
            m.longest_run = m.longest_run.max(len);
            m.reference_coverage = (m.reference_coverage + len as f64 / rtok as f64).min(1.0);
            m.spans.push(span);
        }
        // Near duplicates of the whole text: LSH candidates, verified. A
        // document with more than 1/threshold times the shingles of the
        // longest reference cannot reach the threshold (J <= |B| / |A|), so
        // the signature is skipped: exact spans cover copies inside it.
        let longest = self.longest_ref;
        let ceiling = (longest as f64 / p.near_threshold.max(1e-9)) as usize + 3;
        if tokens.len() > ceiling {
            return self.finish(res, by_ref, covered);
        }
        let sig = self.hasher.signature(&MinHasher::shingle_set(&tokens));
        let mut cands: Vec<u32> = Vec::new();
        for key in band_keys(&sig, p.bands, p.rows) {
            let hits = bucket(&self.bands, &self.band_dir, self.band_bits, key, |e| e.0);
            cands.extend(hits.iter().map(|e| e.1));
        }
        cands.sort_unstable();
        cands.dedup();
        for r in cands {
            let j = jaccard_estimate(&sig, self.signature(r));
            res.jaccard = res.jaccard.max(j);
            if j >= p.near_threshold {
                let m = by_ref.entry(r).or_insert_with(|| Match {
                    reference: r,
                    kind: "near",
                    longest_run: 0,
                    reference_coverage: 0.0,
                    jaccard: 0.0,
                    spans: Vec::new(),
                });
                m.jaccard = j;
                if m.spans.is_empty() {
                    m.spans.push((0, text.len()));
                }
            }
        }
        self.finish(res, by_ref, covered)
    }

    fn finish(
        &self,
        mut res: QueryResult,
        by_ref: std::collections::BTreeMap<u32, Match>,
        covered: Vec<bool>,
    ) -> QueryResult {
        let mut matches: Vec<Match> = by_ref.into_values().collect();
        matches.sort_by(|a, b| {
            b.longest_run
                .cmp(&a.longest_run)
                .then(b.jaccard.total_cmp(&a.jaccard))
        });
        res.longest_run = matches.iter().map(|m| m.longest_run).max().unwrap_or(0);
        res.covered = covered.iter().filter(|c| **c).count() as f64 / covered.len().max(1) as f64;
        let mut spans: Vec<(usize, usize)> = matches.iter().flat_map(|m| m.spans.clone()).collect();
        spans.sort_unstable();
        let mut merged: Vec<(usize, usize)> = Vec::new();
        for s in spans {
            match merged.last_mut() {
                Some(l) if s.0 <= l.1 => l.1 = l.1.max(s.1),
                _ => merged.push(s),
            }
        }
        res.spans = merged;
        res.flagged = !matches.is_empty();
        res.matches = matches;
        res
    }
}

impl std::fmt::Debug for Index {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.summary())
    }
}
