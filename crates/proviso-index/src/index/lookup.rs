//! Look-ups: a key's place guessed from its segment's directory (and
//! ruled out by the directory record's filter), found by galloping, many
//! keys at once in a software pipeline with prefetches.

use super::*;

impl Index {
    /// Where `key` should stand in a sorted table of 16-byte entries: its
    /// bucket `[lo, hi)` from the directory, and a guess inside it by
    /// interpolation on the key's next 32 bits (keys are uniform hashes).
    /// `dir`: the table's directory, `n`: its entries, `filtered`: whether
    /// the directory holds records with filters (format 4 on); resolved
    /// once by the caller for all its keys.
    #[inline]
    pub(crate) fn guess(dir: &[u8], n: usize, filtered: bool, bits: u32, key: u64) -> Guess {
        let slot = (key >> (64 - bits)) as usize;
        let (lo, hi) = if filtered {
            let rec = slot * RECORD;
            let lo = (store::u32_at(dir, rec) as usize).min(n);
            let present = filter_bits(key).iter().all(|&bit| {
                dir.get(rec + 8 + bit / 8)
                    .is_some_and(|&x| x & (1 << (bit % 8)) != 0)
            });
            if !present {
                return Guess { lo, hi: lo, at: lo };
            }
            (lo, (lo + store::u32_at(dir, rec + 4) as usize).min(n))
        } else {
            let at = slot * 4;
            let hi = (store::u32_at(dir, at + 4) as usize).min(n);
            ((store::u32_at(dir, at) as usize).min(hi), hi)
        };
        let frac = (key << bits) >> 32;
        let at = lo + ((((hi - lo) as u64) * frac) >> 32) as usize;
        Guess { lo, hi, at }
    }

    /// The positions of each key in a sorted table of 16-byte entries, as
    /// a software pipeline, so that the cache misses of different keys
    /// overlap instead of waiting on each other: while key `i` is found,
    /// the entries around key `i + AHEAD`'s guess are asked for (its
    /// directory slot read by then) and key `i + 2 AHEAD`'s directory slot
    /// is asked for. A steady stream, not a burst: a burst of prefetches
    /// (or of loads) for all the keys first measured no faster, as it
    /// outruns the processor's few outstanding-miss slots.
    pub(crate) fn find_many(
        &self,
        table: usize,
        dir: usize,
        bits: u32,
        keys: &[u64],
        out: &mut Vec<std::ops::Range<usize>>,
    ) {
        const AHEAD: usize = 16;
        let b = self.section(table);
        let d = self.section(dir);
        let n = self.count(table, 16);
        let filtered = self.filtered();
        let stride = if filtered { RECORD } else { 4 };
        let ask_dir = |k: u64| proviso_mmap::prefetch(d, ((k >> (64 - bits)) as usize) * stride);
        let ask_entries = |g: &Guess| {
            if g.at < g.hi {
                // The guess is off by a few entries either way (4 at most,
                // mostly): the lines before and after it come with it.
                proviso_mmap::prefetch(b, g.at * 16);
                proviso_mmap::prefetch(b, g.at.saturating_sub(4).max(g.lo) * 16);
                proviso_mmap::prefetch(b, (g.at + 4).min(g.hi - 1) * 16);
            }
        };
        out.clear();
        pipeline(
            keys.len(),
            AHEAD,
            |i| ask_dir(keys[i]),
            |i| {
                let g = Index::guess(d, n, filtered, bits, keys[i]);
                ask_entries(&g);
                g
            },
            |i, g| {
                let found = Index::find(b, g, keys[i]);
                if table == store::EXACT && !found.is_empty() {
                    self.ask_postings(found.start);
                }
                out.push(found)
            },
        );
    }

