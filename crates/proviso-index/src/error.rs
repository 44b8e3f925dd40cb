use thiserror::Error;

/// Errors reading or writing index segments.
#[derive(Debug, Error)]
pub enum IndexError {
    /// The file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// Why.
        source: std::io::Error,
    },
    /// The file is not a segment of a format this build reads, or is damaged.
    #[error("{path}: {why}")]
    Corrupt {
        /// The file.
        path: String,
        /// What is wrong.
        why: String,
    },
    /// An index directory holds no segment.
    #[error("the index at {dir} is empty (run `proviso index add`)")]
    Empty {
        /// The directory.
        dir: String,
    },
    /// Segments to merge were built with different parameters.
    #[error(
        "index segments were built with different parameters or tokenizer versions; rebuild them (`proviso index rebuild`, or `proviso index add` into an empty directory)"
    )]
    ParamsDiffer,
    /// A segment could not be laid out (it would exceed a limit of the
    /// format), or did not read back as laid out.
    #[error("building an index segment: {0}")]
    Build(String),
}
