//! Querying: a document's exact runs and near duplicates in one segment
//! or several, chained, extended and combined into matches.

use super::*;
use crate::align::{KEPT_MAX_TOKENS, KEPT_MIN_TOKENS};

impl Index {
    pub(crate) fn signature_matches(&self, r: u32, sig: &[u32]) -> usize {
        let n = self.params.num_perm;
        let b = self.section(store::SIGS);
        let at = r as usize * n * 4;
        if sig.len() != n || at + n * 4 > b.len() {
            return 0;
        }
        sig.iter()
            .enumerate()
            .filter(|(i, v)| store::u32_at(b, at + i * 4) == **v)
            .count()
    }

    /// The reference's 16-bit token hashes, two bytes each (from the
    /// token starts: one cache line for the reference's bounds).
    pub(crate) fn ref_tokens(&self, r: u32) -> &[u8] {
        let starts = self.section(store::TOK_START);
        let toks = self.section(store::TOKS);
        let i = r as usize;
        if (i + 1) * 8 > starts.len() {
            return &[];
        }
        let start = store::u64_at(starts, i * 8) as usize;
        let end = if (i + 2) * 8 <= starts.len() {
            store::u64_at(starts, (i + 1) * 8) as usize
        } else {
            toks.len() / 2
        };
        toks.get(start * 2..end.min(toks.len() / 2) * 2)
            .unwrap_or(&[])
    }

    /// Grows a run `[first, end)` of document tokens on diagonal `diag`
    /// while the reference's tokens `rt` agree.
    pub(crate) fn extend(
        rt: &[u8],
        diag: i64,
        mut first: usize,
        mut end: usize,
        doc: &[crate::Token],
    ) -> (usize, usize) {
        let tok = |i: i64| -> Option<u16> {
            let i = usize::try_from(i).ok()?;
            let s = rt.get(i * 2..i * 2 + 2)?;
            Some(u16::from_le_bytes([s[0], s[1]]))
        };
        while first > 0 && tok(first as i64 - 1 + diag) == Some(doc[first - 1].hash as u16) {
            first -= 1;
        }
        while end < doc.len() && tok(end as i64 + diag) == Some(doc[end].hash as u16) {
            end += 1;
        }
        (first, end)
    }

    /// Looks a document up.
    pub fn query(&self, text: &str) -> QueryResult {
        query_parts(
            &[(self, 0)],
            text,
            Options {
                align_min: Some(crate::align::DEFAULT_MIN),
                kept: Some(crate::align::DEFAULT_KEPT),
                background: None,
            },
        )
    }

