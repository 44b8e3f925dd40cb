use std::sync::{Arc, Mutex};

use crate::{
    ChainedRecord, Checkpoint, Hash, LedgerError, LedgerReader, LedgerStore, Receipt, Record,
    Sequencer, TreeState,
};

/// An in-memory ledger store, the twin of [`crate::SqliteStore`] for tests.
/// Clones share the same log, so one clone can be handed to the writer and
/// another kept for reading. Tests may tamper with it through
/// [`MemoryStore::with_records`].
#[derive(Clone, Default)]
pub struct MemoryStore {
    inner: Arc<Mutex<Inner>>,
    checkpoint_every: Option<u64>,
}

#[derive(Default)]
struct Inner {
    records: Vec<ChainedRecord>,
    checkpoints: Vec<Checkpoint>,
    state: TreeState,
    fail: Option<String>,
    poison: Option<String>,
}

impl MemoryStore {
    /// A store writing a checkpoint every `n` records (default 1024).
    pub fn with_checkpoint_every(n: u64) -> Self {
        Self {
            checkpoint_every: Some(n),
            ..Self::default()
        }
    }

    /// Makes every following append fail with `reason` (or succeed again
    /// with `None`), to test fail-closed behaviour.
    pub fn set_failure(&self, reason: Option<&str>) {
        if let Ok(mut g) = self.inner.lock() {
            g.fail = reason.map(str::to_owned);
        }
    }

    /// Makes every batch holding a record whose output contains `marker`
    /// fail as a whole (nothing of it is stored), as one record SQLite
    /// cannot store makes its transaction fail.
    pub fn set_poison(&self, marker: Option<&str>) {
        if let Ok(mut g) = self.inner.lock() {
            g.poison = marker.map(str::to_owned);
        }
    }

    /// Gives `f` the stored records to read or tamper with.
    pub fn with_records<T>(&self, f: impl FnOnce(&mut Vec<ChainedRecord>) -> T) -> T {
        let mut g = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        f(&mut g.records)
    }

    fn lock(&self) -> Result<std::sync::MutexGuard<'_, Inner>, LedgerError> {
        self.inner
            .lock()
            .map_err(|_| LedgerError::Unavailable("memory store poisoned".into()))
    }
}

impl LedgerStore for MemoryStore {
    fn append(&mut self, records: &[Record]) -> Result<Vec<Receipt>, LedgerError> {
        let every = self.checkpoint_every.unwrap_or(1024);
        let mut g = self.lock()?;
        if let Some(reason) = &g.fail {
            return Err(LedgerError::Unavailable(reason.clone()));
        }
        if let Some(p) = &g.poison
            && records.iter().any(|r| r.output.contains(p.as_str()))
        {
            return Err(LedgerError::Unstorable(format!(
                "a record cannot be stored ({p})"
            )));
        }
        let mut seq = Sequencer::new(g.state.clone(), every);
        let mut out = Vec::with_capacity(records.len());
        for r in records {
            let (chained, cp) = seq.sequence(r.clone());
            out.push(Receipt::sequenced(chained.seq, chained.hash));
            g.records.push(chained);
            g.checkpoints.extend(cp);
        }
        g.state = seq.state().clone();
        Ok(out)
    }

    fn check_writable(&mut self) -> Result<(), LedgerError> {
        match &self.lock()?.fail {
            Some(reason) => Err(LedgerError::Unavailable(reason.clone())),
            None => Ok(()),
        }
    }
}

impl LedgerReader for MemoryStore {
    fn scan(&self, from: u64, f: &mut dyn FnMut(ChainedRecord) -> bool) -> Result<(), LedgerError> {
        let records: Vec<ChainedRecord> = self.lock()?.records.clone();
        let mut sorted = records;
        sorted.sort_by_key(|r| r.seq);
        for r in sorted.into_iter().filter(|r| r.seq >= from) {
            if !f(r) {
                break;
            }
        }
        Ok(())
    }

    fn checkpoints(&self) -> Result<Vec<Checkpoint>, LedgerError> {
        Ok(self.lock()?.checkpoints.clone())
    }

    fn tree_state(&self) -> Result<TreeState, LedgerError> {
        Ok(self.lock()?.state.clone())
    }

    fn find_by_hash(&self, hash: &Hash) -> Result<Option<u64>, LedgerError> {
        Ok(self
            .lock()?
            .records
            .iter()
            .find(|r| &r.hash == hash)
            .map(|r| r.seq))
    }
}
