//! k-token shingles and winnowing (Schleimer, Wilkerson and Aiken, 2003).

use crate::Token;

/// splitmix64's finaliser: a bijection of 64-bit values with good
/// avalanche.
#[inline]
pub(crate) fn mix64(mut x: u64) -> u64 {
    x ^= x >> 30;
    x = x.wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x ^= x >> 27;
    x = x.wrapping_mul(0x94D0_49BB_1331_11EB);
    x ^ (x >> 31)
}

/// The key a fingerprint is stored under (format 3 on). Winnowing keeps
/// the smallest hash of every window, so fingerprints crowd towards zero
/// (about eight times as dense there as on average, for w = 8); spread by
/// a bijection they are uniform again, which is what lets a look-up guess
/// a key's place in the sorted table from its value.
#[inline]
pub(crate) fn spread(fingerprint: u64) -> u64 {
    mix64(fingerprint)
}

/// The window hashes keyed by `salt` before they are winnowed (nothing
/// when it is 0): a bijection, so windows equal in two texts stay equal,
/// but which of a text's windows is the smallest of its neighbourhood, and
/// so kept, is not known without the key.
#[inline]
pub(crate) fn key_in_place(hashes: &mut [u64], salt: u64) {
    if salt != 0 {
        for h in hashes {
            *h = mix64(*h ^ salt);
        }
    }
}

/// Tokens per short phrase: what makes a short reference a candidate for
/// alignment when its copy has too many words changed to keep a
/// fingerprint of [`crate::Params::k`] tokens.
pub(crate) const SHORT_K: usize = 4;

/// The winnowing window of short phrases, on both sides: a shared run of
/// `SHORT_W + SHORT_K - 1` tokens always shares one.
pub(crate) const SHORT_W: usize = 8;

/// The longest reference (tokens) whose short phrases are kept: a longer
/// one keeps, with a third of its words changed, enough fingerprints.
pub(crate) const SHORT_MAX_TOKENS: usize = 512;

/// The key a short phrase is stored under (in the fingerprints' table):
/// its window hash mixed with a constant of its own, so that it never
/// stands for a fingerprint.
#[inline]
pub(crate) fn short_key(h: u64) -> u64 {
    mix64(h ^ 0x5348_4f52_5450_4852)
}

/// The multiplier of a window hash's steps.
const MUL: u64 = 0x9E37_79B9_7F4A_7C15;

/// A window hash's value before its first token (xor the window's length).
const INIT: u64 = 0x5151_5151;

#[inline]
fn mix(h: u64, t: u64) -> u64 {
    (h.rotate_left(23) ^ t).wrapping_mul(MUL)
}

/// Hashes of every window of `k` consecutive tokens, in order (position i
/// is the window starting at token i). Fewer than `k` tokens give one
/// window over all of them, so short texts still have a fingerprint.
pub fn shingles(tokens: &[Token], k: usize) -> Vec<u64> {
    let mut out = Vec::new();
    shingles_into(tokens, k, &mut out);
    out
}

/// [`shingles`] into `out` (cleared first).
pub(crate) fn shingles_into(tokens: &[Token], k: usize, out: &mut Vec<u64>) {
    shingles_with(tokens, k, proviso_simd::available(), out);
}

/// [`shingles_into`], with vector instructions or without (`vector`
/// false; the tests take both paths on any processor).
fn shingles_with(tokens: &[Token], k: usize, vector: bool, out: &mut Vec<u64>) {
    let k = k.max(1);
    out.clear();
    if tokens.is_empty() {
        return;
    }
    if tokens.len() < k {
        out.push(window_hash_of(tokens));
        return;
    }
    if (k == 8 || k == 3) && vector {
        // Eight windows at a time with vector instructions, over the
        // tokens' hashes laid out in `out`, window by window in place
        // (the same hashes: tests compare them).
        out.extend(tokens.iter().map(|t| t.hash));
        let done = match k {
            8 => proviso_simd::window_hashes_in_place::<8>(out, INIT, MUL),
            _ => proviso_simd::window_hashes_in_place::<3>(out, INIT, MUL),
        };
        let windows = tokens.len() - k + 1;
        for i in done..windows {
            out[i] = fold(k, out[i..i + k].iter().copied());
        }
        out.truncate(windows);
        return;
    }
    // The usual window sizes (the index's k, short phrases' 4, MinHash's 3) with the fold
    // unrolled: the same hashes, ~4% faster to fingerprint.
    match k {
        8 => out.extend(tokens.windows(8).map(window_hash::<8>)),
        4 => out.extend(tokens.windows(4).map(window_hash::<4>)),
        3 => out.extend(tokens.windows(3).map(window_hash::<3>)),
        _ => out.extend(tokens.windows(k).map(window_hash_of)),
    }
}

