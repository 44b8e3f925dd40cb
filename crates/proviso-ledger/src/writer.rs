//! The group-commit writer: one thread owns the store; callers hand it
//! records and (optionally) wait for the commit.
//!
//! Fail closed: when a batch cannot be written, every caller waiting on it
//! gets an error (the gateway then refuses to serve the response), and the
//! records stay in an in-memory backlog that is retried until the store is
//! writable again, so they are not lost. A record whose caller was told the
//! write failed is stored with outcome [`Outcome::Withheld`] and status 503,
//! because that is what the client then received.

use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::{LedgerError, LedgerStore, Outcome, Receipt, Record};

/// Settings of the writer thread.
#[derive(Clone, Debug)]
pub struct WriterConfig {
    /// Most records committed in one transaction.
    pub max_batch: usize,
    /// Most unwritten records kept while the store is failing; beyond it new
    /// records are refused (and counted as dropped).
    pub max_backlog: usize,
    /// Most bytes of unwritten records (queued and backlog) kept; beyond it
    /// new records are refused like a full backlog.
    pub max_backlog_bytes: usize,
    /// How often to retry the store while it is failing.
    pub retry_interval: Duration,
    /// After this long without records, run store maintenance (WAL
    /// checkpoint) and re-check writability.
    pub idle_interval: Duration,
}

impl Default for WriterConfig {
    fn default() -> Self {
        Self {
            max_batch: 512,
            max_backlog: 100_000,
            max_backlog_bytes: 256 * 1024 * 1024,
            retry_interval: Duration::from_millis(250),
            idle_interval: Duration::from_millis(500),
        }
    }
}

type Reply = oneshot::Sender<Result<Receipt, LedgerError>>;

enum Job {
    Append(Box<Record>, Option<Reply>),
    Stop(oneshot::Sender<()>),
    Tap(Tap),
}

/// Receives every committed batch, on the writer thread, after the callers
/// were answered: for subscribers such as the monitor, which then cost the
/// request path nothing. It must be quick and must not block. Beside the
/// records, their sequence numbers (one each; `None` where the store
/// sequences later, as PostgreSQL's does), so that a subscriber that
/// drops some can read them back from the ledger.
pub type Tap = Box<dyn FnMut(Vec<Record>, Vec<Option<u64>>) + Send>;

/// Bucket upper bounds of the commit-latency histogram, in seconds.
pub const COMMIT_BUCKETS: [f64; 12] = [
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0,
];

#[derive(Default)]
struct Shared {
    healthy: AtomicBool,
    last_error: Mutex<Option<String>>,
    queue_depth: AtomicUsize,
    backlog: AtomicUsize,
    /// Bytes of the records queued or in the backlog.
    waiting_bytes: AtomicUsize,
    committed_records: AtomicU64,
    committed_batches: AtomicU64,
    failed_batches: AtomicU64,
    dropped: AtomicU64,
    commit_buckets: [AtomicU64; COMMIT_BUCKETS.len() + 1],
    commit_sum_us: AtomicU64,
    wal_bytes: Option<Arc<AtomicU64>>,
}

/// A snapshot of the writer's counters, for metrics and `/readyz`.
#[derive(Clone, Debug, Default)]
pub struct LedgerStats {
    /// Whether the last write (or probe) succeeded.
    pub healthy: bool,
    /// The last write error, while unhealthy.
    pub last_error: Option<String>,
    /// Records handed over but not yet attempted.
    pub queue_depth: usize,
    /// Records whose write failed, waiting to be retried.
    pub backlog: usize,
    /// Records committed since start.
    pub committed_records: u64,
    /// Transactions committed since start.
    pub committed_batches: u64,
    /// Transactions that failed since start.
    pub failed_batches: u64,
    /// Records refused because the backlog was full.
    pub dropped: u64,
    /// Commit latency histogram: cumulative counts per [`COMMIT_BUCKETS`]
    /// bound, then the total count.
    pub commit_buckets: Vec<u64>,
    /// Sum of commit latencies, seconds.
    pub commit_sum_seconds: f64,
    /// Size of the store's write-ahead log, bytes (SQLite).
    pub wal_bytes: Option<u64>,
}

