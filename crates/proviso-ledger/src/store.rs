use proviso_types::UnixMillis;

use crate::{ChainedRecord, Checkpoint, Hash, LedgerError, Record, RecordKind, TreeState};

/// Proof that a record is durable. A store that sequences inside its
/// write (SQLite, memory) knows the record's place in the chain at once; a
/// shared store (PostgreSQL) queues it durably and an elected sequencer
/// gives it its place later, so `seq` and `hash` are then `None`: the
/// record's id (known before it was appended) is how it is found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Receipt {
    /// Its sequence number, when already sequenced.
    pub seq: Option<u64>,
    /// Its chain hash, when already sequenced.
    pub hash: Option<Hash>,
}

impl Receipt {
    /// A record sequenced at `seq` with chain hash `hash`.
    pub fn sequenced(seq: u64, hash: Hash) -> Self {
        Self {
            seq: Some(seq),
            hash: Some(hash),
        }
    }

    /// A record durably queued, to be sequenced later.
    pub fn queued() -> Self {
        Self {
            seq: None,
            hash: None,
        }
    }
}

/// Where the log lives. `append` is "durable, then acknowledged": when it
/// returns `Ok`, the records are committed: sequenced and chained already
/// (SQLite, memory), or durably queued for the sequencer (PostgreSQL; see
/// [`Receipt`]).
pub trait LedgerStore: LedgerReader + Send {
    /// Durably appends `records` in order, as one transaction where the
    /// backend has them; returns one receipt per record.
    fn append(&mut self, records: &[Record]) -> Result<Vec<Receipt>, LedgerError>;

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

    /// [`scan`](Self::scan) of the records `from..=to` only. A reader that
    /// reads ahead in pages reads no further than `to`.
    fn scan_range(
        &self,
        from: u64,
        to: u64,
        f: &mut dyn FnMut(ChainedRecord) -> bool,
    ) -> Result<(), LedgerError> {
        self.scan(from, &mut |c| c.seq <= to && f(c))
    }

    /// All checkpoints, by ascending tree size.
    fn checkpoints(&self) -> Result<Vec<Checkpoint>, LedgerError>;

    /// The stored tree state.
    fn tree_state(&self) -> Result<TreeState, LedgerError>;

    /// The sequence number of a stored record whose `hash` column equals
    /// `hash`, if any (used only to explain a broken chain).
    fn find_by_hash(&self, hash: &Hash) -> Result<Option<u64>, LedgerError>;

    /// Per key: exchanges recorded, tokens used and the last exchange's
    /// time (for `proviso keys list` and `/admin/usage`). Stores with an
    /// index answer it with a query; this default reads the whole log.
    fn usage_by_key(&self) -> Result<UsageByKey, LedgerError> {
        let mut out = UsageByKey::new();
        self.scan(0, &mut |c| {
            let r = &c.record;
            if let (RecordKind::Exchange, Some(k)) = (r.kind, r.key_id.as_ref()) {
                let e = out.entry(k.0.clone()).or_insert((0, 0, UnixMillis(0)));
                e.0 += 1;
                e.1 += r.usage.map_or(0, |u| u.total_tokens);
                e.2 = e.2.max(r.time);
            }
            true
        })?;
        Ok(out)
    }
}

/// Key id to (exchanges, tokens, last exchange's time).
pub type UsageByKey = std::collections::HashMap<String, (u64, u64, UnixMillis)>;