    /// Copied spans of this segment: fingerprint hits, chained along
    /// diagonals into runs, extended to where the texts part. References
    /// are numbered from `base`.
    pub(crate) fn exact_matches(
        &self,
        q: &Prepared<'_>,
        base: u32,
        acc: &mut Acc,
        work: &mut Work,
    ) {
        let p = &self.params;
        let tokens = q.tokens;
        // The keys the fingerprints are stored under in this segment
        // (themselves before format 3).
        let Work {
            keys,
            found,
            hits,
            runs,
            slots,
            seeds,
            short_hits,
            common,
            common_ready,
            ..
        } = &mut *work;
        keys.clear();
        keys.extend(q.fingerprints.iter().map(|f| {
            if self.spread() {
                crate::fingerprint::spread(f.0)
            } else {
                f.0
            }
        }));
        self.find_many(store::EXACT, store::EXACT_DIR, self.dir_bits, keys, found);
        hits.clear();
        seeds.clear();
        for (found, &(_, pos)) in found.iter().zip(q.fingerprints) {
            let start = hits.len();
            let mut postings = found.clone().flat_map(|i| self.postings(i));
            for (r, rpos) in postings.by_ref().take(COMMON) {
                hits.push((r, i64::from(rpos) - i64::from(pos), pos));
            }
            // A fingerprint makes the references that hold it candidates
            // for alignment, each weighed by how few they are (postings
            // come by reference: the distinct ones are counted); one more
            // than `COMMON` postings hold is a stock phrase.
            if postings.next().is_none() {
                let held = &hits[start..];
                let weight = 1.0 / distinct_refs(held, |h| h.0) as f32;
                seeds.extend(held.iter().map(|h| (h.0, h.2, weight)));
            }
        }
        // Short phrases of short references: candidates only.
        if !q.short.is_empty() && self.short_phrases() {
            keys.clear();
            keys.extend(q.short.iter().map(|s| s.0));
            self.find_many(store::EXACT, store::EXACT_DIR, self.dir_bits, keys, found);
            for (found, &(_, pos)) in found.iter().zip(q.short) {
                short_hits.clear();
                let mut postings = found.clone().flat_map(|i| self.postings(i));
                short_hits.extend(postings.by_ref().take(COMMON).map(|(r, _)| (r, pos)));
                if postings.next().is_none() {
                    let weight = SHORT_WEIGHT / distinct_refs(short_hits, |h| h.0) as f32;
                    seeds.extend(short_hits.iter().map(|h| (h.0, h.1, weight)));
                }
            }
        }
        // Nothing shared: no run and no candidate (a document with short
        // phrases only goes on, to be aligned).
        if hits.is_empty() && seeds.is_empty() {
            runs.clear();
            return;
        }
        let first_piece = acc.pieces.len();
        chain_runs(hits, p.w as u32, slots, runs);
        // Each run reads its reference's tokens somewhere in the index: a
        // cache miss or two per run, and a text shared by many references
        // gives many runs. As in `find_many`, a pipeline: while run `i` is
        // extended, run `i + AHEAD`'s tokens (their bounds read by then)
        // and run `i + 2 AHEAD`'s bounds are asked for.
        const AHEAD: usize = 8;
        let starts = self.section(store::TOK_START);
        let ask_bounds = |r: u32| proviso_mmap::prefetch(starts, r as usize * 8 + 4);
        let ask_tokens = |run: &(u32, i64, u32, u32), rt: &[u8]| {
            proviso_mmap::prefetch(rt, (i64::from(run.2) + run.1).max(0) as usize * 2);
        };
        let near = |i: usize| {
            let rt = self.ref_tokens(runs[i].0);
            ask_tokens(&runs[i], rt);
            rt
        };
        pipeline(
            runs.len(),
            AHEAD,
            |i| ask_bounds(runs[i].0),
            near,
            |i, rt| {
                let (r, diag, first, last) = runs[i];
                // Extend the run token by token to where the texts part.
                let (first, end_excl) = Index::extend(
                    rt,
                    diag,
                    first as usize,
                    (last as usize + p.k).min(tokens.len()),
                    tokens,
                );
                let len = end_excl - first;
                let rtok = (rt.len() / 2).max(1);
                // Shorter runs are what independent texts share (a
                // reference shorter than this, copied whole, is an answer
                // anyone could give: "Yes", a country's capital, a date).
                if len < p.min_run {
                    return;
                }
                // With a background, only the tokens some uncommon phrase
                // of the run covers count.
                if let Some(marks) = common_marks(q, common, common_ready)
                    && evidence(marks, first, end_excl) < p.min_run
                {
                    return;
                }
                acc.piece(
                    tokens,
                    Piece {
                        reference: base + r,
                        tokens: (first, end_excl),
                        kind: Kind::Exact,
                        run: len,
                        share: len as f64 / rtok as f64,
                        span: (first, end_excl),
                        in_reference: (
                            (first as i64 + diag).max(0) as usize,
                            (end_excl as i64 + diag).max(0) as usize,
                        ),
                    },
                );
            },
        );
        drop_weak_runs(acc.pieces, first_piece, acc.weak);
        if let Some(min) = q.opts.align_min {
            self.aligned_matches(q, base, first_piece, min, acc, work);
        }
    }

