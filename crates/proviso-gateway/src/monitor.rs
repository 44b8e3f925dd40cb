//! The monitor beside the gateway. The request path's observe stage hands
//! each committed record (without its output) to a bounded queue; a plain
//! thread feeds them to [`proviso_monitor::Monitor`] and carries out the
//! ladder's decisions: ledger events with their evidence, the
//! `Proviso-Notice` header, lower limits, suspension and scheduled
//! revocation through the key lifecycle, and webhook calls retried with
//! backoff that never hold the ladder up. A full queue drops the
//! observation and counts it, and never slows or fails a request; the
//! monitor thread reads what was dropped back from the ledger
//! ([`MonitorHandle::set_backfill`]) before what was queued after it, so it
//! falls behind under a load that saturates its core but loses nothing.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, Sender};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use proviso_access::KeyState;
use proviso_ledger::{LedgerHandle, LedgerReader, Record, RecordKind};
use proviso_monitor::{ActorReport, Decision, Level, Mode, Monitor, MonitorConfig};
use proviso_types::{KeyId, RecordId, UnixMillis};
use serde_json::json;

use crate::key_cache::KeyCache;
use crate::quota::QuotaService;

/// What the monitor's queue carries: a record with its sequence number
/// when known, or the first sequence number of a run of observations the
/// full queue dropped (the run ends before the next record queued). The
/// record is held in place: boxing it would cost an allocation on the
/// writer thread for each observation, where markers are few.
#[allow(clippy::large_enum_variant)]
enum Queued {
    Record(Option<u64>, Record),
    Dropped(u64),
}

/// The monitor's shared side: the queue, counters, the report, and what
/// the ladder put in force (notices, throttles).
pub struct MonitorHandle {
    /// An unbounded channel, bounded by the counts below. On std's bounded
    /// channel (`sync_channel`), a send that finds it full but for the
    /// slot the receiver is in the middle of taking busy-spins until the
    /// receiver finishes; the receiver here is a thread of idle priority
    /// that a busy core may not run again for hundreds of milliseconds,
    /// while the sender, the ledger's writer, holds every request's
    /// commit. A send on the unbounded channel waits only for other
    /// senders, and takes no lock as long as no receiver is blocked in
    /// `recv`: the monitor thread polls with `try_recv`, and must.
    tx: Sender<Queued>,
    /// Observations in the queue (at most `[monitor] queue`).
    waiting: std::sync::atomic::AtomicUsize,
    state: Arc<Mutex<Monitor>>,
    notices: RwLock<HashMap<String, String>>,
    /// Observations dropped because the queue was full.
    pub dropped: AtomicU64,
    /// Observations queued.
    pub queued: AtomicU64,
    /// Bytes of requests in the queue.
    pub queued_bytes: std::sync::atomic::AtomicUsize,
    /// Queued observations the monitor thread has dealt with.
    pub processed: Arc<AtomicU64>,
    /// Webhook calls that failed after every attempt.
    pub webhook_failures: Arc<AtomicU64>,
    /// Ladder steps taken or sent for review.
    pub steps: AtomicU64,
    /// Calls to the embeddings model that failed.
    pub embedding_failures: AtomicU64,
    embeddings: Option<crate::upstream::Deployment>,
    cfg: MonitorConfig,
    rx: Mutex<Option<Receiver<Queued>>>,
    suspended_at: Mutex<HashMap<String, i64>>,
    /// The ledger, read back for the observations the queue dropped
    /// (only the monitor thread reads it).
    backfill: Mutex<Option<Arc<dyn LedgerReader + Send + Sync>>>,
    /// Whether there is one: only then are dropped numbers kept.
    backfilling: AtomicBool,
    /// The last observation offered was dropped (its run's start is
    /// queued already).
    gap_open: AtomicBool,
    /// The sequence number of the last observation dropped.
    last_dropped: AtomicU64,
    /// Sequence numbers of dropped observations not yet read back (a
    /// gauge, set by the monitor thread; a bound, as a run may hold
    /// records the monitor does not observe).
    unread: AtomicU64,
    /// The last sequence number the state was rebuilt through
    /// ([`replay`](Self::replay)): a queued record at or before it is in the
    /// state already (a replica that takes the monitor's job back rebuilds
    /// while its queue may still hold records offered before).
    replayed_to: AtomicU64,
    /// Dropped observations read back from the ledger and observed.
    pub backfilled: AtomicU64,
    /// Reads of dropped observations that failed (those are lost).
    pub backfill_failures: AtomicU64,
}

/// What became of a record offered to the queue.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Offered {
    Queued,
    /// The queue is full (and not empty).
    Full,
    /// The monitor thread is gone.
    Closed,
}

