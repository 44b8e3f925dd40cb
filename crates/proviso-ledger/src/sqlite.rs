//! The embedded SQLite store: WAL mode, one write transaction per batch,
//! sequencing inside it (so several processes, e.g. the gateway and a CLI
//! command recording a key event, extend one chain safely).

use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use proviso_types::{KeyId, RecordId, UnixMillis, Usage};
use rusqlite::{Connection, OptionalExtension, Row, TransactionBehavior, params};

use crate::merkle::Frontier;
use crate::{
    ChainedRecord, Checkpoint, Hash, LedgerError, LedgerReader, LedgerStore, Outcome, Receipt,
    Record, RecordKind, Sequencer, TreeState,
};

/// The format of the tables below; bumped on any incompatible change.
const SCHEMA_VERSION: &str = "1";

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS meta (k TEXT PRIMARY KEY, v TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS records (
  seq INTEGER PRIMARY KEY,
  id TEXT NOT NULL,
  time_ms INTEGER NOT NULL,
  kind TEXT NOT NULL,
  key_id TEXT,
  team TEXT,
  endpoint TEXT NOT NULL,
  model TEXT,
  upstream TEXT,
  upstream_model TEXT,
  status INTEGER NOT NULL,
  outcome TEXT NOT NULL,
  stream INTEGER NOT NULL,
  request TEXT NOT NULL,
  output TEXT NOT NULL,
  response TEXT,
  finish_reason TEXT,
  prompt_tokens INTEGER,
  completion_tokens INTEGER,
  total_tokens INTEGER,
  latency_ms INTEGER NOT NULL,
  ttfb_ms INTEGER,
  error_code TEXT,
  error TEXT,
  detail TEXT,
  prev_hash BLOB NOT NULL,
  hash BLOB NOT NULL
);
CREATE INDEX IF NOT EXISTS records_time ON records(time_ms);
CREATE TABLE IF NOT EXISTS checkpoints (
  tree_size INTEGER PRIMARY KEY,
  root BLOB NOT NULL,
  last_hash BLOB NOT NULL,
  time_ms INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS tree_state (
  id INTEGER PRIMARY KEY CHECK (id = 1),
  size INTEGER NOT NULL,
  last_hash BLOB NOT NULL,
  frontier BLOB NOT NULL
);
";

/// Settings of the SQLite store.
#[derive(Clone, Debug)]
pub struct SqliteConfig {
    /// Write a Merkle checkpoint every this many records.
    pub checkpoint_every: u64,
    /// How long to wait for another process holding the write lock.
    pub busy_timeout: Duration,
    /// How often a background thread checkpoints the write-ahead log
    /// (PASSIVE: it never waits for the writer or readers) while records
    /// keep arriving. `None`: only when the writer is idle (readers and
    /// short-lived writers such as `proviso keys`).
    pub wal_checkpoint_interval: Option<Duration>,
    /// Above this size the writer, right after a commit, checkpoints with
    /// RESTART so the log is written from its start again, once the
    /// background checkpoint has caught up and is not running (never
    /// waiting for readers: one holding an old snapshot defers it by one
    /// interval); also the size a restarted log is cut back to. Applies
    /// with a background checkpointer (`wal_checkpoint_interval`).
    pub wal_max_bytes: u64,
}

impl Default for SqliteConfig {
    fn default() -> Self {
        Self {
            checkpoint_every: 1024,
            busy_timeout: Duration::from_secs(5),
            wal_checkpoint_interval: None,
            wal_max_bytes: 4 * 1024 * 1024,
        }
    }
}

/// A ledger in one SQLite file.
pub struct SqliteStore {
    conn: Connection,
    path: PathBuf,
    inode: Option<u64>,
    config: SqliteConfig,
    /// Held for its `Drop`, which stops the thread.
    _checkpointer: Option<Checkpointer>,
    /// When the writer's last attempt to restart the log found it busy.
    last_busy: Option<Instant>,
    /// When the writer last warned that readers keep the log long.
    last_warned: Option<Instant>,
    /// Shared with the background checkpointer.
    share: Arc<CheckpointShare>,
    wal_bytes: Arc<AtomicU64>,
    gate: RestartGate,
    /// Since when commits have found the log over its bound (the gate's
    /// periods count from here).
    over_bound_since: Option<Instant>,
}

impl Drop for SqliteStore {
    fn drop(&mut self) {
        // A writer gone restarts nothing: readers must not wait for it.
        self.gate.open();
    }
}

/// What the writer and the background checkpointer share.
#[derive(Default)]
struct CheckpointShare {
    /// Held by whichever of them checkpoints, so they do not find each
    /// other busy.
    turn: std::sync::Mutex<()>,
    /// Bytes of the log the background checkpoint's last pass left
    /// uncopied (a write transaction or a reader kept it from them).
    uncopied: AtomicU64,
}

/// Lets readers in the writer's own process (the gateway's index
/// follower) stand aside while the write-ahead log is over its bound: a
/// reader's open transaction keeps the writer from restarting the log, and
/// one that reads page after page leaves it hardly a moment to do so. A
/// reader calls [`RestartGate::wait`] before each transaction. The writer
/// closes the gate when a commit finds the log over `wal_max_bytes`, and
/// opens it once the log is restarted or back under the bound, when it is
/// idle, after an error and when it is dropped. A reader the gate does not
/// hold (another process, or another reader of this one) may pin the log
/// for long: after the gate has been closed for its patience it opens for
/// as long again, so that those it holds are slowed, not stopped.
#[derive(Clone, Default)]
pub struct RestartGate(Arc<GateState>);

#[derive(Default)]
struct GateState {
    /// Set while the writer wants the log restarted; read without the
    /// lock on the writer's path.
    closed: AtomicBool,
    /// How long a reader waits at most, and how long the gate stays closed
    /// before it opens for as long again.
    patience: Duration,
    /// Held by a reader between its look at `closed` and its wait, and by
    /// the writer when it wakes them.
    lock: Mutex<()>,
    changed: Condvar,
}

impl RestartGate {
    fn with_patience(patience: Duration) -> Self {
        Self(Arc::new(GateState {
            patience,
            ..GateState::default()
        }))
    }

    /// The writer has found the log over its bound since `since`: closed,
    /// except in every other period of the patience while that lasts.
    fn want_restart(&self, since: Instant) {
        let periods = since.elapsed().as_nanos() / self.0.patience.as_nanos().max(1);
        if periods.is_multiple_of(2) {
            self.0.closed.store(true, Ordering::SeqCst);
        } else {
            self.open();
        }
    }

    /// Readers go on (the log was restarted or is under its bound, or the
    /// writer is idle or gone). Only an atomic load when already open.
    fn open(&self) {
        if self.0.closed.load(Ordering::SeqCst) && self.0.closed.swap(false, Ordering::SeqCst) {
            // Taken so that a reader between its check and its wait is
            // woken too.
            let _held = self.held();
            self.0.changed.notify_all();
        }
    }

    /// The lock a reader holds between its look at the gate and its wait.
    fn held(&self) -> std::sync::MutexGuard<'_, ()> {
        self.0
            .lock
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Whether readers are asked to stand aside now.
    pub fn is_closed(&self) -> bool {
        self.0.closed.load(Ordering::SeqCst)
    }

    /// Waits while the gate is closed, at most its patience (four of the
    /// writer's checkpoint intervals, at least 200 ms); gives how long it
    /// waited (zero if the gate was open).
    pub fn wait(&self) -> Duration {
        if !self.is_closed() {
            return Duration::ZERO;
        }
        let start = Instant::now();
        let mut held = self.held();
        while self.is_closed() {
            let Some(left) = self
                .0
                .patience
                .checked_sub(start.elapsed())
                .filter(|d| !d.is_zero())
            else {
                break;
            };
            held = self
                .0
                .changed
                .wait_timeout(held, left)
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .0;
        }
        start.elapsed()
    }
}

/// The background WAL checkpointer of a writing store: its own connection,
/// so that the log is moved into the database while commits go on.
struct Checkpointer {
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Drop for Checkpointer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            t.thread().unpark();
            let _ = t.join();
        }
    }
}