    /// Copies with many small edits in this segment: the references
    /// that a rare fingerprint of the document points at and that no run
    /// matched yet, aligned with the document by short seeds
    /// ([`crate::align`]), kept when the chain is significant (at least
    /// `min` bits).
    fn aligned_matches(
        &self,
        q: &Prepared<'_>,
        base: u32,
        first_piece: usize,
        min: f64,
        acc: &mut Acc,
        work: &mut Work,
    ) {
        let Work {
            seeds,
            cands,
            ref16,
            align,
            unmatched: align_unmatched,
            common,
            common_ready,
            ..
        } = work;
        if seeds.is_empty() {
            return;
        }
        let marks = common_marks(q, common, common_ready);
        seeds.sort_unstable_by_key(|s| (s.0, s.1));
        // Each reference's seeds: their weight, and the document
        // positions they span; references a run matched already are left.
        let matched: Vec<u32> = acc.pieces[first_piece..]
            .iter()
            .map(|p| p.reference - base)
            .collect();
        let mut groups: Vec<(u32, f32, u32, u32)> = Vec::new();
        for &(r, pos, weight) in seeds.iter() {
            match groups.last_mut() {
                Some(g) if g.0 == r => {
                    g.1 += weight;
                    g.3 = pos.max(g.3);
                    g.2 = pos.min(g.2);
                }
                _ => groups.push((r, weight, pos, pos)),
            }
        }
        // A reference a run matched is not aligned too: the run is the
        // stronger evidence, and a set dense with copies would pay for
        // every one of them twice. One held only by fingerprints that many
        // references share is not worth the work.
        groups.retain(|g| !matched.contains(&g.0) && g.1 >= MIN_WEIGHT);
        // References whose only run was weak come after the others, so
        // fragments of many references cannot crowd an edited copy out.
        let weak = &*acc.weak;
        let is_weak = |r: u32| weak.iter().any(|w| w.reference == base + r);
        groups.sort_unstable_by(|a, b| {
            is_weak(a.0)
                .cmp(&is_weak(b.0))
                .then(b.1.total_cmp(&a.1))
                .then(a.0.cmp(&b.0))
        });
        groups.truncate(ALIGN_CANDIDATES);
        cands.clear();
        for (r, _, lo, hi) in groups {
            let rt = self.ref_tokens(r);
            ref16.clear();
            ref16.extend(rt.chunks_exact(2).map(|c| u16::from_le_bytes([c[0], c[1]])));
            // The document around the seeds, as far as the reference
            // could reach on either side.
            let reach = ref16.len() + crate::align::GAP + crate::align::BAND as usize;
            let window = (lo as usize).saturating_sub(reach)
                ..(hi as usize + self.params.k + reach).min(q.tokens.len());
            // The chances of a chain are counted over the part of the
            // document searched: text padded around a copy changes
            // nothing.
            let searched = window.len();
            // No seed of five tokens (an edit every fifth word leaves runs
            // of four): seeds of four, and then only what the document
            // keeps of the reference can flag it.
            let kept_applies =
                q.opts.kept.is_some() && (KEPT_MIN_TOKENS..=KEPT_MAX_TOKENS).contains(&ref16.len());
            let (a, short_seeds) =
                match crate::align::align(q.hashes16, window.clone(), ref16, marks, align) {
                    Some(a) => (a, false),
                    None if kept_applies => {
                        match crate::align::align_seeds(
                            q.hashes16,
                            window.clone(),
                            ref16,
                            marks,
                            crate::align::SHORT_SEED,
                            align,
                        ) {
                            Some(a) => (a, true),
                            None => continue,
                        }
                    }
                    None => continue,
                };
            let significance = crate::align::significance(a.matched, searched, ref16.len());
            // What the document keeps of the whole reference, over the
            // stretch a copy keeping the least share asked for could
            // span around the chain: the reference's tokens before the
            // chain's first piece and after its last, and as many more as
            // the edits allowed could insert.
            let (kept, held) = match (q.opts.kept, a.pieces.first(), a.pieces.last()) {
                (Some(min), Some(first), Some(last)) if kept_applies => {
                    let m = ref16.len();
                    let slack =
                        ((1.0 - min.clamp(0.0, 1.0)) * m as f64).ceil() as usize + crate::align::K;
                    let from = first.0.start.saturating_sub(first.1.start + slack);
                    let to = (last.0.end + (m - last.1.end.min(m)) + slack)
                        .min(q.tokens.len())
                        .max(from);
                    let unmatched = match marks {
                        Some(c) => {
                            common_tokens(c, from..to, align_unmatched);
                            Some(&align_unmatched[..])
                        }
                        None => None,
                    };
                    let (share, held) =
                        crate::align::kept(&q.hashes16[from..to], unmatched, ref16, min, align);
                    (Some(share), held)
                }
                _ => (None, false),
            };
            // A copy whose sentences were moved as well as edited keeps no
            // chain in order: what it keeps of the reference part by part,
            // each part where it went (`align::kept_in_pieces`).
            let (kept, held, pieces) = match q.opts.kept {
                Some(min) if kept_applies && !held => {
                    let unmatched = match marks {
                        Some(c) => {
                            common_tokens(c, 0..q.tokens.len(), align_unmatched);
                            Some(&align_unmatched[..])
                        }
                        None => None,
                    };
                    let in_pieces = |k: usize, align: &mut crate::align::AlignWork| {
                        crate::align::kept_in_pieces(
                            q.hashes16,
                            window.clone(),
                            unmatched,
                            ref16,
                            k,
                            min,
                            align,
                        )
                    };
                    // The pieces of the seeds just found (of five), then,
                    // if they are not enough, of seeds of four: a part with
                    // a third of its words changed keeps few seeds of five.
                    let mut found = (0.0, false, Vec::new());
                    if !short_seeds {
                        found = in_pieces(crate::align::K, align);
                    }
                    if !found.1 {
                        let k = crate::align::SHORT_SEED;
                        if !short_seeds {
                            crate::align::align_seeds(
                                q.hashes16,
                                window.clone(),
                                ref16,
                                marks,
                                k,
                                align,
                            );
                        }
                        let four = in_pieces(k, align);
                        if four.1 || four.0 > found.0 {
                            found = four;
                        }
                    }
                    let (share, any_order, pieces) = found;
                    // The share part by part is reported only when it is
                    // what flagged the document.
                    if any_order {
                        (Some(kept.map_or(share, |s| s.max(share))), true, pieces)
                    } else {
                        (kept, false, a.pieces)
                    }
                }
                _ => (kept, held, a.pieces),
            };
            let score = Score {
                matched: a.matched,
                significance,
                kept,
            };
            acc.chains.push((base + r, score));
            let rtok = ref16.len().max(1) as f64;
            // How much of the reference the chain spans, first seed to
            // last: a copy with words changed keeps seeds all along its
            // reference, where two answers to one question share a
            // passage (a list, a definition) in one part of it.
            let extent = match (pieces.first(), pieces.last()) {
                (Some(f), Some(l)) => l.1.end.saturating_sub(f.1.start) as f64 / rtok,
                _ => 0.0,
            };
            // A reference the document keeps most of: an edited copy,
            // however short its chain. Else a chain significant enough,
            // and more so when it spans little of the reference.
            if !held
                && (short_seeds
                    || significance < min
                    || (extent < MIN_EXTENT && significance < min + LOCAL_BITS))
            {
                continue;
            }
            // Pieces on other diagonals may overlap in the reference: each
            // counts what the ones before did not cover.
            let mut covered_to = 0;
            for (d, rr) in pieces {
                let new = rr.end.saturating_sub(rr.start.max(covered_to));
                covered_to = covered_to.max(rr.end);
                acc.piece(
                    q.tokens,
                    Piece {
                        reference: base + r,
                        tokens: (d.start, d.end),
                        kind: Kind::Aligned(score),
                        run: d.len(),
                        share: new as f64 / rtok,
                        span: (d.start, d.end),
                        in_reference: (rr.start, rr.end),
                    },
                );
            }
        }
    }

