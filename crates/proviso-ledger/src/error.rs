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
    /// The storage works but refuses this data (a value too large for it, a
    /// constraint): retrying the same records will fail again.
    #[error("ledger storage cannot take a record: {0}")]
    Unstorable(String),
    /// A record carries fields this build does not know: a newer Proviso
    /// wrote it (hashing it without them would not give the hash its
    /// writer meant).
    #[error("ledger record written by a newer Proviso: {0}")]
    Newer(String),
}

impl From<rusqlite::Error> for LedgerError {
    fn from(e: rusqlite::Error) -> Self {
        use rusqlite::ErrorCode;
        let data_error = matches!(
            e.sqlite_error_code(),
            Some(ErrorCode::TooBig | ErrorCode::ConstraintViolation | ErrorCode::TypeMismatch)
        ) || matches!(
            e,
            rusqlite::Error::ToSqlConversionFailure(_)
                | rusqlite::Error::IntegralValueOutOfRange(..)
        );
        if data_error {
            LedgerError::Unstorable(e.to_string())
        } else {
            LedgerError::Unavailable(e.to_string())
        }
    }
}
