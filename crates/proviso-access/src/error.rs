use thiserror::Error;

/// Errors of the key store.
#[derive(Debug, Error)]
pub enum AccessError {
    /// The key store could not be read or written.
    #[error("key store: {0}")]
    Store(#[from] rusqlite::Error),
    /// No key has that id.
    #[error("no key with id {0}")]
    UnknownKey(String),
    /// The requested change does not apply to the key's state.
    #[error("key {id} is {state}; cannot {action}")]
    BadTransition {
        /// The key.
        id: String,
        /// Its current state.
        state: String,
        /// What was asked.
        action: String,
    },
    /// Bad input (an empty team name, …).
    #[error("{0}")]
    Invalid(String),
    /// Another writer changed the key between reading and updating it.
    #[error("key {0} was changed by someone else meanwhile; look at it again and retry")]
    Conflict(String),
    /// The change was undone because its ledger event could not be written.
    #[error("the change was not made: its ledger event could not be recorded ({0})")]
    NotRecorded(String),
    /// A shared key store (PostgreSQL) could not be reached or refused.
    #[error("key store: {0}")]
    Unavailable(String),
    /// The operating system's random source failed.
    #[error("random source: {0}")]
    Random(String),
}