    /// Near duplicates of the whole text in this segment: LSH candidates,
    /// each verified by the estimated Jaccard of the full signatures.
    pub(crate) fn near_matches(
        &self,
        doc_tokens: usize,
        sig: &[u32],
        keys: &[u64],
        base: u32,
        acc: &mut Acc,
        work: &mut Work,
    ) {
        let p = &self.params;
        let Work { found, cands, .. } = work;
        self.find_many(store::BANDS, store::BAND_DIR, self.band_bits, keys, found);
        cands.clear();
        cands.extend(found.iter().cloned().flatten().map(|i| self.band_at(i).1));
        if cands.is_empty() {
            return;
        }
        cands.sort_unstable();
        cands.dedup();
        // Each candidate's signature (512 bytes at 128 values) is
        // somewhere in the index: asked for all at once, their misses
        // overlap instead of coming one after another.
        let row = self.params.num_perm * 4;
        let sigs = self.section(store::SIGS);
        for &r in cands.iter().take(16) {
            for line in (0..row).step_by(64) {
                proviso_mmap::prefetch(sigs, r as usize * row + line);
            }
        }
        for &r in cands.iter() {
            // Two short texts alike are no evidence of copying: a near
            // duplicate needs both to hold `min_run` tokens.
            let rtok = self.ref_tokens(r).len() / 2;
            if doc_tokens < p.min_run || rtok < p.min_run {
                continue;
            }
            let j = self.signature_matches(r, sig) as f64 / sig.len().max(1) as f64;
            acc.jaccard = acc.jaccard.max(j);
            if j >= p.near_threshold {
                acc.near.push((base + r, j, rtok));
            }
        }
    }
}

/// A document made ready for look-ups in every segment.
pub(crate) struct Prepared<'t> {
    text: &'t str,
    tokens: &'t [crate::Token],
    /// The tokens' hashes cut to the 16 bits the index keeps of a
    /// reference's.
    hashes16: &'t [u16],
    fingerprints: &'t [(u64, u32)],
    /// The document's short phrases' keys (winnowed), with positions.
    short: &'t [(u64, u32)],
    opts: Options<'t>,
}

/// What a look-up does beyond exact runs and near duplicates.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Options<'a> {
    /// The significance an alignment needs (`None`: no alignment).
    pub(crate) align_min: Option<f64>,
    /// The share of a reference a document aligned with it must keep
    /// (`None`: the chain's significance alone decides).
    pub(crate) kept: Option<f64>,
    /// Phrases that are no evidence.
    pub(crate) background: Option<&'a crate::Background>,
}

/// How many references a phrase's postings (which come by reference)
/// name.
fn distinct_refs<T>(held: &[T], reference: impl Fn(&T) -> u32) -> usize {
    1 + held
        .windows(2)
        .filter(|w| reference(&w[0]) != reference(&w[1]))
        .count()
}

/// Marks in `out`, for each document token in `range`, whether a phrase
/// the background holds covers it (`common` marks the phrases by their
/// first token).
fn common_tokens(common: &[bool], range: std::ops::Range<usize>, out: &mut Vec<bool>) {
    out.clear();
    out.extend(range.map(|j| {
        (j.saturating_sub(crate::align::K - 1)..=j).any(|i| common.get(i).copied().unwrap_or(false))
    }));
}

/// The document's positions whose phrase the background holds, worked
/// out the first time a look-up needs them (`None`: no background).
fn common_marks<'w>(
    q: &Prepared<'_>,
    common: &'w mut Vec<bool>,
    ready: &mut bool,
) -> Option<&'w [bool]> {
    let bg = q.opts.background?;
    if !*ready {
        common.clear();
        common.extend(crate::align::seed_keys(q.hashes16).map(|k| bg.holds(k)));
        *ready = true;
    }
    Some(common)
}

