//! Vector kernels of Proviso's fingerprints.
//!
//! The tokenizer classifies text 64 bytes at a time ([`ascii_word_bytes`]:
//! letters and digits, and bytes that are not ASCII). A full scan then
//! hashes every window of `k` tokens twice (the index's `k` = 8 for copied
//! spans, 3 for MinHash). Done one window at a time these are chains of
//! 64-bit multiplications, one per token of each window: ~8% of a scan's
//! time. With AVX-512 (foundation and doubleword/quadword instructions),
//! eight windows go through each step at once
//! ([`window_hashes_in_place`]).
//!
//! Each function here computes exactly what the plain code in
//! `proviso-index` computes (`fingerprint::window_hash`, the tokenizer's
//! byte classes), for as much of its input as it covers, and says how
//! much that was; the caller does the rest (and everything, on a
//! processor without these instructions). The tests in `proviso-index`
//! compare both on every length of token run up to 140 and every window
//! size up to 10; this crate's test checks the byte classes of both
//! vector paths byte by byte.
//!
//! The crate's `unsafe` expressions are vector loads and stores within
//! slices whose bounds are checked just before, and calls of functions
//! compiled for instructions the processor was found to have.
#![deny(missing_docs)]

/// The widest vector instructions the kernels may use, whatever the
/// processor has: set by the environment variable `PROVISO_SIMD`
/// (`avx2`: no AVX-512; `off`: none; unset or anything else: all the
/// processor has), read once. It is how the speed of a processor without
/// AVX-512 is measured on one with it; the results are the same.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Level {
    /// No vector kernels: the plain code everywhere.
    Off = 1,
    /// AVX2 at most.
    Avx2 = 2,
    /// AVX-512 where the processor has it.
    Avx512 = 3,
}

/// The cap (see [`Level`]).
#[inline]
pub fn cap() -> Level {
    use std::sync::atomic::{AtomicU8, Ordering};
    static CAP: AtomicU8 = AtomicU8::new(0);
    match CAP.load(Ordering::Relaxed) {
        1 => Level::Off,
        2 => Level::Avx2,
        3 => Level::Avx512,
        _ => {
            let level = match std::env::var("PROVISO_SIMD").as_deref() {
                Ok("off") => Level::Off,
                Ok("avx2") => Level::Avx2,
                _ => Level::Avx512,
            };
            CAP.store(level as u8, Ordering::Relaxed);
            level
        }
    }
}

/// Whether this processor runs the vector kernels (checked once and
/// cached by the standard library), and [`cap`] allows AVX-512.
#[inline]
pub fn available() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        cap() >= Level::Avx512
            && std::arch::is_x86_feature_detected!("avx512f")
            && std::arch::is_x86_feature_detected!("avx512dq")
    }
    #[cfg(not(target_arch = "x86_64"))]
    false
}

