//! Immutable segment files: the whole index in one file, ending with a
//! footer that holds the format version and an xxh3 checksum of everything
//! before it, so a truncated or altered file is refused.

use std::path::Path;

use crate::store::{self, Bytes};
use crate::{Index, IndexError, Params, Reference};

pub use crate::store::FORMAT_VERSION;

/// Writes `index` to `path` (atomically: a temporary file, synced, then
/// renamed; a segment is never written in place, which is what lets
/// readers map it).
pub fn write_segment(index: &Index, path: &Path) -> Result<(), IndexError> {
    write_atomically(path, index.bytes())
}

/// Bytes of one `write` system call of [`write_atomically`]: copying this
/// much into the page cache takes tens of microseconds.
const WRITE_PIECE: usize = 128 * 1024;

/// Writes `bytes` to `path` atomically: a temporary file beside it (its
/// directory made if need be), synced, then renamed into place, so a
/// reader sees the old file or the new, never half of one.
pub(crate) fn write_atomically(path: &Path, bytes: &[u8]) -> Result<(), IndexError> {
    use std::io::Write;
    let io = |e: std::io::Error| IndexError::Io {
        path: path.display().to_string(),
        source: e,
    };
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(io)?;
    }
    // Named for this process: two writers of one path never share it.
    let tmp = path.with_extension(format!("{}.tmp", std::process::id()));
    let mut f = std::fs::File::create(&tmp).map_err(io)?;
    // In pieces, offering the core after each: on a kernel without forced
    // preemption (`preempt=none`), one write of megabytes holds the core
    // for its whole time slice, milliseconds, even from a thread of idle
    // priority once the scheduler has picked it; a request ready on that
    // core waits. `serve`'s index follower writes its segments through
    // here (so do the `index` commands, where nothing else is waiting).
    for piece in bytes.chunks(WRITE_PIECE) {
        f.write_all(piece).map_err(io)?;
        std::thread::yield_now();
    }
    f.sync_all().map_err(io)?;
    drop(f);
    std::fs::rename(&tmp, path).map_err(io)
}

/// Opens a segment memory-mapped, checking its frame, its checksum (the
/// whole file is read once, sequentially) and its tables. A format-1
/// segment is read into memory and converted.
pub fn read_segment(path: &Path) -> Result<Index, IndexError> {
    open_checked(path, true, false)
}

/// Segments up to this size are read into memory by [`read_segment_copied`].
pub const COPY_BELOW: u64 = 64 * 1024 * 1024;

/// [`read_segment`], but a segment of at most [`COPY_BELOW`] bytes is read
/// into private memory instead of mapped, so that a file truncated while it
/// is in use cannot stop the process with SIGBUS. For long-running
/// processes (`serve`'s index follower); a larger segment is still mapped.
pub fn read_segment_copied(path: &Path) -> Result<Index, IndexError> {
    let small = std::fs::metadata(path).is_ok_and(|m| m.len() <= COPY_BELOW);
    open_checked(path, true, small)
}

fn open_checked(path: &Path, verify: bool, copy: bool) -> Result<Index, IndexError> {
    let name = path.display().to_string();
    let bad = |why: String| IndexError::Corrupt {
        path: name.clone(),
        why,
    };
    let opened = if copy {
        proviso_mmap::Mapped::read_copy(path)
    } else {
        proviso_mmap::Mapped::open(path)
    };
    let map = opened.map_err(|e| IndexError::Io {
        path: name.clone(),
        source: e,
    })?;
    if map.len() >= 12 && &map[..8] == store::MAGIC && store::u32_at(&map, 8) == 1 {
        return read_v1(&map).map_err(bad);
    }
    Index::open(Bytes::Mapped(map), verify, None).map_err(bad)
}

/// Opens a segment as [`read_segment`] does (frame, sections and tables
/// checked; format 1 converted) except for the checksum of every byte and
/// the parse of the references, which are left to [`check_opened`] (the
/// references are otherwise parsed when first asked for): an audit does
/// that on another thread while the scan has begun, instead of reading
/// the whole file before the first look-up. Queries of a damaged segment
/// never panic or hang, but what they find is not to be reported before
/// [`check_opened`] passes.
pub fn open_segment(path: &Path) -> Result<Index, IndexError> {
    open_checked(path, false, false)
}

