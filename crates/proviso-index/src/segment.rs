//! Immutable segment files: the whole index in one file, ending with a
//! footer that holds the format version and an xxh3 checksum of everything
//! before it, so a truncated or altered file is refused.

use std::path::Path;

use crate::{Index, IndexError, Params, Reference};

/// The format version written by this build.
pub const FORMAT_VERSION: u32 = 1;
const MAGIC: &[u8; 8] = b"PVXSEG\0\0";
const FOOTER_MAGIC: &[u8; 8] = b"PVXEND\0\0";

fn put_u64(out: &mut Vec<u8>, v: u64) {
    out.extend_from_slice(&v.to_le_bytes());
}

fn put_blob(out: &mut Vec<u8>, b: &[u8]) {
    put_u64(out, b.len() as u64);
    out.extend_from_slice(b);
}

/// Writes `index` to `path` (atomically: a temporary file, then rename).
pub fn write_segment(index: &Index, path: &Path) -> Result<(), IndexError> {
    let io = |e: std::io::Error| IndexError::Io {
        path: path.display().to_string(),
        source: e,
    };
    let mut out = Vec::with_capacity(
        64 + index.exact.len() * 16 + index.bands.len() * 12 + index.sigs.len() * 4,
    );
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&FORMAT_VERSION.to_le_bytes());
    put_blob(
        &mut out,
        &serde_json::to_vec(&index.params).unwrap_or_default(),
    );
    put_blob(
        &mut out,
        &serde_json::to_vec(&index.refs).unwrap_or_default(),
    );
    put_u64(&mut out, index.exact.len() as u64);
    for (h, r, p) in &index.exact {
        put_u64(&mut out, *h);
        out.extend_from_slice(&r.to_le_bytes());
        out.extend_from_slice(&p.to_le_bytes());
    }
    put_u64(&mut out, index.bands.len() as u64);
    for (b, r) in &index.bands {
        put_u64(&mut out, *b);
        out.extend_from_slice(&r.to_le_bytes());
    }
    put_u64(&mut out, index.sigs.len() as u64);
    for s in &index.sigs {
        out.extend_from_slice(&s.to_le_bytes());
    }
    put_u64(&mut out, index.tok_start.len() as u64);
    for t in &index.tok_start {
        put_u64(&mut out, *t);
    }
    put_u64(&mut out, index.toks.len() as u64);
    for t in &index.toks {
        out.extend_from_slice(&t.to_le_bytes());
    }
    let sum = xxhash_rust::xxh3::xxh3_64_with_seed(&out, crate::SEED);
    out.extend_from_slice(&FORMAT_VERSION.to_le_bytes());
    put_u64(&mut out, sum);
    out.extend_from_slice(FOOTER_MAGIC);
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(io)?;
    }
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, &out).map_err(io)?;
    std::fs::rename(&tmp, path).map_err(io)
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

/// Reads a segment, checking its footer first.
pub fn read_segment(path: &Path) -> Result<Index, IndexError> {
    let name = path.display().to_string();
    let bad = |why: &str| IndexError::Corrupt {
        path: name.clone(),
        why: why.to_owned(),
    };
    let b = std::fs::read(path).map_err(|e| IndexError::Io {
        path: name.clone(),
        source: e,
    })?;
    if b.len() < 8 + 4 + 20 || &b[..8] != MAGIC || &b[b.len() - 8..] != FOOTER_MAGIC {
        return Err(bad("not a Proviso index segment (or truncated)"));
    }
    let body = &b[..b.len() - 20];
    let foot = &b[b.len() - 20..];
    let version = u32::from_le_bytes([foot[0], foot[1], foot[2], foot[3]]);
    if version != FORMAT_VERSION {
        return Err(bad(&format!(
            "segment format {version}; this build reads {FORMAT_VERSION}"
        )));
    }
    let sum = u64::from_le_bytes(foot[4..12].try_into().map_err(|_| bad("footer"))?);
    if xxhash_rust::xxh3::xxh3_64_with_seed(body, crate::SEED) != sum {
        return Err(bad("checksum mismatch: the file is damaged"));
    }
    let mut r = Reader { b: body, at: 12 };
    let parse = |r: &mut Reader<'_>| -> Option<Index> {
        let n = usize::try_from(r.u64()?).ok()?;
        let params: Params = serde_json::from_slice(r.take(n)?).ok()?;
        let n = usize::try_from(r.u64()?).ok()?;
        let refs: Vec<Reference> = serde_json::from_slice(r.take(n)?).ok()?;
        let n = usize::try_from(r.u64()?).ok()?;
        let mut exact = Vec::with_capacity(n.min(body.len() / 16));
        for _ in 0..n {
            exact.push((r.u64()?, r.u32()?, r.u32()?));
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
        let mut ix = Index::from_parts(params, refs, exact, bands, sigs);
        ix.toks = toks;
        ix.tok_start = tok_start;
        Some(ix)
    };
    parse(&mut r).ok_or_else(|| bad("malformed segment body"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::IndexBuilder;

    #[test]
    fn round_trip_and_damage_detection() {
        let dir = std::env::temp_dir().join(format!("pvx-{}", std::process::id()));
        let path = dir.join("a.pvx");
        let mut b = IndexBuilder::new(Params::default());
        b.add("one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen sixteen seventeen eighteen nineteen twenty twentyone", Reference::file("f", 1));
        let idx = b.build();
        write_segment(&idx, &path).unwrap();
        let back = read_segment(&path).unwrap();
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
        std::fs::write(&path, &bytes[..bytes.len() - 3]).unwrap();
        assert!(read_segment(&path).is_err());
        let _ = std::fs::remove_dir_all(dir);
    }
}