/// Where the monitor thread is behind the ledger: the next sequence
/// number of a run of dropped observations it has yet to read back, and
/// the last sequence number it has observed. The writer thread never
/// shares a lock with the monitor thread (which runs at idle priority and
/// may hold one while it waits for the CPU): it tells a run's start through
/// the queue and its latest drop by an atomic. Reading back as far as the
/// latest drop can read records that were queued after the run began
/// (the writer went on while the monitor read): those are observed then,
/// in the ledger's order, and passed over when they come out of the queue.
#[derive(Debug, Default)]
pub(crate) struct Behind {
    next: Option<u64>,
    done: u64,
}

impl Behind {
    /// A run of drops starts at `seq` (or after what was read already).
    pub(crate) fn dropped_from(&mut self, seq: u64) {
        let s = seq.max(self.done + 1);
        self.next = Some(self.next.map_or(s, |n| n.min(s)));
    }

    /// The queued record `seq` comes next (after [`before`](Self::before)
    /// read any run ahead of its batch): whether to observe it, not when it
    /// was read back already.
    pub(crate) fn queued(&mut self, seq: u64) -> bool {
        if seq <= self.done {
            return false;
        }
        self.done = seq;
        true
    }

    /// Idle, with `last_dropped` the latest drop: what to read back now
    /// (first, last); the run stays open, for drops still to come.
    pub(crate) fn idle(&mut self, last_dropped: u64) -> Option<(u64, u64)> {
        let n = self.next?;
        if last_dropped < n {
            return None;
        }
        self.next = Some(last_dropped + 1);
        Some((n, last_dropped))
    }

    /// A read back got as far as `reached`: what is queued up to there
    /// was observed by it. A read that failed short of its range gives the
    /// rest of the run up (`give_up`): what of it was queued is observed
    /// from the queue.
    pub(crate) fn read_to(&mut self, reached: u64) {
        self.done = self.done.max(reached);
    }

    /// The open run is given up (its read failed).
    pub(crate) fn give_up(&mut self) {
        self.next = None;
    }

    /// The first queued record of a batch is `first`: the run of drops
    /// before it to read back (first, last), which then is over. A batch
    /// is cut at every run's marker, so its records have no run between
    /// them: drops while a run is open send no marker, but come before the
    /// record that closes it.
    pub(crate) fn before(&mut self, first: u64) -> Option<(u64, u64)> {
        let n = self.next.take()?;
        (n < first).then(|| (n, first - 1))
    }

    /// Sequence numbers dropped and not yet read back, with `last_dropped`
    /// the latest drop.
    pub(crate) fn unread(&self, last_dropped: u64) -> u64 {
        self.next
            .map_or(0, |n| (last_dropped + 1).saturating_sub(n))
    }
}

impl MonitorHandle {
    /// A monitor with `cfg` (checked); start its thread with [`start`](Self::start).
    pub fn new(
        cfg: MonitorConfig,
        embeddings: Option<crate::upstream::Deployment>,
    ) -> Result<Arc<Self>, proviso_monitor::ConfigError> {
        let monitor = Monitor::new(cfg.clone())?;
        let (tx, rx) = std::sync::mpsc::channel();
        Ok(Arc::new(Self {
            tx,
            state: Arc::new(Mutex::new(monitor)),
            notices: RwLock::new(HashMap::new()),
            dropped: AtomicU64::new(0),
            queued: AtomicU64::new(0),
            queued_bytes: std::sync::atomic::AtomicUsize::new(0),
            waiting: std::sync::atomic::AtomicUsize::new(0),
            processed: Arc::new(AtomicU64::new(0)),
            webhook_failures: Arc::new(AtomicU64::new(0)),
            steps: AtomicU64::new(0),
            embedding_failures: AtomicU64::new(0),
            embeddings,
            cfg,
            rx: Mutex::new(Some(rx)),
            backfill: Mutex::new(None),
            backfilling: AtomicBool::new(false),
            gap_open: AtomicBool::new(false),
            last_dropped: AtomicU64::new(0),
            unread: AtomicU64::new(0),
            replayed_to: AtomicU64::new(0),
            backfilled: AtomicU64::new(0),
            backfill_failures: AtomicU64::new(0),
            suspended_at: Mutex::new(HashMap::new()),
        }))
    }

