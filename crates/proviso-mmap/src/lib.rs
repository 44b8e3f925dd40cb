//! Read-only memory maps of immutable files.
//!
//! Proviso's index segments are opened memory-mapped, so that opening an
//! index of millions of outputs costs no copy and the pages are the page
//! cache's, shared by every process that audits at once. Mapping a file is
//! `unsafe` in Rust because the program's view of the bytes changes if
//! another process writes or truncates the file while it is mapped. The
//! invariant that makes it sound here: **a segment file is never changed
//! in place**. Writers create a new file under a temporary name and rename
//! it into place (readers keep the inode they mapped); merging writes a new
//! segment and unlinks the old ones (an unlinked file stays mapped until the
//! last map is dropped). A file truncated by hand while an audit runs
//! would stop that process with SIGBUS: documented in `docs/audit.md`.
//!
//! The crate's other `unsafe` expression is [`prefetch`]: a hint to the
//! processor to bring a line of memory into its cache, which reads nothing
//! into the program and cannot fault, but takes a raw pointer. (Vector
//! instructions are `proviso-simd`'s.)
//!
//! ```
//! let path = std::env::temp_dir().join(format!("proviso-mmap-doc-{}", std::process::id()));
//! std::fs::write(&path, b"hello").unwrap();
//! let m = proviso_mmap::Mapped::open(&path).unwrap();
//! assert_eq!(&m[..], b"hello");
//! # std::fs::remove_file(&path).unwrap();
//! ```
#![deny(missing_docs)]

use std::fs::File;
use std::path::Path;

/// A file mapped read-only (an empty file is an empty slice, not a map),
/// or a private read-only copy of bytes ([`Mapped::copy_huge`]).
pub struct Mapped {
    map: Option<memmap2::Mmap>,
}

impl Mapped {
    /// Maps `path` read-only. See the crate documentation for why this is
    /// sound for Proviso's segment files, and only for files that are never
    /// written in place.
    pub fn open(path: &Path) -> std::io::Result<Self> {
        let file = File::open(path)?;
        if file.metadata()?.len() == 0 {
            return Ok(Self { map: None });
        }
        #[allow(unsafe_code)]
        // SAFETY: the file is only ever replaced by rename or unlinked,
        // never written or truncated in place (see the crate docs), so the
        // mapped bytes do not change while the map lives. The map is
        // read-only and outlives every slice borrowed from it (`Deref`).
        let map = unsafe { memmap2::Mmap::map(&file)? };
        Ok(Self { map: Some(map) })
    }

    /// A private, read-only copy of `bytes` in anonymous memory, asked to
    /// be backed by transparent huge pages (2 MiB on x86-64; Linux's
    /// `madvise(MADV_HUGEPAGE)`, which takes effect when the system's
    /// setting is `madvise` or `always`; elsewhere, or when the kernel
    /// declines, ordinary pages). For tables read at random, where each
    /// read on another 4 KiB page of a file map misses the processor's
    /// TLB. No `unsafe`: the memory is the program's own.
    pub fn copy_huge(bytes: &[u8]) -> std::io::Result<Self> {
        if bytes.is_empty() {
            return Ok(Self { map: None });
        }
        let mut m = memmap2::MmapMut::map_anon(bytes.len())?;
        #[cfg(target_os = "linux")]
        let _ = m.advise(memmap2::Advice::HugePage);
        m.copy_from_slice(bytes);
        Ok(Self {
            map: Some(m.make_read_only()?),
        })
    }

    /// Reads `path` into a private copy ([`Mapped::copy_huge`]) instead of
    /// mapping it: what is read can no longer change or vanish, whatever
    /// happens to the file (a map of a file truncated by hand stops the
    /// process with SIGBUS on the next read past the new end). For files
    /// small enough to hold twice in memory while they are read.
    pub fn read_copy(path: &Path) -> std::io::Result<Self> {
        let bytes = std::fs::read(path)?;
        Self::copy_huge(&bytes)
    }

    /// Bytes mapped.
    pub fn len(&self) -> usize {
        self.map.as_ref().map_or(0, |m| m.len())
    }

    /// Whether the file was empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Asks the processor to bring the cache line holding `bytes[at]` in,
/// without waiting for it (nothing when `at` is out of range, or on a
/// processor without the instruction). A look-up that will read many
/// scattered places of an index asks for each a few items before it reads
/// it, so their cache misses overlap with each other and with other work:
/// a load used for that purpose instead would hold up the instructions
/// behind it.
#[inline]
pub fn prefetch(bytes: &[u8], at: usize) {
    #[cfg(target_arch = "x86_64")]
    if let Some(b) = bytes.get(at) {
        use std::arch::x86_64::{_MM_HINT_T0, _mm_prefetch};
        #[allow(unsafe_code)]
        // SAFETY: a prefetch is a hint: it reads nothing into the program
        // and cannot fault; the pointer is that of a byte in `bytes`.
        unsafe {
            _mm_prefetch::<_MM_HINT_T0>(std::ptr::from_ref(b).cast::<i8>())
        };
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = (bytes, at);
}

impl std::ops::Deref for Mapped {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        self.map.as_deref().unwrap_or(&[])
    }
}

impl std::fmt::Debug for Mapped {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Mapped({} bytes)", self.len())
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    /// A prefetch anywhere in a slice, or past its end, is harmless and
    /// changes nothing.
    #[test]
    fn prefetch_is_only_a_hint() {
        let v: Vec<u8> = (0..=255).collect();
        for at in [0, 1, 63, 64, 255, 256, usize::MAX] {
            prefetch(&v, at);
        }
        prefetch(&[], 0);
        assert_eq!(v.iter().map(|&b| u64::from(b)).sum::<u64>(), 255 * 256 / 2);
    }

    #[test]
    fn maps_and_survives_replacement_by_rename() {
        let dir = std::env::temp_dir().join(format!("proviso-mmap-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let p = dir.join("seg");
        std::fs::write(&p, b"first version").unwrap();
        let m = Mapped::open(&p).unwrap();
        // A writer replaces the file the way segments are written.
        std::fs::write(dir.join("seg.tmp"), b"second").unwrap();
        std::fs::rename(dir.join("seg.tmp"), &p).unwrap();
        assert_eq!(&m[..], b"first version", "the old inode stays mapped");
        std::fs::remove_file(&p).unwrap();
        assert_eq!(&m[..5], b"first", "and survives the unlink");
        std::fs::write(&p, b"").unwrap();
        assert!(Mapped::open(&p).unwrap().is_empty());
        assert!(Mapped::open(&dir.join("missing")).is_err());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
