//! Alignment of short seeds along a diagonal: how a copy with many of its
//! words changed is still found.
//!
//! When every third word of a copy is replaced, inserted or deleted, the
//! exact runs of 20 tokens the fingerprints find are gone, and the copy's
//! MinHash falls below the near-duplicate threshold. What survives is
//! many short stretches (a few words each) that the copy still shares with
//! its reference, *in the same order, at about the same offsets*. As
//! sequence aligners do (BLAST's seeds, minimap2's chains), the alignment
//! takes every shared [`K`]-token seed of a document and one candidate
//! reference, and finds the chain of seeds that runs forward in both texts
//! along one diagonal band (document offset against reference offset,
//! drifting at most [`BAND`] tokens between two seeds, at most [`GAP`]
//! tokens apart) covering the most document tokens. Two unrelated texts
//! share a few stock phrases, scattered: they do not line up.
//!
//! How many covered tokens are enough depends on the lengths: a long
//! document against a long reference offers more chances for a chance
//! chain, so the chain's length is weighed against the logarithm of the
//! number of places it could have started ([`significance`]), as an
//! E-value is (Karlin and Altschul, 1990).
//!
//! Tokens are the 16-bit token hashes the index keeps for every reference
//! (the same the exact runs are extended with), so the alignment reads
//! nothing the index does not already hold.

/// Tokens per seed.
pub(crate) const K: usize = 5;

/// Tokens per seed when a document shares no seed of [`K`] with a
/// reference it is a candidate for: then only what it keeps of the
/// reference ([`kept`]) can flag it, never the chain's significance.
pub(crate) const SHORT_SEED: usize = 4;

/// How far a chain may drift off its diagonal between two consecutive
/// seeds: the tokens inserted or deleted between them.
pub(crate) const BAND: i64 = 12;

/// The most document tokens from the end of one seed of a chain to the
/// start of the next (their starts at most `GAP + K` apart).
pub(crate) const GAP: usize = 48;

/// Earlier seeds a seed looks back at for the chain it extends.
const LOOKBACK: usize = 64;

/// Reference positions kept for one seed (a reference repeating a phrase
/// many times is not a reason to try every pair).
const PER_SEED: usize = 4;

/// The significance (bits) an alignment needs by default, without a
/// background: on the tune quarter of `bench/audit_quality.py` with the
/// reference models rotated (`bench/audit_tune.py`: five pairs of the ten
/// AlpacaEval models in turn the references, the other eight models'
/// answers to the same instructions the negatives, 7,280 of them), with a
/// document that keeps [`DEFAULT_KEPT`] of a reference flagged too, the
/// smallest at which all that is flagged among those answers is at most
/// 0.5% of them. Chosen on unkeyed indexes; a keyed one (format 7) keeps
/// other windows, and over three keys the same rules flagged 36 to 37 of
/// the 7,280 (0.49-0.51%; 36 to 38 with a background at
/// [`DEFAULT_MIN_WITH_BACKGROUND`]).
pub const DEFAULT_MIN: f64 = 33.0;

/// The same, with a background ([`crate::Background`]) and
/// [`DEFAULT_KEPT_WITH_BACKGROUND`].
pub const DEFAULT_MIN_WITH_BACKGROUND: f64 = 27.0;

/// The rules a document is flagged by beyond exact runs and near
/// duplicates, as an audit's findings record them.
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize)]
pub struct Rules {
    /// The significance in bits a chain needs (`None`: no alignment).
    pub align_min: Option<f64>,
    /// The share of a reference a document must keep (`None`: off).
    pub kept_min: Option<f64>,
    /// Whether a background discounts common phrasing.
    pub background: bool,
}

/// Whether and how a look-up aligns short seeds.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub enum Alignment {
    /// No alignment: exact runs and near duplicates only.
    Off,
    /// At [`DEFAULT_MIN`] bits, or [`DEFAULT_MIN_WITH_BACKGROUND`] with a
    /// background.
    #[default]
    Default,
    /// At this many bits.
    AtLeast(f64),
}

/// The share of a reference that a document aligned with it must keep
/// ([`kept`]) to be flagged whatever its chain's significance, by default
/// (for references of [`KEPT_MIN_TOKENS`] to [`KEPT_MAX_TOKENS`] tokens).
/// Chosen with `bench/audit_tune.py` on the tune quarter only: of 0.5,
/// 0.55, 0.6 and 0.65, each with the smallest [`DEFAULT_MIN`] that kept
/// the negatives there within 0.5%, the one that found the most copies
/// with 30% of their words edited (0.5 met the bound at no threshold).
pub const DEFAULT_KEPT: f64 = 0.55;

