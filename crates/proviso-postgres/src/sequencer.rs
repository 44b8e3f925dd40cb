//! The one sequencer: elected by an advisory lock on a dedicated session,
//! it moves pending records into the chain, a batch per transaction.

use std::collections::HashSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;

use proviso_ledger::{LedgerError, Record, Sequencer};

use crate::PgConfig;
use crate::error::ledger_error;
use crate::schema::LOCK_SEQUENCER;
use crate::state::decode_state;

/// Copies of record fields kept beside the body for queries: text that
/// PostgreSQL cannot hold (NUL) is replaced; the body keeps it.
fn column(s: &str) -> String {
    s.replace('\0', "\u{fffd}")
}

fn i64_of(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

/// Chains up to `max` pending records in one transaction; returns how
/// many left the queue (records already in the chain, queued again by a
/// retry, are dropped from the queue without being chained twice).
/// Sequencers that run at once take turns on the tree state's row lock.
pub fn sequence_batch(
    client: &mut postgres::Client,
    checkpoint_every: u64,
    max: usize,
) -> Result<usize, LedgerError> {
    let e = |e: postgres::Error| ledger_error(&e);
    let mut tx = client.transaction().map_err(e)?;
    let row = tx
        .query_one(
            "SELECT size, last_hash, frontier FROM ledger_tree_state WHERE id = 1 FOR UPDATE",
            &[],
        )
        .map_err(e)?;
    let state = decode_state(row.get(0), row.get(1), row.get(2))?;
    let limit = i64::try_from(max.max(1)).unwrap_or(i64::MAX);
    let rows = tx
        .query(
            "SELECT id, body FROM ledger_pending ORDER BY queued_us, replica, ord LIMIT $1",
            &[&limit],
        )
        .map_err(e)?;
    if rows.is_empty() {
        tx.rollback().map_err(e)?;
        return Ok(0);
    }
    let ids: Vec<String> = rows.iter().map(|r| r.get(0)).collect();
    let chained_before: HashSet<String> = tx
        .query("SELECT id FROM ledger_records WHERE id = ANY($1)", &[&ids])
        .map_err(e)?
        .iter()
        .map(|r| r.get(0))
        .collect();
    let mut seqr = Sequencer::new(state, checkpoint_every);
    let mut cols = Columns::default();
    let mut done: Vec<String> = Vec::with_capacity(rows.len());
    for row in &rows {
        let id: String = row.get(0);
        if chained_before.contains(&id) {
            done.push(id);
            continue;
        }
        let body: &[u8] = row.get(1);
        let record: Record = match serde_json::from_slice(body) {
            Ok(r) => r,
            Err(err) => {
                // Left in the queue and reported each time: a record is
                // never dropped, and nothing after it waits for it.
                tracing::error!(id, error = %err, "a pending ledger record cannot be read; left in the queue");
                continue;
            }
        };
        let (c, cp) = seqr.sequence(record);
        cols.push(&c, body);
        if let Some(cp) = cp {
            cols.checkpoints.0.push(i64_of(cp.tree_size));
            cols.checkpoints.1.push(cp.root.to_vec());
            cols.checkpoints.2.push(cp.last_hash.to_vec());
            cols.checkpoints.3.push(cp.time.0);
        }
        done.push(id);
    }
    if !cols.seq.is_empty() {
        tx.execute(
            "INSERT INTO ledger_records (seq, id, time_ms, kind, key_id, team, endpoint, model, \
             status, outcome, total_tokens, body, prev_hash, hash) \
             SELECT * FROM unnest($1::int8[], $2::text[], $3::int8[], $4::text[], $5::text[], \
             $6::text[], $7::text[], $8::text[], $9::int4[], $10::text[], $11::int8[], \
             $12::bytea[], $13::bytea[], $14::bytea[])",
            &[
                &cols.seq,
                &cols.id,
                &cols.time_ms,
                &cols.kind,
                &cols.key_id,
                &cols.team,
                &cols.endpoint,
                &cols.model,
                &cols.status,
                &cols.outcome,
                &cols.total_tokens,
                &cols.body,
                &cols.prev_hash,
                &cols.hash,
            ],
        )
        .map_err(e)?;
        if !cols.checkpoints.0.is_empty() {
            tx.execute(
                "INSERT INTO ledger_checkpoints (tree_size, root, last_hash, time_ms) \
                 SELECT * FROM unnest($1::int8[], $2::bytea[], $3::bytea[], $4::int8[])",
                &[
                    &cols.checkpoints.0,
                    &cols.checkpoints.1,
                    &cols.checkpoints.2,
                    &cols.checkpoints.3,
                ],
            )
            .map_err(e)?;
        }
        let st = seqr.state();
        let frontier: Vec<u8> = st.frontier.nodes().concat();
        let last: &[u8] = &st.last_hash[..];
        tx.execute(
            "UPDATE ledger_tree_state SET size = $1, last_hash = $2, frontier = $3 WHERE id = 1",
            &[&i64_of(st.size()), &last, &frontier],
        )
        .map_err(e)?;
    }
    tx.execute("DELETE FROM ledger_pending WHERE id = ANY($1)", &[&done])
        .map_err(e)?;
    tx.commit().map_err(e)?;
    Ok(done.len())
}

/// The chained records of a batch as one array per column.
#[derive(Default)]
struct Columns {
    seq: Vec<i64>,
    id: Vec<String>,
    time_ms: Vec<i64>,
    kind: Vec<&'static str>,
    key_id: Vec<Option<String>>,
    team: Vec<Option<String>>,
    endpoint: Vec<String>,
    model: Vec<Option<String>>,
    status: Vec<i32>,
    outcome: Vec<&'static str>,
    total_tokens: Vec<Option<i64>>,
    body: Vec<Vec<u8>>,
    prev_hash: Vec<Vec<u8>>,
    hash: Vec<Vec<u8>>,
    checkpoints: CheckpointColumns,
}

/// Tree size, root, last hash, time.
type CheckpointColumns = (Vec<i64>, Vec<Vec<u8>>, Vec<Vec<u8>>, Vec<i64>);

impl Columns {
    fn push(&mut self, c: &proviso_ledger::ChainedRecord, body: &[u8]) {
        let r = &c.record;
        self.seq.push(i64_of(c.seq));
        self.id.push(r.id.to_string());
        self.time_ms.push(r.time.0);
        self.kind.push(r.kind.as_str());
        self.key_id.push(r.key_id.as_ref().map(|k| column(&k.0)));
        self.team.push(r.team.as_deref().map(column));
        self.endpoint.push(column(&r.endpoint));
        self.model.push(r.model.as_deref().map(column));
        self.status.push(i32::from(r.status));
        self.outcome.push(r.outcome.as_str());
        self.total_tokens
            .push(r.usage.map(|u| i64_of(u.total_tokens)));
        self.body.push(body.to_vec());
        self.prev_hash.push(c.prev_hash.to_vec());
        self.hash.push(c.hash.to_vec());
    }
}

/// Counters of a replica's sequencer thread.
#[derive(Clone, Debug, Default)]
pub struct SequencerStats {
    /// Whether this replica holds the sequencer's lock now.
    pub leader: bool,
    /// Records this replica's sequencer moved out of the queue.
    pub sequenced: u64,
    /// Times it became the sequencer.
    pub elected: u64,
}

#[derive(Default)]
struct Shared {
    stop: AtomicBool,
    leader: AtomicBool,
    sequenced: AtomicU64,
    elected: AtomicU64,
}

/// A replica's sequencer thread: it tries for the lock every
/// `takeover_interval` and, while it holds it, chains pending records.
/// Every replica runs one; one at a time is the sequencer.
pub struct SequencerHandle {
    shared: Arc<Shared>,
    thread: Option<JoinHandle<()>>,
}

impl SequencerHandle {
    /// Starts the thread.
    pub fn spawn(config: PgConfig) -> std::io::Result<Self> {
        let shared = Arc::new(Shared::default());
        let s2 = shared.clone();
        let thread = std::thread::Builder::new()
            .name("ledger-sequencer".into())
            .spawn(move || run(&config, &s2))?;
        Ok(Self {
            shared,
            thread: Some(thread),
        })
    }

    /// Its counters.
    pub fn stats(&self) -> SequencerStats {
        SequencerStats {
            leader: self.shared.leader.load(Ordering::Relaxed),
            sequenced: self.shared.sequenced.load(Ordering::Relaxed),
            elected: self.shared.elected.load(Ordering::Relaxed),
        }
    }

    /// Stops the thread (its session ends, and with it the lock).
    pub fn stop(&mut self) {
        self.shared.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            t.thread().unpark();
            let _ = t.join();
        }
    }
}