    /// Rebuilds the state from the ledger (exchanges, and the ladder's own
    /// events), then puts notices and throttles back in force.
    pub fn replay(
        &self,
        reader: &dyn LedgerReader,
        quotas: &QuotaService,
    ) -> Result<u64, proviso_ledger::LedgerError> {
        let Ok(mut m) = self.state.lock() else {
            return Ok(0);
        };
        let mut n = 0u64;
        let mut suspended: Vec<(String, i64)> = Vec::new();
        let mut last = 0u64;
        reader.scan(1, &mut |c| {
            last = c.seq;
            m.replay(&c.record);
            // When the ladder itself suspended a key (not a step awaiting
            // review): a later served request means it was reinstated.
            if matches!(
                c.record.endpoint.as_str(),
                "monitor.suspend" | "monitor.revoke"
            ) && let Some(k) = &c.record.key_id
            {
                suspended.push((k.0.clone(), c.record.time.0));
            }
            n += 1;
            true
        })?;
        if let Ok(mut s) = self.suspended_at.lock() {
            s.extend(suspended);
        }
        // Score everything once; what the ladder already did is in the
        // ledger, and a step now due is taken on the key's next request.
        m.set_enforcing(false);
        m.evaluate_all();
        m.set_enforcing(true);
        // Under the state's lock: a queued record the replay covered is
        // not observed again (`step` reads this under the same lock).
        self.replayed_to.store(last, Ordering::Release);
        for (key, level) in m.enforced() {
            self.put_in_force(&key, level, quotas);
        }
        Ok(n)
    }

    /// What a key at `level` has in force on this replica: the notice and
    /// the throttle, where the ladder takes them by itself. (Suspension
    /// and revocation live in the key store.)
    fn put_in_force(&self, key: &str, level: Level, quotas: &QuotaService) {
        let l = &self.cfg.ladder;
        if level >= Level::Notice && l.notice == Mode::Auto {
            self.set_notice(key, level);
        }
        if level >= Level::Throttle && l.throttle == Mode::Auto {
            quotas.throttle(
                key,
                l.throttle_requests_per_minute,
                l.throttle_tokens_per_minute,
            );
        }
    }

    /// Queues a committed record; never waits. The queue is bounded in
    /// records (`[monitor] queue`) and in bytes (`queue_bytes`).
    pub fn observe(&self, rec: Record) {
        self.observe_at(None, rec);
    }

    /// [`observe`](Self::observe) a record with its sequence number: when
    /// the queue is full and a reader was given
    /// ([`set_backfill`](Self::set_backfill)), the number is kept and the
    /// monitor thread reads the record back from the ledger. The records
    /// must come in the ledger's order.
    pub fn observe_at(&self, seq: Option<u64>, rec: Record) {
        if self.offer_at(seq, rec) != Offered::Queued {
            self.dropped.fetch_add(1, Ordering::Relaxed);
            if let Some(seq) = seq
                && self.backfilling.load(Ordering::Relaxed)
            {
                self.last_dropped.store(seq, Ordering::Release);
                // A run's start goes through the queue (a few bytes,
                // never refused), so the monitor meets it in order.
                if !self.gap_open.swap(true, Ordering::Relaxed) {
                    let _ = self.tx.send(Queued::Dropped(seq));
                }
            }
            return;
        }
        if self.gap_open.load(Ordering::Relaxed) {
            self.gap_open.store(false, Ordering::Relaxed);
        }
    }

    /// Queues a record if the queue has room; false (the record let go,
    /// nothing counted) when it is full: for a feeder that can offer it
    /// again later (the chain's feed, which reads it again on its next
    /// pass).
    pub fn offer(&self, seq: u64, rec: Record) -> bool {
        match self.offer_at(Some(seq), rec) {
            Offered::Queued => true,
            Offered::Full => false,
            // No monitor thread to take it: counted as dropped, not
            // offered again.
            Offered::Closed => {
                self.dropped.fetch_add(1, Ordering::Relaxed);
                true
            }
        }
    }

    fn offer_at(&self, seq: Option<u64>, rec: Record) -> Offered {
        let size = queued_size(&rec);
        let before = self.queued_bytes.fetch_add(size, Ordering::Relaxed);
        let ahead = self.waiting.fetch_add(1, Ordering::Relaxed);
        // An empty queue takes a record of any size: a feed that offers
        // it again must not wait for it for ever.
        let full = ahead > 0
            && (before.saturating_add(size) > self.cfg.queue_bytes.max(MIN_QUEUE_BYTES)
                || ahead >= self.cfg.queue.max(1));
        if full {
            self.unqueued(size);
            return Offered::Full;
        }
        if self.tx.send(Queued::Record(seq, rec)).is_err() {
            self.unqueued(size);
            return Offered::Closed;
        }
        self.queued.fetch_add(1, Ordering::Relaxed);
        Offered::Queued
    }

    /// The ledger the monitor thread reads back what its queue dropped
    /// from. It reads on idle time, so `reader` should do its reading on
    /// a thread of normal priority (a SQLite read transaction held while
    /// waiting for the CPU keeps the write-ahead log from restarting).
    pub fn set_backfill(&self, reader: Arc<dyn LedgerReader + Send + Sync>) {
        if let Ok(mut b) = self.backfill.lock() {
            *b = Some(reader);
            self.backfilling.store(true, Ordering::Relaxed);
        }
    }