struct Inner {
    tx: mpsc::Sender<Job>,
    shared: Arc<Shared>,
    thread: Mutex<Option<JoinHandle<()>>>,
    max_backlog: usize,
    max_backlog_bytes: usize,
}

/// The bytes a record holds, for the byte bounds: only fields the writer
/// never changes (marking a record withheld rewrites its error), so a
/// record counts the same when it is queued and when it is stored.
fn record_bytes(r: &Record) -> usize {
    r.texts_len() + 256
}

/// Takes `n` from a byte counter, never below zero.
fn release(counter: &AtomicUsize, n: usize) {
    let _ = counter.fetch_update(Ordering::Relaxed, Ordering::Relaxed, |v| {
        Some(v.saturating_sub(n))
    });
}

impl Drop for Inner {
    fn drop(&mut self) {
        stop(&self.tx, &self.thread);
    }
}

fn stop(tx: &mpsc::Sender<Job>, thread: &Mutex<Option<JoinHandle<()>>>) {
    let (done_tx, done_rx) = oneshot::channel();
    if tx.send(Job::Stop(done_tx)).is_ok() {
        let _ = done_rx.recv();
    }
    if let Some(h) = thread.lock().ok().and_then(|mut g| g.take()) {
        let _ = h.join();
    }
}

/// The gateway's handle on the ledger. Cheap to clone; the writer stops,
/// flushing what it holds, when [`LedgerHandle::shutdown`] is called or the
/// last clone is dropped.
#[derive(Clone)]
pub struct LedgerHandle {
    inner: Arc<Inner>,
}

impl LedgerHandle {
    /// Starts the writer thread over `store`. Probes the store once so that
    /// a ledger that cannot be written is reported before traffic arrives.
    pub fn spawn(mut store: Box<dyn LedgerStore>, config: WriterConfig) -> std::io::Result<Self> {
        let shared = Arc::new(Shared {
            wal_bytes: store.wal_gauge(),
            ..Shared::default()
        });
        let ok = store.check_writable();
        shared.healthy.store(ok.is_ok(), Ordering::SeqCst);
        if let Err(e) = ok {
            set_error(&shared, Some(e.to_string()));
        }
        let (tx, rx) = mpsc::channel();
        let s2 = shared.clone();
        let (max_backlog, max_backlog_bytes) = (config.max_backlog, config.max_backlog_bytes);
        let thread = std::thread::Builder::new()
            .name("ledger-writer".into())
            .spawn(move || {
                Writer {
                    store,
                    rx,
                    shared: s2,
                    config,
                    backlog: Vec::new(),
                    tap: None,
                }
                .run()
            })?;
        Ok(Self {
            inner: Arc::new(Inner {
                tx,
                shared,
                thread: Mutex::new(Some(thread)),
                max_backlog,
                max_backlog_bytes,
            }),
        })
    }

    /// Hands every committed record from now on to `tap` (replacing any
    /// tap before it).
    pub fn set_tap(&self, tap: Tap) {
        let _ = self.inner.tx.send(Job::Tap(tap));
    }

    /// Appends a record; the returned receiver yields once it is committed
    /// (or failed). Await it, or call `.recv()` to block.
    pub fn append(&self, record: Record) -> oneshot::Receiver<Result<Receipt, LedgerError>> {
        let (reply, rx) = oneshot::channel();
        self.send(record, Some(reply));
        rx
    }

    /// Appends and blocks until committed.
    pub fn append_blocking(&self, record: Record) -> Result<Receipt, LedgerError> {
        self.append(record)
            .recv()
            .map_err(|_| LedgerError::Stopped)?
    }

    /// Appends without waiting (used when the response has already been
    /// served, e.g. a stream the client abandoned). The record is kept and
    /// retried like any other if the store is failing.
    pub fn submit(&self, record: Record) {
        self.send(record, None);
    }