/// The same, with a background: its phrases are never kept, so a share
/// of the rest is stronger evidence.
pub const DEFAULT_KEPT_WITH_BACKGROUND: f64 = 0.5;

/// The fewest tokens a reference needs for what a document kept of it to
/// count: a short answer (a list of a product's attributes, a sum worked
/// out) is one that other writers give in much the same words.
pub const KEPT_MIN_TOKENS: usize = 64;

/// The most tokens a reference may have for what a document kept of it to
/// be worked out (the work grows with the reference's length times the
/// document's); a longer reference's edited copy is found by its chain.
pub const KEPT_MAX_TOKENS: usize = 2048;

/// Bits one covered token is worth against the chance of a chain
/// ([`significance`]).
pub const BITS_PER_TOKEN: f64 = 1.0;

/// A chain of seeds shared in order by a document and a reference.
#[derive(Clone, Debug, Default, PartialEq)]
pub(crate) struct Chain {
    /// Document tokens the chain's seeds cover.
    pub matched: usize,
    /// The longest piece (document tokens).
    pub longest: usize,
    /// The pieces: a document token range and the reference token range
    /// it is aligned with (seeds overlapping on one diagonal make one
    /// piece), in order.
    pub pieces: Vec<(std::ops::Range<usize>, std::ops::Range<usize>)>,
}

/// The buffers of alignments, kept between them.
#[derive(Default)]
pub(crate) struct AlignWork {
    /// Open addressing from a seed to its latest reference position + 1.
    slots: Vec<u32>,
    /// The seed of each slot.
    keys: Vec<u64>,
    /// Per reference position: the seed's earlier position + 1 (0: none).
    next: Vec<u32>,
    /// Shared seeds, (document position, reference position), in
    /// document order.
    hits: Vec<(u32, u32)>,
    /// Per hit: the best chain ending there (tokens covered) and the hit
    /// before it in that chain + 1.
    best: Vec<(u32, u32)>,
    /// [`distance`]'s: per token value, its row of `masks` + 1 (0: the
    /// reference does not hold it); only the reference's entries are set,
    /// and cleared after.
    rows: Vec<u16>,
    /// Per distinct token of the reference, the bit set of its positions.
    masks: Vec<u64>,
    /// Per block of 64 reference tokens, its vertical deltas (+1, -1).
    v: Vec<u64>,
    /// [`kept_in_pieces`]'s: per hit, whether a piece took it; the hits in
    /// the order they are tried; the pieces taken.
    used: Vec<bool>,
    order: Vec<u32>,
    taken: Vec<Piece>,
}

/// A document token range and the reference token range it is aligned
/// with.
pub(crate) type Piece = (std::ops::Range<usize>, std::ops::Range<usize>);

/// The fewest document tokens the seeds of a piece must cover for
/// [`kept_in_pieces`] to take it: more than one seed's worth (a shared
/// run of 8 tokens is a piece; a lone 5-token phrase is not).
pub(crate) const MIN_PIECE: u32 = 8;

/// The share more than [`kept`]'s bound that [`kept_in_pieces`] asks
/// for: each part finds its own place in the document, which gives an
/// unrelated text more chances than one alignment in order. Chosen on the
/// tune quarter with the reference models rotated (`bench/audit_tune.py`,
/// the product's thresholds): the smallest of 0.05 and 0.1 at which no
/// more of the 7,280 negatives were flagged than without pieces, with a
/// background or without (0.05 flagged 3 more without one).
pub(crate) const PIECES_MARGIN: f64 = 0.1;

/// The most tokens between two seeds of one piece of
/// [`kept_in_pieces`] where nothing matched.
const HOLE: usize = 8;