/// The hash of a window of any number of tokens.
fn window_hash_of(w: &[Token]) -> u64 {
    fold(w.len(), w.iter().map(|t| t.hash))
}

/// The hash of a window of `len` token hashes.
#[inline]
fn fold(len: usize, hashes: impl Iterator<Item = u64>) -> u64 {
    let h = hashes.fold(INIT ^ len as u64, mix);
    h ^ (h >> 29)
}

/// The hash of a window of `K` tokens (`w` holds `K`).
#[inline]
fn window_hash<const K: usize>(w: &[Token]) -> u64 {
    let mut h = INIT ^ K as u64;
    for t in &w[..K] {
        h = mix(h, t.hash);
    }
    h ^ (h >> 29)
}

/// Winnowing with window `w`: the minimum hash of every `w` consecutive
/// shingles (the rightmost on ties), each kept once, as (hash, position).
/// Any run of `w + k - 1` shared tokens shares at least one of them.
pub fn winnow(hashes: &[u64], w: usize) -> Vec<(u64, u32)> {
    let mut out = Vec::new();
    winnow_into(hashes, w, &mut out);
    out
}

/// [`winnow`] into `out` (cleared first).
pub(crate) fn winnow_into(hashes: &[u64], w: usize, out: &mut Vec<(u64, u32)>) {
    let w = w.max(1);
    out.clear();
    if hashes.len() <= w {
        if let Some((i, h)) = hashes.iter().enumerate().rev().min_by_key(|(_, h)| **h) {
            out.push((*h, i as u32));
        }
        return;
    }
    out.reserve(2 * hashes.len() / (w + 1) + 1);
    // The rightmost minimum of `window`, as a position in it.
    let rightmost_min = |window: &[u64]| {
        let mut m = 0;
        for (j, &h) in window.iter().enumerate() {
            if h <= window[m] {
                m = j;
            }
        }
        m
    };
    // The current minimum `m` stays until a hash as small arrives (it is
    // the new one) or it leaves the window (the window is scanned again,
    // about once every w/2 positions): a comparison a position, and
    // branches that mostly go the same way.
    let mut m = rightmost_min(&hashes[..w]);
    let mut cur = hashes[m];
    out.push((cur, m as u32));
    for (i, &h) in hashes.iter().enumerate().skip(w) {
        if h <= cur {
            m = i;
            cur = h;
        } else if m + w <= i {
            let start = i + 1 - w;
            // The index's window (w = 8) without a branch on the values:
            // the scan's branch goes either way at random, and a
            // mispredicted branch per scan was half of winnowing's time.
            m = start
                + match hashes.get(start..=i).and_then(|s| s.first_chunk::<8>()) {
                    Some(eight) if w == 8 => rightmost_min8(eight),
                    _ => rightmost_min(&hashes[start..=i]),
                };
            cur = hashes[m];
        } else {
            continue;
        }
        out.push((cur, m as u32));
    }
}

