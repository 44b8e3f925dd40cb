//! The bytes of an index: the same layout in memory (just built) and on
//! disk (a segment file, opened memory-mapped), so an opened segment is
//! queried where it lies, with no copy and no parse of its tables.
//!
//! Layout (format 4, little-endian):
//!
//! ```text
//! 0    "PVXSEG\0\0"  format u32  reserved u32
//! 16   table of contents: 10 × (offset u64, length u64)
//! 176  sections, each at a multiple of 16:
//!        0 params (JSON)        1 references (JSON: {sources, source_of, refs},
//!                                 each source once; a plain array before)
//!        2 exact fingerprints   one entry per distinct key, sorted:
//!                               (key u64, reference u32, position u32), or for a
//!                               key held more than once
//!                               (key u64, first posting u32, 2^31 | count u32)
//!        3 their directory      2^bits buckets of 64 bytes: (first u32, count u32,
//!                               a 448-bit Bloom filter of the bucket's keys)
//!        4 LSH bands            (key u64, reference u32, 0 u32), sorted
//!        5 their directory      as 3
//!        6 signatures           (u32 × num_perm per reference)
//!        7 token starts         (u64 per reference)
//!        8 tokens               (u16 per token: low bits of its hash)
//!        9 postings             (reference u32, position u32) of repeated keys
//! end  format u32  xxh3(everything before) u64  "PVXEND\0\0"
//! ```
//!
//! Format 3 had directories of `2^bits + 1` 32-bit first positions and no
//! filters. Format 2 is the same without section 9 (a table of contents of 9, the
//! sections from byte 160): every fingerprint has an entry of its own, and
//! fingerprints are stored under their own value instead of spread keys.

use crate::Params;

pub(crate) const MAGIC: &[u8; 8] = b"PVXSEG\0\0";
pub(crate) const FOOTER_MAGIC: &[u8; 8] = b"PVXEND\0\0";
pub(crate) const FOOTER: usize = 20;
/// Sections of the newest format (format 2 has the first 9).
pub(crate) const SECTIONS: usize = 10;
const TOC: usize = 16;

/// Sections in a segment of format `version`.
fn section_count(version: u32) -> usize {
    if version >= 3 { SECTIONS } else { 9 }
}

/// Where the sections start in format `version`.
fn data_start(version: u32) -> usize {
    TOC + section_count(version) * 16
}

pub(crate) const PARAMS: usize = 0;
pub(crate) const REFS: usize = 1;
pub(crate) const EXACT: usize = 2;
pub(crate) const EXACT_DIR: usize = 3;
pub(crate) const BANDS: usize = 4;
pub(crate) const BAND_DIR: usize = 5;
pub(crate) const SIGS: usize = 6;
pub(crate) const TOK_START: usize = 7;
pub(crate) const TOKS: usize = 8;
pub(crate) const POSTINGS: usize = 9;

/// The flag of an exact entry that points at postings (its count in the
/// other bits); an entry without it is the one posting of its key.
pub(crate) const MANY: u32 = 1 << 31;

/// Where the bytes live.
pub(crate) enum Bytes {
    Owned(Vec<u8>),
    Mapped(proviso_mmap::Mapped),
}

impl std::ops::Deref for Bytes {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        match self {
            Bytes::Owned(v) => v,
            Bytes::Mapped(m) => m,
        }
    }
}

/// Reads little-endian numbers at byte offsets (out of range: zero, which
/// a checked segment never reaches).
#[inline]
pub(crate) fn u64_at(b: &[u8], at: usize) -> u64 {
    b.get(at..at + 8)
        .and_then(|s| s.try_into().ok())
        .map_or(0, u64::from_le_bytes)
}

#[inline]
pub(crate) fn u32_at(b: &[u8], at: usize) -> u32 {
    b.get(at..at + 4)
        .and_then(|s| s.try_into().ok())
        .map_or(0, u32::from_le_bytes)
}

#[inline]
pub(crate) fn u16_at(b: &[u8], at: usize) -> u16 {
    b.get(at..at + 2)
        .and_then(|s| s.try_into().ok())
        .map_or(0, u16::from_le_bytes)
}

/// The tables of an index, to be laid out.
pub(crate) struct Tables<'a> {
    pub params: &'a Params,
    pub refs_json: Vec<u8>,
    pub exact: &'a [(u64, u32, u32)],
    pub exact_dir: &'a [u8],
    pub bands: &'a [(u64, u32)],
    pub band_dir: &'a [u8],
    pub sigs: &'a [u32],
    pub tok_start: &'a [u64],
    pub toks: &'a [u16],
    pub postings: &'a [(u32, u32)],
}