/// The tokens of `[first, end)` that a phrase inside it which is not
/// common covers.
fn evidence(common: &[bool], first: usize, end: usize) -> usize {
    let k = crate::align::K;
    let mut covered_to = first;
    let mut n = 0;
    for i in first..end.saturating_sub(k - 1) {
        if !common.get(i).copied().unwrap_or(true) {
            let from = covered_to.max(i);
            n += i + k - from;
            covered_to = i + k;
        }
    }
    n
}

/// Drops the runs of every reference (of `pieces[first..]`, grouped by
/// reference) that are weak evidence alone: one run shorter than
/// [`STRONG_RUN`] over less than [`STRONG_SHARE`] of the reference. That
/// is what two answers to one question share (a stock sentence, a fact
/// stated the same way); such a reference is left to alignment, which
/// weighs everything it shares with the document in order, so a copy
/// with many edits (whose runs are few and short) is still found. The
/// runs of the references dropped are put in `weak` (alignment tries
/// those references last, and [`patchwork`] may take them back). Runs over the same
/// document tokens (a sentence the reference repeats, or a run cut in
/// two where a common fingerprint was not followed), or over the same
/// reference tokens (a sentence the document repeats), count once.
fn drop_weak_runs(pieces: &mut Vec<Piece>, first: usize, weak: &mut Vec<Piece>) {
    let mut kept = first;
    let mut i = first;
    while i < pieces.len() {
        let r = pieces[i].reference;
        let end = i + pieces[i..].iter().take_while(|p| p.reference == r).count();
        let group = &pieces[i..end];
        let (mut runs, mut longest, mut share) = (0, 0, 0.0);
        for (n, p) in group.iter().enumerate() {
            longest = longest.max(p.run);
            let overlaps = group[..n].iter().any(|q| {
                (q.tokens.0 < p.tokens.1 && p.tokens.0 < q.tokens.1)
                    || (q.in_reference.0 < p.in_reference.1 && p.in_reference.0 < q.in_reference.1)
            });
            if !overlaps {
                runs += 1;
                share += p.share;
            }
        }
        if runs >= STRONG_RUNS || longest >= STRONG_RUN || share >= STRONG_SHARE {
            for j in i..end {
                pieces[kept] = pieces[j];
                kept += 1;
            }
        } else {
            weak.extend_from_slice(group);
        }
        i = end;
    }
    pieces.truncate(kept);
}

/// Takes back the weak runs ([`drop_weak_runs`]) of references nothing
/// else matched (no run, chain or near duplicate) when they make a
/// patchwork: at least [`PATCHWORK`] separate parts of the document, each
/// shared with one reference only, from as many references (a document
/// stitched from one sentence of each of several outputs). A part two
/// references or more hold is a stock sentence, and counts for nothing.
/// `matched` is the references matched otherwise, sorted.
fn patchwork(pieces: &mut Vec<Piece>, weak: &mut Vec<Piece>, matched: &[u32]) {
    weak.retain(|w| matched.binary_search(&w.reference).is_err());
    weak.sort_unstable_by_key(|w| (w.tokens.0, w.reference));
    // Parts: pieces overlapping in the document, merged; each kept when
    // one reference holds all of it.
    let mut kept: Vec<(usize, usize)> = Vec::new();
    let mut refs: Vec<u32> = Vec::new();
    let mut i = 0;
    while i < weak.len() {
        let (start, mut end, r) = (i, weak[i].tokens.1, weak[i].reference);
        let mut one = true;
        i += 1;
        while i < weak.len() && weak[i].tokens.0 < end {
            end = end.max(weak[i].tokens.1);
            one &= weak[i].reference == r;
            i += 1;
        }
        if one {
            kept.push((start, i));
            refs.push(r);
        }
    }
    refs.sort_unstable();
    refs.dedup();
    if kept.len() >= PATCHWORK && refs.len() >= PATCHWORK {
        for (from, to) in kept {
            pieces.extend_from_slice(&weak[from..to]);
        }
    }
    weak.clear();
}

/// The references, and separate parts of a document, whose weak runs
/// together are evidence.
const PATCHWORK: usize = 3;

/// A run at least this long is evidence alone.
const STRONG_RUN: usize = 40;

/// Runs covering at least this share of their reference are evidence.
const STRONG_SHARE: f64 = 0.2;

/// This many runs with one reference are evidence.
const STRONG_RUNS: usize = 2;

/// The share of its reference a chain must span, first seed to last, to
/// count at the significance asked for; a shorter one, a passage two
/// texts on one subject may share, needs [`LOCAL_BITS`] more. Both chosen
/// on the tune part of `bench/audit_quality.py` (docs/audit.md).
pub(crate) const MIN_EXTENT: f64 = 0.6;

/// The bits more a chain spanning less than [`MIN_EXTENT`] of its
/// reference needs.
pub(crate) const LOCAL_BITS: f64 = 30.0;