    /// Sequence numbers of dropped observations not yet read back (a
    /// bound: a run may hold records the monitor does not observe).
    pub fn unread(&self) -> u64 {
        self.unread.load(Ordering::Relaxed)
    }

    /// Gives back the place (one record, `size` bytes) an observation took
    /// in the queue: it was dropped, or the monitor thread has taken it.
    fn unqueued(&self, size: usize) {
        self.queued_bytes.fetch_sub(size, Ordering::Relaxed);
        self.waiting.fetch_sub(1, Ordering::Relaxed);
    }

    /// Starts again from nothing (a replica that has just become the
    /// deployment's monitor rebuilds from the whole ledger after this).
    pub fn reset(&self) -> Result<(), proviso_monitor::ConfigError> {
        let fresh = Monitor::new(self.cfg.clone())?;
        if let Ok(mut m) = self.state.lock() {
            *m = fresh;
        }
        if let Ok(mut n) = self.notices.write() {
            n.clear();
        }
        if let Ok(mut s) = self.suspended_at.lock() {
            s.clear();
        }
        Ok(())
    }

    /// What another replica's monitor did, read from the shared chain: its
    /// notices and throttles take effect here too (suspension and
    /// revocation already did, through the shared key store), and a review
    /// closed anywhere lifts them. `acting`: this replica runs the monitor
    /// (its own steps are already in force; a review closed on another
    /// replica resets the key here).
    pub fn follow_event(&self, rec: &Record, quotas: &QuotaService, acting: bool) {
        if rec.kind != RecordKind::Event {
            return;
        }
        let Some(key) = rec.key_id.as_ref().map(|k| k.0.as_str()) else {
            return;
        };
        let name = rec.endpoint.as_str();
        if name == "monitor.cleared" || (!acting && name == "key.reinstated") {
            self.clear(key, quotas);
            return;
        }
        if acting {
            return;
        }
        let detail: serde_json::Value =
            serde_json::from_str(rec.detail.as_deref().unwrap_or("{}")).unwrap_or_default();
        if detail.get("mode").and_then(|m| m.as_str()) != Some("auto") {
            return;
        }
        let Some(level) = name.strip_prefix("monitor.").and_then(Level::parse) else {
            return;
        };
        if let Ok(mut m) = self.state.lock() {
            m.note_step(key, level);
        }
        self.put_in_force(key, level, quotas);
    }

    /// The notice in force on a key, for the `Proviso-Notice` header.
    pub fn notice(&self, key: &str) -> Option<String> {
        self.notices.read().ok()?.get(key).cloned()
    }

    fn set_notice(&self, key: &str, level: Level) {
        if let Ok(mut n) = self.notices.write() {
            n.insert(
                key.to_owned(),
                format!(
                    "usage of this key is under review for patterns of model extraction (level {level}); see your provider's terms"
                ),
            );
        }
    }

    /// Lifts the notice and throttle on `key` and watches it afresh (an
    /// administrator closed the review; the caller recorded it).
    pub fn clear(&self, key: &str, quotas: &QuotaService) {
        if let Ok(mut m) = self.state.lock() {
            m.reset_key(key);
        }
        if let Ok(mut n) = self.notices.write() {
            n.remove(key);
        }
        quotas.unthrottle(key);
    }

    /// Keys and clusters by risk, as last scored.
    pub fn report(&self) -> Vec<ActorReport> {
        self.state.lock().map(|m| m.report()).unwrap_or_default()
    }

    /// Observations taken in, keys with state.
    pub fn totals(&self) -> (u64, usize) {
        self.state
            .lock()
            .map(|m| (m.observed(), m.active_keys()))
            .unwrap_or((0, 0))
    }