    fn send(&self, record: Record, reply: Option<Reply>) {
        let shared = &self.inner.shared;
        let waiting =
            shared.backlog.load(Ordering::Relaxed) + shared.queue_depth.load(Ordering::Relaxed);
        let size = record_bytes(&record);
        let bytes = shared.waiting_bytes.load(Ordering::Relaxed);
        // The byte bound lets one record through however large (a record is
        // never refused for its own size alone).
        if waiting >= self.inner.max_backlog
            || (bytes > 0 && bytes.saturating_add(size) > self.inner.max_backlog_bytes)
        {
            shared.dropped.fetch_add(1, Ordering::Relaxed);
            tracing::error!(waiting, record_id = %record.id, "ledger backlog full; record dropped");
            if let Some(r) = reply {
                let _ = r.send(Err(LedgerError::BacklogFull(waiting)));
            }
            return;
        }
        shared.queue_depth.fetch_add(1, Ordering::Relaxed);
        shared.waiting_bytes.fetch_add(size, Ordering::Relaxed);
        if let Err(mpsc::SendError(job)) = self.inner.tx.send(Job::Append(Box::new(record), reply))
        {
            shared.queue_depth.fetch_sub(1, Ordering::Relaxed);
            release(&shared.waiting_bytes, size);
            if let Job::Append(_, Some(r)) = job {
                let _ = r.send(Err(LedgerError::Stopped));
            }
        }
    }

    /// Whether the ledger can be written now (the last write or probe
    /// succeeded).
    pub fn is_healthy(&self) -> bool {
        self.inner.shared.healthy.load(Ordering::SeqCst)
    }

    /// The last write error while unhealthy.
    pub fn last_error(&self) -> Option<String> {
        self.inner
            .shared
            .last_error
            .lock()
            .ok()
            .and_then(|g| g.clone())
    }

    /// Counters for metrics.
    pub fn stats(&self) -> LedgerStats {
        let s = &self.inner.shared;
        let mut cum = 0;
        let mut buckets = Vec::with_capacity(COMMIT_BUCKETS.len() + 1);
        for b in &s.commit_buckets {
            cum += b.load(Ordering::Relaxed);
            buckets.push(cum);
        }
        LedgerStats {
            healthy: self.is_healthy(),
            last_error: self.last_error(),
            queue_depth: s.queue_depth.load(Ordering::Relaxed),
            backlog: s.backlog.load(Ordering::Relaxed),
            committed_records: s.committed_records.load(Ordering::Relaxed),
            committed_batches: s.committed_batches.load(Ordering::Relaxed),
            failed_batches: s.failed_batches.load(Ordering::Relaxed),
            dropped: s.dropped.load(Ordering::Relaxed),
            commit_buckets: buckets,
            commit_sum_seconds: s.commit_sum_us.load(Ordering::Relaxed) as f64 / 1e6,
            wal_bytes: s.wal_bytes.as_ref().map(|g| g.load(Ordering::Relaxed)),
        }
    }

    /// Flushes everything handed over so far and stops the writer. Records
    /// still failing to write are logged as lost.
    pub fn shutdown(&self) {
        stop(&self.inner.tx, &self.inner.thread);
    }
}

fn set_error(shared: &Shared, e: Option<String>) {
    if let Ok(mut g) = shared.last_error.lock() {
        *g = e;
    }
}

struct Writer {
    store: Box<dyn LedgerStore>,
    rx: mpsc::Receiver<Job>,
    shared: Arc<Shared>,
    config: WriterConfig,
    backlog: Vec<Record>,
    tap: Option<Tap>,
}