fn wal_path(db: &Path) -> PathBuf {
    let mut p = db.as_os_str().to_owned();
    p.push("-wal");
    PathBuf::from(p)
}

fn wal_size(db: &Path) -> u64 {
    std::fs::metadata(wal_path(db)).map_or(0, |m| m.len())
}

fn checkpoint_loop(
    path: PathBuf,
    config: &SqliteConfig,
    every: Duration,
    stop: Arc<AtomicBool>,
    gauge: Arc<AtomicU64>,
    share: Arc<CheckpointShare>,
) {
    let conn = match Connection::open(&path) {
        Ok(c) => c,
        Err(e) => {
            tracing::error!(error = %e, "the ledger's WAL checkpointer cannot open the database; the log is checkpointed only when idle");
            return;
        }
    };
    if let Err(e) = conn.busy_timeout(config.busy_timeout) {
        tracing::warn!(error = %e, "WAL checkpointer: busy timeout not set");
    }
    // A frame of the log is a page and its 24-byte header.
    let frame_bytes = conn
        .query_row("PRAGMA page_size", [], |r| r.get::<_, i64>(0))
        .map_or(4096 + 24, |p| u64::try_from(p).unwrap_or(4096) + 24);
    while !stop.load(Ordering::SeqCst) {
        std::thread::park_timeout(every);
        if stop.load(Ordering::SeqCst) {
            break;
        }
        // PASSIVE copies what it can without waiting for anyone; once all
        // of the log is in the database, the writer's next commit starts
        // the log again from its beginning, so it stops growing. What it
        // left uncopied tells the writer whether its own checkpoint (which
        // holds commits) would find little left to copy.
        let guard = share
            .turn
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let frames = conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |r| {
            Ok((r.get::<_, i64>(1)?, r.get::<_, i64>(2)?))
        });
        drop(guard);
        match frames {
            Ok((log, copied)) => {
                let left = u64::try_from(log.saturating_sub(copied)).unwrap_or(0);
                share
                    .uncopied
                    .store(left.saturating_mul(frame_bytes), Ordering::SeqCst);
            }
            Err(e) => tracing::warn!(error = %e, "WAL checkpoint failed"),
        }
        let size = wal_size(&path);
        gauge.store(size, Ordering::Relaxed);
    }
}

