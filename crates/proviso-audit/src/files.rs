//! Which files a scan reads (paths, globs, directories) and how each is
//! opened (gzip, zstd, plain), counting the bytes read for progress.

use std::fs::File;
use std::io::{BufReader, Read};
use std::path::{Path, PathBuf};

use serde::Serialize;

/// Input that could not be read, with where.
#[derive(Clone, Debug, Serialize)]
pub struct BadInput {
    /// The file.
    pub file: String,
    /// The line or element (0 for the file as a whole).
    pub line: u64,
    /// What is wrong.
    pub error: String,
}

/// Files named by `paths`: files as they are, directories recursively
/// (sorted), globs expanded.
pub fn expand(paths: &[String], bad: &mut Vec<BadInput>) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for p in paths {
        if p.contains(['*', '?', '[']) {
            match glob::glob(p) {
                Ok(g) => {
                    let mut hits: Vec<PathBuf> =
                        g.filter_map(Result::ok).filter(|p| p.is_file()).collect();
                    if hits.is_empty() {
                        bad.push(BadInput {
                            file: p.clone(),
                            line: 0,
                            error: "the pattern matches no file".into(),
                        });
                    }
                    hits.sort();
                    out.extend(hits);
                }
                Err(e) => bad.push(BadInput {
                    file: p.clone(),
                    line: 0,
                    error: format!("bad pattern: {e}"),
                }),
            }
            continue;
        }
        let path = Path::new(p);
        if path.is_dir() {
            let mut stack = vec![path.to_path_buf()];
            let mut files = Vec::new();
            while let Some(d) = stack.pop() {
                match std::fs::read_dir(&d) {
                    Ok(rd) => {
                        for e in rd.flatten() {
                            let ep = e.path();
                            if ep.is_dir() {
                                stack.push(ep)
                            } else {
                                files.push(ep)
                            }
                        }
                    }
                    Err(e) => bad.push(BadInput {
                        file: d.display().to_string(),
                        line: 0,
                        error: e.to_string(),
                    }),
                }
            }
            files.sort();
            out.extend(files);
        } else if path.is_file() {
            out.push(path.to_path_buf());
        } else {
            bad.push(BadInput {
                file: p.clone(),
                line: 0,
                error: "no such file or directory".into(),
            });
        }
    }
    out
}

/// How far reading has got, in bytes of the input files as stored
/// (compressed or not), for a progress line with an ETA.
#[derive(Debug, Default)]
pub struct Progress {
    /// Bytes of every input file, as stored.
    pub total: u64,
    done: std::sync::Arc<std::sync::atomic::AtomicU64>,
}

impl Progress {
    /// The total size of the files `paths` name (after expanding
    /// directories and globs).
    pub fn for_paths(paths: &[String]) -> Self {
        let mut scratch = Vec::new();
        let total = expand(paths, &mut scratch)
            .iter()
            .filter_map(|p| std::fs::metadata(p).ok())
            .map(|m| m.len())
            .sum();
        Self {
            total,
            done: Default::default(),
        }
    }

    /// Bytes read so far.
    pub fn done(&self) -> u64 {
        self.done.load(std::sync::atomic::Ordering::Relaxed)
    }

    pub(crate) fn add(&self, n: u64) {
        self.done.fetch_add(n, std::sync::atomic::Ordering::Relaxed);
    }
}

/// A file that counts the bytes read from it.
pub(crate) struct Counting {
    f: File,
    done: std::sync::Arc<std::sync::atomic::AtomicU64>,
}

impl Read for Counting {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.f.read(buf)?;
        self.done
            .fetch_add(n as u64, std::sync::atomic::Ordering::Relaxed);
        Ok(n)
    }
}

/// The reader of a file (decompressed), the name it has once
/// decompressed, and whether the reader counts the stored bytes into
/// `progress` itself (a compressed file's; a plain file is read as it
/// lies, without a wrapper: a `Read` of our own would have every buffer
/// it fills zeroed first, a gigabyte of zeroes for a gigabyte of input,
/// so its bytes are counted as they are handed on).
pub(crate) fn open(
    path: &Path,
    progress: &Progress,
) -> std::io::Result<(Box<dyn Read + Send>, String, bool)> {
    let file = File::open(path)?;
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().to_lowercase())
        .unwrap_or_default();
    // Only a decompressor reads through the counter.
    let counting = |f: File| Counting {
        f,
        done: progress.done.clone(),
    };
    if let Some(inner) = name.strip_suffix(".gz") {
        return Ok((
            Box::new(flate2::read::MultiGzDecoder::new(BufReader::new(counting(
                file,
            )))),
            inner.to_owned(),
            true,
        ));
    }
    if let Some(inner) = name.strip_suffix(".zst") {
        return Ok((
            Box::new(zstd::stream::read::Decoder::new(counting(file))?),
            inner.to_owned(),
            true,
        ));
    }
    Ok((Box::new(file), name, false))
}
