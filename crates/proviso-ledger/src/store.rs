use crate::{ChainedRecord, Checkpoint, Hash, LedgerError, Record, TreeState};

/// Where the log lives. `append` is "durable, then acknowledged": when it
/// returns `Ok`, the records are sequenced, chained and committed.
pub trait LedgerStore: LedgerReader + Send {
    /// Durably appends `records` in order, as one transaction where the
    /// backend has them; returns their sequence numbers and hashes.
    fn append(&mut self, records: &[Record]) -> Result<Vec<(u64, Hash)>, LedgerError>;

    /// Checks, cheaply, that an append could succeed now (the backing file
    /// is still where it was opened, the database answers).
    fn check_writable(&mut self) -> Result<(), LedgerError>;

    /// Moves write-ahead data into the main file where the backend has such
    /// a thing; called by the writer when idle.
    fn maintain(&mut self) -> Result<(), LedgerError> {
        Ok(())
    }

    /// The size of the store's write-ahead log in bytes, kept current by
    /// the store, where it has one (for metrics).
    fn wal_gauge(&self) -> Option<std::sync::Arc<std::sync::atomic::AtomicU64>> {
        None
    }
}

/// Read access for verification and export.
pub trait LedgerReader {
    /// Calls `f` on each record with `seq >= from`, in ascending `seq`,
    /// until `f` returns `false`. Records that cannot be decoded are errors.
    fn scan(&self, from: u64, f: &mut dyn FnMut(ChainedRecord) -> bool) -> Result<(), LedgerError>;

    /// All checkpoints, by ascending tree size.
    fn checkpoints(&self) -> Result<Vec<Checkpoint>, LedgerError>;

    /// The stored tree state.
    fn tree_state(&self) -> Result<TreeState, LedgerError>;

    /// The sequence number of a stored record whose `hash` column equals
    /// `hash`, if any (used only to explain a broken chain).
    fn find_by_hash(&self, hash: &Hash) -> Result<Option<u64>, LedgerError>;
}