impl Writer {
    fn run(mut self) {
        let mut dirty = false;
        loop {
            let wait = if self.backlog.is_empty() {
                self.config.idle_interval
            } else {
                self.config.retry_interval
            };
            let first = match self.rx.recv_timeout(wait) {
                Ok(job) => job,
                Err(RecvTimeoutError::Timeout) => {
                    if !self.backlog.is_empty() {
                        self.commit(Vec::new());
                    } else if !self.shared.healthy.load(Ordering::SeqCst) {
                        self.probe();
                    } else if dirty {
                        if let Err(e) = self.store.maintain() {
                            tracing::warn!(error = %e, "ledger maintenance failed");
                        }
                        dirty = false;
                    }
                    continue;
                }
                Err(RecvTimeoutError::Disconnected) => break,
            };
            let mut jobs = Vec::new();
            let mut stopping = None;
            let mut next = Some(first);
            while let Some(job) = next.take() {
                match job {
                    Job::Append(r, reply) => jobs.push((r, reply)),
                    Job::Tap(t) => self.tap = Some(t),
                    Job::Stop(done) => {
                        stopping = Some(done);
                        break;
                    }
                }
                if jobs.len() < self.config.max_batch {
                    next = self.rx.try_recv().ok();
                }
            }
            self.shared
                .queue_depth
                .fetch_sub(jobs.len(), Ordering::Relaxed);
            if !jobs.is_empty() || !self.backlog.is_empty() {
                self.commit(jobs);
                dirty = true;
            }
            if let Some(done) = stopping {
                if !self.backlog.is_empty() {
                    self.commit(Vec::new());
                }
                if !self.backlog.is_empty() {
                    tracing::error!(
                        records = self.backlog.len(),
                        "ledger writer stopping with records it could not write"
                    );
                }
                let _ = self.store.maintain();
                let _ = done.send(());
                return;
            }
        }
    }

    fn probe(&mut self) {
        match self.store.check_writable() {
            Ok(()) => {
                self.shared.healthy.store(true, Ordering::SeqCst);
                set_error(&self.shared, None);
                tracing::info!("ledger writable again");
            }
            Err(e) => set_error(&self.shared, Some(e.to_string())),
        }
    }

    fn commit(&mut self, jobs: Vec<(Box<Record>, Option<Reply>)>) {
        let n_old = self.backlog.len();
        let mut records = std::mem::take(&mut self.backlog);
        let mut replies = Vec::with_capacity(jobs.len());
        for (r, reply) in jobs {
            records.push(*r);
            replies.push(reply);
        }
        let start = Instant::now();
        match self.store.append(&records) {
            Ok(receipts) => {
                let us = u64::try_from(start.elapsed().as_micros()).unwrap_or(u64::MAX);
                self.observe_commit(us);
                let was_unhealthy = !self.shared.healthy.swap(true, Ordering::SeqCst);
                if was_unhealthy {
                    set_error(&self.shared, None);
                    tracing::info!(retried = n_old, "ledger writable again; backlog written");
                }
                self.shared
                    .committed_records
                    .fetch_add(records.len() as u64, Ordering::Relaxed);
                self.shared
                    .committed_batches
                    .fetch_add(1, Ordering::Relaxed);
                self.shared.backlog.store(0, Ordering::Relaxed);
                let stored: usize = records.iter().map(record_bytes).sum();
                release(&self.shared.waiting_bytes, stored);
                let seqs: Vec<Option<u64>> = match self.tap {
                    Some(_) => receipts.iter().map(|r| r.seq).collect(),
                    None => Vec::new(),
                };
                for (reply, receipt) in replies.into_iter().zip(receipts.into_iter().skip(n_old)) {
                    if let Some(r) = reply {
                        let _ = r.send(Ok(receipt));
                    }
                }
                if let Some(tap) = self.tap.as_mut() {
                    tap(records, seqs);
                }
            }
            Err(e @ LedgerError::Unstorable(_)) if self.store.check_writable().is_ok() => {
                // The store is writable, yet the batch failed: perhaps one
                // record cannot be stored. Retried as one transaction it
                // would fail for ever and take every later record with it.
                self.shared.failed_batches.fetch_add(1, Ordering::Relaxed);
                tracing::warn!(error = %e, records = records.len(), "ledger batch failed while the store is writable; writing its records one by one");
                self.isolate(with_replies(records, n_old, replies));
            }
            Err(e) => self.keep_for_retry(&e, with_replies(records, n_old, replies)),
        }
    }