/// The weight of a reference's rare fingerprints (each counts one over
/// the number of references holding it) it takes to be aligned: one
/// fingerprint held by at most four references, or several held by more.
const MIN_WEIGHT: f32 = 0.25;

/// What a short phrase weighs against a fingerprint: alone, it makes a
/// reference a candidate only when no other reference holds it (a quarter,
/// [`MIN_WEIGHT`]); held by more, it takes several. Short phrases are four
/// times as likely as fingerprints to be shared by chance, and each
/// candidate is aligned: at full weight, most documents of the
/// one-million-reference benchmark made candidates and the scan took 1.3
/// to 1.5 times as long, for no more copies found on the tune quarter.
const SHORT_WEIGHT: f32 = 0.25;

/// References aligned with a document in one segment at most (those
/// with the most rare fingerprints in common first).
const ALIGN_CANDIDATES: usize = 8;

/// Buffers a look-up uses and leaves for the next document of its thread
/// (a dozen allocations and frees per document otherwise).
#[derive(Default)]
pub(crate) struct Scratch {
    tokens: Vec<crate::Token>,
    hashes16: Vec<u16>,
    shingles: Vec<u64>,
    fingerprints: Vec<(u64, u32)>,
    short_shingles: Vec<u64>,
    short: Vec<(u64, u32)>,
    covered: Vec<bool>,
    pieces: Vec<Piece>,
    weak: Vec<Piece>,
    near: Vec<(u32, f64, usize)>,
    chains: Vec<(u32, Score)>,
    spans: Vec<(usize, usize)>,
    sig: Vec<u32>,
    bands: Vec<u64>,
    work: Work,
}

/// The buffers of the look-ups in one segment.
#[derive(Default)]
pub(crate) struct Work {
    keys: Vec<u64>,
    found: Vec<std::ops::Range<usize>>,
    hits: Vec<(u32, i64, u32)>,
    runs: Vec<(u32, i64, u32, u32)>,
    slots: Vec<u32>,
    cands: Vec<u32>,
    /// Fingerprints' (reference, document position, weight: one over the
    /// number of references holding it).
    seeds: Vec<(u32, u32, f32)>,
    /// A reference's tokens, two bytes each made one value.
    ref16: Vec<u16>,
    /// Per document token of a window: whether the background's phrases
    /// cover it.
    unmatched: Vec<bool>,
    /// Short phrases' postings: (reference, document position).
    short_hits: Vec<(u32, u32)>,
    align: crate::align::AlignWork,
    /// Per document position: whether its phrase is common, once
    /// `common_ready`.
    common: Vec<bool>,
    common_ready: bool,
}

/// Chains hits (reference, diagonal, document position), given in
/// document order, into runs (reference, diagonal, first position, last
/// position): hits of one reference on one diagonal at most `w` positions
/// apart. The runs come out sorted as if the hits had been sorted and
/// chained in turn, which is what they replace: a document holding copied
/// text has hundreds of hits, and a small hash table from (reference,
/// diagonal) to its latest run, then a sort of the fewer runs, costs less
/// than sorting the hits. `slots` is the table's memory, kept between
/// documents.
pub(crate) fn chain_runs(
    hits: &[(u32, i64, u32)],
    w: u32,
    slots: &mut Vec<u32>,
    runs: &mut Vec<(u32, i64, u32, u32)>,
) {
    runs.clear();
    // Open addressing, at most half full; a slot holds a run's number + 1.
    let bits = (2 * hits.len()).next_power_of_two().trailing_zeros().max(4);
    let mask = (1usize << bits) - 1;
    slots.clear();
    slots.resize(mask + 1, 0);
    for &(r, diag, pos) in hits {
        let h = (u64::from(r) << 32 ^ diag as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        let mut s = (h >> (64 - bits)) as usize;
        while let Some(&slot) = slots.get(s) {
            if slot == 0 {
                if let Ok(n) = u32::try_from(runs.len() + 1) {
                    slots[s] = n;
                    runs.push((r, diag, pos, pos));
                }
                break;
            }
            let run = &mut runs[slot as usize - 1];
            if run.0 == r && run.1 == diag {
                if run.3.saturating_add(w) >= pos {
                    run.3 = pos;
                } else if let Ok(n) = u32::try_from(runs.len() + 1) {
                    // A gap: a new run, now this pair's latest.
                    slots[s] = n;
                    runs.push((r, diag, pos, pos));
                }
                break;
            }
            s = (s + 1) & mask;
        }
    }
    runs.sort_unstable();
}

thread_local! {
    static SCRATCH: std::cell::Cell<Scratch> = std::cell::Cell::new(Scratch::default());
}

/// What the segments found so far: every matched run and near
/// duplicate as it was found, made into one [`Match`] per reference at the
/// end.
pub(crate) struct Acc<'s> {
    pieces: &'s mut Vec<Piece>,
    /// Runs that were weak evidence alone ([`drop_weak_runs`]).
    weak: &'s mut Vec<Piece>,
    /// Near duplicates: reference, Jaccard, the reference's tokens.
    near: &'s mut Vec<(u32, f64, usize)>,
    /// Every alignment: its reference and what it scored.
    chains: &'s mut Vec<(u32, Score)>,
    covered: &'s mut Vec<bool>,
    jaccard: f64,
}