/// Checks what [`open_segment`] left for later in a segment opened from
/// `path`: the checksum (reads every byte) and the references (parses
/// them, as a look-up of one would); the error is [`read_segment`]'s for
/// such a file.
pub fn check_opened(index: &Index, path: &Path) -> Result<(), IndexError> {
    let why = if index.checksum_agrees() {
        match index.check_references() {
            Ok(()) => return Ok(()),
            Err(why) => why,
        }
    } else {
        crate::store::CHECKSUM_MISMATCH.into()
    };
    Err(IndexError::Corrupt {
        path: path.display().to_string(),
        why,
    })
}

/// Checks a segment without keeping it: frame, checksum, tables.
pub fn verify_segment(path: &Path) -> Result<(), IndexError> {
    read_segment(path).map(drop)
}

struct Reader<'a> {
    b: &'a [u8],
    at: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        let s = self.b.get(self.at..self.at.checked_add(n)?)?;
        self.at += n;
        Some(s)
    }
    fn u64(&mut self) -> Option<u64> {
        self.take(8)
            .and_then(|s| s.try_into().ok())
            .map(u64::from_le_bytes)
    }
    fn u32(&mut self) -> Option<u32> {
        self.take(4)
            .and_then(|s| s.try_into().ok())
            .map(u32::from_le_bytes)
    }
}

/// Format 1: every table as a count and its entries, parsed into memory.
fn read_v1(b: &[u8]) -> Result<Index, String> {
    if b.len() < 8 + 4 + 20 || &b[b.len() - 8..] != store::FOOTER_MAGIC {
        return Err("not a Proviso index segment (or truncated)".into());
    }
    let body = &b[..b.len() - 20];
    let sum = store::u64_at(b, b.len() - 16);
    if xxhash_rust::xxh3::xxh3_64_with_seed(body, crate::SEED) != sum {
        return Err("checksum mismatch: the file is damaged".into());
    }
    let mut r = Reader { b: body, at: 12 };
    let parse = |r: &mut Reader<'_>| -> Option<Result<Index, IndexError>> {
        let n = usize::try_from(r.u64()?).ok()?;
        let params: Params = serde_json::from_slice(r.take(n)?).ok()?;
        let n = usize::try_from(r.u64()?).ok()?;
        let refs: Vec<Reference> = serde_json::from_slice(r.take(n)?).ok()?;
        let n = usize::try_from(r.u64()?).ok()?;
        let mut exact = Vec::with_capacity(n.min(body.len() / 16));
        for _ in 0..n {
            exact.push((crate::fingerprint::spread(r.u64()?), r.u32()?, r.u32()?));
        }
        let n = usize::try_from(r.u64()?).ok()?;
        let mut bands = Vec::with_capacity(n.min(body.len() / 12));
        for _ in 0..n {
            bands.push((r.u64()?, r.u32()?));
        }
        let n = usize::try_from(r.u64()?).ok()?;
        let mut sigs = Vec::with_capacity(n.min(body.len() / 4));
        for _ in 0..n {
            sigs.push(r.u32()?);
        }
        let n = usize::try_from(r.u64()?).ok()?;
        let mut tok_start = Vec::with_capacity(n.min(body.len() / 8));
        for _ in 0..n {
            tok_start.push(r.u64()?);
        }
        let n = usize::try_from(r.u64()?).ok()?;
        let mut toks = Vec::with_capacity(n.min(body.len() / 2));
        for _ in 0..n {
            toks.push(u16::from_le_bytes(r.take(2)?.try_into().ok()?));
        }
        Some(Index::assemble(crate::index::Contents {
            params,
            refs,
            exact,
            bands,
            sigs,
            tok_start,
            toks,
        }))
    };
    parse(&mut r)
        .ok_or_else(|| "malformed segment body".to_owned())?
        .map_err(|e| e.to_string())
}