    /// The store is failing: the callers of `records` are told (their
    /// records marked withheld, as that is what their clients get), and all
    /// of them are kept, in order, to be retried.
    fn keep_for_retry(&mut self, e: &LedgerError, records: Vec<(Record, Option<Reply>)>) {
        self.shared.failed_batches.fetch_add(1, Ordering::Relaxed);
        if self.shared.healthy.swap(false, Ordering::SeqCst) {
            tracing::error!(error = %e, "ledger write failed; refusing to serve until it recovers");
        }
        set_error(&self.shared, Some(e.to_string()));
        let mut backlog = Vec::with_capacity(records.len());
        for (mut rec, reply) in records {
            if let Some(r) = reply {
                withhold(&mut rec, e);
                let _ = r.send(Err(e.clone()));
            }
            backlog.push(rec);
        }
        self.shared.backlog.store(backlog.len(), Ordering::Relaxed);
        self.backlog = backlog;
    }

    /// Writes `records` one transaction each, answering each caller (a
    /// record from the backlog has none). A record the store
    /// refuses on its own ([`LedgerError::Unstorable`]) is stored as a stand-in holding what it was (its
    /// metadata, and the SHA-256 of its request and output) and marked
    /// withheld: its caller is refused, the chain goes on, and nothing is
    /// silently lost. If the stand-in fails too, the store is failing after
    /// all: the rest goes back to the backlog.
    fn isolate(&mut self, records: Vec<(Record, Option<Reply>)>) {
        let mut pending = records.into_iter();
        while let Some((rec, reply)) = pending.next() {
            let first = self.store.append(std::slice::from_ref(&rec));
            let (stored, err) = match first {
                Ok(r) => (Ok(r), None),
                // Only data the store refuses is replaced by a stand-in; any
                // other failure means the store is failing after all.
                Err(e @ LedgerError::Unstorable(_)) => {
                    let stand_in = stand_in(&rec, &e);
                    (self.store.append(std::slice::from_ref(&stand_in)), Some(e))
                }
                Err(e) => (Err(e), None),
            };
            match stored {
                Ok(receipts) => {
                    release(&self.shared.waiting_bytes, record_bytes(&rec));
                    self.shared
                        .committed_records
                        .fetch_add(1, Ordering::Relaxed);
                    self.shared
                        .committed_batches
                        .fetch_add(1, Ordering::Relaxed);
                    match (&err, receipts.first()) {
                        (None, Some(receipt)) => {
                            if let Some(r) = reply {
                                let _ = r.send(Ok(*receipt));
                            }
                            if let Some(tap) = self.tap.as_mut() {
                                tap(vec![rec], vec![receipt.seq]);
                            }
                        }
                        (Some(e), _) => {
                            tracing::error!(error = %e, id = %rec.id, "a record could not be stored; a stand-in with its digests was written");
                            if let Some(r) = reply {
                                let _ = r.send(Err(e.clone()));
                            }
                        }
                        (None, None) => {}
                    }
                }
                Err(e) => {
                    // Failing after all: back to the backlog, callers told.
                    let rest = std::iter::once((rec, reply)).chain(pending).collect();
                    self.keep_for_retry(&e, rest);
                    return;
                }
            }
        }
        self.shared.backlog.store(0, Ordering::Relaxed);
    }

    fn observe_commit(&self, us: u64) {
        let secs = us as f64 / 1e6;
        let idx = COMMIT_BUCKETS
            .iter()
            .position(|b| secs <= *b)
            .unwrap_or(COMMIT_BUCKETS.len());
        self.shared.commit_buckets[idx].fetch_add(1, Ordering::Relaxed);
        self.shared.commit_sum_us.fetch_add(us, Ordering::Relaxed);
    }
}

/// The records of a batch with their callers: the first `n_old` came from
/// the backlog and have none.
fn with_replies(
    records: Vec<Record>,
    n_old: usize,
    replies: Vec<Option<Reply>>,
) -> Vec<(Record, Option<Reply>)> {
    let callers = std::iter::repeat_with(|| None).take(n_old).chain(replies);
    records.into_iter().zip(callers).collect()
}

/// What is stored in place of a record the store cannot take: the same id,
/// time, key, endpoint and model, marked withheld, with the SHA-256 of the
/// request and output that could not be stored.
fn stand_in(rec: &Record, e: &LedgerError) -> Record {
    use sha2::{Digest, Sha256};
    let digest = |s: &str| hex::encode(Sha256::digest(s.as_bytes()));
    let mut r = rec.clone();
    r.request = String::new();
    r.output = String::new();
    r.response = None;
    r.detail = Some(
        serde_json::json!({
            "unstorable": e.to_string(),
            "request_sha256": digest(&rec.request),
            "request_bytes": rec.request.len(),
            "output_sha256": digest(&rec.output),
            "output_bytes": rec.output.len(),
        })
        .to_string(),
    );
    withhold(&mut r, e);
    r
}

