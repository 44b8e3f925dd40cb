//! The one sequencer: elected by an advisory lock on a dedicated session,
//! it moves pending records into the chain, a batch per transaction.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;

use proviso_ledger::{BodyError, LedgerError, Record, Sequencer};
use proviso_types::RecordId;

use crate::PgConfig;
use crate::error::ledger_error;
use crate::leader::Leadership;
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

/// Most bytes of record bodies chained in one transaction (one record is
/// always taken, however large).
pub const BATCH_BYTES: i64 = 32 * 1024 * 1024;

/// What to do with the head of the queue.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Head {
    /// Chain it as it is.
    Chain,
    /// Chaining it failed on its own: chain a stand-in that says what it
    /// was (its metadata, the SHA-256 and size of its body, the error), so
    /// the queue goes on and nothing leaves it unrecorded.
    SetAside,
}

/// A stand-in for a pending record the chain cannot take as it is: its
/// own fields where its body can be read, with request and output
/// replaced by their digests; else an event naming its id with its body
/// as text.
fn stand_in(id: &str, body: &[u8], why: &str) -> Record {
    use sha2::{Digest, Sha256};
    let digest = hex::encode(Sha256::digest(body));
    match serde_json::from_slice::<Record>(body) {
        Ok(mut r) => {
            let d = |s: &str| hex::encode(Sha256::digest(s.as_bytes()));
            r.detail = Some(
                serde_json::json!({
                    "set_aside": why,
                    "body_sha256": digest,
                    "request_sha256": d(&r.request),
                    "request_bytes": r.request.len(),
                    "output_sha256": d(&r.output),
                    "output_bytes": r.output.len(),
                })
                .to_string(),
            );
            r.request = String::new();
            r.output = String::new();
            r.response = None;
            r
        }
        Err(_) => Record::event(
            RecordId::new(),
            "ledger.set_aside",
            None,
            None,
            serde_json::json!({
                "record_id": id,
                "set_aside": why,
                "body_sha256": digest,
                "body": String::from_utf8_lossy(body),
            })
            .to_string(),
        ),
    }
}

