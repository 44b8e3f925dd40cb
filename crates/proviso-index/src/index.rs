//! Building and querying the index.

use serde::{Deserialize, Serialize};

use crate::minhash::band_keys;
use crate::refs::RefTable;
use crate::store::{self, Bytes};
use crate::{IndexError, MinHasher, shingles, tokenize, winnow};

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
    #[serde(default, skip_serializing_if = "String::is_empty")]
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

/// What one reference output contributes to an index, computed apart
/// from the others.
struct Parts {
    exact: Vec<(u64, u32)>,
    sig: Vec<u32>,
    bands: Vec<u64>,
    toks: Vec<u16>,
}

fn fingerprint_one(p: &Params, hasher: &MinHasher, text: &str) -> Parts {
    let tokens = tokenize(text);
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

    fn push(&mut self, parts: Parts, mut reference: Reference) -> u32 {
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

/// An immutable index: one segment, in memory or mapped from its file.
pub struct Index {
    pub(crate) params: Params,
    /// The references, parsed from the segment's JSON the first time they
    /// are asked for (or given when the segment was built here), in
    /// columns: a scan needs them only for what it flags.
    refs: std::sync::OnceLock<Result<RefTable, String>>,
    /// How many references the tables hold.
    n_refs: usize,
    bytes: Bytes,
    sec: [(usize, usize); store::SECTIONS],
    dir_bits: u32,
    band_bits: u32,
    longest_ref: usize,
    hasher: MinHasher,
    /// The segment format it was laid out in.
    format: u32,
    /// Private copies of the sections every look-up reads at random (the
    /// two directories of a mapped segment), in memory backed by huge
    /// pages where the kernel gives them; `None`: read where they lie.
    hot: [Option<proviso_mmap::Mapped>; store::SECTIONS],
}

/// Keys per directory bucket the writer aims at (a power of two).
const PER_BUCKET: usize = 64;

/// A directory over a sorted array of 64-bit keys: entry `b` is the first
/// position whose top `bits` bits are at least `b`. A bucket holds about
/// [`PER_BUCKET`] keys, and as the keys are hashes (uniform), a key's place
/// inside its bucket is guessed from its next bits to within a cache line
/// or two: a look-up is one read of the directory, small enough to stay in
/// the processor's cache (4 bytes per 64 keys), and about one cache miss in
/// the table, where a directory of a bucket per key was a cache miss of
/// its own and 16 times the size. Segments written with finer directories
/// (bits up to 26) are read the same way.
///
/// Format 4 on, a bucket is a 64-byte record, one cache line: its first
/// position and its count, and a Bloom filter of its keys (448 bits for
/// about 64 keys, 4 bits set per key: about 4% false positives). A key the
/// filter rules out costs that one line and no read of the table: most of
/// a clean document's fingerprints, and nearly all its band keys.
fn directory(keys: impl ExactSizeIterator<Item = u64>, version: u32) -> Vec<u8> {
    let bits = (usize::BITS - (keys.len() / PER_BUCKET).max(1).leading_zeros()).clamp(8, 26);
    let slot = |k: u64| (k >> (64 - bits)) as usize;
    // Keys per bucket, and (format 4) each record's filter.
    let mut counts = vec![0u32; 1usize << bits];
    let mut recs = if version >= 4 {
        vec![0u8; (1usize << bits) * RECORD]
    } else {
        Vec::new()
    };
    for k in keys {
        let b = slot(k);
        counts[b] += 1;
        if let Some(rec) = recs.get_mut(b * RECORD..(b + 1) * RECORD) {
            for bit in filter_bits(k) {
                rec[8 + bit / 8] |= 1 << (bit % 8);
            }
        }
    }
    let mut first = 0u32;
    if version < 4 {
        // 2^bits + 1 first positions.
        let mut dir = Vec::with_capacity((counts.len() + 1) * 4);
        for c in counts {
            dir.extend_from_slice(&first.to_le_bytes());
            first += c;
        }
        dir.extend_from_slice(&first.to_le_bytes());
        return dir;
    }
    for (rec, c) in recs.chunks_exact_mut(RECORD).zip(counts) {
        rec[..4].copy_from_slice(&first.to_le_bytes());
        rec[4..8].copy_from_slice(&c.to_le_bytes());
        first += c;
    }
    recs
}

/// Bytes of a directory record (format 4 on).
const RECORD: usize = 64;

/// Bits of a record's filter.
const FILTER_BITS: u64 = (RECORD as u64 - 8) * 8;

/// The filter bits of a key: four 9-bit slices of its low 36 bits (the
/// bucket is chosen by its top bits), each scaled to the filter.
#[inline]
fn filter_bits(key: u64) -> [usize; 4] {
    let at = |shift: u32| ((((key >> shift) & 511) * FILTER_BITS) >> 9) as usize;
    [at(0), at(9), at(18), at(27)]
}

/// The bits of a directory of `len` bytes in format `version`.
fn bits_of_dir(len: usize, version: u32) -> Option<u32> {
    let n = if version >= 4 {
        len.is_multiple_of(RECORD).then_some(len / RECORD)?
    } else {
        len.is_multiple_of(4).then_some(len / 4)?.checked_sub(1)?
    };
    (n.is_power_of_two() && (8..=26).contains(&n.trailing_zeros())).then_some(n.trailing_zeros())
}

impl Index {
    /// Sorts the tables, builds their directories and lays them out.
    pub(crate) fn assemble(c: Contents) -> Result<Index, IndexError> {
        Index::assemble_as(crate::FORMAT_VERSION, c)
    }

    /// [`Index::assemble`] in format `version`; `c.exact` holds the
    /// fingerprints under that format's keys, one entry per posting (they
    /// are grouped by key here from format 3 on).
    fn assemble_as(version: u32, c: Contents) -> Result<Index, IndexError> {
        let Contents {
            params,
            refs,
            mut exact,
            mut bands,
            sigs,
            tok_start,
            toks,
        } = c;
        let limit = u32::MAX as usize;
        if refs.len() > limit || exact.len() > limit || bands.len() > limit {
            return Err(IndexError::Build(format!(
                "{} references, {} fingerprints and {} band keys: a segment holds at most {limit} of each; index the input in parts",
                refs.len(),
                exact.len(),
                bands.len()
            )));
        }
        exact.sort_unstable();
        bands.sort_unstable();
        let postings = if version >= 3 {
            group_postings(&mut exact)
        } else {
            Vec::new()
        };
        let exact_dir = directory(exact.iter().map(|e| e.0), version);
        let band_dir = directory(bands.iter().map(|e| e.0), version);
        let refs = RefTable::from_refs(refs);
        let bytes = store::lay_out(
            &store::Tables {
                params: &params,
                refs_json: refs
                    .to_json()
                    .map_err(|e| IndexError::Build(format!("references: {e}")))?,
                exact: &exact,
                exact_dir: &exact_dir,
                bands: &bands,
                band_dir: &band_dir,
                sigs: &sigs,
                tok_start: &tok_start,
                toks: &toks,
                postings: &postings,
            },
            version,
        );
        drop((
            exact, bands, exact_dir, band_dir, sigs, tok_start, toks, postings,
        ));
        // Laid out just now by this build: it reads back (the references
        // are handed over, not parsed back from their JSON); if it did not,
        // that is said, never replaced by an empty index.
        Index::open(Bytes::Owned(bytes), false, Some(refs)).map_err(IndexError::Build)
    }

    /// Opens laid-out bytes (in memory or mapped): checks the frame (and,
    /// with `verify`, the checksum of every byte, reading them once, and
    /// the references, parsing them), the sections and their sizes.
    /// `refs`: the references when the caller has them already; else they
    /// are parsed from the segment when first asked for (or now, with
    /// `verify`).
    pub(crate) fn open(
        bytes: Bytes,
        verify: bool,
        refs: Option<RefTable>,
    ) -> Result<Index, String> {
        let b: &[u8] = &bytes;
        if b.len() < store::FOOTER + 16
            || &b[..8] != store::MAGIC
            || &b[b.len() - 8..] != store::FOOTER_MAGIC
        {
            return Err("not a Proviso index segment (or truncated)".into());
        }
        let foot = b.len() - store::FOOTER;
        let version = store::u32_at(b, foot);
        if !(2..=crate::FORMAT_VERSION).contains(&version) || store::u32_at(b, 8) != version {
            return Err(format!(
                "segment format {version}; this build reads 1 to {}",
                crate::FORMAT_VERSION
            ));
        }
        if verify && !checksum_agrees(b) {
            return Err(CHECKSUM_MISMATCH.into());
        }
        let sec = store::sections(b, version)?;
        let slice = |i: usize| &b[sec[i].0..sec[i].0 + sec[i].1];
        let params: Params =
            serde_json::from_slice(slice(store::PARAMS)).map_err(|e| format!("parameters: {e}"))?;
        // One token start per reference.
        let n = sec[store::TOK_START].1 / 8;
        if sec[store::SIGS].1 != n * params.num_perm * 4 || sec[store::TOK_START].1 != n * 8 {
            return Err("tables do not match the number of references".into());
        }
        let dir_bits = bits_of_dir(sec[store::EXACT_DIR].1, version).ok_or("bad directory")?;
        let band_bits = bits_of_dir(sec[store::BAND_DIR].1, version).ok_or("bad band directory")?;
        // The longest reference in tokens, from where each one's tokens
        // start (the last ends where the token table does).
        let starts = sec[store::TOK_START].0;
        let start = |i: usize| {
            if i < n {
                store::u64_at(b, starts + i * 8)
            } else {
                (sec[store::TOKS].1 / 2) as u64
            }
        };
        let longest_ref = (0..n)
            .map(|i| start(i + 1).saturating_sub(start(i)))
            .max()
            .unwrap_or(0) as usize;
        let hasher = MinHasher::new(params.num_perm);
        let parsed = std::sync::OnceLock::new();
        if let Some(r) = refs {
            let _ = parsed.set(Ok(r));
        } else if verify {
            let _ = parsed
                .set(Ok(RefTable::from_json(slice(store::REFS))
                    .map_err(|e| format!("references: {e}"))?));
        }
        let mut ix = Index {
            params,
            refs: parsed,
            n_refs: n,
            sec,
            bytes,
            dir_bits,
            band_bits,
            longest_ref,
            hasher,
            format: version,
            hot: std::array::from_fn(|_| None),
        };
        if ix.is_mapped() {
            // Every fingerprint and band key of every document reads its
            // directory record, at random: in a mapped file each read is
            // on another 4 KiB page, and a miss of the processor's page
            // cache (TLB) costs a walk of the page tables, twice nested in
            // a virtual machine. The directories are ~3% of a segment
            // (50 MB at a million references): copied into memory backed
            // by 2 MiB pages, they take a few dozen TLB entries: with the
            // file in 4 KiB pages, the scan measured ~5% less CPU time
            // (bench/RESULTS.md); with the file in large folios, the same.
            for i in [store::EXACT_DIR, store::BAND_DIR] {
                let copy = proviso_mmap::Mapped::copy_huge(ix.section(i))
                    .map_err(|e| format!("copying a directory into memory: {e}"))?;
                ix.hot[i] = Some(copy);
            }
        }
        if ix.refs.get().is_some() {
            ix.parsed_references()?;
        }
        Ok(ix)
    }

    /// The references, parsed now if they were not yet; an error when
    /// their JSON does not read or holds another number of references
    /// than the tables.
    fn parsed_references(&self) -> Result<&RefTable, String> {
        let r = self.refs.get_or_init(|| {
            RefTable::from_json(self.section(store::REFS)).map_err(|e| format!("references: {e}"))
        });
        match r {
            Ok(r) if r.len() == self.n_refs => Ok(r),
            Ok(_) => Err("tables do not match the number of references".into()),
            Err(e) => Err(e.clone()),
        }
    }

    /// Whether the references are still to be parsed.
    #[cfg(test)]
    pub(crate) fn refs_pending(&self) -> bool {
        self.refs.get().is_none()
    }

    /// Checks that the references read (parsing them if they were not
    /// yet): what [`crate::read_segment`] checks at open and
    /// [`crate::check_opened`] later.
    pub fn check_references(&self) -> Result<(), String> {
        self.parsed_references().map(drop)
    }

    /// Whether every byte of the segment agrees with the checksum in its
    /// footer (reads them all). [`crate::read_segment`] checks this before
    /// it returns a segment; one from [`crate::open_segment`] has not been
    /// checked yet.
    pub fn checksum_agrees(&self) -> bool {
        checksum_agrees(self.bytes())
    }

    /// The segment's bytes, as written to its file.
    pub(crate) fn bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// The segment format it is laid out in (a format-1 file is converted
    /// to the newest format when read).
    pub fn format(&self) -> u32 {
        self.format
    }

    /// Whether fingerprints are stored under spread keys (format 3 on).
    fn spread(&self) -> bool {
        self.format >= 3
    }

    /// Whether directories are records with filters (format 4 on).
    fn filtered(&self) -> bool {
        self.format >= 4
    }

    /// Whether it is mapped from a file (else in memory).
    pub fn is_mapped(&self) -> bool {
        matches!(self.bytes, Bytes::Mapped(_))
    }

    /// The bytes of section `i`: its hot copy, or where it lies. Every
    /// read of a table goes through here, so a section given a copy is
    /// read from it everywhere.
    #[inline]
    fn section(&self, i: usize) -> &[u8] {
        if let Some(m) = &self.hot[i] {
            return m;
        }
        let (o, l) = self.sec[i];
        self.bytes().get(o..o + l).unwrap_or(&[])
    }

    fn count(&self, section: usize, size: usize) -> usize {
        self.sec[section].1 / size
    }

    fn exact_at(&self, i: usize) -> (u64, u32, u32) {
        let at = i * 16;
        let b = self.section(store::EXACT);
        (
            store::u64_at(b, at),
            store::u32_at(b, at + 8),
            store::u32_at(b, at + 12),
        )
    }

    /// The (reference, position) postings of exact entry `i`: the entry's
    /// own, or those it points at.
    fn postings(&self, i: usize) -> impl Iterator<Item = (u32, u32)> + '_ {
        let (_, a, b) = self.exact_at(i);
        let post = self.section(store::POSTINGS);
        let (one, many) = if b & store::MANY == 0 {
            (Some((a, b)), 0..0)
        } else {
            let end = (a as usize + (b & !store::MANY) as usize).min(post.len() / 8);
            (None, (a as usize).min(end)..end)
        };
        one.into_iter()
            .chain(many.map(move |k| (store::u32_at(post, k * 8), store::u32_at(post, k * 8 + 4))))
    }

    /// Asks for the first line of exact entry `i`'s postings when they
    /// are apart from it (the entry was just read): a key held by several
    /// references costs a miss on its postings, which then overlaps the
    /// look-ups of the keys after it instead of waiting until hits are
    /// gathered.
    #[inline]
    fn ask_postings(&self, i: usize) {
        let (_, a, b) = self.exact_at(i);
        if b & store::MANY != 0 {
            proviso_mmap::prefetch(self.section(store::POSTINGS), a as usize * 8);
        }
    }

    fn band_at(&self, i: usize) -> (u64, u32) {
        let at = i * 16;
        let b = self.section(store::BANDS);
        (store::u64_at(b, at), store::u32_at(b, at + 8))
    }

    /// Where `key` should stand in a sorted table of 16-byte entries: its
    /// bucket `[lo, hi)` from the directory, and a guess inside it by
    /// interpolation on the key's next 32 bits (keys are uniform hashes).
    /// `dir`: the table's directory, `n`: its entries, `filtered`: whether
    /// the directory holds records with filters (format 4 on); resolved
    /// once by the caller for all its keys.
    #[inline]
    fn guess(dir: &[u8], n: usize, filtered: bool, bits: u32, key: u64) -> Guess {
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
    fn find_many(
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
    fn find(b: &[u8], g: Guess, key: u64) -> std::ops::Range<usize> {
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

    /// A summary for `Debug`.
    fn summary(&self) -> String {
        format!(
            "Index {{ refs: {}, fingerprints: {}, bands: {}, mapped: {} }}",
            self.len(),
            self.count(store::EXACT, 16),
            self.count(store::BANDS, 16),
            self.is_mapped()
        )
    }

    /// Merges several indexes with the same parameters (segments).
    pub fn merge(parts: Vec<Index>) -> Result<Index, IndexError> {
        let params = parts
            .first()
            .map(|p| p.params.clone())
            .ok_or_else(|| IndexError::Build("nothing to merge".into()))?;
        if parts.iter().any(|p| p.params != params) {
            return Err(IndexError::ParamsDiffer);
        }
        let mut c = Contents {
            params,
            ..Contents::default()
        };
        for p in parts {
            let off = c.refs.len() as u32;
            for i in 0..p.count(store::EXACT, 16) {
                // Stored under the fingerprint itself before format 3.
                let stored = p.exact_at(i).0;
                let key = if p.spread() {
                    stored
                } else {
                    crate::fingerprint::spread(stored)
                };
                c.exact
                    .extend(p.postings(i).map(|(r, pos)| (key, r + off, pos)));
            }
            c.bands.extend((0..p.count(store::BANDS, 16)).map(|i| {
                let (k, r) = p.band_at(i);
                (k, r + off)
            }));
            let b = p.bytes();
            let (so, sl) = p.sec[store::SIGS];
            c.sigs
                .extend((0..sl / 4).map(|i| store::u32_at(b, so + i * 4)));
            let toff = c.toks.len() as u64;
            let (to, tl) = p.sec[store::TOK_START];
            c.tok_start
                .extend((0..tl / 8).map(|i| store::u64_at(b, to + i * 8) + toff));
            let (ko, kl) = p.sec[store::TOKS];
            c.toks
                .extend((0..kl / 2).map(|i| store::u16_at(b, ko + i * 2)));
            p.check_references().map_err(IndexError::Build)?;
            if let Some(Ok(refs)) = p.refs.into_inner() {
                c.refs.extend(refs.all());
            }
        }
        Index::assemble(c)
    }

    /// The parameters.
    pub fn params(&self) -> &Params {
        &self.params
    }

    /// Every reference, in order (parsed the first time they are asked
    /// for; none when they do not read, which [`Index::check_references`]
    /// says).
    pub fn references(&self) -> Vec<Reference> {
        self.parsed_references()
            .map(RefTable::all)
            .unwrap_or_default()
    }

    /// Reference `i` of this segment (`None` past the end, or when the
    /// references do not read).
    pub fn reference(&self, i: usize) -> Option<Reference> {
        self.parsed_references().ok()?.get(i)
    }

    /// Number of references.
    pub fn len(&self) -> usize {
        self.n_refs
    }

    /// Whether it holds no reference.
    pub fn is_empty(&self) -> bool {
        self.n_refs == 0
    }

    fn signature_matches(&self, r: u32, sig: &[u32]) -> usize {
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
    fn ref_tokens(&self, r: u32) -> &[u8] {
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
    fn extend(
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
        query_parts(&[(self, 0)], text)
    }

    /// Copied spans of this segment: fingerprint hits, chained along
    /// diagonals into runs, extended to where the texts part. References
    /// are numbered from `base`.
    fn exact_matches(&self, q: &Prepared<'_>, base: u32, acc: &mut Acc, work: &mut Work) {
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
            ..
        } = work;
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
        for (found, &(_, pos)) in found.iter().zip(q.fingerprints) {
            for (r, rpos) in found.clone().flat_map(|i| self.postings(i)).take(COMMON) {
                hits.push((r, i64::from(rpos) - i64::from(pos), pos));
            }
        }
        if hits.is_empty() {
            runs.clear();
            return;
        }
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
                let whole_short_ref =
                    rtok >= p.k.min(8) && len.min(rtok) * 10 >= rtok * 9 && rtok < p.min_run;
                if len < p.min_run && !whole_short_ref {
                    return;
                }
                let end_tok = end_excl - 1;
                for c in &mut acc.covered[first..=end_tok] {
                    *c = true;
                }
                acc.pieces.push(Piece {
                    reference: base + r,
                    run: len,
                    share: len as f64 / rtok as f64,
                    span: (tokens[first].start as usize, tokens[end_tok].end as usize),
                });
            },
        );
    }

    /// Near duplicates of the whole text in this segment: LSH candidates,
    /// each verified by the estimated Jaccard of the full signatures.
    fn near_matches(&self, sig: &[u32], keys: &[u64], base: u32, acc: &mut Acc, work: &mut Work) {
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
            let j = self.signature_matches(r, sig) as f64 / sig.len().max(1) as f64;
            acc.jaccard = acc.jaccard.max(j);
            if j >= p.near_threshold {
                acc.near.push((base + r, j));
            }
        }
    }
}

/// What a damaged segment's error says.
pub(crate) const CHECKSUM_MISMATCH: &str = "checksum mismatch: the file is damaged";

/// Whether laid-out segment bytes agree with the xxh3 checksum in their
/// footer (false when there is no footer).
fn checksum_agrees(b: &[u8]) -> bool {
    b.len().checked_sub(store::FOOTER).is_some_and(|foot| {
        xxhash_rust::xxh3::xxh3_64_with_seed(&b[..foot], crate::SEED) == store::u64_at(b, foot + 4)
    })
}

/// Groups sorted exact entries (one per posting) by key, in place: a key
/// held once keeps its entry; a key held more than once gets one entry
/// pointing at its postings, which are returned. (A position of 2^31 or
/// more, which would read as the flag, is stored as a posting too; a key's
/// postings beyond 2^31 - 1, or any beyond 2^32 in all, are dropped.)
fn group_postings(exact: &mut Vec<(u64, u32, u32)>) -> Vec<(u32, u32)> {
    let mut postings: Vec<(u32, u32)> = Vec::new();
    let mut out = 0;
    let mut i = 0;
    while i < exact.len() {
        let key = exact[i].0;
        let mut j = i + 1;
        while j < exact.len() && exact[j].0 == key {
            j += 1;
        }
        if j - i == 1 && exact[i].2 & store::MANY == 0 {
            exact[out] = exact[i];
            out += 1;
        } else if let Ok(first) = u32::try_from(postings.len()) {
            let count = (j - i).min((store::MANY - 1) as usize);
            postings.extend(exact[i..i + count].iter().map(|e| (e.1, e.2)));
            exact[out] = (key, first, store::MANY | count as u32);
            out += 1;
        }
        i = j;
    }
    exact.truncate(out);
    postings
}

/// Where a key should stand in a table: its directory bucket `[lo, hi)`
/// and the interpolated guess `at` inside it.
#[derive(Clone, Copy, Debug, Default)]
struct Guess {
    lo: usize,
    hi: usize,
    at: usize,
}

/// Runs `work(i, made)` for every `i` in `0..n` as a software pipeline:
/// `far(i)` is called `2 * ahead` items before (it asks for what `near`
/// will read), `near(i)` `ahead` items before (it reads that, asks for what
/// `work` will read, and makes what `work` needs), so that the cache misses
/// of one item are served while earlier items are worked on.
fn pipeline<T: Copy + Default>(
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
fn stride(taken: u32) -> usize {
    if taken < 8 {
        1
    } else {
        1usize << (taken - 7).min(40)
    }
}

/// The first position after `from` (whose key satisfies `pred`) and
/// before `hi` whose key does not (`hi` if none): stepping forwards by
/// [`stride`], then a binary search of the last step.
fn gallop(
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
fn partition(
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

/// A fingerprint found in more than this many references of a segment is
/// common text (a stock sentence many outputs share): only the first this
/// many of them (by reference number) are followed. The document is still
/// flagged and its spans and longest run found through them (they hold the
/// same text), and the reference it was copied from is still found whole:
/// its own fingerprints find it, and the run is extended token by token
/// across the common text. What is lost is the list of every other
/// reference that holds the stock sentence too. Without the bound, one
/// stock sentence shared by thousands of outputs costs thousands of runs
/// per document (a run is a cache miss or two); at one million references,
/// 16 instead of 64 scans 19% faster and changes no flagged document, only
/// the edge of a span by a token in 3% of them.
pub const COMMON: usize = 16;

/// A document made ready for look-ups in every segment.
struct Prepared<'t> {
    text: &'t str,
    tokens: &'t [crate::Token],
    fingerprints: &'t [(u64, u32)],
}

/// Buffers a look-up uses and leaves for the next document of its thread
/// (a dozen allocations and frees per document otherwise).
#[derive(Default)]
struct Scratch {
    tokens: Vec<crate::Token>,
    shingles: Vec<u64>,
    fingerprints: Vec<(u64, u32)>,
    covered: Vec<bool>,
    pieces: Vec<Piece>,
    near: Vec<(u32, f64)>,
    spans: Vec<(usize, usize)>,
    sig: Vec<u32>,
    bands: Vec<u64>,
    work: Work,
}

/// The buffers of the look-ups in one segment.
#[derive(Default)]
struct Work {
    keys: Vec<u64>,
    found: Vec<std::ops::Range<usize>>,
    hits: Vec<(u32, i64, u32)>,
    runs: Vec<(u32, i64, u32, u32)>,
    slots: Vec<u32>,
    cands: Vec<u32>,
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
fn chain_runs(
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
struct Acc<'s> {
    pieces: &'s mut Vec<Piece>,
    near: &'s mut Vec<(u32, f64)>,
    covered: &'s mut Vec<bool>,
    jaccard: f64,
}

/// A matched run: its reference, length in tokens, share of the
/// reference's tokens, and byte range in the document.
#[derive(Clone, Copy, Debug)]
struct Piece {
    reference: u32,
    run: usize,
    share: f64,
    span: (usize, usize),
}

/// Looks `text` up in every segment (each with the number of its first
/// reference). All segments share the parameters of the first.
fn query_parts(parts: &[(&Index, u32)], text: &str) -> QueryResult {
    // This thread's buffers, taken for the look-up and given back after.
    let mut s = SCRATCH.with(std::cell::Cell::take);
    let res = query_with(parts, text, &mut s);
    SCRATCH.with(|c| c.set(s));
    res
}

fn query_with(parts: &[(&Index, u32)], text: &str, s: &mut Scratch) -> QueryResult {
    let Some(p) = parts.first().map(|(ix, _)| &ix.params) else {
        return QueryResult::default();
    };
    let Scratch {
        tokens,
        shingles,
        fingerprints,
        covered,
        pieces,
        near,
        spans,
        sig,
        bands,
        work,
    } = s;
    crate::normalize::tokenize_into(text, tokens);
    let mut res = QueryResult {
        tokens: tokens.len(),
        ..QueryResult::default()
    };
    if tokens.is_empty() || parts.iter().all(|(ix, _)| ix.is_empty()) {
        return res;
    }
    crate::fingerprint::shingles_into(tokens, p.k, shingles);
    crate::fingerprint::winnow_into(shingles, p.w, fingerprints);
    let q = Prepared {
        text,
        tokens,
        fingerprints,
    };
    covered.clear();
    covered.resize(q.tokens.len(), false);
    pieces.clear();
    near.clear();
    let mut acc = Acc {
        pieces,
        near,
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
            ix.near_matches(sig, bands, *base, &mut acc, work);
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
fn finish(
    mut res: QueryResult,
    acc: Acc,
    text_len: usize,
    spans: &mut Vec<(usize, usize)>,
) -> QueryResult {
    let Acc {
        pieces,
        near,
        covered,
        ..
    } = acc;
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
        };
        while let Some(p) = pieces.get(i).filter(|p| p.reference == r) {
            m.longest_run = m.longest_run.max(p.run);
            m.reference_coverage = (m.reference_coverage + p.share).min(1.0);
            m.spans.push(p.span);
            i += 1;
        }
        while let Some(&(_, j)) = near.get(near_at).filter(|n| n.0 == r) {
            if m.spans.is_empty() {
                m.kind = "near";
                m.spans.push((0, text_len));
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

/// Several segments queried as one index: references are numbered across
/// them in order, and a document's matches in every segment are combined
/// (spans, coverage, longest run) as if the segments were one.
#[derive(Debug)]
pub struct IndexSet {
    parts: Vec<Index>,
    bases: Vec<u32>,
}

impl IndexSet {
    /// The segments as one index; `None` when they were built with
    /// different parameters.
    pub fn new(parts: Vec<Index>) -> Option<IndexSet> {
        let first = parts.first().map(|p| p.params.clone());
        if parts.iter().any(|p| Some(&p.params) != first.as_ref()) {
            return None;
        }
        let mut bases = Vec::with_capacity(parts.len());
        let mut n = 0u32;
        for p in &parts {
            bases.push(n);
            n += p.len() as u32;
        }
        Some(IndexSet { parts, bases })
    }

    /// Looks a document up in every segment.
    pub fn query(&self, text: &str) -> QueryResult {
        let parts: Vec<(&Index, u32)> = self.parts.iter().zip(self.bases.iter().copied()).collect();
        query_parts(&parts, text)
    }

    /// The reference numbered `r` (across segments).
    pub fn reference(&self, r: u32) -> Option<Reference> {
        let i = self.bases.partition_point(|b| *b <= r).checked_sub(1)?;
        self.parts.get(i)?.reference((r - self.bases[i]) as usize)
    }

    /// References in all segments.
    pub fn len(&self) -> usize {
        self.parts.iter().map(Index::len).sum()
    }

    /// Whether no segment holds a reference.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The parameters (of every segment).
    pub fn params(&self) -> Option<&Params> {
        self.parts.first().map(Index::params)
    }

    /// The segments.
    pub fn segments(&self) -> &[Index] {
        &self.parts
    }
}

impl From<Index> for IndexSet {
    fn from(ix: Index) -> IndexSet {
        IndexSet {
            parts: vec![ix],
            bases: vec![0],
        }
    }
}

impl std::fmt::Debug for Index {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.summary())
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    /// The guessed and galloping look-up finds exactly the positions of a
    /// key, present or not, on uniform keys, clustered keys, and keys
    /// repeated thousands of times (a sentence in many references).
    #[test]
    fn look_ups_find_every_position_of_a_key() {
        let mut x = 99u64;
        let mut next = || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        let mut keys: Vec<u64> = (0..20_000).map(|_| next()).collect();
        keys.extend(std::iter::repeat_n(keys[7], 3_000));
        keys.extend((0..2_000u64).map(|i| (5 << 60) + i * 3)); // clustered
        keys.extend([0, 0, u64::MAX, u64::MAX]);
        let exact: Vec<(u64, u32, u32)> = keys
            .iter()
            .enumerate()
            .map(|(i, &k)| (k, 0, i as u32))
            .collect();
        let ix = Index::assemble(Contents {
            params: Params::default(),
            refs: vec![Reference::file("t", 1)],
            exact,
            sigs: vec![0; 128],
            tok_start: vec![0],
            ..Contents::default()
        })
        .unwrap();
        assert!(ix.dir_bits < 14, "a bucket per 64 keys, not per key");
        assert_eq!(
            ix.count(store::POSTINGS, 8),
            3_001 + 2 + 2,
            "repeated keys are grouped"
        );
        let mut probes: Vec<u64> = keys.iter().step_by(7).copied().collect();
        probes.extend((0..3_000).map(|_| next()));
        probes.extend([
            1,
            u64::MAX - 1,
            (5 << 60) + 1,
            (5 << 60) + 3,
            keys[7] + 1,
            keys[7] - 1,
        ]);
        let mut found = vec![0..7, 1..2]; // replaced, not added to
        ix.find_many(
            store::EXACT,
            store::EXACT_DIR,
            ix.dir_bits,
            &probes,
            &mut found,
        );
        let mut at: std::collections::HashMap<u64, Vec<u32>> = Default::default();
        for (i, k) in keys.iter().enumerate() {
            at.entry(*k).or_default().push(i as u32);
        }
        for (k, r) in probes.iter().zip(found.iter().cloned()) {
            let mut want = at.get(k).cloned().unwrap_or_default();
            let mut got: Vec<u32> = r.flat_map(|i| ix.postings(i)).map(|p| p.1).collect();
            want.sort_unstable();
            got.sort_unstable();
            assert_eq!(got, want, "key {k:#x}");
        }
        // Mapped from its file, the segment reads its directories from
        // copies in memory (the same bytes) and finds the same positions.
        let dir = std::env::temp_dir().join(format!("pvx-hot-{}", std::process::id()));
        let path = dir.join("a.pvx");
        crate::write_segment(&ix, &path).unwrap();
        let mapped = crate::read_segment(&path).unwrap();
        assert!(mapped.is_mapped() && ix.hot.iter().all(Option::is_none));
        for i in 0..store::SECTIONS {
            let (o, l) = mapped.sec[i];
            let copied = mapped.hot[i].as_deref();
            let dir = i == store::EXACT_DIR || i == store::BAND_DIR;
            assert_eq!(copied.is_some(), dir, "section {i}");
            assert_eq!(mapped.section(i), &mapped.bytes()[o..o + l]);
        }
        let mut again = Vec::new();
        mapped.find_many(
            store::EXACT,
            store::EXACT_DIR,
            mapped.dir_bits,
            &probes,
            &mut again,
        );
        assert_eq!(again, found);
        let _ = std::fs::remove_dir_all(dir);
    }

    /// A segment of an older format (2, or 3 with `spread` keys) holding
    /// `text` as `r`, laid out as that format's writer laid it out.
    fn assemble_old(
        p: &Params,
        version: u32,
        text: &str,
        mut r: Reference,
        key: fn(u64) -> u64,
    ) -> Index {
        let parts = fingerprint_one(p, &MinHasher::new(p.num_perm), text);
        r.tokens = parts.toks.len() as u32;
        Index::assemble_as(
            version,
            Contents {
                params: p.clone(),
                refs: vec![r],
                exact: parts
                    .exact
                    .iter()
                    .map(|&(h, pos)| (key(h), 0, pos))
                    .collect(),
                bands: parts.bands.iter().map(|&k| (k, 0)).collect(),
                sigs: parts.sig,
                tok_start: vec![0],
                toks: parts.toks,
            },
        )
        .unwrap()
    }

    /// Writes the golden segments of formats 2 and 3 into `tests/compat/`
    /// (see `tests/compat.rs`); run by hand, with `--ignored`, only when a
    /// format is added, beside the old files, never over them.
    #[test]
    #[ignore = "writes golden files"]
    fn write_golden_segments_2_and_3() {
        let p = Params::default();
        let text = crate::segment::tests::GOLDEN_TEXT;
        let dir = std::path::Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../../tests/compat"));
        for (version, key) in [
            (2u32, (|h| h) as fn(u64) -> u64),
            (3, crate::fingerprint::spread),
        ] {
            let idx = assemble_old(&p, version, text, Reference::file("old.jsonl", 5), key);
            let path = dir.join(format!("segment-v{version}.pvx"));
            assert!(!path.exists(), "never overwrite a golden file");
            std::fs::write(path, idx.bytes()).unwrap();
        }
    }

    /// Format 2 stored fingerprints under their own value, format 3 had
    /// directories without filters: such segments are still queried as
    /// they are, alone or beside the newest format, and merging rewrites
    /// them in it.
    #[test]
    fn older_formats_are_read_and_merged() {
        let p = Params::default();
        let a = "the committee met on tuesday to review the annual budget and decided that the library would stay open on sundays through the winter months";
        let b = "photosynthesis turns light water and carbon dioxide into sugar and oxygen inside the chloroplasts of green plants and many kinds of algae";
        let c = "the river flooded the lower town twice that spring and the council voted to raise the embankment before the autumn rains came again";
        // Format 2 (or 3: fingerprints under spread keys, directories
        // without filters) of one text.
        let old = |version: u32, text: &str, key: fn(u64) -> u64| {
            assemble_old(&p, version, text, Reference::file("old.jsonl", 1), key)
        };
        let v2 = || old(2, a, |h| h);
        let v3 = || old(3, c, crate::fingerprint::spread);
        let v4 = || {
            let mut nb = IndexBuilder::new(p.clone());
            nb.add(b, Reference::file("new.jsonl", 1));
            nb.build().unwrap()
        };
        assert!(!v2().spread() && !v2().filtered());
        assert!(v3().spread() && !v3().filtered());
        assert!(v4().spread() && v4().filtered());
        assert_eq!(store::u32_at(v2().bytes(), 8), 2);
        assert_eq!(store::u32_at(v3().bytes(), 8), 3);
        let doc3 = format!("Before. {c}. After.");
        assert_eq!(v3().query(&doc3).longest_run, tokenize(c).len());
        let set = IndexSet::new(vec![v3(), v4()]).unwrap();
        assert!(set.query(&doc3).flagged);
        let merged = Index::merge(vec![v3(), v4()]).unwrap();
        assert!(merged.filtered());
        assert_eq!(merged.query(&doc3).longest_run, tokenize(c).len());
        let doc = format!("Some words first. {a}. Then more. {b}. The end.");
        let alone = v2().query(&doc);
        assert!(alone.flagged);
        assert_eq!(alone.longest_run, tokenize(a).len());
        let refs = |r: &QueryResult| {
            let mut v: Vec<u32> = r.matches.iter().map(|m| m.reference).collect();
            v.sort_unstable();
            v
        };
        let set = IndexSet::new(vec![v2(), v4()]).unwrap();
        assert_eq!(refs(&set.query(&doc)), vec![0, 1]);
        let merged = Index::merge(vec![v2(), v4()]).unwrap();
        assert!(merged.spread());
        assert_eq!(store::u32_at(merged.bytes(), 8), crate::FORMAT_VERSION);
        let q = merged.query(&doc);
        assert_eq!(refs(&q), vec![0, 1]);
        assert!(q.matches.iter().all(|m| m.kind == "exact"));
    }

    /// The references of a segment's JSON, made whole.
    fn refs_from_json(json: &[u8]) -> Result<Vec<Reference>, String> {
        RefTable::from_json(json).map(|t| t.all())
    }

    /// References are stored with each source once, and read back whole
    /// (ledger fields, escaped strings, unknown keys ignored, the keys in
    /// any order); the plain array written before is still read; a source
    /// number past the list, a missing part or a reference of the wrong
    /// shape is an error, not a guess.
    #[test]
    fn references_store_each_source_once() {
        let mut refs: Vec<Reference> = (1..=1000)
            .map(|i| Reference::file("/data/a/very/long/path/to/outputs.jsonl", i))
            .collect();
        refs.push(Reference {
            source: "ledger".into(),
            record_id: Some("01J".into()),
            team: Some("research".into()),
            ..Reference::default()
        });
        refs.push(Reference {
            source: "C:\\data\\\"quoted\".jsonl".into(),
            row: Some(7),
            record_id: Some("01K".into()),
            key_id: Some("key-\u{e9}".into()),
            team: Some("t\nnewline".into()),
            model: Some("gpt-4o".into()),
            time: Some("2026-12-02T12:00:00Z".into()),
            tokens: 12,
        });
        refs.push(Reference::file(
            "/data/a/very/long/path/to/outputs.jsonl",
            1001,
        ));
        assert_eq!(RefTable::from_refs(refs.clone()).all(), refs);
        let json = RefTable::from_refs(refs.clone()).to_json().unwrap();
        assert_eq!(refs_from_json(&json).unwrap(), refs);
        assert!(
            json.len() < 1000 * 30,
            "{} bytes: the path is stored once",
            json.len()
        );
        let plain = serde_json::to_vec(&refs).unwrap();
        assert_eq!(refs_from_json(&plain).unwrap(), refs);
        let bad = br#"{"sources":["a"],"source_of":[3],"refs":[{"row":1,"tokens":0}]}"#;
        assert!(refs_from_json(bad).unwrap_err().contains("source number"));
        let short = br#"{"sources":["a"],"source_of":[],"refs":[{"row":1,"tokens":0}]}"#;
        assert!(refs_from_json(short).is_err());
        let reordered = br#"{"refs":[{"tokens":3,"row":2,"extra":[1]}],"other":{},"source_of":[0],"sources":["a"]}"#;
        assert_eq!(
            refs_from_json(reordered).unwrap(),
            vec![Reference {
                tokens: 3,
                ..Reference::file("a", 2)
            }]
        );
        for bad in [
            &br#"{"sources":["a"],"source_of":[0]}"#[..],
            br#"{"sources":["a"],"refs":[{"row":1}]}"#,
            br#"{"sources":["a"],"source_of":[0],"refs":[{"row":"one"}]}"#,
            br#"{"sources":["a"],"source_of":[0],"refs":[{"row":1}]} trailing"#,
            br#"{"sources":["a"],"source_of":[0],"refs":[{"row":1}"#,
        ] {
            assert!(
                refs_from_json(bad).is_err(),
                "{}",
                String::from_utf8_lossy(bad)
            );
        }
    }

    /// Chaining hits through the hash table gives the runs that sorting
    /// the hits and chaining them in order gives, over many documents of
    /// hits with few references and diagonals (many chains and gaps) and
    /// with many (few collisions).
    #[test]
    fn chained_runs_are_those_of_sorted_hits() {
        let mut x = 0x1234_5678_9ABC_DEF0u64;
        let mut next = |m: u64| {
            x = x
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            (x >> 33) % m
        };
        let (mut slots, mut runs) = (Vec::new(), Vec::new());
        for case in 0..300 {
            let spread = [3u64, 40, 100_000][case % 3];
            let mut hits = Vec::new();
            let mut pos = 0u32;
            for _ in 0..next(400) {
                pos += 1 + next(6) as u32;
                for _ in 0..next(5) {
                    let r = next(spread) as u32;
                    let rpos = next(spread.min(50)) as i64;
                    hits.push((r, rpos - i64::from(pos), pos));
                }
            }
            hits.dedup();
            let w = 1 + next(9) as u32;
            let mut sorted = hits.clone();
            sorted.sort_unstable();
            let mut want: Vec<(u32, i64, u32, u32)> = Vec::new();
            for &(r, d, p) in &sorted {
                match want.last_mut() {
                    Some(l) if l.0 == r && l.1 == d && l.3 + w >= p => l.3 = p,
                    _ => want.push((r, d, p, p)),
                }
            }
            chain_runs(&hits, w, &mut slots, &mut runs);
            assert_eq!(runs, want, "case {case}");
        }
    }

    /// The pipeline asks far, then near, then works, for every item once
    /// and in order, however many items there are.
    #[test]
    fn pipeline_visits_every_item_in_order() {
        for (n, ahead) in [0usize, 1, 3, 5, 40, 100]
            .into_iter()
            .flat_map(|n| [(n, 2), (n, 16), (n, 32)])
        {
            let log = std::cell::RefCell::new(Vec::new());
            pipeline(
                n,
                ahead,
                |i| log.borrow_mut().push(('f', i)),
                |i| {
                    log.borrow_mut().push(('n', i));
                    i * 10
                },
                |i, m| {
                    assert_eq!(m, i * 10);
                    log.borrow_mut().push(('w', i));
                },
            );
            let log = log.into_inner();
            let at = |e| log.iter().position(|x| *x == e).unwrap();
            for i in 0..n {
                assert!(
                    at(('f', i)) < at(('n', i)) && at(('n', i)) < at(('w', i)),
                    "n {n} item {i}"
                );
            }
            let worked: Vec<usize> = log.iter().filter(|e| e.0 == 'w').map(|e| e.1).collect();
            assert_eq!(worked, (0..n).collect::<Vec<_>>());
            assert_eq!(log.len(), 3 * n);
        }
    }

    /// A merge that cannot be done says why; it never yields an empty
    /// index in place of the segments.
    #[test]
    fn merges_that_cannot_be_done_are_errors() {
        assert!(matches!(
            Index::merge(Vec::new()),
            Err(IndexError::Build(_))
        ));
        let one = |params: Params| {
            let mut b = IndexBuilder::new(params);
            b.add(
                "alpha beta gamma delta epsilon zeta eta theta iota kappa",
                Reference::file("f", 1),
            );
            b.build().unwrap()
        };
        let other = Params {
            min_run: 30,
            ..Params::default()
        };
        let e = Index::merge(vec![one(Params::default()), one(other)]).unwrap_err();
        assert!(matches!(e, IndexError::ParamsDiffer));
        assert!(e.to_string().contains("different parameters"));
        assert_eq!(
            Index::merge(vec![one(Params::default()), one(Params::default())])
                .unwrap()
                .len(),
            2
        );
    }

    /// Adding in parallel gives the very same segment as adding one by one.
    #[test]
    fn add_all_is_add_in_order() {
        let texts: Vec<String> = (0..300)
            .map(|i| {
                (0..(5 + i % 40))
                    .map(|w| format!("t{}w{w}", i % 17))
                    .collect::<Vec<_>>()
                    .join(" ")
            })
            .collect();
        let mut one = IndexBuilder::new(Params::default());
        one.add("already here first", Reference::file("a", 1));
        let mut all = IndexBuilder::new(Params::default());
        all.add("already here first", Reference::file("a", 1));
        for (i, t) in texts.iter().enumerate() {
            one.add(t, Reference::file("f", i as u64));
        }
        all.add_all(
            texts
                .iter()
                .enumerate()
                .map(|(i, t)| (t.clone(), Reference::file("f", i as u64)))
                .collect(),
        );
        assert_eq!(one.build().unwrap().bytes(), all.build().unwrap().bytes());
    }

    /// A stock sentence in every reference: each copy is still attributed
    /// to its own reference (through its own text), a document holding
    /// only the stock sentence is flagged through the first COMMON
    /// references that hold it, not all of them.
    #[test]
    fn common_text_is_followed_in_a_bounded_number_of_references() {
        let stock = "thank you for your question here is a detailed answer that covers the main points you asked about in order";
        let n = 3 * COMMON;
        let mut b = IndexBuilder::new(Params::default());
        let text = |i: usize| {
            let own: Vec<String> = (0..30).map(|w| format!("own{i}x{w}")).collect();
            format!("{stock} {}", own.join(" "))
        };
        for i in 0..n {
            b.add(&text(i), Reference::file("refs", i as u64 + 1));
        }
        let ix = b.build().unwrap();
        let last = n - 1;
        let r = ix.query(&format!("some human preface. {}", text(last)));
        assert!(r.flagged);
        assert_eq!(
            r.matches[0].reference as usize, last,
            "attributed to its own reference"
        );
        assert_eq!(
            r.longest_run,
            ix.reference(last).unwrap().tokens as usize,
            "the whole reference"
        );
        let r = ix.query(&format!(
            "a forum post quoting: {stock} and nothing else of note"
        ));
        assert!(r.flagged, "the stock sentence is a copied span");
        assert!(r.longest_run >= 20);
        assert!(
            r.matches.len() <= COMMON,
            "{} references followed",
            r.matches.len()
        );
    }
}