/// What `doc` keeps of `reference` with its parts in any order (sentences
/// shuffled, paragraphs moved) as well as edited: the share [`kept`]
/// gives, worked out per part. The pieces are the local chains of the
/// seeds the last [`align_seeds`] found between them (seeds of `k`
/// tokens; `w` as that call left it), best first, each of at least
/// [`MIN_PIECE`] covered tokens and overlapping no piece taken before it
/// in the document or in the reference. The reference is cut between
/// consecutive pieces (halfway between them) into parts, one around each
/// piece, and each part aligned (its edit distance, [`distance`]) with the
/// document around its piece, as far as the part reaches on either side
/// plus the edits `min` allows. A copy whose sentences were shuffled keeps
/// each part where it moved; another writer's answer rarely has two seeds
/// on one diagonal, and where it has a few, the rest of the reference
/// around them counts as lost, as it does for [`kept`].
///
/// `unmatched`, when given, marks the tokens of the whole `doc` that match
/// nothing (the background's phrases). Returns the share, whether it
/// reaches `min` (in tokens, as [`kept`]), and the pieces (document and
/// reference ranges), in reference order; with fewer than two pieces,
/// nothing (one piece is the chain in order, which [`kept`] weighs).
/// The share must reach `min` and [`PIECES_MARGIN`] more.
pub(crate) fn kept_in_pieces(
    doc: &[u16],
    window: std::ops::Range<usize>,
    unmatched: Option<&[bool]>,
    reference: &[u16],
    k: usize,
    min: f64,
    w: &mut AlignWork,
) -> (f64, bool, Vec<Piece>) {
    let m = reference.len();
    let window = window.start.min(doc.len())..window.end.min(doc.len());
    if m == 0 || w.best.len() != w.hits.len() {
        return (0.0, false, Vec::new());
    }
    let k = k.max(1);
    w.used.clear();
    w.used.resize(w.hits.len(), false);
    w.order.clear();
    w.order.extend(0..w.hits.len() as u32);
    {
        let best = &w.best;
        w.order
            .sort_unstable_by_key(|&h| (std::cmp::Reverse(best[h as usize].0), h));
    }
    w.taken.clear();
    let mut chain: Vec<(u32, u32)> = Vec::new();
    for &end in &w.order {
        let end = end as usize;
        if w.used[end] {
            continue;
        }
        // Back along the chain ending here, to its start or to a hit a
        // piece took already.
        chain.clear();
        let mut h = end + 1;
        while h != 0 && !w.used[h - 1] {
            w.used[h - 1] = true;
            chain.push(w.hits[h - 1]);
            h = w.best[h - 1].1 as usize;
        }
        chain.reverse();
        // Cut where nothing matched for more than `HOLE` tokens on either
        // side: a chain may run on over a part moved away (the parts
        // before and after it, moved together, on one diagonal), and
        // that part is a piece of its own elsewhere.
        let mut s = 0;
        while s < chain.len() {
            let (mut e, mut covered, mut to) = (s + 1, k, chain[s].0 as usize + k);
            while e < chain.len() {
                let (i, j) = (chain[e].0 as usize, chain[e].1 as usize);
                let (pi, pj) = (chain[e - 1].0 as usize, chain[e - 1].1 as usize);
                if i > pi + k + HOLE || j > pj + k + HOLE {
                    break;
                }
                covered += (i + k).saturating_sub(to.max(i));
                to = to.max(i + k);
                e += 1;
            }
            let ((i0, j0), (i1, j1)) = (chain[s], chain[e - 1]);
            s = e;
            if covered < MIN_PIECE as usize {
                continue;
            }
            let piece = (
                i0 as usize..i1 as usize + k,
                j0 as usize..(j1 as usize + k).min(m),
            );
            let overlaps = w.taken.iter().any(|(d, r)| {
                d.start < piece.0.end && piece.0.start < d.end
                    || r.start < piece.1.end && piece.1.start < r.end
            });
            if !overlaps {
                w.taken.push(piece);
            }
        }
    }
    // One piece is the chain in order, which [`kept`] weighs already:
    // parts in any order are two at least.
    if w.taken.len() < 2 {
        return (0.0, false, Vec::new());
    }
    w.taken.sort_unstable_by_key(|p| p.1.start);
    let taken = std::mem::take(&mut w.taken);
    let mut keeps = 0usize;
    let mut cut = 0usize;
    for (n, (d, r)) in taken.iter().enumerate() {
        let end = taken
            .get(n + 1)
            .map_or(m, |next| (r.end + next.1.start.max(r.end)) / 2);
        let part = cut..end.max(cut).min(m);
        cut = part.end;
        let slack = ((1.0 - min.clamp(0.0, 1.0)) * part.len() as f64).ceil() as usize + k;
        let from = d
            .start
            .saturating_sub(r.start.saturating_sub(part.start) + slack)
            .max(window.start);
        let to = (d.end + part.end.saturating_sub(r.end) + slack)
            .min(window.end)
            .max(from);
        let lost = distance(
            &doc[from..to],
            unmatched.and_then(|u| u.get(from..to)),
            &reference[part.clone()],
            w,
        );
        keeps += part.len().saturating_sub(lost);
    }
    w.taken = taken;
    let min = (min + PIECES_MARGIN).min(1.0);
    let needed = (min * m as f64 - 1e-9).ceil().max(0.0) as usize;
    (keeps as f64 / m as f64, keeps >= needed, w.taken.clone())
}