    /// Starts the monitor thread. Webhooks run on `rt`.
    pub fn start(
        self: &Arc<Self>,
        ledger: LedgerHandle,
        keys: Arc<KeyCache>,
        quotas: Arc<QuotaService>,
        rt: tokio::runtime::Handle,
    ) {
        let Some(rx) = self.rx.lock().ok().and_then(|mut r| r.take()) else {
            return;
        };
        let me = self.clone();
        let spawned = std::thread::Builder::new()
            .name("proviso-monitor".into())
            .spawn(move || {
                lowest_priority();
                let http = reqwest::Client::builder()
                    .timeout(Duration::from_secs(10))
                    .build()
                    .ok();
                // Polls rather than blocks: a receiver asleep in `recv` would
                // make every sender pay for a wake-up (a system call) on
                // the request path, and take the channel's lock, which this
                // thread of idle priority could hold while it waits for the
                // core (see `tx`). Idle, it looks every 2 ms.
                let hands = Hands {
                    ledger: &ledger,
                    keys: &keys,
                    quotas: &quotas,
                    rt: &rt,
                    http: http.as_ref(),
                };
                let mut reader = None;
                let mut behind = Behind::default();
                let mut open = true;
                while open {
                    if reader.is_none() {
                        reader = me.backfill.lock().ok().and_then(|b| b.clone());
                    }
                    let mut batch = Vec::new();
                    while batch.len() < 64 {
                        match rx.try_recv() {
                            Ok(Queued::Record(seq, rec)) => {
                                me.unqueued(queued_size(&rec));
                                batch.push((seq, rec));
                            }
                            Ok(Queued::Dropped(seq)) => {
                                // What came before it first, in order.
                                let taken = std::mem::take(&mut batch);
                                me.process_queued(taken, &mut behind, reader.as_deref(), &hands);
                                behind.dropped_from(seq);
                            }
                            Err(std::sync::mpsc::TryRecvError::Empty) => break,
                            Err(std::sync::mpsc::TryRecvError::Disconnected) => {
                                open = false;
                                break;
                            }
                        }
                    }
                    if batch.is_empty() {
                        // Idle: what the queue dropped, read back.
                        let last = me.last_dropped.load(Ordering::Acquire);
                        match (behind.idle(last), reader.as_deref()) {
                            (Some(range), Some(r)) => {
                                let reached = me.read_back(range, r, &hands);
                                behind.read_to(reached);
                                if reached < range.1 {
                                    behind.give_up();
                                }
                            }
                            (Some(_), None) => {
                                me.backfill_failures.fetch_add(1, Ordering::Relaxed);
                                behind.give_up();
                            }
                            (None, _) => std::thread::sleep(Duration::from_millis(2)),
                        }
                    } else {
                        me.process_queued(batch, &mut behind, reader.as_deref(), &hands);
                    }
                    let last = me.last_dropped.load(Ordering::Acquire);
                    me.unread.store(behind.unread(last), Ordering::Relaxed);
                }
            });
        if let Err(e) = spawned {
            tracing::error!(error = %e, "cannot start the monitor thread");
        }
    }

