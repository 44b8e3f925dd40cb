//! Threads of `proviso serve` that must yield to the request path.

use std::sync::mpsc;

use proviso_ledger::{
    ChainedRecord, Checkpoint, Hash, LedgerError, LedgerReader, RestartGate, TreeState,
};

/// Opens a reader of the ledger.
pub type Open = Box<dyn Fn() -> Result<Box<dyn LedgerReader + Send>, LedgerError> + Send>;

/// A read to run on the thread; it says whether it succeeded (after an
/// error the ledger is opened again for the next one).
type Job = Box<dyn FnOnce(Result<&dyn LedgerReader, LedgerError>) -> bool + Send>;

/// Records of one read transaction of a [`ReadingThread`].
const PAGE_RECORDS: usize = 256;
/// Bytes (request and output) of one read transaction, at most about.
const PAGE_BYTES: usize = 8 * 1024 * 1024;

/// A reader of the ledger whose reads run on a thread of normal priority,
/// each page of [`PAGE_RECORDS`] in a transaction of its own, for a
/// caller that runs on idle CPU time (the index follower). A SQLite
/// reader's open transaction keeps the writer from restarting the
/// write-ahead log; held by a thread that then waits for CPU time behind
/// the requests, it would let the log grow and make the writer's next
/// checkpoint long (a pause of every commit). With the SQLite writer's
/// [`RestartGate`], no transaction starts while the writer waits to
/// restart the log: read back to back, the pages would otherwise leave it
/// hardly a moment. The reading thread opens the ledger when first asked
/// and again after an error, and ends when the reader is dropped.
pub struct ReadingThread {
    jobs: mpsc::Sender<Job>,
}

impl ReadingThread {
    /// Starts the thread (with the priority of the thread calling this).
    pub fn start(open: Open, gate: Option<RestartGate>) -> std::io::Result<Self> {
        let (jobs, rx) = mpsc::channel::<Job>();
        std::thread::Builder::new()
            .name("ledger-reader".into())
            .spawn(move || {
                let mut store: Option<Box<dyn LedgerReader + Send>> = None;
                for job in rx {
                    if let Some(g) = &gate {
                        g.wait();
                    }
                    if store.is_none() {
                        match open() {
                            Ok(s) => store = Some(s),
                            Err(e) => {
                                let _ = job(Err(e));
                                continue;
                            }
                        }
                    }
                    if let Some(s) = store.as_deref()
                        && !job(Ok(s))
                    {
                        store = None;
                    }
                }
            })?;
        Ok(Self { jobs })
    }

    /// Runs `f` on the reading thread and gives its answer.
    fn ask<T: Send + 'static>(
        &self,
        f: impl FnOnce(&dyn LedgerReader) -> Result<T, LedgerError> + Send + 'static,
    ) -> Result<T, LedgerError> {
        let (tx, rx) = mpsc::sync_channel(1);
        let job: Job = Box::new(move |store| {
            let answer = store.and_then(f);
            let ok = answer.is_ok();
            let _ = tx.send(answer);
            ok
        });
        let gone = || LedgerError::Unavailable("the ledger's reading thread stopped".into());
        self.jobs.send(job).map_err(|_| gone())?;
        rx.recv().map_err(|_| gone())?
    }
}

impl LedgerReader for ReadingThread {
    fn scan(&self, from: u64, f: &mut dyn FnMut(ChainedRecord) -> bool) -> Result<(), LedgerError> {
        self.scan_range(from, u64::MAX, f)
    }

    fn scan_range(
        &self,
        from: u64,
        to: u64,
        f: &mut dyn FnMut(ChainedRecord) -> bool,
    ) -> Result<(), LedgerError> {
        let mut next = from;
        loop {
            let (page, more) = self.ask(move |s| {
                let (mut page, mut bytes, mut end) = (Vec::new(), 0usize, false);
                s.scan(next, &mut |c| {
                    if c.seq > to {
                        end = true;
                        return false;
                    }
                    bytes += c.record.request.len() + c.record.output.len();
                    end = c.seq == to;
                    page.push(c);
                    !end && page.len() < PAGE_RECORDS && bytes < PAGE_BYTES
                })?;
                let more = !end && (page.len() >= PAGE_RECORDS || bytes >= PAGE_BYTES);
                Ok((page, more))
            })?;
            for c in page {
                next = c.seq + 1;
                if !f(c) {
                    return Ok(());
                }
            }
            if !more {
                return Ok(());
            }
        }
    }