impl Acc<'_> {
    /// Takes a piece given in document tokens (`span`, end excluded),
    /// marking them covered and keeping its byte range.
    fn piece(&mut self, tokens: &[crate::Token], mut p: Piece) {
        let (first, end) = p.span;
        let Some(last) = end
            .checked_sub(1)
            .filter(|l| *l >= first && *l < tokens.len())
        else {
            return;
        };
        p.tokens = (first, end);
        p.span = (tokens[first].start as usize, tokens[last].end as usize);
        self.pieces.push(p);
    }
}

/// How a piece was found.
#[derive(Clone, Copy, Debug)]
enum Kind {
    /// An exact run.
    Exact,
    /// Part of an alignment of short seeds.
    Aligned(Score),
}

/// What an alignment of a document with a reference scored.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Score {
    /// Document tokens the chain of seeds covers.
    pub matched: usize,
    /// The chain's significance in bits.
    pub significance: f64,
    /// The share of the reference the document keeps
    /// ([`crate::align::kept`]; `None` when it was not worked out: the
    /// rule off, or the reference outside [`KEPT_MIN_TOKENS`] to
    /// [`KEPT_MAX_TOKENS`] tokens).
    pub kept: Option<f64>,
}

/// A matched run or aligned piece: its reference, how it was found,
/// length in tokens, share of the reference's tokens, byte range in the
/// document, and token range in the reference.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Piece {
    reference: u32,
    /// Document token range (end excluded).
    tokens: (usize, usize),
    kind: Kind,
    run: usize,
    share: f64,
    span: (usize, usize),
    in_reference: (usize, usize),
}

/// Looks `text` up in every segment (each with the number of its first
/// reference). All segments share the parameters of the first.
pub(crate) fn query_parts(parts: &[(&Index, u32)], text: &str, opts: Options<'_>) -> QueryResult {
    // This thread's buffers, taken for the look-up and given back after.
    let mut s = SCRATCH.with(std::cell::Cell::take);
    let res = query_with(parts, text, opts, &mut s);
    SCRATCH.with(|c| c.set(s));
    res
}

pub(crate) fn query_with(
    parts: &[(&Index, u32)],
    text: &str,
    opts: Options<'_>,
    s: &mut Scratch,
) -> QueryResult {
    let Some(p) = parts.first().map(|(ix, _)| &ix.params) else {
        return QueryResult::default();
    };
    let Scratch {
        tokens,
        hashes16,
        shingles,
        fingerprints,
        short_shingles,
        short,
        covered,
        pieces,
        weak,
        near,
        chains,
        spans,
        sig,
        bands,
        work,
    } = s;
    crate::normalize::tokenize_into(text, p.tokenizer, tokens);
    let mut res = QueryResult {
        tokens: tokens.len(),
        ..QueryResult::default()
    };
    if tokens.is_empty() || parts.iter().all(|(ix, _)| ix.is_empty()) {
        return res;
    }
    crate::fingerprint::shingles_into(tokens, p.k, shingles);
    crate::fingerprint::key_in_place(shingles, p.salt);
    crate::fingerprint::winnow_into(shingles, p.w, fingerprints);
    hashes16.clear();
    if opts.align_min.is_some() || opts.background.is_some() {
        hashes16.extend(tokens.iter().map(|t| t.hash as u16));
    }
    work.common_ready = false;
    // The document's short phrases, to find short references with many
    // words changed (candidates for alignment only).
    short.clear();
    if opts.align_min.is_some() && parts.iter().any(|(ix, _)| ix.short_phrases()) {
        crate::fingerprint::shingles_into(tokens, crate::fingerprint::SHORT_K, short_shingles);
        crate::fingerprint::key_in_place(short_shingles, p.salt);
        crate::fingerprint::winnow_into(short_shingles, crate::fingerprint::SHORT_W, short);
        for s in short.iter_mut() {
            s.0 = crate::fingerprint::spread(crate::fingerprint::short_key(s.0));
        }
    }
    let q = Prepared {
        text,
        tokens,
        hashes16,
        fingerprints,
        short,
        opts,
    };
    covered.clear();
    covered.resize(q.tokens.len(), false);
    pieces.clear();
    weak.clear();
    near.clear();
    chains.clear();
    let mut acc = Acc {
        pieces,
        weak,
        near,
        chains,
        covered,
        jaccard: 0.0,
    };
    for (ix, base) in parts {
        ix.exact_matches(&q, *base, &mut acc, work);
    }
    // Near duplicates of the whole text. A document with more than
    // 1/threshold times the shingles of the longest reference cannot reach
    // the threshold (J <= |B| / |A|), so the signature is skipped: exact
    // spans cover copies inside it.
    let longest = parts
        .iter()
        .map(|(ix, _)| ix.longest_ref)
        .max()
        .unwrap_or(0);
    let ceiling = (longest as f64 / p.near_threshold.max(1e-9)) as usize + 3;
    if q.tokens.len() <= ceiling {
        let hasher = &parts[0].0.hasher;
        // The set MinHash is taken over, in the buffer the k-shingles are
        // done with.
        MinHasher::shingle_set_into(q.tokens, shingles);
        hasher.signature_into(shingles, sig);
        crate::minhash::band_keys_into(sig, p.bands, p.rows, bands);
        for (ix, base) in parts {
            ix.near_matches(q.tokens.len(), sig, bands, *base, &mut acc, work);
        }
    }
    res.jaccard = acc.jaccard;
    finish(res, acc, q.text.len(), spans)
}