impl SqliteStore {
    /// Opens (creating if needed) the ledger at `path`; creates the parent
    /// directory.
    pub fn open(path: &Path, config: SqliteConfig) -> Result<Self, LedgerError> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|e| {
                LedgerError::Unavailable(format!("cannot create {}: {e}", dir.display()))
            })?;
        }
        let conn = Connection::open(path)
            .map_err(|e| LedgerError::Unavailable(format!("{}: {e}", path.display())))?;
        conn.busy_timeout(config.busy_timeout)?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "NORMAL")?;
        // Checkpoints of the WAL run when the writer is idle (see `maintain`),
        // not inside a commit on the request path.
        conn.pragma_update(None, "wal_autocheckpoint", 0)?;
        // A log that was reset after a complete checkpoint shrinks to this.
        conn.pragma_update(
            None,
            "journal_size_limit",
            i64::try_from(config.wal_max_bytes).unwrap_or(i64::MAX),
        )?;
        conn.execute_batch(SCHEMA)?;
        let version: Option<String> = conn
            .query_row("SELECT v FROM meta WHERE k = 'schema_version'", [], |r| {
                r.get(0)
            })
            .optional()?;
        match version.as_deref() {
            None => {
                conn.execute(
                    "INSERT INTO meta (k, v) VALUES ('schema_version', ?1)",
                    [SCHEMA_VERSION],
                )?;
            }
            Some(SCHEMA_VERSION) => {}
            Some(other) => {
                return Err(LedgerError::Corrupt(format!(
                    "{}: schema version {other}, this build reads {SCHEMA_VERSION}",
                    path.display()
                )));
            }
        }
        let inode = std::fs::metadata(path).ok().map(|m| m.ino());
        let wal_bytes = Arc::new(AtomicU64::new(wal_size(path)));
        let share = Arc::new(CheckpointShare::default());
        // A reader waits for the restart at most four checkpoint intervals,
        // or 200 ms if that is longer.
        let gate = RestartGate::with_patience(
            config
                .wal_checkpoint_interval
                .map_or(Duration::ZERO, |every| {
                    (every * 4).max(Duration::from_millis(200))
                }),
        );
        let checkpointer = match config.wal_checkpoint_interval {
            None => None,
            Some(every) => {
                let stop = Arc::new(AtomicBool::new(false));
                let (p, c, st, g, t) = (
                    path.to_owned(),
                    config.clone(),
                    stop.clone(),
                    wal_bytes.clone(),
                    share.clone(),
                );
                let thread = std::thread::Builder::new()
                    .name("ledger-wal-checkpoint".into())
                    .spawn(move || {
                        checkpoint_loop(p, &c, every.max(Duration::from_millis(10)), st, g, t)
                    })
                    .map_err(|e| {
                        LedgerError::Unavailable(format!("cannot start the WAL checkpointer: {e}"))
                    })?;
                Some(Checkpointer {
                    stop,
                    thread: Some(thread),
                })
            }
        };
        Ok(Self {
            conn,
            path: path.to_owned(),
            inode,
            config,
            _checkpointer: checkpointer,
            last_busy: None,
            last_warned: None,
            share,
            wal_bytes,
            gate,
            over_bound_since: None,
        })
    }

    /// The gate readers of this process take before each transaction, so
    /// that the log can be restarted (see [`RestartGate`]).
    pub fn restart_gate(&self) -> RestartGate {
        self.gate.clone()
    }

    /// Past `wal_max_bytes`, checkpoints and restarts the log on the
    /// writer's own connection, after the batch is committed: when records
    /// arrive faster than the background PASSIVE checkpoint can finish, it
    /// never completes and the log would grow without end. It runs only
    /// when the background checkpoint's last pass left at most half the
    /// bound uncopied (so this one, which holds the next commits, copies
    /// little) and is not running now; after a reader kept the log long,
    /// the background catches up first, without holding commits. A failure
    /// is logged: the records are already committed.
    fn bound_wal(&mut self) {
        let Some(every) = self.config.wal_checkpoint_interval else {
            return;
        };
        let size = wal_size(&self.path);
        if size <= self.config.wal_max_bytes {
            self.log_restarted();
            return;
        }
        // Readers that take the gate start no new transaction until the
        // log is restarted (the background pass can then copy all of it).
        self.gate
            .want_restart(*self.over_bound_since.get_or_insert_with(Instant::now));
        if self.last_busy.is_some_and(|t| t.elapsed() < every) {
            return;
        }
        if self.share.uncopied.load(Ordering::SeqCst) > self.config.wal_max_bytes / 2 {
            self.warn_if_long(size);
            return;
        }
        let share = self.share.clone();
        let Ok(_guard) = share.turn.try_lock() else {
            return;
        };
        // Not waiting for readers: one holding an old snapshot makes it
        // report busy at once, the commits after it are not held up, and
        // it is tried again one interval later.
        let _ = self.conn.busy_timeout(Duration::ZERO);
        // RESTART: the next commit writes the log from its start again,
        // over blocks the file already has (no allocation, so no wait on
        // the file system's journal), and cuts a longer file back to the
        // bound (`journal_size_limit`).
        let result = self
            .conn
            .query_row("PRAGMA wal_checkpoint(RESTART)", [], |r| r.get::<_, i64>(0));
        let _ = self.conn.busy_timeout(self.config.busy_timeout);
        self.last_busy = match result {
            Ok(0) => None,
            _ => Some(Instant::now()),
        };
        if matches!(result, Ok(0)) {
            self.log_restarted();
        }
        match result {
            Ok(0) => {}
            Ok(_) => self.warn_if_long(size),
            Err(e) => tracing::warn!(error = %e, "WAL checkpoint failed"),
        }
        self.wal_bytes
            .store(wal_size(&self.path), Ordering::Relaxed);
    }

    /// The log was restarted or is under its bound (or the writer is idle):
    /// readers go on.
    fn log_restarted(&mut self) {
        self.over_bound_since = None;
        self.gate.open();
    }

    /// A reader's transaction (the index follower's page, an export)
    /// delays a restart of the log: a warning, at most every ten seconds,
    /// only once the log has grown past twice its bound.
    fn warn_if_long(&mut self, size: u64) {
        let bound = self.config.wal_max_bytes;
        if size <= bound.saturating_mul(2)
            || self
                .last_warned
                .is_some_and(|t| t.elapsed() < Duration::from_secs(10))
        {
            tracing::debug!(bytes = size, "the ledger's WAL is over its bound");
            return;
        }
        self.last_warned = Some(Instant::now());
        tracing::warn!(
            bytes = size,
            "the ledger's WAL is over twice its bound and readers keep it from being restarted"
        );
    }

    /// The size of the write-ahead log as last measured (bytes), shared
    /// for metrics.
    pub fn wal_bytes(&self) -> Arc<AtomicU64> {
        self.wal_bytes.clone()
    }

    /// Opens an existing ledger for reading only; an error if it is missing.
    pub fn open_existing(path: &Path, config: SqliteConfig) -> Result<Self, LedgerError> {
        if !path.exists() {
            return Err(LedgerError::Unavailable(format!(
                "no ledger at {}",
                path.display()
            )));
        }
        Self::open(path, config)
    }

    /// The file this store writes.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The underlying connection, for tools and tests that inspect the file.
    pub fn connection(&self) -> &Connection {
        &self.conn
    }

    fn load_state(conn: &Connection) -> Result<TreeState, LedgerError> {
        // Cached statements: the writer runs this and the update below once
        // a batch, and with one request at a time a batch is one record.
        let row: Option<(i64, Vec<u8>, Vec<u8>)> = conn
            .prepare_cached("SELECT size, last_hash, frontier FROM tree_state WHERE id = 1")?
            .query_row([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
            .optional()?;
        let Some((size, last, frontier)) = row else {
            return Ok(TreeState::default());
        };
        let size = u64::try_from(size)
            .map_err(|_| LedgerError::Corrupt(format!("negative tree size {size}")))?;
        let last_hash = to_hash(&last, "tree_state.last_hash")?;
        if frontier.len() % 32 != 0 {
            return Err(LedgerError::Corrupt("tree_state.frontier length".into()));
        }
        let nodes = frontier
            .chunks(32)
            .map(|c| to_hash(c, "frontier"))
            .collect::<Result<_, _>>()?;
        let frontier = Frontier::from_parts(size, nodes).ok_or_else(|| {
            LedgerError::Corrupt(format!("tree_state.frontier does not fit size {size}"))
        })?;
        Ok(TreeState {
            frontier,
            last_hash,
        })
    }
}

fn to_hash(b: &[u8], what: &str) -> Result<Hash, LedgerError> {
    b.try_into()
        .map_err(|_| LedgerError::Corrupt(format!("{what}: {} bytes, not 32", b.len())))
}

fn opt_u64(v: Option<i64>) -> Option<u64> {
    v.and_then(|x| u64::try_from(x).ok())
}

fn i64_of(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

impl LedgerStore for SqliteStore {
    fn append(&mut self, records: &[Record]) -> Result<Vec<Receipt>, LedgerError> {
        self.check_writable()?;
        let every = self.config.checkpoint_every;
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        let mut seqr = Sequencer::new(Self::load_state(&tx)?, every);
        let mut out = Vec::with_capacity(records.len());
        {
            let mut ins = tx.prepare_cached(
                "INSERT INTO records (seq, id, time_ms, kind, key_id, team, endpoint, model, \
                 upstream, upstream_model, status, outcome, stream, request, output, response, \
                 finish_reason, prompt_tokens, completion_tokens, total_tokens, latency_ms, \
                 ttfb_ms, error_code, error, detail, prev_hash, hash) VALUES \
                 (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, \
                 ?18, ?19, ?20, ?21, ?22, ?23, ?24, ?25, ?26, ?27)",
            )?;
            let mut cp_ins = tx.prepare_cached(
                "INSERT INTO checkpoints (tree_size, root, last_hash, time_ms) VALUES (?1, ?2, ?3, ?4)",
            )?;
            for rec in records {
                let (c, cp) = seqr.link(rec);
                let usage = rec.usage;
                ins.execute(params![
                    i64_of(c.seq),
                    rec.id.to_string(),
                    rec.time.0,
                    rec.kind.as_str(),
                    rec.key_id.as_ref().map(|k| k.0.as_str()),
                    rec.team,
                    rec.endpoint,
                    rec.model,
                    rec.upstream,
                    rec.upstream_model,
                    rec.status,
                    rec.outcome.as_str(),
                    rec.stream,
                    rec.request,
                    rec.output,
                    rec.response,
                    rec.finish_reason,
                    usage.map(|u| i64_of(u.prompt_tokens)),
                    usage.map(|u| i64_of(u.completion_tokens)),
                    usage.map(|u| i64_of(u.total_tokens)),
                    i64_of(rec.latency_ms),
                    rec.ttfb_ms.map(i64_of),
                    rec.error_code,
                    rec.error,
                    rec.detail,
                    &c.prev_hash[..],
                    &c.hash[..],
                ])?;
                if let Some(cp) = cp {
                    cp_ins.execute(params![
                        i64_of(cp.tree_size),
                        &cp.root[..],
                        &cp.last_hash[..],
                        cp.time.0
                    ])?;
                }
                out.push(Receipt::sequenced(c.seq, c.hash));
            }
        }
        let st = seqr.state();
        let frontier: Vec<u8> = st.frontier.nodes().concat();
        tx.prepare_cached(
            "INSERT INTO tree_state (id, size, last_hash, frontier) VALUES (1, ?1, ?2, ?3) \
             ON CONFLICT(id) DO UPDATE SET size = excluded.size, last_hash = excluded.last_hash, \
             frontier = excluded.frontier",
        )?
        .execute(params![i64_of(st.size()), &st.last_hash[..], frontier])?;
        tx.commit()?;
        self.bound_wal();
        Ok(out)
    }

    fn check_writable(&mut self) -> Result<(), LedgerError> {
        // An open SQLite file keeps working after its path is removed or
        // moved, so records would silently go to a file nobody will find.
        // Refuse unless the file at the path is still the one we opened.
        match std::fs::metadata(&self.path) {
            Ok(m) if Some(m.ino()) == self.inode => Ok(()),
            Ok(_) => Err(LedgerError::Unavailable(format!(
                "{} was replaced by another file",
                self.path.display()
            ))),
            Err(e) => Err(LedgerError::Unavailable(format!(
                "{}: {e}",
                self.path.display()
            ))),
        }
    }

    fn maintain(&mut self) -> Result<(), LedgerError> {
        // Idle (or failing), the writer adds nothing to the log: readers
        // may go on.
        self.log_restarted();
        self.check_writable()?;
        self.conn
            .query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(()))?;
        self.wal_bytes
            .store(wal_size(&self.path), Ordering::Relaxed);
        Ok(())
    }

    fn wal_gauge(&self) -> Option<Arc<AtomicU64>> {
        Some(self.wal_bytes.clone())
    }
}

fn decode_row(r: &Row<'_>) -> rusqlite::Result<Result<ChainedRecord, LedgerError>> {
    let seq: i64 = r.get(0)?;
    let id: String = r.get(1)?;
    let kind: String = r.get(3)?;
    let outcome: String = r.get(11)?;
    let status: i64 = r.get(10)?;
    let prompt: Option<i64> = r.get(17)?;
    let completion: Option<i64> = r.get(18)?;
    let total: Option<i64> = r.get(19)?;
    let prev: Vec<u8> = r.get(25)?;
    let hash: Vec<u8> = r.get(26)?;
    let latency: i64 = r.get(20)?;
    let build = || -> Result<ChainedRecord, LedgerError> {
        let bad = |what: &str| LedgerError::Corrupt(format!("record {seq}: bad {what}"));
        let usage = match (prompt, completion, total) {
            (None, None, None) => None,
            (p, c, t) => Some(Usage {
                prompt_tokens: opt_u64(p).unwrap_or(0),
                completion_tokens: opt_u64(c).unwrap_or(0),
                total_tokens: opt_u64(t).unwrap_or(0),
            }),
        };
        Ok(ChainedRecord {
            seq: u64::try_from(seq).map_err(|_| bad("seq"))?,
            record: Record {
                id: id.parse::<RecordId>().map_err(|_| bad("id"))?,
                time: UnixMillis(r.get(2).map_err(|_| bad("time_ms"))?),
                kind: RecordKind::parse(&kind).ok_or_else(|| bad("kind"))?,
                key_id: r
                    .get::<_, Option<String>>(4)
                    .map_err(|_| bad("key_id"))?
                    .map(KeyId),
                team: r.get(5).map_err(|_| bad("team"))?,
                endpoint: r.get(6).map_err(|_| bad("endpoint"))?,
                model: r.get(7).map_err(|_| bad("model"))?,
                upstream: r.get(8).map_err(|_| bad("upstream"))?,
                upstream_model: r.get(9).map_err(|_| bad("upstream_model"))?,
                status: u16::try_from(status).map_err(|_| bad("status"))?,
                outcome: Outcome::parse(&outcome).ok_or_else(|| bad("outcome"))?,
                stream: r.get(12).map_err(|_| bad("stream"))?,
                request: r.get(13).map_err(|_| bad("request"))?,
                output: r.get(14).map_err(|_| bad("output"))?,
                response: r.get(15).map_err(|_| bad("response"))?,
                finish_reason: r.get(16).map_err(|_| bad("finish_reason"))?,
                usage,
                latency_ms: u64::try_from(latency).map_err(|_| bad("latency_ms"))?,
                ttfb_ms: opt_u64(r.get(21).map_err(|_| bad("ttfb_ms"))?),
                error_code: r.get(22).map_err(|_| bad("error_code"))?,
                error: r.get(23).map_err(|_| bad("error"))?,
                detail: r.get(24).map_err(|_| bad("detail"))?,
            },
            prev_hash: to_hash(&prev, "prev_hash")?,
            hash: to_hash(&hash, "hash")?,
        })
    };
    Ok(build())
}

impl LedgerReader for SqliteStore {
    fn scan(&self, from: u64, f: &mut dyn FnMut(ChainedRecord) -> bool) -> Result<(), LedgerError> {
        let mut stmt = self.conn.prepare(
            "SELECT seq, id, time_ms, kind, key_id, team, endpoint, model, upstream, \
             upstream_model, status, outcome, stream, request, output, response, finish_reason, \
             prompt_tokens, completion_tokens, total_tokens, latency_ms, ttfb_ms, error_code, \
             error, detail, prev_hash, hash FROM records WHERE seq >= ?1 ORDER BY seq",
        )?;
        let mut rows = stmt.query([i64_of(from)])?;
        while let Some(row) = rows.next()? {
            let rec = decode_row(row)??;
            if !f(rec) {
                break;
            }
        }
        Ok(())
    }

    fn checkpoints(&self) -> Result<Vec<Checkpoint>, LedgerError> {
        let mut stmt = self.conn.prepare(
            "SELECT tree_size, root, last_hash, time_ms FROM checkpoints ORDER BY tree_size",
        )?;
        let rows = stmt.query_map([], |r| {
            Ok((
                r.get::<_, i64>(0)?,
                r.get::<_, Vec<u8>>(1)?,
                r.get::<_, Vec<u8>>(2)?,
                r.get(3)?,
            ))
        })?;
        let mut out = Vec::new();
        for row in rows {
            let (size, root, last, t) = row?;
            out.push(Checkpoint {
                tree_size: u64::try_from(size)
                    .map_err(|_| LedgerError::Corrupt(format!("checkpoint size {size}")))?,
                root: to_hash(&root, "checkpoint root")?,
                last_hash: to_hash(&last, "checkpoint last_hash")?,
                time: UnixMillis(t),
            });
        }
        Ok(out)
    }

    fn tree_state(&self) -> Result<TreeState, LedgerError> {
        Self::load_state(&self.conn)
    }

    fn find_by_hash(&self, hash: &Hash) -> Result<Option<u64>, LedgerError> {
        let seq: Option<i64> = self
            .conn
            .query_row(
                "SELECT seq FROM records WHERE hash = ?1 LIMIT 1",
                [&hash[..]],
                |r| r.get(0),
            )
            .optional()?;
        Ok(opt_u64(seq))
    }

    fn usage_by_key(&self) -> Result<crate::UsageByKey, LedgerError> {
        let mut stmt = self.conn.prepare(
            "SELECT key_id, COUNT(*), COALESCE(SUM(total_tokens), 0), MAX(time_ms) FROM records \
             WHERE kind = 'exchange' AND key_id IS NOT NULL GROUP BY key_id",
        )?;
        let rows = stmt.query_map([], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, i64>(1)?,
                r.get::<_, i64>(2)?,
                r.get::<_, i64>(3)?,
            ))
        })?;
        let mut out = std::collections::HashMap::new();
        for row in rows {
            let (k, n, t, last) = row?;
            out.insert(
                k,
                (
                    u64::try_from(n).unwrap_or(0),
                    u64::try_from(t).unwrap_or(0),
                    UnixMillis(last),
                ),
            );
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use std::time::{Duration, Instant};

    use super::RestartGate;

    #[test]
    fn an_open_gate_does_not_hold_a_reader() {
        let gate = RestartGate::with_patience(Duration::from_secs(10));
        assert_eq!(gate.wait(), Duration::ZERO);
        gate.want_restart(Instant::now());
        gate.open();
        assert_eq!(gate.wait(), Duration::ZERO);
    }

    #[test]
    fn a_closed_gate_holds_a_reader_until_it_opens() {
        let gate = RestartGate::with_patience(Duration::from_secs(10));
        gate.want_restart(Instant::now());
        let opener = gate.clone();
        let t = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(100));
            opener.open();
        });
        let waited = gate.wait();
        t.join().unwrap();
        assert!(waited >= Duration::from_millis(100), "{waited:?}");
        assert!(waited < Duration::from_secs(5), "{waited:?}");
        assert!(!gate.is_closed());
    }

    #[test]
    fn a_gate_left_closed_holds_a_reader_only_for_its_patience() {
        let gate = RestartGate::with_patience(Duration::from_millis(150));
        gate.want_restart(Instant::now());
        let start = Instant::now();
        gate.wait();
        let waited = start.elapsed();
        assert!(waited >= Duration::from_millis(150), "{waited:?}");
        assert!(waited < Duration::from_secs(5), "{waited:?}");
    }

    /// A reader the gate does not hold pins the log: the writer keeps
    /// wanting a restart, and the gate opens every other patience.
    #[test]
    fn a_restart_wanted_for_long_opens_the_gate_every_other_period() {
        let gate = RestartGate::with_patience(Duration::from_millis(200));
        let ago = |ms| {
            Instant::now()
                .checked_sub(Duration::from_millis(ms))
                .unwrap()
        };
        gate.want_restart(ago(0));
        assert!(gate.is_closed());
        gate.want_restart(ago(300));
        assert!(!gate.is_closed(), "open in the second period");
        gate.want_restart(ago(500));
        assert!(gate.is_closed(), "closed again in the third");
        gate.open();
        assert!(!gate.is_closed());
        // A new episode (the writer counts it from its own start) starts
        // closed.
        gate.want_restart(ago(0));
        assert!(gate.is_closed());
    }

    #[test]
    fn a_store_dropped_with_the_gate_closed_opens_it() {
        let dir = tempfile::tempdir().unwrap();
        let store = super::SqliteStore::open(
            &dir.path().join("l.db"),
            super::SqliteConfig {
                wal_checkpoint_interval: Some(Duration::from_millis(50)),
                ..super::SqliteConfig::default()
            },
        )
        .unwrap();
        let gate = store.restart_gate();
        gate.want_restart(Instant::now());
        drop(store);
        assert!(!gate.is_closed());
    }
}