/// The fewest tokens that must be replaced, inserted or deleted to turn
/// `reference` into some stretch of `doc` (the stretch anywhere: the
/// document's text before and after it is free): the edit distance of
/// semi-global alignment, by Myers' bit-vector algorithm (1999) in the
/// block form of Hyyrö (2003): one pass over the document, a few word
/// operations per 64 reference tokens for each document token.
///
/// `unmatched`, when given, marks the document tokens that match nothing
/// (those of a phrase the background holds).
pub(crate) fn distance(
    doc: &[u16],
    unmatched: Option<&[bool]>,
    reference: &[u16],
    w: &mut AlignWork,
) -> usize {
    let m = reference.len();
    if m == 0 {
        return 0;
    }
    debug_assert!(m <= KEPT_MAX_TOKENS, "the caller bounds the reference");
    let blocks = m.div_ceil(64);
    if w.rows.len() != 1 << 16 {
        w.rows.clear();
        w.rows.resize(1 << 16, 0);
    }
    w.masks.clear();
    let mut distinct = 0usize;
    for (j, &t) in reference.iter().enumerate() {
        let row = match w.rows[usize::from(t)] {
            0 => {
                distinct += 1;
                w.rows[usize::from(t)] = distinct as u16;
                w.masks.resize(distinct * blocks, 0);
                distinct - 1
            }
            r => r as usize - 1,
        };
        w.masks[row * blocks + j / 64] |= 1 << (j % 64);
    }
    // Per block its Pv and Mv (the vertical deltas +1 and -1); the first
    // column is 0, 1, 2, ... down the reference: every delta +1.
    w.v.clear();
    w.v.resize(2 * blocks, 0);
    for b in 0..blocks {
        w.v[2 * b] = u64::MAX;
    }
    let last = 1u64 << ((m - 1) % 64);
    let mut score = m;
    let mut best = m;
    for (i, &t) in doc.iter().enumerate() {
        let row = if unmatched.is_some_and(|u| u.get(i).copied().unwrap_or(false)) {
            0
        } else {
            w.rows[usize::from(t)] as usize
        };
        // The horizontal delta entering the top of the block: 0 for the
        // first (the document's start is free).
        let mut hin: i32 = 0;
        for b in 0..blocks {
            let eq0 = if row == 0 {
                0
            } else {
                w.masks[(row - 1) * blocks + b]
            };
            let (pv, mv) = (w.v[2 * b], w.v[2 * b + 1]);
            let hneg = u64::from(hin < 0);
            let hpos = u64::from(hin > 0);
            let xv = eq0 | mv;
            let eq = eq0 | hneg;
            let xh = ((eq & pv).wrapping_add(pv) ^ pv) | eq;
            let ph = mv | !(xh | pv);
            let mh = pv & xh;
            if b + 1 == blocks {
                // The bottom row: the distance of the whole reference.
                if ph & last != 0 {
                    score += 1;
                } else if mh & last != 0 {
                    score -= 1;
                }
            }
            let hout = (ph >> 63) as i32 - (mh >> 63) as i32;
            let ph = (ph << 1) | hpos;
            let mh = (mh << 1) | hneg;
            w.v[2 * b] = mh | !(xv | ph);
            w.v[2 * b + 1] = ph & xv;
            hin = hout;
        }
        best = best.min(score);
    }
    for &t in reference {
        w.rows[usize::from(t)] = 0;
    }
    best
}

/// The share of `reference` that `doc` keeps: 1 less the fewest token
/// edits ([`distance`]) that turn the reference into some stretch of the
/// document, over the reference's tokens.
///
/// A copy with a third of its words replaced, inserted or deleted keeps
/// about two thirds of its reference; another writer's answer to the same
/// question, sharing its subject's words and the language's little words
/// here and there, keeps far less of it (`docs/audit.md`).
///
/// Returns the share, and whether it reaches `min` (counted in tokens, so
/// that a share exactly at the bound is not lost to rounding).
pub(crate) fn kept(
    doc: &[u16],
    unmatched: Option<&[bool]>,
    reference: &[u16],
    min: f64,
    w: &mut AlignWork,
) -> (f64, bool) {
    let m = reference.len();
    if m == 0 {
        return (0.0, false);
    }
    let d = distance(doc, unmatched, reference, w);
    let needed = (min * m as f64 - 1e-9).ceil().max(0.0) as usize;
    (1.0 - d as f64 / m as f64, m - d >= needed)
}

