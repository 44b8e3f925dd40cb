use thiserror::Error;

/// What can go wrong in the ledger.
#[derive(Debug, Error, Clone)]
pub enum LedgerError {
    /// The storage refused a write or a read (disk full, file removed, I/O).
    #[error("ledger storage unavailable: {0}")]
    Unavailable(String),
    /// The stored data is not what this version can read.
    #[error("ledger data is corrupt or of an unknown format: {0}")]
    Corrupt(String),
    /// The writer thread has stopped (the gateway is shutting down).
    #[error("ledger writer has stopped")]
    Stopped,
    /// The writer's backlog of unwritten records is full.
    #[error("ledger backlog full ({0} records waiting); refusing new records")]
    BacklogFull(usize),
}

impl From<rusqlite::Error> for LedgerError {
    fn from(e: rusqlite::Error) -> Self {
        LedgerError::Unavailable(e.to_string())
    }
}
