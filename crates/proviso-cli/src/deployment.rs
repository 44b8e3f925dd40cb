//! Jobs done once for a deployment of several replicas on PostgreSQL,
//! each by the replica holding its lock (proviso_postgres::Leadership):
//! the extraction monitor and the index follower.
//!
//! The monitor: every replica follows the shared chain. The one holding
//! the monitor's lock scores every replica's exchanges and takes the
//! ladder's steps (each a ledger event), and publishes its report for
//! `/admin/monitor`; the others score nothing and put in force the steps
//! they read in the chain (notice, throttle; suspension and revocation
//! reach them through the shared key store). When the monitor's replica
//! dies another takes the lock, rebuilds the monitor from the whole chain
//! and goes on.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use proviso_gateway::config::{LedgerOpener, ReportSource};
use proviso_gateway::monitor::{MonitorHandle, observable, slim};
use proviso_gateway::quota::QuotaService;
use proviso_ledger::RecordKind;
use proviso_postgres::{Leadership, MonitorReports, PgConfig, jobs};

/// How often the chain is read for new records.
const FOLLOW_EVERY: Duration = Duration::from_millis(200);
/// How often the monitor's replica publishes its report.
const PUBLISH_EVERY: Duration = Duration::from_secs(2);
/// Most records read from the chain in one pass.
const PASS: usize = 5_000;
/// How long the feed waits when the monitor's queue is full before it
/// offers the record again.
const QUEUE_FULL_WAIT: Duration = Duration::from_millis(5);

/// For `/admin/monitor` on a replica that does not run the monitor: the
/// report the one that does published.
pub fn report_source(pg: PgConfig, acting: Arc<AtomicBool>) -> ReportSource {
    let reports = std::sync::Mutex::new(MonitorReports::new(pg));
    ReportSource(Arc::new(move || {
        if acting.load(Ordering::SeqCst) {
            return None;
        }
        let mut r = reports
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        Some(match r.latest() {
            Ok(Some((_, _, json))) => Ok(json),
            Ok(None) => Ok("[]".to_owned()),
            Err(e) => Err(e),
        })
    }))
}

/// Starts the monitor's feed from the chain, from record `next` on (what
/// the start-up replay read before it).
pub fn start_monitor_feed(
    pg: PgConfig,
    monitor: Arc<MonitorHandle>,
    quotas: Arc<QuotaService>,
    open: LedgerOpener,
    next: u64,
    acting: Arc<AtomicBool>,
    stop: Arc<AtomicBool>,
) -> std::io::Result<std::thread::JoinHandle<()>> {
    std::thread::Builder::new()
        .name("monitor-feed".into())
        .spawn(move || {
            let mut feed = Feed {
                lead: Leadership::new(pg.clone(), jobs::MONITOR),
                reports: MonitorReports::new(pg),
                monitor,
                quotas,
                open,
                next,
                acting,
                published: None,
                stale: false,
            };
            while !stop.load(Ordering::Relaxed) {
                let full = feed.pass();
                if !full {
                    std::thread::sleep(FOLLOW_EVERY);
                }
            }
            feed.lead.release();
            feed.acting.store(false, Ordering::SeqCst);
        })
}

struct Feed {
    lead: Leadership,
    reports: MonitorReports,
    monitor: Arc<MonitorHandle>,
    quotas: Arc<QuotaService>,
    open: LedgerOpener,
    next: u64,
    acting: Arc<AtomicBool>,
    published: Option<Instant>,
    /// Records were followed without being scored: the monitor must be
    /// rebuilt before this replica runs it.
    stale: bool,
}