/// Lays the tables out as a segment, footer and checksum included.
pub(crate) fn lay_out(t: &Tables<'_>, version: u32) -> Vec<u8> {
    let params_json = serde_json::to_vec(t.params).unwrap_or_default();
    let lens_all = [
        params_json.len(),
        t.refs_json.len(),
        t.exact.len() * 16,
        t.exact_dir.len(),
        t.bands.len() * 16,
        t.band_dir.len(),
        t.sigs.len() * 4,
        t.tok_start.len() * 8,
        t.toks.len() * 2,
        t.postings.len() * 8,
    ];
    let lens = &lens_all[..section_count(version)];
    let total = data_start(version) + lens.iter().map(|l| l + 15).sum::<usize>() + FOOTER;
    let mut out = Vec::with_capacity(total);
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&version.to_le_bytes());
    out.extend_from_slice(&0u32.to_le_bytes());
    let mut at = data_start(version);
    for &l in lens {
        out.extend_from_slice(&(at as u64).to_le_bytes());
        out.extend_from_slice(&(l as u64).to_le_bytes());
        at = (at + l).next_multiple_of(16);
    }
    put(&mut out, &params_json, |b| [*b]);
    put(&mut out, &t.refs_json, |b| [*b]);
    put(&mut out, t.exact, |(h, r, p)| entry(*h, *r, *p));
    put(&mut out, t.exact_dir, |b| [*b]);
    put(&mut out, t.bands, |(k, r)| entry(*k, *r, 0));
    put(&mut out, t.band_dir, |b| [*b]);
    put(&mut out, t.sigs, |s| s.to_le_bytes());
    put(&mut out, t.tok_start, |s| s.to_le_bytes());
    put(&mut out, t.toks, |s| s.to_le_bytes());
    if lens.len() > POSTINGS {
        put(&mut out, t.postings, |&(r, p)| {
            let mut e = [0u8; 8];
            e[..4].copy_from_slice(&r.to_le_bytes());
            e[4..].copy_from_slice(&p.to_le_bytes());
            e
        });
    }
    let sum = xxhash_rust::xxh3::xxh3_64_with_seed(&out, crate::SEED);
    out.extend_from_slice(&version.to_le_bytes());
    out.extend_from_slice(&sum.to_le_bytes());
    out.extend_from_slice(FOOTER_MAGIC);
    out
}

/// Appends a section: each item's bytes, then zeros to a multiple of 16.
fn put<T, const N: usize>(out: &mut Vec<u8>, items: &[T], bytes: impl Fn(&T) -> [u8; N]) {
    for x in items {
        out.extend_from_slice(&bytes(x));
    }
    out.resize(out.len().next_multiple_of(16), 0);
}

/// A 16-byte table entry: key, reference, and a third field.
fn entry(key: u64, r: u32, third: u32) -> [u8; 16] {
    let mut e = [0u8; 16];
    e[..8].copy_from_slice(&key.to_le_bytes());
    e[8..12].copy_from_slice(&r.to_le_bytes());
    e[12..].copy_from_slice(&third.to_le_bytes());
    e
}

/// The sections of a laid-out segment of format `version`: (offset,
/// length in bytes) each, checked to lie inside the body and to be whole
/// entries (those a format does not have are empty).
pub(crate) fn sections(b: &[u8], version: u32) -> Result<[(usize, usize); SECTIONS], String> {
    let data = data_start(version);
    if b.len() < data + FOOTER {
        return Err("truncated".into());
    }
    let body = b.len() - FOOTER;
    let mut out = [(data, 0usize); SECTIONS];
    let sizes = [1, 1, 16, 4, 16, 4, 4, 8, 2, 8];
    for (i, s) in out.iter_mut().enumerate().take(section_count(version)) {
        let off = usize::try_from(u64_at(b, TOC + i * 16)).map_err(|e| e.to_string())?;
        let len = usize::try_from(u64_at(b, TOC + i * 16 + 8)).map_err(|e| e.to_string())?;
        if off < data || off.checked_add(len).is_none_or(|end| end > body) || len % sizes[i] != 0 {
            return Err(format!("section {i} lies outside the file"));
        }
        *s = (off, len);
    }
    Ok(out)
}

/// The format version written by this build. Format 1, which this build
/// still reads by converting it in memory, stored every table as entries
/// to be parsed; format 2 is laid out to be queried where it lies; format
/// 3 is format 2 with fingerprints stored under spread keys (uniform, so
/// that a look-up can guess where a key stands) and postings for shared
/// keys; format 4 adds a Bloom filter to every directory bucket; format 5
/// is format 4 with the tokenizer's version among the parameters (a
/// segment without it was tokenized by version 1, and is queried so);
/// format 6 is format 5 with the short phrases of short references in the
/// fingerprints' table, under keys of their own (candidates for alignment:
/// `docs/audit.md`); format 7 is format 6 whose parameters may hold a
/// `salt`, the key of its window hashes (an older reader would ignore it
/// and find nothing). Formats 2 to 6 are still read and queried as they
/// are (a reference of theirs is a candidate through its fingerprints
/// only); merging rewrites them in the current format, keeping their
/// parameters and their entries.
pub const FORMAT_VERSION: u32 = 7;

/// What a damaged segment's error says.
pub(crate) const CHECKSUM_MISMATCH: &str = "checksum mismatch: the file is damaged";