    /// Observes `batch` in order (`queued`: taken from the queue, else read
    /// back from the ledger) and carries out what the ladder decides.
    fn process(&self, batch: Vec<(Option<u64>, Record)>, queued: bool, hands: &Hands<'_>) {
        if batch.is_empty() {
            return;
        }
        let mut obs: Vec<Option<proviso_monitor::Observation>> = batch
            .iter()
            .map(|(_, r)| proviso_monitor::Observation::from_record(r))
            .collect();
        if let Some(dep) = &self.embeddings {
            self.embed(dep, &mut obs, hands.rt);
        }
        for ((seq, rec), o) in batch.iter().zip(obs) {
            self.step(*seq, rec, o, hands);
            let counter = if queued {
                &self.processed
            } else {
                &self.backfilled
            };
            counter.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Observes queued records in the ledger's order: the run of drops
    /// before them, if any, read back first; a record a read-back read
    /// already (an idle one, while it was being queued) is passed over.
    fn process_queued(
        &self,
        batch: Vec<(Option<u64>, Record)>,
        behind: &mut Behind,
        reader: Option<&(dyn LedgerReader + Send + Sync)>,
        hands: &Hands<'_>,
    ) {
        if let Some(first) = batch.iter().find_map(|b| b.0)
            && let Some(range) = behind.before(first)
        {
            let reached = match reader {
                Some(r) => self.read_back(range, r, hands),
                None => {
                    self.backfill_failures.fetch_add(1, Ordering::Relaxed);
                    range.0 - 1
                }
            };
            behind.read_to(reached);
        }
        let mut run = Vec::with_capacity(batch.len());
        for (seq, rec) in batch {
            if let Some(s) = seq
                && !behind.queued(s)
            {
                self.processed.fetch_add(1, Ordering::Relaxed);
                continue;
            }
            run.push((seq, rec));
        }
        self.process(run, true, hands);
    }

    /// Reads back from the ledger, and observes, the records `first` to
    /// `last` (those of them the monitor observes: the ones the queue
    /// dropped, and, when idle, queued ones not yet taken from the queue),
    /// a page at a time.
    /// Gives the last sequence number it read, `last` unless the read
    /// failed (counted in `backfill_failures`; the rest is given up).
    fn read_back(
        &self,
        (first, last): (u64, u64),
        reader: &dyn LedgerReader,
        hands: &Hands<'_>,
    ) -> u64 {
        const PAGE: usize = 64;
        let mut page = Vec::with_capacity(PAGE);
        let mut reached = first - 1;
        let scanned = reader.scan_range(first, last, &mut |c| {
            reached = c.seq;
            if observable(&c.record) {
                page.push((Some(c.seq), slim(c.record)));
                if page.len() >= PAGE {
                    self.process(std::mem::take(&mut page), false, hands);
                }
            }
            true
        });
        self.process(page, false, hands);
        match scanned {
            Ok(()) => last,
            Err(e) => {
                tracing::warn!(error = %e, first, last, reached, "the monitor could not read back what its queue dropped");
                self.backfill_failures.fetch_add(1, Ordering::Relaxed);
                reached
            }
        }
    }

    /// Asks the embeddings model for the vectors of a batch's prompts (one
    /// call); on failure the batch adds no vectors and the failure is
    /// counted.
    fn embed(
        &self,
        dep: &crate::upstream::Deployment,
        obs: &mut [Option<proviso_monitor::Observation>],
        rt: &tokio::runtime::Handle,
    ) {
        let want: Vec<usize> = obs
            .iter()
            .enumerate()
            .filter(|(_, o)| {
                o.as_ref()
                    .is_some_and(|o| !o.rate_limited && !o.prompt.is_empty())
            })
            .map(|(i, _)| i)
            .collect();
        if want.is_empty() {
            return;
        }
        let inputs: Vec<String> = want
            .iter()
            .filter_map(|i| obs[*i].as_ref())
            .map(|o| o.prompt.chars().take(8_000).collect())
            .collect();
        let body = json!({"model": dep.model, "input": inputs}).to_string();
        let req = dep
            .upstream
            .post(crate::upstream::Endpoint::Embeddings, &dep.model)
            .timeout(Duration::from_secs(10))
            .body(body);
        let answer = rt.block_on(async move {
            let r = req.send().await.map_err(|e| e.to_string())?;
            if !r.status().is_success() {
                return Err(format!("status {}", r.status()));
            }
            let body = r.bytes().await.map_err(|e| e.to_string())?;
            serde_json::from_slice::<serde_json::Value>(&body).map_err(|e| e.to_string())
        });
        let data = match answer {
            Ok(v) => v
                .get("data")
                .and_then(|d| d.as_array())
                .cloned()
                .unwrap_or_default(),
            Err(e) => {
                self.embedding_failures.fetch_add(1, Ordering::Relaxed);
                tracing::warn!(error = %e, "monitor embeddings call failed; this batch adds no vectors");
                return;
            }
        };
        for (pos, item) in data.iter().enumerate() {
            let at = item
                .get("index")
                .and_then(|i| i.as_u64())
                .map_or(pos, |i| i as usize);
            let vector: Option<Vec<f32>> = item
                .get("embedding")
                .and_then(|e| e.as_array())
                .map(|a| a.iter().map(|x| x.as_f64().unwrap_or(0.0) as f32).collect());
            if let (Some(i), Some(v)) = (want.get(at), vector)
                && let Some(Some(o)) = obs.get_mut(*i)
            {
                o.vector = Some(v);
            }
        }
    }

    /// Takes in one committed record and carries out what it leads to.
    fn step(
        &self,
        seq: Option<u64>,
        rec: &Record,
        obs: Option<proviso_monitor::Observation>,
        hands: &Hands<'_>,
    ) {
        let Some(obs) = obs else {
            return;
        };
        let decisions = {
            let Ok(mut m) = self.state.lock() else { return };
            // In the state already: rebuilt from the ledger since it was
            // queued.
            if seq.is_some_and(|s| s <= self.replayed_to.load(Ordering::Acquire)) {
                return;
            }
            // A key the ladder suspended that is served again, on a request
            // that arrived after the suspension, and is active in the key
            // store, was reinstated by an administrator: watch it afresh.
            if m.enforced_level(&obs.key) >= Level::Suspend
                && rec.status == 200
                && self.reinstated(&obs.key, rec.time, hands.keys)
            {
                m.reset_key(&obs.key);
                if let Ok(mut n) = self.notices.write() {
                    n.remove(&obs.key);
                }
                hands.quotas.unthrottle(&obs.key);
            }
            m.observe(&obs)
        };
        for d in decisions {
            self.carry_out(&d, obs.time, hands);
        }
    }

    fn reinstated(&self, key: &str, at: UnixMillis, keys: &KeyCache) -> bool {
        // Only a suspension the ladder carried out can be lifted: a step
        // awaiting review (manual) left the key active, throttled.
        let after = self
            .suspended_at
            .lock()
            .map(|s| s.get(key).is_some_and(|t| at.0 > *t))
            .unwrap_or(false);
        after && keys.state_of(key) == Some(KeyState::Active)
    }

    /// Records a ladder step and, in automatic mode, takes it.
    fn carry_out(&self, d: &Decision, now: UnixMillis, hands: &Hands<'_>) {
        self.steps.fetch_add(1, Ordering::Relaxed);
        let l = &self.cfg.ladder;
        let name = if d.mode == Mode::Manual {
            "monitor.review".to_owned()
        } else {
            format!("monitor.{}", d.level)
        };
        let detail = json!({
            "level": d.level,
            "mode": d.mode,
            "actor": d.actor,
            "score": d.score,
            "signals": d.signals,
            "evidence": d.evidence,
            "limits": (d.level == Level::Throttle).then(|| json!({
                "requests_per_minute": l.throttle_requests_per_minute,
                "tokens_per_minute": l.throttle_tokens_per_minute,
            })),
        });
        let id = RecordId::new_at(now);
        let rec = Record::event(
            id,
            &name,
            Some(KeyId(d.key.clone())),
            Some(d.team.clone()),
            detail.to_string(),
        );
        if let Err(e) = hands.ledger.append_blocking(rec) {
            // Without its record a step must not be taken: the ledger is the
            // investigation's evidence. The monitor will decide again.
            tracing::error!(error = %e, key = %d.key, step = %d.level, "cannot record a ladder step; not taken");
            if let Ok(mut m) = self.state.lock() {
                m.forget_step(&d.key, d.level);
            }
            return;
        }
        tracing::warn!(key = %d.key, step = %d.level, mode = ?d.mode, score = d.score, actor = %d.actor, "monitor ladder step");
        if d.mode == Mode::Auto {
            match d.level {
                Level::Ok => {}
                Level::Notice => self.set_notice(&d.key, d.level),
                Level::Throttle => hands.quotas.throttle(
                    &d.key,
                    l.throttle_requests_per_minute,
                    l.throttle_tokens_per_minute,
                ),
                Level::Suspend | Level::Revoke => {
                    // As on replay: a suspension or revocation the ladder
                    // carried out, which a later served request shows lifted.
                    if let Ok(mut s) = self.suspended_at.lock() {
                        s.insert(d.key.clone(), now.0);
                    }
                    let (reason, revoke_at) = if d.level == Level::Suspend {
                        let reason = format!(
                            "suspended pending review by the monitor (score {:.3}, {})",
                            d.score, d.actor
                        );
                        (reason, None)
                    } else {
                        let at = UnixMillis(now.0.saturating_add(l.revoke_notice_ms as i64));
                        let reason = format!(
                            "to be revoked at {} unless reinstated (monitor score {:.3})",
                            at.to_rfc3339(),
                            d.score
                        );
                        (reason, Some(at))
                    };
                    self.suspend(
                        hands,
                        &Suspension {
                            key: &d.key,
                            now,
                            reason: &reason,
                            revoke_at,
                        },
                    );
                }
            }
        }
        if let (Some(url), Some(http)) = (self.cfg.webhook_url.clone(), hands.http.cloned()) {
            let body = json!({
                "event": name,
                "record_id": id.to_string(),
                "key_id": d.key,
                "team": d.team,
                "level": d.level,
                "mode": d.mode,
                "score": d.score,
                "actor": d.actor,
                "signals": d.signals,
                "evidence": d.evidence,
                "time": now.to_rfc3339(),
            });
            let attempts = self.cfg.webhook_attempts.max(1);
            let failures = Arc::clone(&self.webhook_failures);
            hands.rt.spawn(async move {
                let mut delay = Duration::from_millis(500);
                for attempt in 1..=attempts {
                    match http
                        .post(&url)
                        .header("content-type", "application/json")
                        .body(body.to_string())
                        .send()
                        .await
                    {
                        Ok(r) if r.status().is_success() => return,
                        Ok(r) => {
                            tracing::warn!(status = %r.status(), attempt, "monitor webhook refused")
                        }
                        // The URL may carry a token: never logged.
                        Err(e) => tracing::warn!(error = %e.without_url(), attempt, "monitor webhook failed"),
                    }
                    if attempt < attempts {
                        tokio::time::sleep(delay).await;
                        delay = (delay * 2).min(Duration::from_secs(60));
                    }
                }
                failures.fetch_add(1, Ordering::Relaxed);
                tracing::error!(attempts, "monitor webhook gave up");
            });
        }
    }

    /// Suspends a key (or, already suspended, schedules its revocation)
    /// through the one lifecycle path.
    fn suspend(&self, hands: &Hands<'_>, s: &Suspension<'_>) {
        let (key, revoke_at) = (s.key, s.revoke_at);
        let id = KeyId(key.to_owned());
        let actor = crate::lifecycle::Actor {
            by: "monitor",
            reason: s.reason,
            now: s.now,
        };
        let result = hands.keys.with_store(|st| {
            crate::lifecycle::change_key(
                st,
                crate::lifecycle::to_ledger(hands.ledger),
                proviso_access::KeyEvent::Suspended,
                &actor,
                |t: &Option<proviso_access::KeyRecord>| t.as_ref(),
                |st, change| {
                    let Some(k) = st.get(&id)? else {
                        return Ok(None);
                    };
                    let updated = match (k.state, revoke_at) {
                        (KeyState::Active, at) => st.suspend_until(&id, at, change)?,
                        (KeyState::Suspended, Some(at)) => {
                            st.schedule_revocation(&id, at, change)?
                        }
                        _ => return Ok(None),
                    };
                    Ok(Some(updated))
                },
            )
        });
        if let Err(e) = result {
            tracing::error!(error = %e, key, "the monitor cannot change the key (or record the change)");
        }
    }
}

/// What the monitor's thread enforces with: the ledger its steps are
/// recorded in, the keys it suspends, the quotas it throttles, and the
/// runtime and client its webhook is called with.
struct Hands<'a> {
    ledger: &'a LedgerHandle,
    keys: &'a KeyCache,
    quotas: &'a QuotaService,
    rt: &'a tokio::runtime::Handle,
    http: Option<&'a reqwest::Client>,
}

/// A suspension the ladder takes (with `revoke_at`: the revocation it
/// schedules for an already suspended key).
struct Suspension<'a> {
    key: &'a str,
    now: UnixMillis,
    reason: &'a str,
    revoke_at: Option<UnixMillis>,
}