/// A seed's key: the hash of `K` token hashes.
#[inline]
fn seed_key(t: &[u16]) -> u64 {
    t.iter().fold(0x5EED_u64, |h, &x| {
        (h.rotate_left(17) ^ u64::from(x)).wrapping_mul(0x9E37_79B9_7F4A_7C15)
    })
}

/// The seed key of every position of `tokens` (16-bit token hashes) where
/// a whole seed starts.
pub(crate) fn seed_keys(tokens: &[u16]) -> impl Iterator<Item = u64> + '_ {
    tokens.windows(K).map(seed_key)
}

/// The significance, in bits, of a chain covering `matched` tokens
/// between a document of `doc` tokens and a reference of `reference`
/// tokens: what the covered tokens are worth less the logarithm of the
/// number of (document, reference) offset pairs a chance chain could
/// start from.
pub fn significance(matched: usize, doc: usize, reference: usize) -> f64 {
    matched as f64 * BITS_PER_TOKEN - ((doc.max(1) as f64) * (reference.max(1) as f64)).log2()
}

/// The best chain of seeds between `doc[window]` and `reference` (token
/// hashes, 16 bits each), or `None` when they share no seed.
/// `common`, when given, marks the document positions whose seed is a
/// common phrase (the background's): those are not seeds.
pub(crate) fn align(
    doc: &[u16],
    window: std::ops::Range<usize>,
    reference: &[u16],
    common: Option<&[bool]>,
    w: &mut AlignWork,
) -> Option<Chain> {
    align_seeds(doc, window, reference, common, K, w)
}

