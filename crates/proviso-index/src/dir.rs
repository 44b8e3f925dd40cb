//! An index directory as the CLI, the gateway's follower and the Python
//! package open it: every `*.pvx` segment in it as one index, and its
//! background (`background.pvb`) when there is one.

use std::path::{Path, PathBuf};

use crate::{Background, Index, IndexError, IndexSet};

/// The background's file in an index directory.
pub const BACKGROUND: &str = "background.pvb";

/// The segment files of `d`, sorted by name (oldest first).
pub fn segment_paths(d: &Path) -> Result<Vec<PathBuf>, IndexError> {
    let mut paths: Vec<PathBuf> = std::fs::read_dir(d)
        .map_err(|source| IndexError::Io {
            path: d.display().to_string(),
            source,
        })?
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "pvx"))
        .collect();
    paths.sort();
    Ok(paths)
}

/// Opens every segment of `d` with `open` ([`crate::read_segment`], or
/// [`crate::open_segment`] and [`crate::check_opened`] later) into one
/// index, with the directory's background; the segments' paths are
/// returned in the index's order. A segment merged away between the
/// listing and its reading is skipped.
pub fn open_dir(
    d: &Path,
    open: fn(&Path) -> Result<Index, IndexError>,
) -> Result<(IndexSet, Vec<PathBuf>), IndexError> {
    let mut parts = Vec::new();
    let mut opened = Vec::new();
    for p in segment_paths(d)? {
        match open(&p) {
            Ok(seg) => {
                parts.push(seg);
                opened.push(p);
            }
            Err(IndexError::Io { source, .. }) if source.kind() == std::io::ErrorKind::NotFound => {
            }
            Err(e) => return Err(e),
        }
    }
    if parts.is_empty() {
        return Err(IndexError::Empty {
            dir: d.display().to_string(),
        });
    }
    let mut set = IndexSet::new(parts).ok_or(IndexError::ParamsDiffer)?;
    if let Some(bg) = read_background(d)? {
        set.set_background(Some(bg))
            .map_err(|why| IndexError::Corrupt {
                path: d.join(BACKGROUND).display().to_string(),
                why,
            })?;
    }
    Ok((set, opened))
}

/// The background of index directory `d`, if it has one.
pub fn read_background(d: &Path) -> Result<Option<Background>, IndexError> {
    let path = d.join(BACKGROUND);
    match std::fs::read(&path) {
        Ok(b) => Background::from_bytes(&b)
            .map(Some)
            .map_err(|why| IndexError::Corrupt {
                path: path.display().to_string(),
                why,
            }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(source) => Err(IndexError::Io {
            path: path.display().to_string(),
            source,
        }),
    }
}