/// Marks a record whose caller will refuse the client because it could not
/// be written in time.
fn withhold(rec: &mut Record, e: &LedgerError) {
    if rec.outcome == Outcome::Withheld {
        return; // already a refusal for this very reason
    }
    let was = format!("{} {}", rec.status, rec.outcome.as_str());
    rec.outcome = Outcome::Withheld;
    rec.status = 503;
    rec.error_code = Some("ledger_unavailable".into());
    rec.error = Some(format!(
        "{e}; the response ({was}) was withheld from the client"
    ));
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{LedgerReader, MemoryStore, verify};

    #[test]
    fn group_commits_and_chains_in_order() {
        let store = MemoryStore::with_checkpoint_every(10);
        let reader = store.clone();
        let h = LedgerHandle::spawn(Box::new(store), WriterConfig::default()).unwrap();
        let rxs: Vec<_> = (0..95)
            .map(|i| h.append(Record::test(&format!("r{i}"))))
            .collect();
        let seqs: Vec<u64> = rxs
            .into_iter()
            .map(|rx| rx.recv().unwrap().unwrap().seq.unwrap())
            .collect();
        assert_eq!(seqs, (1..=95).collect::<Vec<_>>());
        h.shutdown();
        let report = verify(&reader).unwrap();
        assert!(report.is_intact(), "{:?}", report.findings);
        assert_eq!(report.records, 95);
        assert_eq!(report.checkpoints, 9);
        assert_eq!(reader.checkpoints().unwrap().len(), 9);
    }

    #[test]
    fn failing_store_refuses_then_writes_backlog_as_withheld() {
        let store = MemoryStore::default();
        let reader = store.clone();
        let cfg = WriterConfig {
            retry_interval: Duration::from_millis(10),
            ..Default::default()
        };
        let h = LedgerHandle::spawn(Box::new(store), cfg).unwrap();
        assert!(h.append_blocking(Record::test("before")).is_ok());
        reader.set_failure(Some("disk on fire"));
        let err = h.append_blocking(Record::test("during")).unwrap_err();
        assert!(err.to_string().contains("disk on fire"));
        assert!(!h.is_healthy());
        h.submit(Record::test("served stream"));
        reader.set_failure(None);
        let r = h.append_blocking(Record::test("after")).unwrap();
        assert_eq!(r.seq, Some(4), "backlog written first, in order");
        assert!(h.is_healthy());
        h.shutdown();
        let mut got = Vec::new();
        reader
            .scan(0, &mut |c| {
                got.push((c.record.output.clone(), c.record.outcome, c.record.status));
                true
            })
            .unwrap();
        assert_eq!(
            got,
            vec![
                ("before".into(), Outcome::Ok, 200),
                ("during".into(), Outcome::Withheld, 503),
                ("served stream".into(), Outcome::Ok, 200),
                ("after".into(), Outcome::Ok, 200),
            ]
        );
        assert!(verify(&reader).unwrap().is_intact());
    }

    #[test]
    fn the_backlog_is_bounded_in_bytes() {
        let store = MemoryStore::default();
        let reader = store.clone();
        let cfg = WriterConfig {
            retry_interval: Duration::from_secs(3600),
            max_backlog_bytes: 3 * 1024 * 1024,
            ..Default::default()
        };
        let h = LedgerHandle::spawn(Box::new(store), cfg).unwrap();
        reader.set_failure(Some("disk full"));
        let big = "x".repeat(1024 * 1024);
        let mut refused = 0;
        for _ in 0..6 {
            match h.append_blocking(Record::test(&big)) {
                Err(LedgerError::BacklogFull(_)) => refused += 1,
                Err(_) => {}
                Ok(_) => panic!("the store is failing"),
            }
        }
        // Three megabyte records fit in the 3 MiB bound (with their
        // overhead, two); the rest are refused, not held.
        assert!(refused >= 3, "{refused} refused");
        assert!(h.stats().backlog <= 3);
        reader.set_failure(None);
        h.shutdown();
    }

    #[test]
    fn unhealthy_store_recovers_by_probe_without_traffic() {
        let store = MemoryStore::default();
        let reader = store.clone();
        reader.set_failure(Some("gone"));
        let cfg = WriterConfig {
            idle_interval: Duration::from_millis(10),
            ..Default::default()
        };
        let h = LedgerHandle::spawn(Box::new(store), cfg).unwrap();
        assert!(!h.is_healthy());
        assert!(h.last_error().unwrap().contains("gone"));
        reader.set_failure(None);
        let deadline = Instant::now() + Duration::from_secs(5);
        while !h.is_healthy() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(5));
        }
        assert!(h.is_healthy());
    }

    #[test]
    fn the_tap_sees_every_committed_record_once_in_order() {
        let h =
            LedgerHandle::spawn(Box::new(MemoryStore::default()), WriterConfig::default()).unwrap();
        let seen = std::sync::Arc::new(Mutex::new(Vec::new()));
        let s2 = seen.clone();
        h.set_tap(Box::new(
            move |recs: Vec<Record>, seqs: Vec<Option<u64>>| {
                assert_eq!(recs.len(), seqs.len());
                s2.lock()
                    .unwrap()
                    .extend(recs.into_iter().zip(seqs).map(|(r, s)| (r.output, s)));
            },
        ));
        let rx: Vec<_> = (0..50)
            .map(|i| h.append(Record::test(&format!("r{i}"))))
            .collect();
        for r in rx {
            r.recv().unwrap().unwrap();
        }
        h.shutdown();
        let seen = seen.lock().unwrap().clone();
        let outputs: Vec<String> = seen.iter().map(|s| s.0.clone()).collect();
        assert_eq!(
            outputs,
            (0..50).map(|i| format!("r{i}")).collect::<Vec<_>>()
        );
        // Each with its place in the chain.
        let seqs: Vec<Option<u64>> = seen.iter().map(|s| s.1).collect();
        assert_eq!(seqs, (1..=50).map(Some).collect::<Vec<_>>());
    }

    #[test]
    fn one_unstorable_record_does_not_poison_the_batches_after_it() {
        let store = MemoryStore::default();
        store.set_poison(Some("POISON"));
        let ledger = LedgerHandle::spawn(Box::new(store.clone()), WriterConfig::default()).unwrap();
        let mut waits = Vec::new();
        for i in 0..20 {
            let out = if i == 7 {
                "POISON here".to_string()
            } else {
                format!("ok {i}")
            };
            waits.push((i, ledger.append(Record::test(&out))));
        }
        for (i, w) in waits {
            let r = w.recv().unwrap();
            assert_eq!(r.is_ok(), i != 7, "record {i}: {r:?}");
        }
        // Later traffic is written as usual.
        for i in 0..5 {
            ledger
                .append_blocking(Record::test(&format!("later {i}")))
                .unwrap();
        }
        ledger.shutdown();
        let recs = store.with_records(|r| r.clone());
        assert_eq!(
            recs.len(),
            25,
            "every record is in the log, the poisoned one as a stand-in"
        );
        let bad: Vec<_> = recs
            .iter()
            .filter(|c| c.record.outcome == Outcome::Withheld)
            .collect();
        assert_eq!(bad.len(), 1);
        let d: serde_json::Value =
            serde_json::from_str(bad[0].record.detail.as_deref().unwrap()).unwrap();
        assert_eq!(d["output_bytes"], 11);
        assert!(bad[0].record.output.is_empty());
        assert!(verify(&store).unwrap().findings.is_empty());
    }

    #[test]
    fn appends_after_shutdown_fail_cleanly() {
        let h =
            LedgerHandle::spawn(Box::new(MemoryStore::default()), WriterConfig::default()).unwrap();
        h.shutdown();
        assert!(matches!(
            h.append_blocking(Record::test("x")),
            Err(LedgerError::Stopped)
        ));
    }
}