/// [`align`] with seeds of `k` tokens: [`SHORT_SEED`] when a document and
/// a reference share no seed of [`K`] (an edit every fifth word on a
/// regular pattern leaves runs of four).
pub(crate) fn align_seeds(
    doc: &[u16],
    window: std::ops::Range<usize>,
    reference: &[u16],
    common: Option<&[bool]>,
    k: usize,
    w: &mut AlignWork,
) -> Option<Chain> {
    let k = k.max(1);
    let window = window.start.min(doc.len())..window.end.min(doc.len());
    if reference.len() < k || window.len() < k || reference.len() > u32::MAX as usize / 2 {
        return None;
    }
    let AlignWork {
        slots,
        keys,
        next,
        hits,
        best,
        ..
    } = w;
    // The reference's seeds, each pointing at its latest position, which
    // points at the one before.
    let seeds = reference.len() - k + 1;
    let bits = (2 * seeds).next_power_of_two().trailing_zeros().max(4);
    let mask = (1usize << bits) - 1;
    slots.clear();
    slots.resize(mask + 1, 0);
    keys.clear();
    keys.resize(mask + 1, 0);
    next.clear();
    next.resize(seeds, 0);
    let slot_of = |key: u64| (key.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> (64 - bits)) as usize;
    for (j, key) in reference.windows(k).map(seed_key).enumerate() {
        let mut s = slot_of(key);
        loop {
            if slots[s] == 0 {
                slots[s] = j as u32 + 1;
                keys[s] = key;
                break;
            }
            if keys[s] == key {
                next[j] = slots[s];
                slots[s] = j as u32 + 1;
                break;
            }
            s = (s + 1) & mask;
        }
    }
    hits.clear();
    for (i, key) in doc[window.clone()]
        .windows(k)
        .map(seed_key)
        .enumerate()
        .map(|(o, key)| (window.start + o, key))
    {
        if common.is_some_and(|c| c.get(i).copied().unwrap_or(false)) {
            continue;
        }
        let mut s = slot_of(key);
        while slots[s] != 0 {
            if keys[s] == key {
                let mut at = slots[s];
                for _ in 0..PER_SEED {
                    if at == 0 {
                        break;
                    }
                    hits.push((i as u32, at - 1));
                    at = next[at as usize - 1];
                }
                break;
            }
            s = (s + 1) & mask;
        }
    }
    if hits.is_empty() {
        return None;
    }
    // The chain ending at each hit that covers the most document tokens:
    // hits come in document order, so the hits a chain can extend are
    // among the few before.
    best.clear();
    let kk = k as u32;
    let mut top = (0u32, 0usize);
    for h in 0..hits.len() {
        let (i, j) = hits[h];
        let d = i64::from(j) - i64::from(i);
        let mut b = (kk, 0u32);
        for g in (h.saturating_sub(LOOKBACK)..h).rev() {
            let (i2, j2) = hits[g];
            if i2 as usize + k + GAP < i as usize {
                break;
            }
            if i2 >= i || j2 >= j || (d - (i64::from(j2) - i64::from(i2))).abs() > BAND {
                continue;
            }
            let s = best[g].0 + kk.min(i - i2).min(j - j2);
            if s > b.0 {
                b = (s, g as u32 + 1);
            }
        }
        best.push(b);
        if b.0 > top.0 {
            top = (b.0, h);
        }
    }
    // Back along the chain, seeds on one diagonal that overlap or touch
    // made into one piece.
    let mut chain = Vec::new();
    let mut h = top.1 as u32 + 1;
    while h != 0 {
        chain.push(hits[h as usize - 1]);
        h = best[h as usize - 1].1;
    }
    chain.reverse();
    let mut pieces: Vec<(std::ops::Range<usize>, std::ops::Range<usize>)> = Vec::new();
    for (i, j) in chain {
        let (i, j) = (i as usize, j as usize);
        match pieces.last_mut() {
            Some((dr, rr)) if i <= dr.end && j <= rr.end && i - dr.start == j - rr.start => {
                dr.end = i + k;
                rr.end = j + k;
            }
            _ => pieces.push((i..i + k, j..j + k)),
        }
    }
    Some(Chain {
        matched: top.0 as usize,
        longest: pieces.iter().map(|p| p.0.len()).max().unwrap_or(0),
        pieces,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Words as 16-bit token hashes (a word's letters folded).
    fn toks(text: &str) -> Vec<u16> {
        text.split_whitespace()
            .map(|w| {
                w.bytes()
                    .fold(7u16, |h, b| h.wrapping_mul(31).wrapping_add(u16::from(b)))
            })
            .collect()
    }

    /// Every fifth token replaced: no seed of five, a chain of seeds of
    /// four over every run left.
    #[test]
    fn seeds_of_four_chain_runs_of_four() {
        let reference: Vec<u16> = (1..=100).collect();
        let doc: Vec<u16> = reference
            .iter()
            .enumerate()
            .map(|(i, &t)| if i % 5 == 4 { 1000 + i as u16 } else { t })
            .collect();
        let mut w = AlignWork::default();
        assert_eq!(align(&doc, 0..doc.len(), &reference, None, &mut w), None);
        let a = align_seeds(&doc, 0..doc.len(), &reference, None, SHORT_SEED, &mut w).unwrap();
        assert_eq!(a.matched, 80);
        assert_eq!(a.pieces.len(), 20);
        assert!(a.pieces.iter().all(|(d, r)| d == r && d.len() == 4));
    }

    fn run(doc: &str, reference: &str) -> Option<Chain> {
        let d = toks(doc);
        align(
            &d,
            0..d.len(),
            &toks(reference),
            None,
            &mut AlignWork::default(),
        )
    }

    #[test]
    fn a_verbatim_copy_is_one_piece() {
        let r = "a b c d e f g h i j k l m n o p";
        let a = run(&format!("x y {r} z"), r).unwrap();
        assert_eq!(a.matched, 16);
        assert_eq!(a.longest, 16);
        assert_eq!(a.pieces, vec![(2..18, 0..16)]);
    }

    #[test]
    fn edits_between_seeds_keep_one_chain() {
        // Every sixth word replaced, one inserted, one deleted: the
        // pieces follow each other in both texts, off by the insertion.
        let r =
            "w0 w1 w2 w3 w4 w5 w6 w7 w8 w9 w10 w11 w12 w13 w14 w15 w16 w17 w18 w19 w20 w21 w22 w23";
        let d =
            "w0 w1 w2 w3 w4 w5 XX w7 w8 w9 w10 w11 w12 INS w13 w14 w15 w16 w17 w19 w20 w21 w22 w23";
        let a = run(d, r).unwrap();
        assert_eq!(
            a.pieces,
            vec![
                (0..6, 0..6),
                (7..13, 7..13),
                (14..19, 13..18),
                (19..24, 19..24)
            ]
        );
        assert_eq!(a.matched, 22);
        assert_eq!(a.longest, 6);
    }

    #[test]
    fn seeds_out_of_order_do_not_chain() {
        // The same five-word phrases, in the other order: each alone.
        let r = "a b c d e f g h i j";
        let d = "f g h i j a b c d e";
        let a = run(d, r).unwrap();
        assert_eq!(a.matched, 5);
        assert_eq!(a.pieces.len(), 1);
    }

    #[test]
    fn far_apart_seeds_do_not_chain() {
        let r = format!("a b c d e {} f g h i j", "r ".repeat(100));
        let d = format!("a b c d e {} f g h i j", "q ".repeat(100));
        assert_eq!(run(&d, &r).unwrap().matched, 5);
        // Near enough, but off the diagonal by more than the band.
        let r = format!("a b c d e {} f g h i j", "r ".repeat(5));
        let d = format!("a b c d e {} f g h i j", "q ".repeat(5 + BAND as usize + 1));
        assert_eq!(run(&d, &r).unwrap().matched, 5);
        let d = format!("a b c d e {} f g h i j", "q ".repeat(5 + BAND as usize));
        assert_eq!(run(&d, &r).unwrap().matched, 10);
    }

    #[test]
    fn nothing_shared_or_too_short() {
        assert_eq!(run("a b c d e f", "g h i j k l"), None);
        assert_eq!(run("a b c d", "a b c d"), None);
        let d = toks("a b c d e f g");
        // Only the window is read.
        assert_eq!(
            align(
                &d,
                2..7,
                &toks("a b c d e"),
                None,
                &mut AlignWork::default()
            ),
            None
        );
        assert!(
            align(
                &d,
                0..100,
                &toks("a b c d e"),
                None,
                &mut AlignWork::default()
            )
            .is_some()
        );
        // A common phrase is no seed.
        let common = [true, false, false, false, false, false, false];
        assert!(
            align(
                &d,
                0..7,
                &toks("a b c d e"),
                Some(&common),
                &mut AlignWork::default()
            )
            .is_none()
        );
    }

    /// The parts of a reference moved and edited: each part kept where
    /// it went; the share is what `kept` would give the same parts in
    /// order. One shared phrase, or one piece, is nothing.
    #[test]
    fn kept_in_pieces_takes_each_part_where_it_went() {
        let reference: Vec<u16> = (1..=120).collect();
        // Six parts of 20, each with its 10th token replaced, in the
        // order 3 0 5 1 4 2.
        let part = |p: usize| -> Vec<u16> {
            (p * 20..p * 20 + 20)
                .map(|i| {
                    if i % 20 == 10 {
                        5000 + i as u16
                    } else {
                        reference[i]
                    }
                })
                .collect()
        };
        let doc: Vec<u16> = [3, 0, 5, 1, 4, 2].iter().flat_map(|&p| part(p)).collect();
        let mut w = AlignWork::default();
        align(&doc, 0..doc.len(), &reference, None, &mut w).unwrap();
        let (share, held, pieces) =
            kept_in_pieces(&doc, 0..doc.len(), None, &reference, K, 0.8, &mut w);
        // At most one replaced token and the cut between two parts lost
        // per part.
        assert!(held && share > 0.85 && share < 1.0, "{share}");
        assert!(pieces.len() >= 6, "{pieces:?}");
        assert!(pieces.windows(2).all(|p| p[0].1.end <= p[1].1.start));
        for (d, r) in &pieces {
            assert_eq!(d.len(), r.len());
            // One diagonal; a replaced token inside at most.
            let same = doc[d.clone()]
                .iter()
                .zip(&reference[r.clone()])
                .filter(|(a, b)| a == b);
            assert!(same.count() + 1 >= d.len(), "{d:?} {r:?}");
        }
        // The bound is min and the margin.
        let (_, held, _) = kept_in_pieces(&doc, 0..doc.len(), None, &reference, K, share, &mut w);
        assert!(!held);
        // Only the window is read.
        let (_, held, _) = kept_in_pieces(&doc, 0..40, None, &reference, K, 0.8, &mut w);
        assert!(!held);
        // One phrase of 6 shared: no piece; one part of 40 in order: one
        // piece, which is `kept`'s to weigh.
        for shared in [6usize, 40] {
            let mut d: Vec<u16> = (9000..9100).collect();
            d[30..30 + shared].copy_from_slice(&reference[50..50 + shared]);
            align(&d, 0..d.len(), &reference, None, &mut w).unwrap();
            assert_eq!(
                kept_in_pieces(&d, 0..d.len(), None, &reference, K, 0.0, &mut w),
                (0.0, false, Vec::new())
            );
        }
    }

    #[test]
    fn a_repeated_phrase_is_bounded() {
        // A reference saying one thing 100 times and a document saying it
        // 100 times: each document position gets the reference's last
        // PER_SEED positions only, not all 96, and the chain is what those
        // few allow.
        let r = toks(&"la ".repeat(100));
        let mut w = AlignWork::default();
        let a = align(&r, 0..r.len(), &r, None, &mut w).unwrap();
        assert_eq!(w.hits.len(), PER_SEED * (r.len() - K + 1));
        assert_eq!(a.matched, K + PER_SEED - 1);
    }

    /// A seeded xorshift generator: `rnd(n)` is below `n`.
    fn xorshift(mut x: u64) -> impl FnMut(u64) -> u64 {
        move |n| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x % n
        }
    }

    #[test]
    fn pieces_are_equal_and_in_order() {
        // Random texts over a small vocabulary, edited at random: every
        // piece holds the same tokens on both sides, and pieces run
        // forward in both.
        let mut rnd = xorshift(0x1234_5678_9abc_def0);
        let mut w = AlignWork::default();
        for _ in 0..300 {
            let reference: Vec<u16> = (0..rnd(300) + 5).map(|_| rnd(40) as u16).collect();
            let mut doc = Vec::new();
            for &t in &reference {
                match rnd(10) {
                    0 => doc.push(rnd(40) as u16),
                    1 => doc.extend([t, rnd(40) as u16]),
                    2 => {}
                    _ => doc.push(t),
                }
            }
            let Some(a) = align(&doc, 0..doc.len(), &reference, None, &mut w) else {
                continue;
            };
            let mut covered = 0;
            for (i, (d, r)) in a.pieces.iter().enumerate() {
                assert_eq!(doc[d.clone()], reference[r.clone()]);
                covered += d.len();
                if let Some((d0, r0)) = i.checked_sub(1).map(|p| &a.pieces[p]) {
                    assert!(d0.end <= d.start + K && d0.start < d.start);
                    assert!(r0.start < r.start);
                }
            }
            assert!(a.matched <= covered && a.matched >= a.longest);
        }
    }

    /// The semi-global edit distance by the textbook table.
    fn distance_table(doc: &[u16], reference: &[u16]) -> usize {
        // Row i: the first i reference tokens; the top row is free.
        let mut prev = vec![0usize; doc.len() + 1];
        for (i, &r) in reference.iter().enumerate() {
            let mut cur = vec![i + 1; doc.len() + 1];
            for (j, &d) in doc.iter().enumerate() {
                cur[j + 1] = (prev[j] + usize::from(r != d))
                    .min(prev[j + 1] + 1)
                    .min(cur[j] + 1);
            }
            prev = cur;
        }
        prev.into_iter().min().unwrap_or(reference.len())
    }

    #[test]
    fn distance_is_the_semi_global_edit_distance() {
        let mut rnd = xorshift(0x2545_f491_4f6c_dd1d);
        let mut w = AlignWork::default();
        for case in 0..400 {
            let vocab = [2, 5, 40, 60_000][case % 4];
            let m = [1, 63, 64, 65, 127, 128, 129, 200][case % 8] + rnd(3) as usize;
            let reference: Vec<u16> = (0..m).map(|_| rnd(vocab) as u16).collect();
            let mut doc: Vec<u16> = (0..rnd(50)).map(|_| rnd(vocab) as u16).collect();
            if case % 3 != 0 {
                for &t in &reference {
                    match rnd(6) {
                        0 => doc.push(rnd(vocab) as u16),
                        1 => doc.extend([t, rnd(vocab) as u16]),
                        2 => {}
                        _ => doc.push(t),
                    }
                }
                doc.extend((0..rnd(50)).map(|_| rnd(vocab) as u16));
            }
            assert_eq!(
                distance(&doc, None, &reference, &mut w),
                distance_table(&doc, &reference),
                "case {case}"
            );
        }
        assert!(w.rows.iter().all(|r| *r == 0));
        assert_eq!(distance(&[], None, &[1, 2], &mut w), 2);
        assert_eq!(distance(&[1, 2], None, &[], &mut w), 0);
        assert_eq!(distance(&[9, 1, 7, 3, 9], None, &[1, 2, 3], &mut w), 1);
        // A token marked unmatched is an edit.
        let marks = [false, false, false, true, false];
        assert_eq!(
            distance(&[9, 1, 7, 3, 9], Some(&marks), &[1, 2, 3], &mut w),
            2
        );
        // At the bound exactly: 55 of 100 kept.
        let reference: Vec<u16> = (0..100).collect();
        let doc: Vec<u16> = (0..100)
            .map(|t| if t < 55 { t } else { 1000 + t })
            .collect();
        let (share, held) = kept(&doc, None, &reference, 0.55, &mut w);
        assert!(held && (share - 0.55).abs() < 1e-12, "{share}");
        assert!(!kept(&doc, None, &reference, 0.56, &mut w).1);
    }

    #[test]
    fn significance_weighs_lengths() {
        assert!(significance(40, 100, 100) > significance(40, 10_000, 100));
        assert!(significance(40, 100, 100) < significance(41, 100, 100));
        assert_eq!(significance(0, 0, 0), 0.0);
    }
}