/// Chains up to `max` pending records (and at most [`BATCH_BYTES`] of
/// them) in one transaction; returns how many left the queue. A record
/// already in the chain and queued again by a retry is not chained twice:
/// if its body differs (its first write's acknowledgement was lost and the
/// writer then marked it withheld), an event `ledger.resubmitted` holding
/// the new body is chained, so the ledger says what the client received.
/// A body that cannot be read is chained as a stand-in. `head`: whether
/// the first pending record is set aside (after it failed on its own).
/// Sequencers that run at once take turns on the tree state's row lock.
pub fn sequence_batch(
    client: &mut postgres::Client,
    checkpoint_every: u64,
    max: usize,
    head: Head,
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
    // Sizes first: the batch stops at BATCH_BYTES of bodies.
    let sizes = tx
        .query(
            "SELECT id, length(body)::int8 FROM ledger_pending \
             ORDER BY queued_us, replica, ord LIMIT $1",
            &[&limit],
        )
        .map_err(e)?;
    if sizes.is_empty() {
        tx.rollback().map_err(e)?;
        return Ok(0);
    }
    let mut ids: Vec<String> = Vec::with_capacity(sizes.len());
    let mut bytes = 0i64;
    for r in &sizes {
        let n: i64 = r.get(1);
        if !ids.is_empty() && bytes.saturating_add(n) > BATCH_BYTES {
            break;
        }
        bytes = bytes.saturating_add(n);
        ids.push(r.get(0));
    }
    if head == Head::SetAside {
        ids.truncate(1);
    }
    let mut bodies: HashMap<String, Vec<u8>> = tx
        .query(
            "SELECT id, body FROM ledger_pending WHERE id = ANY($1) FOR UPDATE",
            &[&ids],
        )
        .map_err(e)?
        .into_iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect();
    let chained_before: HashMap<String, Vec<u8>> = tx
        .query(
            "SELECT id, body FROM ledger_records WHERE id = ANY($1)",
            &[&ids],
        )
        .map_err(e)?
        .into_iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect();
    let mut seqr = Sequencer::new(state, checkpoint_every);
    let mut cols = Columns::default();
    let mut done: Vec<String> = Vec::with_capacity(ids.len());
    let mut chain = |record: Record, body: &[u8], cols: &mut Columns| {
        let (c, cp) = seqr.sequence(record);
        cols.push(&c, body);
        if let Some(cp) = cp {
            cols.checkpoints.0.push(i64_of(cp.tree_size));
            cols.checkpoints.1.push(cp.root.to_vec());
            cols.checkpoints.2.push(cp.last_hash.to_vec());
            cols.checkpoints.3.push(cp.time.0);
        }
    };
    for id in ids {
        // Deleted meanwhile by another sequencer: nothing to do.
        let Some(body) = bodies.remove(&id) else {
            continue;
        };
        if let Some(first) = chained_before.get(&id) {
            if *first != body {
                let detail = serde_json::json!({
                    "record_id": id,
                    "body": String::from_utf8_lossy(&body),
                })
                .to_string();
                let ev = Record::event(RecordId::new(), "ledger.resubmitted", None, None, detail);
                let b = serde_json::to_vec(&ev).map_err(|x| LedgerError::Corrupt(x.to_string()))?;
                chain(ev, &b, &mut cols);
            }
            done.push(id);
            continue;
        }
        // The record as queued keeps its body; a stand-in gets its own.
        let stand_in_for = |why: &str| -> Result<(Record, Vec<u8>), LedgerError> {
            let r = stand_in(&id, &body, why);
            let b = serde_json::to_vec(&r).map_err(|x| LedgerError::Corrupt(x.to_string()))?;
            Ok((r, b))
        };
        let (record, b) = match (head, Record::from_json_checked(&body)) {
            (_, Err(BodyError::Newer(what))) => {
                // A newer replica queued it: chained here it would lose
                // what this build does not know (and its hash would not be
                // the one its writer meant). What came before it is
                // chained; it waits for a sequencer that reads it.
                if done.is_empty() {
                    tx.rollback().map_err(e)?;
                    return Err(LedgerError::Newer(format!("pending record {id}: {what}")));
                }
                break;
            }
            (Head::Chain, Ok(r)) => (r, body),
            (Head::SetAside, _) => stand_in_for("chaining it failed on its own")?,
            (Head::Chain, Err(BodyError::Unreadable(err))) => {
                tracing::error!(id, error = %err, "a pending ledger record cannot be read; chained as a stand-in holding its body");
                stand_in_for(&format!("its body cannot be read: {err}"))?
            }
        };
        chain(record, &b, &mut cols);
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
    /// Times it stood down because a newer replica had queued records it
    /// cannot read in full.
    pub stood_down: u64,
}

/// How long a sequencer that met a newer replica's records keeps out of
/// the election (the newer replicas take the lock meanwhile).
const STAND_DOWN: Duration = Duration::from_secs(30);

#[derive(Default)]
struct Shared {
    stop: AtomicBool,
    leader: AtomicBool,
    sequenced: AtomicU64,
    elected: AtomicU64,
    stood_down: AtomicU64,
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

    /// Whether this replica is the sequencer, asked from anywhere.
    pub fn leader_probe(&self) -> impl Fn() -> bool + Send + Sync + 'static {
        let shared = self.shared.clone();
        move || shared.leader.load(Ordering::SeqCst)
    }

    /// Its counters.
    pub fn stats(&self) -> SequencerStats {
        SequencerStats {
            leader: self.shared.leader.load(Ordering::Relaxed),
            sequenced: self.shared.sequenced.load(Ordering::Relaxed),
            elected: self.shared.elected.load(Ordering::Relaxed),
            stood_down: self.shared.stood_down.load(Ordering::Relaxed),
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
    // Elected like every deployment job; the batches run on the session
    // that holds the lock.
    let mut lead = Leadership::new(config.clone(), LOCK_SEQUENCER);
    while !shared.stop.load(Ordering::SeqCst) {
        if !lead.check() {
            pause(shared, config.takeover_interval);
            continue;
        }
        let Some(c) = lead.client() else {
            continue;
        };
        shared.leader.store(true, Ordering::SeqCst);
        shared.elected.fetch_add(1, Ordering::Relaxed);
        tracing::info!(replica = %config.replica, "this replica is the ledger's sequencer");
        // A batch that fails is tried again at half the size, down to the
        // one record at the head of the queue; if the server refuses that
        // record's data itself (twice), a stand-in is chained in its place
        // so that the queue goes on.
        let full = config.sequence_batch.max(1);
        let (mut batch, mut refused) = (full, 0u32);
        let mut newer = false;
        while !shared.stop.load(Ordering::SeqCst) {
            let head = if batch == 1 && refused >= 2 {
                Head::SetAside
            } else {
                Head::Chain
            };
            match sequence_batch(c, config.checkpoint_every, batch, head) {
                Ok(0) => {
                    batch = full;
                    pause(shared, config.sequence_interval);
                }
                Ok(n) => {
                    if head == Head::SetAside {
                        tracing::error!(
                            "sequencer: a pending record the server refuses was chained as a stand-in holding its digests"
                        );
                    }
                    shared.sequenced.fetch_add(n as u64, Ordering::Relaxed);
                    refused = 0;
                    batch = batch.saturating_mul(2).min(full);
                }
                Err(LedgerError::Newer(why)) => {
                    // Records of a newer replica wait for its sequencer:
                    // this one stands down for a while so that one wins
                    // the lock.
                    tracing::error!(
                        replica = %config.replica,
                        "sequencer: {why}; standing down so that an upgraded replica sequences (upgrade this one)"
                    );
                    shared.stood_down.fetch_add(1, Ordering::Relaxed);
                    newer = true;
                    break;
                }
                Err(e) if c.is_closed() => {
                    tracing::warn!(error = %e, "sequencer: connection lost; reconnecting");
                    break;
                }
                Err(e) => {
                    tracing::warn!(error = %e, batch, "sequencer: batch failed; trying a smaller one");
                    if batch > 1 {
                        batch /= 2;
                    } else if matches!(e, LedgerError::Unstorable(_)) {
                        refused += 1;
                    }
                    pause(shared, config.sequence_interval);
                }
            }
        }
        shared.leader.store(false, Ordering::SeqCst);
        // Ending the session releases the lock, whatever state it is in.
        lead.release();
        pause(shared, config.sequence_interval);
        if newer {
            pause(shared, STAND_DOWN);
        }
    }
}