/// The matches of a document, one per reference, best first (longest run,
/// then Jaccard, then reference number), and the totals over them.
/// A reference's runs keep the order they were found in (segments in
/// turn, each's runs by diagonal); a reference that is only a near
/// duplicate covers the whole text.
pub(crate) fn finish(
    mut res: QueryResult,
    acc: Acc,
    text_len: usize,
    spans: &mut Vec<(usize, usize)>,
) -> QueryResult {
    let Acc {
        pieces,
        weak,
        near,
        chains,
        covered,
        ..
    } = acc;
    let mut matched: Vec<u32> = pieces
        .iter()
        .map(|p| p.reference)
        .chain(near.iter().map(|n| n.0))
        .collect();
    matched.sort_unstable();
    matched.dedup();
    patchwork(pieces, weak, &matched);
    for p in pieces.iter() {
        if let Some(c) = covered.get_mut(p.tokens.0..p.tokens.1) {
            c.fill(true);
        }
    }
    chains.sort_unstable_by_key(|c| c.0);
    pieces.sort_by_key(|p| p.reference);
    near.sort_unstable_by_key(|n| n.0);
    let mut matches: Vec<Match> = Vec::new();
    let mut near_at = 0;
    let mut i = 0;
    while i < pieces.len() || near_at < near.len() {
        let r = match (pieces.get(i), near.get(near_at)) {
            (Some(p), Some(n)) => p.reference.min(n.0),
            (Some(p), None) => p.reference,
            (None, Some(n)) => n.0,
            (None, None) => break,
        };
        let mut m = Match {
            reference: r,
            kind: "exact",
            longest_run: 0,
            reference_coverage: 0.0,
            jaccard: 0.0,
            spans: Vec::new(),
            reference_spans: Vec::new(),
            aligned: 0,
            significance: 0.0,
            kept: None,
        };
        let mut exact = false;
        while let Some(p) = pieces.get(i).filter(|p| p.reference == r) {
            m.longest_run = m.longest_run.max(p.run);
            m.reference_coverage = (m.reference_coverage + p.share).min(1.0);
            m.spans.push(p.span);
            m.reference_spans.push(p.in_reference);
            match p.kind {
                Kind::Exact => exact = true,
                Kind::Aligned(score) => {
                    m.aligned = score.matched;
                    m.significance = score.significance;
                    m.kept = score.kept;
                }
            }
            i += 1;
        }
        if !exact && m.aligned > 0 {
            m.kind = "aligned";
        }
        // A chain tried for a reference whose runs are what matched it
        // (a patchwork's) is not its evidence.
        let chain = if exact {
            None
        } else {
            chains.binary_search_by_key(&r, |c| c.0).ok()
        };
        if let Some(c) = chain {
            let score = chains[c].1;
            m.aligned = score.matched;
            m.significance = score.significance;
            m.kept = score.kept;
        }
        while let Some(&(_, j, rtok)) = near.get(near_at).filter(|n| n.0 == r) {
            // A near duplicate as a whole: its spans are the aligned
            // pieces when it was aligned too, else the whole texts.
            if !exact {
                m.kind = "near";
            }
            if m.spans.is_empty() {
                m.spans.push((0, text_len));
                m.reference_spans.push((0, rtok));
            }
            m.jaccard = j;
            near_at += 1;
        }
        matches.push(m);
    }
    matches.sort_unstable_by(|a, b| {
        b.longest_run
            .cmp(&a.longest_run)
            .then(b.jaccard.total_cmp(&a.jaccard))
            .then(a.reference.cmp(&b.reference))
    });
    res.longest_run = matches.iter().map(|m| m.longest_run).max().unwrap_or(0);
    res.covered = covered.iter().filter(|c| **c).count() as f64 / covered.len().max(1) as f64;
    spans.clear();
    spans.extend(matches.iter().flat_map(|m| m.spans.iter().copied()));
    spans.sort_unstable();
    let mut merged: Vec<(usize, usize)> = Vec::new();
    for &s in spans.iter() {
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
