//! The Batch API's shared state (a leaf: the application state holds it).

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use proviso_batch::{Store, StoreError};

use crate::config::BatchConfig;
use crate::quota::Reservation;

/// The longest wait between two tries of a batch whose upstream fails.
const MAX_BACKOFF: Duration = Duration::from_secs(600);

/// The Batch API's state: the store, the quota reservations of batches
/// still running (in memory: after a restart a batch's whole reservation
/// stands, as a reservation never settled does), the submissions in
/// flight, one lock per batch (the poller and a cancel never change a batch
/// at once), and the back-off of batches whose upstream fails.
pub struct Batches {
    /// Files and batches.
    pub store: Arc<Store>,
    /// `[batch]`.
    pub config: BatchConfig,
    reservations: Mutex<HashMap<String, Reservation>>,
    submitting: Mutex<HashSet<String>>,
    locks: Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
    backoff: Mutex<HashMap<String, (u32, Instant)>>,
    /// Wakes the poller (a batch was created or cancelled).
    pub wake: tokio::sync::Notify,
}

impl Batches {
    /// Opens the store in `[batch] path` (the current directory's
    /// `batches` if it names none).
    pub fn open(config: BatchConfig) -> Result<Self, StoreError> {
        let dir = config
            .path
            .clone()
            .unwrap_or_else(|| std::path::PathBuf::from("batches"));
        Ok(Self {
            store: Arc::new(Store::open(&dir)?),
            config,
            reservations: Mutex::new(HashMap::new()),
            submitting: Mutex::new(HashSet::new()),
            locks: Mutex::new(HashMap::new()),
            backoff: Mutex::new(HashMap::new()),
            wake: tokio::sync::Notify::new(),
        })
    }

    pub(crate) fn hold(&self, batch: &str, r: Reservation) {
        if let Ok(mut g) = self.reservations.lock() {
            g.insert(batch.to_owned(), r);
        }
    }

    pub(crate) fn take(&self, batch: &str) -> Option<Reservation> {
        self.reservations.lock().ok()?.remove(batch)
    }

    /// Marks a batch as being submitted (the poller leaves it alone) until
    /// [`Batches::submitted`].
    pub(crate) fn submitting(&self, batch: &str) {
        if let Ok(mut g) = self.submitting.lock() {
            g.insert(batch.to_owned());
        }
    }

    /// Its submission has ended, however it ended.
    pub(crate) fn submitted(&self, batch: &str) {
        if let Ok(mut g) = self.submitting.lock() {
            g.remove(batch);
        }
    }

    /// Whether a submission of `batch` is in flight in this process.
    pub(crate) fn is_submitting(&self, batch: &str) -> bool {
        self.submitting.lock().is_ok_and(|g| g.contains(batch))
    }

    /// The lock of one batch.
    pub(crate) fn lock_of(&self, batch: &str) -> Arc<tokio::sync::Mutex<()>> {
        match self.locks.lock() {
            Ok(mut g) => Arc::clone(g.entry(batch.to_owned()).or_default()),
            Err(_) => Arc::new(tokio::sync::Mutex::new(())),
        }
    }

    /// Forgets the lock and back-off of a batch that is done.
    pub(crate) fn forget(&self, batch: &str) {
        if let Ok(mut g) = self.locks.lock() {
            g.remove(batch);
        }
        if let Ok(mut g) = self.backoff.lock() {
            g.remove(batch);
        }
    }

    /// Whether `batch` is waiting out a back-off.
    pub(crate) fn waiting(&self, batch: &str) -> bool {
        self.backoff
            .lock()
            .is_ok_and(|g| g.get(batch).is_some_and(|(_, at)| Instant::now() < *at))
    }

    /// A try failed: the next waits twice as long as the last (from the
    /// poll interval up to ten minutes). Gives the number of failures.
    pub(crate) fn failed(&self, batch: &str) -> u32 {
        let base = Duration::from_millis(self.config.poll_interval_ms.max(10));
        let Ok(mut g) = self.backoff.lock() else {
            return 0;
        };
        let e = g.entry(batch.to_owned()).or_insert((0, Instant::now()));
        e.0 = e.0.saturating_add(1);
        let wait = base.saturating_mul(1u32 << e.0.min(16)).min(MAX_BACKOFF);
        e.1 = Instant::now() + wait;
        e.0
    }

    /// A try succeeded.
    pub(crate) fn succeeded(&self, batch: &str) {
        if let Ok(mut g) = self.backoff.lock() {
            g.remove(batch);
        }
    }
}
