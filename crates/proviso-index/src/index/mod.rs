//! Building and querying the index: the segment's types, layout and
//! look-up accessors here; building ([`build`]), querying ([`query`]) and
//! several segments as one ([`set`]) beside.

mod build;
mod lookup;
mod query;
mod set;

pub(crate) use build::Contents;
pub use build::IndexBuilder;
use lookup::pipeline;
use query::query_parts;
pub use set::IndexSet;

use serde::Serialize;

use crate::minhash::band_keys;
pub use crate::params::Params;
pub use crate::reference::Reference;
use crate::refs::RefTable;
use crate::store::{self, Bytes};
use crate::{IndexError, MinHasher, shingles, winnow};

/// How a document matched one reference.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Match {
    /// The reference's number in the index.
    pub reference: u32,
    /// `exact` (a copied span), `aligned` (a chain of short shared seeds
    /// in order: a copy with many small edits) or `near` (a near
    /// duplicate as a whole; its spans are the aligned pieces when it was
    /// aligned too, else the whole texts).
    pub kind: &'static str,
    /// The longest run of tokens shared in order.
    pub longest_run: usize,
    /// The share of the reference's tokens that the runs cover.
    pub reference_coverage: f64,
    /// Estimated Jaccard similarity of the whole texts.
    pub jaccard: f64,
    /// Matched byte ranges in the document.
    pub spans: Vec<(usize, usize)>,
    /// The token ranges of the reference each span is matched with (end
    /// excluded; the reference's text tokenised with the index's
    /// tokenizer version gives their bytes), one for each of `spans`.
    pub reference_spans: Vec<(usize, usize)>,
    /// When the reference was aligned with the document (one no exact
    /// run matched): the document tokens the best chain of short seeds
    /// covers; 0 when it was not aligned.
    pub aligned: usize,
    /// The significance of that chain in bits (0 when not aligned).
    pub significance: f64,
    /// When aligned: the share of the reference the document keeps, 1
    /// less the fewest token edits that turn the reference into some
    /// stretch of the document over the reference's tokens; `None` (null
    /// in JSON) when it was not worked out: not aligned, the rule off, or
    /// a reference shorter than [`crate::ALIGN_KEPT_MIN_TOKENS`] or longer
    /// than [`crate::ALIGN_KEPT_MAX_TOKENS`] tokens.
    pub kept: Option<f64>,
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
        Index::assemble_as(crate::store::FORMAT_VERSION, c)
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
        if !(2..=crate::store::FORMAT_VERSION).contains(&version) || store::u32_at(b, 8) != version
        {
            return Err(format!(
                "segment format {version}; this build reads 1 to {}",
                crate::store::FORMAT_VERSION
            ));
        }
        if verify && !checksum_agrees(b) {
            return Err(crate::store::CHECKSUM_MISMATCH.into());
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

    /// Whether a short reference's short phrases may be stored (format 6
    /// on; a merge keeps older segments' references without them).
    pub(crate) fn short_phrases(&self) -> bool {
        self.format >= 6
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
}

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

impl std::fmt::Debug for Index {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.summary())
    }
}

#[cfg(test)]
mod tests;