/// The position of the rightmost minimum of eight hashes, by a tree of
/// selections (the right one wins ties at every level, so the rightmost
/// minimum wins overall) that compile to conditional moves.
#[inline]
fn rightmost_min8(h: &[u64; 8]) -> usize {
    #[inline(always)]
    fn pick(a: (u64, usize), b: (u64, usize)) -> (u64, usize) {
        let right = b.0 <= a.0;
        (if right { b.0 } else { a.0 }, if right { b.1 } else { a.1 })
    }
    let p01 = pick((h[0], 0), (h[1], 1));
    let p23 = pick((h[2], 2), (h[3], 3));
    let p45 = pick((h[4], 4), (h[5], 5));
    let p67 = pick((h[6], 6), (h[7], 7));
    pick(pick(p01, p23), pick(p45, p67)).1
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_long_enough_shared_run_shares_a_fingerprint() {
        // Pseudo-random hashes; any window of w positions contains a selected one.
        let hs: Vec<u64> = (0..500u64)
            .map(|i| xxhash_rust::xxh3::xxh3_64(&i.to_le_bytes()))
            .collect();
        let w = 8;
        let fp = winnow(&hs, w);
        let pos: Vec<usize> = fp.iter().map(|(_, p)| *p as usize).collect();
        for start in 0..=hs.len() - w {
            assert!(
                pos.iter().any(|p| (start..start + w).contains(p)),
                "window at {start}"
            );
        }
        assert!(fp.len() < hs.len() / 3, "density about 2/(w+1)");
    }

    /// The same selection as the definition, window by window, on hashes
    /// with many ties.
    #[test]
    fn agrees_with_the_definition() {
        let mut x = 7u64;
        for n in [1usize, 2, 7, 8, 9, 16, 17, 100, 333] {
            for w in [1usize, 2, 3, 8] {
                let hs: Vec<u64> = (0..n)
                    .map(|_| {
                        x = x.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
                        (x >> 60) % 5
                    })
                    .collect();
                let mut want: Vec<(u64, u32)> = Vec::new();
                if n <= w {
                    let (i, h) = hs
                        .iter()
                        .enumerate()
                        .rev()
                        .min_by_key(|(_, h)| **h)
                        .unwrap();
                    want.push((*h, i as u32));
                } else {
                    for s in 0..=n - w {
                        let (i, h) = (s..s + w)
                            .rev()
                            .map(|i| (i, hs[i]))
                            .min_by_key(|p| p.1)
                            .unwrap();
                        if want.last().is_none_or(|l| l.1 != i as u32) {
                            want.push((h, i as u32));
                        }
                    }
                }
                assert_eq!(winnow(&hs, w), want, "n {n} w {w}");
            }
        }
    }

    /// Every way of hashing windows (the unrolled window sizes, the
    /// general fold, a text shorter than a window, and the vector path
    /// where the processor has it, next to the plain path taken on
    /// purpose) gives the hashes of the fold written out here, which the
    /// stored indexes hold.
    #[test]
    fn every_window_path_is_the_fold() {
        let tokens: Vec<Token> = (0..140u64)
            .map(|i| Token {
                hash: (i + 1).wrapping_mul(0xD6E8_FEB8_6659_FD93) ^ (i << 61),
                start: i as u32,
                end: i as u32 + 1,
            })
            .collect();
        let fold = |w: &[Token]| {
            let h = w.iter().fold(0x5151_5151u64 ^ w.len() as u64, |h, t| {
                (h.rotate_left(23) ^ t.hash).wrapping_mul(0x9E37_79B9_7F4A_7C15)
            });
            h ^ (h >> 29)
        };
        for n in 0..tokens.len() {
            for k in 1..=10usize {
                let t = &tokens[..n];
                let want: Vec<u64> = if n == 0 {
                    vec![]
                } else if n < k {
                    vec![fold(t)]
                } else {
                    t.windows(k).map(fold).collect()
                };
                assert_eq!(shingles(t, k), want, "n {n} k {k}");
                let mut plain = Vec::new();
                shingles_with(t, k, false, &mut plain);
                assert_eq!(plain, want, "without vectors: n {n} k {k}");
            }
        }
    }

    #[test]
    fn short_inputs() {
        assert!(winnow(&[], 4).is_empty());
        assert_eq!(winnow(&[5, 3, 9], 4), vec![(3, 1)]);
    }
}