impl Drop for SequencerHandle {
    fn drop(&mut self) {
        self.stop();
    }
}

fn pause(shared: &Shared, d: Duration) {
    if !shared.stop.load(Ordering::SeqCst) {
        std::thread::park_timeout(d);
    }
}

fn run(config: &PgConfig, shared: &Shared) {
    let mut client: Option<postgres::Client> = None;
    while !shared.stop.load(Ordering::SeqCst) {
        let c = match client.as_mut() {
            Some(c) => c,
            None => match config.connect() {
                Ok(c) => client.insert(c),
                Err(e) => {
                    tracing::debug!(error = %e, "sequencer: no connection");
                    pause(shared, config.takeover_interval);
                    continue;
                }
            },
        };
        let held = c
            .query_one("SELECT pg_try_advisory_lock($1)", &[&LOCK_SEQUENCER])
            .map(|r| r.get::<_, bool>(0));
        match held {
            Ok(true) => {}
            Ok(false) => {
                pause(shared, config.takeover_interval);
                continue;
            }
            Err(e) => {
                tracing::debug!(error = %e, "sequencer: lock attempt failed");
                client = None;
                pause(shared, config.takeover_interval);
                continue;
            }
        }
        shared.leader.store(true, Ordering::SeqCst);
        shared.elected.fetch_add(1, Ordering::Relaxed);
        tracing::info!(replica = %config.replica, "this replica is the ledger's sequencer");
        while !shared.stop.load(Ordering::SeqCst) {
            match sequence_batch(c, config.checkpoint_every, config.sequence_batch) {
                Ok(0) => pause(shared, config.sequence_interval),
                Ok(n) => {
                    shared.sequenced.fetch_add(n as u64, Ordering::Relaxed);
                }
                Err(e) => {
                    tracing::warn!(error = %e, "sequencer: batch failed; reconnecting");
                    break;
                }
            }
        }
        shared.leader.store(false, Ordering::SeqCst);
        // Ending the session releases the lock, whatever state it is in.
        client = None;
        pause(shared, config.sequence_interval);
    }
}