    /// The positions of `key` in a sorted table of 16-byte entries that
    /// start with their key, searched from a guess outwards: a step at a
    /// time over the lines brought in with the guess, then galloping
    /// (steps 2, 4, 8, ...) to bracket the first entry not below the key,
    /// then a binary search of the bracket; the same from there for the
    /// end of the key's entries. A good guess costs a few steps in the
    /// cache; a bad one (a key repeated in many references) costs its
    /// logarithm.
    #[inline]
    pub(crate) fn find(b: &[u8], g: Guess, key: u64) -> std::ops::Range<usize> {
        let key_at = |i: usize| store::u64_at(b, i * 16);
        let below = |k: u64| k < key;
        let (lo, hi) = (g.lo, g.hi);
        let at = g.at.min(hi);
        let s = if at < hi && key_at(at) < key {
            gallop(&key_at, at, hi, &below)
        } else {
            // Backward; h == hi or key_at(h) >= key.
            let mut h = at;
            let mut taken = 0;
            loop {
                if h <= lo {
                    break lo;
                }
                let probe = h.saturating_sub(stride(taken)).max(lo);
                taken += 1;
                if key_at(probe) < key {
                    break partition(&key_at, probe + 1, h, &below);
                }
                h = probe;
            }
        };
        if s >= hi || key_at(s) != key {
            return s..s;
        }
        // The end: the first position after s whose key is above `key`.
        s..gallop(&key_at, s, hi, &|k| k <= key)
    }
}

/// Where a key should stand in a table: its directory bucket `[lo, hi)`
/// and the interpolated guess `at` inside it.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Guess {
    lo: usize,
    hi: usize,
    at: usize,
}

/// Runs `work(i, made)` for every `i` in `0..n` as a software pipeline:
/// `far(i)` is called `2 * ahead` items before (it asks for what `near`
/// will read), `near(i)` `ahead` items before (it reads that, asks for what
/// `work` will read, and makes what `work` needs), so that the cache misses
/// of one item are served while earlier items are worked on.
pub(crate) fn pipeline<T: Copy + Default>(
    n: usize,
    ahead: usize,
    mut far: impl FnMut(usize),
    mut near: impl FnMut(usize) -> T,
    mut work: impl FnMut(usize, T),
) {
    // What `near` made for items i..i + ahead, in a ring on the stack.
    const RING: usize = 32;
    let ahead = ahead.clamp(1, RING);
    // Every item's slot is filled by `near` before `work` reads it.
    let mut made: [T; RING] = [T::default(); RING];
    for i in 0..n.min(2 * ahead) {
        far(i);
    }
    for (i, slot) in made.iter_mut().enumerate().take(n.min(ahead)) {
        *slot = near(i);
    }
    for i in 0..n {
        if i + 2 * ahead < n {
            far(i + 2 * ahead);
        }
        let m = made[i % RING];
        if i + ahead < n {
            made[(i + ahead) % RING] = near(i + ahead);
        }
        work(i, m);
    }
}

/// The `taken`-th step of a search from a guess: eight single steps
/// (over the guess's own cache lines, in the cache by then), then doubling.
pub(crate) fn stride(taken: u32) -> usize {
    if taken < 8 {
        1
    } else {
        1usize << (taken - 7).min(40)
    }
}

/// The first position after `from` (whose key satisfies `pred`) and
/// before `hi` whose key does not (`hi` if none): stepping forwards by
/// [`stride`], then a binary search of the last step.
pub(crate) fn gallop(
    key_at: &dyn Fn(usize) -> u64,
    from: usize,
    hi: usize,
    pred: &dyn Fn(u64) -> bool,
) -> usize {
    let mut l = from;
    let mut taken = 0;
    loop {
        let probe = l + stride(taken);
        taken += 1;
        if probe >= hi {
            return partition(key_at, l + 1, hi, pred);
        }
        if !pred(key_at(probe)) {
            return partition(key_at, l + 1, probe, pred);
        }
        l = probe;
    }
}

/// The first position in `[l, h)` whose key does not satisfy `pred` (`h`
/// if all do), for a `pred` true on a prefix of the table (binary search).
pub(crate) fn partition(
    key_at: &dyn Fn(usize) -> u64,
    mut l: usize,
    mut h: usize,
    pred: &dyn Fn(u64) -> bool,
) -> usize {
    while l < h {
        let m = l + (h - l) / 2;
        if pred(key_at(m)) { l = m + 1 } else { h = m }
    }
    l
}