/// The window hashes of `K` consecutive values of `buf`, in place: for
/// window `i`, from `h = init ^ K`, for each `t` of `buf[i..i + K]` (as
/// they were), `h = (h.rotate_left(23) ^ t).wrapping_mul(mul)`, then
/// `h ^ (h >> 29)`, written to `buf[i]`. Computes the first windows in
/// groups of eight and returns how many (a multiple of eight); 0 without
/// AVX-512. The values from there on are as they were, so the caller
/// computes the remaining windows from them in order.
#[inline]
pub fn window_hashes_in_place<const K: usize>(buf: &mut [u64], init: u64, mul: u64) -> usize {
    #[cfg(target_arch = "x86_64")]
    if available() {
        #[allow(unsafe_code)]
        // SAFETY: the function only needs AVX-512F and DQ, detected just now.
        return unsafe { window_hashes_avx512::<K>(buf, init, mul) };
    }
    let _ = (buf, init, mul);
    0
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx512dq")]
fn window_hashes_avx512<const K: usize>(buf: &mut [u64], init: u64, mul: u64) -> usize {
    use std::arch::x86_64::*;
    if K == 0 || buf.len() < K {
        return 0;
    }
    // A group's windows read values up to `at + K + 6` and write `at..at
    // + 8`, after reading: what later groups (and the caller) read is
    // still the input.
    let groups = (buf.len() - K + 1) / 8;
    let m = _mm512_set1_epi64(mul as i64);
    let h0 = _mm512_set1_epi64((init ^ K as u64) as i64);
    for g in 0..groups {
        let at = g * 8;
        let mut h = h0;
        for j in 0..K {
            // Window `at + l`'s `j`-th value is `hashes[at + j + l]`:
            // eight consecutive values, one per window.
            let Some(t) = buf.get(at + j..at + j + 8) else {
                return at;
            };
            #[allow(unsafe_code)]
            // SAFETY: an unaligned load of the eight values of `t`.
            let t = unsafe { _mm512_loadu_si512(t.as_ptr().cast()) };
            h = _mm512_mullo_epi64(_mm512_xor_si512(_mm512_rol_epi64::<23>(h), t), m);
        }
        h = _mm512_xor_si512(h, _mm512_srli_epi64::<29>(h));
        let Some(o) = buf.get_mut(at..at + 8) else {
            return at;
        };
        #[allow(unsafe_code)]
        // SAFETY: an unaligned store to the eight values of `o`.
        unsafe {
            _mm512_storeu_si512(o.as_mut_ptr().cast(), h)
        };
    }
    groups * 8
}

/// The ASCII letters and digits of 64 bytes (bit `i` for byte `i`) and
/// the bytes that are not ASCII, found with vector byte compares where the
/// processor has them (AVX-512BW: one compare per class for the 64 bytes;
/// else AVX2: two of 32 bytes each); `None` where it has neither, and the
/// caller computes the same masks without.
#[inline]
pub fn ascii_word_bytes(block: &[u8; 64]) -> Option<(u64, u64)> {
    #[cfg(target_arch = "x86_64")]
    {
        let cap = cap();
        if cap >= Level::Avx512 && std::arch::is_x86_feature_detected!("avx512bw") {
            #[allow(unsafe_code)]
            // SAFETY: the function only needs AVX-512BW, detected just now.
            return Some(unsafe { word_bytes_avx512(block) });
        }
        if cap >= Level::Avx2 && std::arch::is_x86_feature_detected!("avx2") {
            #[allow(unsafe_code)]
            // SAFETY: the function only needs AVX2, detected just now.
            return Some(unsafe { word_bytes_avx2(block) });
        }
    }
    let _ = block;
    None
}

/// [`ascii_word_bytes`] with AVX2, 32 bytes at a time. AVX2 compares
/// bytes only as signed numbers: a byte is in `from..from + n` (unsigned)
/// when `byte - from`, moved by 128, is below `n - 128` as a signed byte.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
fn word_bytes_avx2(block: &[u8; 64]) -> (u64, u64) {
    use std::arch::x86_64::*;
    let half = |h: &[u8; 32]| {
        #[allow(unsafe_code)]
        // SAFETY: an unaligned load of the 32 bytes of `h`.
        let x = unsafe { _mm256_loadu_si256(h.as_ptr().cast()) };
        let below = |v: __m256i, from: u8, n: u8| {
            let shifted = _mm256_add_epi8(v, _mm256_set1_epi8(128u8.wrapping_sub(from) as i8));
            _mm256_cmpgt_epi8(_mm256_set1_epi8(n.wrapping_sub(128) as i8), shifted)
        };
        // Bit 5 set makes capitals small letters and keeps digits as they are.
        let letters = below(_mm256_or_si256(x, _mm256_set1_epi8(0x20)), b'a', 26);
        let digits = below(x, b'0', 10);
        let word = _mm256_movemask_epi8(_mm256_or_si256(letters, digits)) as u32;
        let non_ascii = _mm256_movemask_epi8(x) as u32;
        (u64::from(word & !non_ascii), u64::from(non_ascii))
    };
    let (lo, hi) = block.split_at(32);
    let (Ok(lo), Ok(hi)) = (<&[u8; 32]>::try_from(lo), <&[u8; 32]>::try_from(hi)) else {
        return (0, 0);
    };
    let ((w0, n0), (w1, n1)) = (half(lo), half(hi));
    (w0 | w1 << 32, n0 | n1 << 32)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512bw")]
fn word_bytes_avx512(block: &[u8; 64]) -> (u64, u64) {
    use std::arch::x86_64::*;
    #[allow(unsafe_code)]
    // SAFETY: an unaligned load of the 64 bytes of `block`.
    let x = unsafe { _mm512_loadu_si512(block.as_ptr().cast()) };
    let below = |v: __m512i, from: u8, n: u8| {
        _mm512_cmplt_epu8_mask(
            _mm512_sub_epi8(v, _mm512_set1_epi8(from as i8)),
            _mm512_set1_epi8(n as i8),
        )
    };
    // Bit 5 set makes capitals small letters and keeps digits as they are.
    let letters = below(_mm512_or_si512(x, _mm512_set1_epi8(0x20)), b'a', 26);
    let digits = below(x, b'0', 10);
    let non_ascii = _mm512_movepi8_mask(x);
    ((letters | digits) & !non_ascii, non_ascii)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    /// Each vector path this processor has (not only the one
    /// `ascii_word_bytes` picks: a machine with AVX-512 tests the AVX2 path
    /// too) gives the classes byte by byte, for every byte value in every
    /// position.
    #[cfg(target_arch = "x86_64")]
    #[test]
    fn every_vector_path_classes_bytes_as_byte_by_byte() {
        let want = |b: &[u8; 64]| {
            let bit = |f: &dyn Fn(u8) -> bool| {
                b.iter()
                    .enumerate()
                    .filter(|(_, x)| f(**x))
                    .fold(0u64, |m, (i, _)| m | 1 << i)
            };
            (bit(&|x| x.is_ascii_alphanumeric()), bit(&|x| x >= 0x80))
        };
        let mut blocks: Vec<[u8; 64]> = (0..=255u8)
            .collect::<Vec<_>>()
            .chunks(64)
            .map(|c| c.try_into().unwrap())
            .collect();
        // Each block again turned by one position, so every byte value
        // meets every lane of both 32-byte halves.
        for k in 1..64 {
            for i in 0..4 {
                let mut b = blocks[i];
                b.rotate_left(k);
                blocks.push(b);
            }
        }
        for b in &blocks {
            if std::arch::is_x86_feature_detected!("avx2") {
                #[allow(unsafe_code)]
                // SAFETY: AVX2 detected just now.
                let got = unsafe { word_bytes_avx2(b) };
                assert_eq!(got, want(b), "AVX2 {b:?}");
            }
            if std::arch::is_x86_feature_detected!("avx512bw") {
                #[allow(unsafe_code)]
                // SAFETY: AVX-512BW detected just now.
                let got = unsafe { word_bytes_avx512(b) };
                assert_eq!(got, want(b), "AVX-512 {b:?}");
            }
            assert!(ascii_word_bytes(b).is_none_or(|m| m == want(b)));
        }
    }
}