    fn checkpoints(&self) -> Result<Vec<Checkpoint>, LedgerError> {
        self.ask(|s| s.checkpoints())
    }

    fn tree_state(&self) -> Result<TreeState, LedgerError> {
        self.ask(|s| s.tree_state())
    }

    fn find_by_hash(&self, hash: &Hash) -> Result<Option<u64>, LedgerError> {
        let hash = *hash;
        self.ask(move |s| s.find_by_hash(&hash))
    }
}

/// Puts the calling thread in Linux's `SCHED_IDLE` class: it runs only on
/// CPU time no other thread of the machine wants, and a request's thread
/// that wakes up takes the core from it at once. For the index follower,
/// whose work (indexing recorded outputs, merging segments) can wait. A
/// system that refuses (or is not Linux) leaves the thread as it was.
pub fn yield_to_requests() {
    #[cfg(target_os = "linux")]
    {
        use thread_priority::{
            NormalThreadSchedulePolicy, ThreadPriority, ThreadSchedulePolicy,
            set_thread_priority_and_policy, thread_native_id,
        };
        if let Err(e) = set_thread_priority_and_policy(
            thread_native_id(),
            ThreadPriority::Min,
            ThreadSchedulePolicy::Normal(NormalThreadSchedulePolicy::Idle),
        ) {
            tracing::warn!(error = ?e, "could not lower the index follower's priority");
        }
    }
}

#[cfg(test)]
#[cfg(target_os = "linux")]
mod tests {
    /// The scheduling policy of the calling thread, from /proc (field 41
    /// of `stat`; 5 is `SCHED_IDLE`).
    fn policy() -> u32 {
        let stat = std::fs::read_to_string("/proc/thread-self/stat").unwrap();
        // The command name (field 2) may hold spaces: count after its ')'.
        let rest = &stat[stat.rfind(')').unwrap() + 2..];
        rest.split(' ').nth(41 - 3).unwrap().parse().unwrap()
    }

    use proviso_ledger::{LedgerReader, LedgerStore, Record, SqliteConfig, SqliteStore};

    use super::{Open, PAGE_RECORDS, ReadingThread};

    fn opener(path: std::path::PathBuf) -> Open {
        Box::new(move || {
            Ok(
                Box::new(SqliteStore::open_existing(&path, SqliteConfig::default())?)
                    as Box<dyn LedgerReader + Send>,
            )
        })
    }

    #[test]
    fn the_reading_thread_reads_every_record_in_pages_at_normal_priority() {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("ledger.db");
        let mut store = SqliteStore::open(&path, SqliteConfig::default()).unwrap();
        let n = PAGE_RECORDS * 2 + 3;
        let records: Vec<Record> = (0..n).map(|i| Record::test(&format!("out {i}"))).collect();
        store.append(&records).unwrap();
        let reader = ReadingThread::start(opener(path.clone()), None).unwrap();
        let (seqs, policy) = std::thread::spawn(move || {
            super::yield_to_requests();
            let mut seqs = Vec::new();
            reader
                .scan(1, &mut |c| {
                    seqs.push(c.seq);
                    true
                })
                .unwrap();
            // Stopped by the caller part-way through a page.
            let mut few = 0;
            reader
                .scan(5, &mut |_| {
                    few += 1;
                    few < 3
                })
                .unwrap();
            assert_eq!(few, 3);
            assert_eq!(reader.tree_state().unwrap().size(), n as u64);
            (seqs, reader.ask(|_| Ok(policy())).unwrap())
        })
        .join()
        .unwrap();
        assert_eq!(
            seqs,
            (1..=n as u64).collect::<Vec<_>>(),
            "every record, in order"
        );
        assert_eq!(policy, 0, "reads run at normal priority for an idle caller");
    }

    #[test]
    fn a_ledger_that_cannot_be_opened_is_an_error_not_a_hang() {
        let tmp = tempfile::tempdir().unwrap();
        let reader = ReadingThread::start(opener(tmp.path().join("missing.db")), None).unwrap();
        let err = reader.scan(1, &mut |_| true).unwrap_err();
        assert!(err.to_string().contains("no ledger at"), "{err}");
    }

    #[test]
    fn the_thread_runs_only_on_idle_time() {
        let (before, after) = std::thread::spawn(|| {
            let before = policy();
            super::yield_to_requests();
            (before, policy())
        })
        .join()
        .unwrap();
        assert_eq!((before, after), (0, 5), "SCHED_OTHER, then SCHED_IDLE");
        assert_eq!(policy(), 0, "other threads are left as they were");
    }
}