/// Bytes read back as laid out (for tests of the layout).
#[cfg(test)]
pub(crate) fn reopen(bytes: Vec<u8>) -> Result<Index, String> {
    Index::open(Bytes::Owned(bytes), true, None)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::IndexBuilder;

    #[test]
    fn a_file_of_many_pieces_is_written_whole_and_replaces_the_old() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub").join("big.bin");
        // Two and a half pieces, no byte the same as its neighbour's place.
        let bytes: Vec<u8> = (0..WRITE_PIECE * 5 / 2).map(|i| (i % 251) as u8).collect();
        write_atomically(&path, b"old").unwrap();
        write_atomically(&path, &bytes).unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), bytes);
        let names: Vec<_> = std::fs::read_dir(path.parent().unwrap())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(
            names,
            vec![std::ffi::OsString::from("big.bin")],
            "no temporary file left"
        );
    }

    /// Makes the footer's checksum agree with changed bytes, as a hostile
    /// file could: what is left to catch the change is the other checks.
    fn reseal(bytes: &mut [u8]) {
        let foot = bytes.len() - store::FOOTER;
        let sum = xxhash_rust::xxh3::xxh3_64_with_seed(&bytes[..foot], crate::SEED);
        bytes[foot + 4..foot + 12].copy_from_slice(&sum.to_le_bytes());
    }

    #[test]
    fn round_trip_and_damage_detection() {
        let dir = std::env::temp_dir().join(format!("pvx-{}", std::process::id()));
        let path = dir.join("a.pvx");
        let mut b = IndexBuilder::new(Params::default());
        b.add("one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen sixteen seventeen eighteen nineteen twenty twentyone", Reference::file("f", 1));
        let idx = b.build().unwrap();
        write_segment(&idx, &path).unwrap();
        let back = read_segment(&path).unwrap();
        assert!(back.is_mapped() && !idx.is_mapped());
        assert_eq!(
            std::fs::read(&path).unwrap(),
            idx.bytes(),
            "the file is the layout"
        );
        assert_eq!(back.references(), idx.references());
        assert!(back.query("x one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen sixteen seventeen eighteen nineteen twenty twentyone y").flagged);
        let mut bytes = std::fs::read(&path).unwrap();
        let mid = bytes.len() / 2;
        bytes[mid] ^= 1;
        std::fs::write(&path, &bytes).unwrap();
        assert!(
            read_segment(&path)
                .unwrap_err()
                .to_string()
                .contains("checksum")
        );
        // Opened without the checks, the damage is found by check_opened.
        let unchecked = open_segment(&path).unwrap();
        assert!(!unchecked.checksum_agrees());
        assert!(
            check_opened(&unchecked, &path)
                .unwrap_err()
                .to_string()
                .contains("checksum")
        );
        std::fs::write(&path, &bytes[..bytes.len() - 3]).unwrap();
        assert!(read_segment(&path).is_err());
        std::fs::write(&path, b"").unwrap();
        assert!(read_segment(&path).is_err());
        let _ = std::fs::remove_dir_all(dir);
    }

    /// A small segment read for a long-running process is a private copy:
    /// truncating the file afterwards (which would stop a process reading
    /// a map of it with SIGBUS) changes nothing of what was read.
    #[test]
    fn a_copied_segment_survives_its_file_being_truncated() {
        let dir = std::env::temp_dir().join(format!("pvx-copy-{}", std::process::id()));
        let path = dir.join("c.pvx");
        let text = "one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen sixteen seventeen eighteen nineteen twenty twentyone";
        let mut b = IndexBuilder::new(Params::default());
        b.add(text, Reference::file("f", 1));
        write_segment(&b.build().unwrap(), &path).unwrap();
        let idx = read_segment_copied(&path).unwrap();
        std::fs::OpenOptions::new()
            .write(true)
            .open(&path)
            .unwrap()
            .set_len(0)
            .unwrap();
        assert!(idx.checksum_agrees());
        assert!(idx.query(&format!("x {text} y")).flagged);
        assert_eq!(idx.references().len(), 1);
        let _ = std::fs::remove_dir_all(dir);
    }

    /// References are parsed when first asked for after `open_segment`;
    /// references that do not read (checksum made to agree) are an error
    /// of `check_opened` and of `read_segment`, and none are given.
    #[test]
    fn references_are_parsed_when_first_needed() {
        let dir = std::env::temp_dir().join(format!("pvx-refs-{}", std::process::id()));
        let path = dir.join("a.pvx");
        let mut b = IndexBuilder::new(Params::default());
        for i in 0..5 {
            b.add(
                &format!("text number {i} with some words in it to be indexed"),
                Reference::file("refs.jsonl", i + 1),
            );
        }
        let idx = b.build().unwrap();
        write_segment(&idx, &path).unwrap();
        let ix = open_segment(&path).unwrap();
        assert_eq!(ix.len(), 5);
        assert!(ix.refs_pending());
        check_opened(&ix, &path).unwrap();
        assert!(!ix.refs_pending());
        assert_eq!(ix.references(), idx.references());
        // The references' JSON damaged, the checksum made to agree.
        let mut bytes = idx.bytes().to_vec();
        let sec = store::sections(&bytes, crate::FORMAT_VERSION).unwrap();
        let (o, l) = sec[store::REFS];
        assert!(l > 0);
        bytes[o] = b'X'; // no JSON starts so
        reseal(&mut bytes);
        std::fs::write(&path, &bytes).unwrap();
        let ix = open_segment(&path).unwrap();
        let err = check_opened(&ix, &path).unwrap_err().to_string();
        assert!(err.contains("references"), "{err}");
        assert!(ix.references().is_empty());
        let err = read_segment(&path).unwrap_err().to_string();
        assert!(err.contains("references"), "{err}");
        let _ = std::fs::remove_dir_all(dir);
    }

    /// Damaged tables that still pass the checksum (bytes changed and the
    /// checksum made to agree, as a hostile file could) never crash a
    /// look-up: every read through them is bounds-checked, and a damaged
    /// entry gives a wrong answer or none, never a panic or a hang.
    #[test]
    fn damaged_tables_never_crash_a_query() {
        let mut b = IndexBuilder::new(Params::default());
        let texts: Vec<String> = (0..60)
            .map(|i| {
                (0..(10 + i % 50))
                    .map(|w| format!("w{}x{}", (w * 7 + i) % 90, w % 5))
                    .collect::<Vec<_>>()
                    .join(" ")
            })
            .collect();
        for (i, t) in texts.iter().enumerate() {
            b.add(t, Reference::file("f", i as u64 + 1));
        }
        let good = b.build().unwrap().bytes().to_vec();
        let sec = store::sections(&good, crate::FORMAT_VERSION).unwrap();
        let (start, end) = (sec[store::EXACT].0, good.len() - store::FOOTER);
        let mut x = 12345u64;
        let mut opened = 0;
        for round in 0..300 {
            let mut bytes = good.clone();
            for _ in 0..1 + round % 8 {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                let at = start + (x as usize) % (end - start);
                bytes[at] = (x >> 32) as u8;
            }
            reseal(&mut bytes);
            if let Ok(ix) = reopen(bytes) {
                opened += 1;
                for t in texts.iter().step_by(7) {
                    let _ = ix.query(&format!("prefix words here {t} and after"));
                }
            }
        }
        assert!(
            opened > 250,
            "damage inside the tables still opens: {opened}"
        );
    }

    /// A table of contents that points outside the file is refused, even
    /// when the checksum is made to agree.
    #[test]
    fn sections_outside_the_file_are_refused() {
        let mut b = IndexBuilder::new(Params::default());
        b.add(
            "alpha beta gamma delta epsilon zeta eta theta iota kappa",
            Reference::file("f", 1),
        );
        let mut bytes = b.build().unwrap().bytes().to_vec();
        bytes[16 + 2 * 16..16 + 2 * 16 + 8].copy_from_slice(&(u64::MAX / 2).to_le_bytes());
        reseal(&mut bytes);
        assert!(reopen(bytes).unwrap_err().contains("outside"));
    }

    /// The bytes of a format 1 segment holding `text` (row 7 of
    /// `old.jsonl`), as format 1 writers wrote it.
    pub(crate) fn format_1_bytes(text: &str) -> Vec<u8> {
        let params = Params::default();
        let tokens = crate::tokenize(text);
        let sh = crate::shingles(&tokens, params.k);
        let exact: Vec<(u64, u32, u32)> = {
            let mut e: Vec<_> = crate::winnow(&sh, params.w)
                .into_iter()
                .map(|(h, p)| (h, 0, p))
                .collect();
            e.sort_unstable();
            e
        };
        let sig = crate::MinHasher::new(params.num_perm)
            .signature(&crate::MinHasher::shingle_set(&tokens));
        let mut bands: Vec<(u64, u32)> = crate::minhash::band_keys(&sig, params.bands, params.rows)
            .into_iter()
            .map(|k| (k, 0))
            .collect();
        bands.sort_unstable();
        let mut r = Reference::file("old.jsonl", 7);
        r.tokens = tokens.len() as u32;
        let mut out = Vec::new();
        let blob = |out: &mut Vec<u8>, b: &[u8]| {
            out.extend_from_slice(&(b.len() as u64).to_le_bytes());
            out.extend_from_slice(b);
        };
        out.extend_from_slice(store::MAGIC);
        out.extend_from_slice(&1u32.to_le_bytes());
        blob(&mut out, &serde_json::to_vec(&params).unwrap());
        blob(&mut out, &serde_json::to_vec(&vec![r]).unwrap());
        out.extend_from_slice(&(exact.len() as u64).to_le_bytes());
        for (h, r, p) in &exact {
            out.extend_from_slice(&h.to_le_bytes());
            out.extend_from_slice(&r.to_le_bytes());
            out.extend_from_slice(&p.to_le_bytes());
        }
        out.extend_from_slice(&(bands.len() as u64).to_le_bytes());
        for (k, r) in &bands {
            out.extend_from_slice(&k.to_le_bytes());
            out.extend_from_slice(&r.to_le_bytes());
        }
        out.extend_from_slice(&(sig.len() as u64).to_le_bytes());
        for s in &sig {
            out.extend_from_slice(&s.to_le_bytes());
        }
        out.extend_from_slice(&1u64.to_le_bytes());
        out.extend_from_slice(&0u64.to_le_bytes());
        out.extend_from_slice(&(tokens.len() as u64).to_le_bytes());
        for t in &tokens {
            out.extend_from_slice(&(t.hash as u16).to_le_bytes());
        }
        let sum = xxhash_rust::xxh3::xxh3_64_with_seed(&out, crate::SEED);
        out.extend_from_slice(&1u32.to_le_bytes());
        out.extend_from_slice(&sum.to_le_bytes());
        out.extend_from_slice(store::FOOTER_MAGIC);
        out
    }

    /// Writes the golden segment of format 6 into `tests/compat/`
    /// (see `tests/compat.rs`); run by hand, with `--ignored`, only when a
    /// format is added, beside the old files, never over them (format 5's
    /// was written by the same code before short phrases were added).
    #[test]
    #[ignore = "writes golden files"]
    fn write_golden_segment_6() {
        write_golden("segment-v6.pvx", &golden_segment(Params::default()));
    }

    /// Writes the golden segment of format 7 (keyed by [`GOLDEN_SALT`]) into
    /// `tests/compat/`, as [`write_golden_segment_6`] does.
    #[test]
    #[ignore = "writes golden files"]
    fn write_golden_segment_7() {
        write_golden(
            "segment-v7.pvx",
            &golden_segment(Params::keyed(GOLDEN_SALT)),
        );
    }

    /// The bytes of a segment of [`GOLDEN_TEXT`] built with `params`.
    fn golden_segment(params: Params) -> Vec<u8> {
        let mut b = IndexBuilder::new(params);
        b.add(GOLDEN_TEXT, Reference::file("new.jsonl", 3));
        b.build().unwrap().bytes().to_vec()
    }

    /// Writes `bytes` as the golden file `name` in `tests/compat/`, never
    /// over one already there.
    fn write_golden(name: &str, bytes: &[u8]) {
        let dir = std::path::Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../../tests/compat"));
        let path = dir.join(name);
        assert!(!path.exists(), "never overwrite a golden file");
        std::fs::write(path, bytes).unwrap();
    }

    /// The key of the golden segment of format 7 (`tests/compat.rs` has
    /// the same).
    const GOLDEN_SALT: u64 = 0x0123_4567_89AB_CDEF;

    /// Writes the golden segments of formats 1 and 4 into `tests/compat/`
    /// (see `tests/compat.rs`); run by hand, with `--ignored`, only when a
    /// format is added, beside the old files, never over them.
    #[test]
    #[ignore = "writes golden files"]
    fn write_golden_segments_1_and_4() {
        write_golden("segment-v1.pvx", &format_1_bytes(GOLDEN_TEXT));
        write_golden("segment-v4.pvx", &golden_segment(Params::default()));
    }

    /// The text every golden segment holds.
    pub(crate) const GOLDEN_TEXT: &str = "the committee met on tuesday to review the annual budget and decided that the library would stay open on sundays through the winter months";

    /// Format 1 (entries parsed into memory) is still read, converted.
    #[test]
    fn format_1_segments_are_converted() {
        let text = "one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen sixteen seventeen eighteen nineteen twenty twentyone";
        let mut out = format_1_bytes(text);
        let dir = tempfile_dir("v1");
        let path = dir.join("old.pvx");
        std::fs::write(&path, &out).unwrap();
        let ix = read_segment(&path).unwrap();
        assert!(!ix.is_mapped());
        let m = ix.query(&format!("before {text} after"));
        assert!(m.flagged);
        assert_eq!(m.longest_run, 21);
        assert_eq!(ix.references()[0].row, Some(7));
        out[40] ^= 1;
        std::fs::write(&path, &out).unwrap();
        assert!(
            read_segment(&path)
                .unwrap_err()
                .to_string()
                .contains("checksum")
        );
        let _ = std::fs::remove_dir_all(dir);
    }

    fn tempfile_dir(tag: &str) -> std::path::PathBuf {
        let d = std::env::temp_dir().join(format!("pvx-{tag}-{}", std::process::id()));
        std::fs::create_dir_all(&d).unwrap();
        d
    }
}