/// Runs the calling thread (the monitor's) only when a core is otherwise
/// idle (Linux `SCHED_IDLE`), so scoring never takes CPU from the request
/// path; under saturation the queue fills, and what it drops is counted
/// and read back from the ledger when the thread has time.
fn lowest_priority() {
    #[cfg(target_os = "linux")]
    {
        use thread_priority::unix::{
            NormalThreadSchedulePolicy, ThreadSchedulePolicy, set_thread_priority_and_policy,
            thread_native_id,
        };
        let r = set_thread_priority_and_policy(
            thread_native_id(),
            thread_priority::ThreadPriority::Min,
            ThreadSchedulePolicy::Normal(NormalThreadSchedulePolicy::Idle),
        );
        if let Err(e) = r {
            tracing::warn!(error = ?e, "cannot lower the monitor thread's priority");
        }
    }
}

/// Whether a record is one the monitor learns from (exchanges with a key).
pub fn observable(rec: &Record) -> bool {
    rec.kind == RecordKind::Exchange && rec.key_id.is_some()
}

/// The smallest byte bound of the queue: room for one request of the
/// default body limit (4 MiB) with its record, so that a large prompt is
/// never refused for its size alone.
pub const MIN_QUEUE_BYTES: usize = 5 * 1024 * 1024;