impl Feed {
    /// One pass: the lock, the chain's new records, the report. True when
    /// the pass stopped at its bound (more is waiting).
    fn pass(&mut self) -> bool {
        let acting = self.lead.check();
        let was = self.acting.swap(acting, Ordering::SeqCst);
        if acting && !was && self.stale && !self.rebuild() {
            // Not rebuilt: give the job back and try again later.
            self.lead.release();
            self.acting.store(false, Ordering::SeqCst);
            return false;
        }
        let reader = match (self.open.0)() {
            Ok(r) => r,
            Err(e) => {
                tracing::warn!(error = %e, "monitor feed: cannot read the ledger");
                return false;
            }
        };
        let mut seen = 0usize;
        let mut waiting = false;
        let (monitor, quotas, next) = (&self.monitor, &self.quotas, &mut self.next);
        let read = reader.scan(*next, &mut |c| {
            if acting && observable(&c.record) {
                // A full queue: this record is read again on the next
                // pass, shortly. The feed waits for the monitor, it drops
                // nothing.
                if !monitor.offer(c.seq, slim(c.record)) {
                    waiting = true;
                    return false;
                }
            } else if c.record.kind == RecordKind::Event {
                monitor.follow_event(&c.record, quotas, acting);
            }
            *next = c.seq + 1;
            seen += 1;
            seen < PASS
        });
        if let Err(e) = read {
            tracing::warn!(error = %e, "monitor feed: reading the chain failed");
        }
        if !acting && seen > 0 {
            self.stale = true;
        }
        if acting && self.published.is_none_or(|t| t.elapsed() >= PUBLISH_EVERY) {
            let json =
                serde_json::to_string(&self.monitor.report()).unwrap_or_else(|_| "[]".into());
            match self
                .reports
                .publish(&json, proviso_types::UnixMillis::now().0)
            {
                Ok(()) => self.published = Some(Instant::now()),
                Err(e) => tracing::warn!(error = %e, "publishing the monitor's report failed"),
            }
        }
        if waiting {
            // Room is made at the monitor's pace: a short wait, then on.
            std::thread::sleep(QUEUE_FULL_WAIT);
            return true;
        }
        seen >= PASS
    }

    /// This replica has just taken the monitor's job: its monitor followed
    /// only the steps so far; rebuild it from the whole chain.
    fn rebuild(&mut self) -> bool {
        let t = Instant::now();
        let reader = match (self.open.0)() {
            Ok(r) => r,
            Err(e) => {
                tracing::warn!(error = %e, "monitor feed: cannot read the ledger to rebuild");
                return false;
            }
        };
        if let Err(e) = self.monitor.reset() {
            tracing::error!(error = %e, "monitor feed: cannot reset the monitor");
            return false;
        }
        match self.monitor.replay(reader.as_ref(), &self.quotas) {
            Ok(n) => {
                self.next = n + 1;
                self.stale = false;
                tracing::info!(
                    records = n,
                    ms = t.elapsed().as_millis() as u64,
                    "this replica runs the deployment's monitor; rebuilt from the ledger"
                );
                true
            }
            Err(e) => {
                tracing::warn!(error = %e, "monitor feed: rebuilding from the ledger failed");
                false
            }
        }
    }
}

/// The index follower's claim: with a shared ledger only the replica
/// holding it indexes (into `[index] dir`, which replicas on several
/// machines share). Without PostgreSQL there is one replica: always.
///
/// The claim is kept by a thread of its own at normal priority, which
/// checks the lock's session every [`TURN_HEARTBEAT`]: the follower runs
/// on idle CPU time (`crate::background`) and may be starved for longer
/// than the session's `idle_session_timeout` on a busy machine, which
/// would hand the job to another replica while this one still writes.
pub struct FollowerTurn(Option<Heartbeat>);

struct Heartbeat {
    mine: Arc<AtomicBool>,
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

/// How often the follower's claim is checked (well within the lock
/// session's 15 s `idle_session_timeout`).
const TURN_HEARTBEAT: Duration = Duration::from_secs(2);

impl FollowerTurn {
    /// The claim for `pg` (none without it).
    pub fn new(pg: Option<PgConfig>) -> std::io::Result<Self> {
        let Some(pg) = pg else {
            return Ok(Self(None));
        };
        let mut lead = Leadership::new(pg, jobs::FOLLOWER);
        let mine = Arc::new(AtomicBool::new(lead.check()));
        let stop = Arc::new(AtomicBool::new(false));
        let (m, st) = (mine.clone(), stop.clone());
        let thread = std::thread::Builder::new()
            .name("follower-claim".into())
            .spawn(move || {
                while !st.load(Ordering::Relaxed) {
                    let until = Instant::now() + TURN_HEARTBEAT;
                    while Instant::now() < until && !st.load(Ordering::Relaxed) {
                        std::thread::sleep(Duration::from_millis(50));
                    }
                    m.store(lead.check(), Ordering::SeqCst);
                }
            })?;
        Ok(Self(Some(Heartbeat {
            mine,
            stop,
            thread: Some(thread),
        })))
    }

    /// Whether this replica indexes now (as of the last heartbeat).
    pub fn mine(&self) -> bool {
        self.0
            .as_ref()
            .is_none_or(|h| h.mine.load(Ordering::SeqCst))
    }
}

impl Drop for Heartbeat {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}