/// The memory a queued record holds (what [`slim`] leaves): its place in
/// the queue and every text it owns, each with an allocation's overhead.
/// Counted as held, not as written, so that `queue_bytes` bounds the
/// process's memory (a queue counted by its requests alone held twice its
/// bound in small records).
fn queued_size(rec: &Record) -> usize {
    const PER_ALLOCATION: usize = 16;
    let texts = [
        Some(&rec.request),
        Some(&rec.output),
        Some(&rec.endpoint),
        rec.detail.as_ref(),
        rec.response.as_ref(),
        rec.team.as_ref(),
        rec.model.as_ref(),
        rec.upstream.as_ref(),
        rec.upstream_model.as_ref(),
        rec.finish_reason.as_ref(),
        rec.error_code.as_ref(),
        rec.error.as_ref(),
        rec.key_id.as_ref().map(|k| &k.0),
    ];
    std::mem::size_of::<Record>()
        + texts
            .into_iter()
            .flatten()
            .map(|t| t.capacity() + PER_ALLOCATION)
            .sum::<usize>()
}

/// The record without what the monitor never reads (the output, but for
/// its hash, and the response body), so the queue holds little. The request stays whole: the
/// monitor reads it as JSON (a cut one would read as nothing, and padding a
/// prompt would hide it); the queue's byte bound limits what waits. An
/// answer without reported usage keeps its estimated length (the monitor
/// estimates it from the output on replay, the same way).
pub fn slim(mut rec: Record) -> Record {
    if rec.usage.is_none() && !rec.output.is_empty() {
        let (prompt, completion) = proviso_monitor::observation::tokens_of(&rec);
        rec.usage = Some(proviso_types::Usage {
            prompt_tokens: prompt,
            completion_tokens: completion,
            total_tokens: prompt.saturating_add(completion),
        });
    }
    // The answer's hash stays: the monitor holds the turns a later request
    // shows the model as having said against the key's answers.
    proviso_monitor::observation::keep_answer_hash(&mut rec);
    rec.output = String::new();
    rec.response = None;
    rec.error = None;
    rec
}

#[cfg(test)]
#[path = "monitor_tests.rs"]
mod tests;
