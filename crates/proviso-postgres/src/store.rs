//! The replica's side: queue records durably; read the chain.

use std::sync::{Mutex, MutexGuard};
use std::time::{SystemTime, UNIX_EPOCH};

use proviso_ledger::{
    ChainedRecord, Checkpoint, Hash, LedgerError, LedgerReader, LedgerStore, Receipt, Record,
    TreeState, UsageByKey,
};
use proviso_types::UnixMillis;

use crate::PgConfig;
use crate::error::{connection_lost, ledger_error};
use crate::state::{decode_state, to_hash};

/// A replica's view of the shared ledger. As a [`LedgerStore`] it queues
/// records (acknowledged once queued, with [`Receipt::queued`]); as a
/// [`LedgerReader`] it reads the sequenced chain. The connection is made
/// when first needed and again after it is lost.
pub struct PgStore {
    config: PgConfig,
    client: Mutex<Option<postgres::Client>>,
    /// The last batch's queue time: the next is later even if the clock
    /// steps back, so this replica's records keep their order.
    last_queued: i64,
}

/// Rows read per query while scanning the chain.
const SCAN_PAGE: i64 = 1000;

impl PgStore {
    /// Connects and creates the tables if missing. An error if the server
    /// cannot be reached (start-up reports it rather than serving without
    /// a ledger).
    pub fn open(config: PgConfig) -> Result<Self, LedgerError> {
        let mut client = config.connect()?;
        crate::schema::ensure(&mut client)?;
        Ok(Self {
            config,
            client: Mutex::new(Some(client)),
            last_queued: 0,
        })
    }

    /// Opens for reading in one snapshot (a read-only, repeatable-read
    /// transaction held until the store is dropped): the tree state,
    /// checkpoints and every page of a scan are of the same moment, while
    /// the sequencer goes on (for `ledger verify` and `export`).
    pub fn open_snapshot(config: PgConfig) -> Result<Self, LedgerError> {
        let store = Self::open(config)?;
        store
            .with_client(|c| c.batch_execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY"))?;
        Ok(store)
    }

    /// The settings it was opened with.
    pub fn config(&self) -> &PgConfig {
        &self.config
    }

    /// Runs `f` on the connection, making it first if needed; a lost
    /// connection is dropped so the next call makes a new one.
    fn with_client<T>(
        &self,
        f: impl FnOnce(&mut postgres::Client) -> Result<T, postgres::Error>,
    ) -> Result<T, LedgerError> {
        let mut guard = self.connected()?;
        let Some(client) = guard.as_mut() else {
            return Err(LedgerError::Unavailable("no PostgreSQL connection".into()));
        };
        match f(client) {
            Ok(v) => Ok(v),
            Err(e) => {
                if connection_lost(&e, client) {
                    *guard = None;
                }
                Err(ledger_error(&e))
            }
        }
    }

    /// The connection, made first if there is none.
    fn connected(&self) -> Result<MutexGuard<'_, Option<postgres::Client>>, LedgerError> {
        let mut guard = self
            .client
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if guard.is_none() {
            *guard = Some(self.config.connect()?);
        }
        Ok(guard)
    }

    /// Records queued and not yet in the chain.
    pub fn pending(&self) -> Result<u64, LedgerError> {
        let n: i64 = self.with_client(|c| {
            c.query_one("SELECT count(*) FROM ledger_pending", &[])
                .map(|r| r.get(0))
        })?;
        Ok(u64::try_from(n).unwrap_or(0))
    }

    /// Runs the sequencer's step here (tests, and `ledger` commands that
    /// must see every queued record chained): chains pending records until
    /// none are left or `max_rounds` batches were done; returns how many.
    /// Safe beside a running sequencer: the tree state's row lock makes
    /// them take turns.
    pub fn sequence_pending(&self, max_rounds: usize) -> Result<usize, LedgerError> {
        let mut total = 0;
        for _ in 0..max_rounds {
            let (every, batch) = (self.config.checkpoint_every, self.config.sequence_batch);
            let mut guard = self.connected()?;
            let Some(client) = guard.as_mut() else {
                break;
            };
            let n = match crate::sequence_batch(client, every, batch, crate::Head::Chain) {
                Ok(n) => n,
                Err(e) => {
                    *guard = None;
                    return Err(e);
                }
            };
            total += n;
            if n == 0 {
                break;
            }
        }
        Ok(total)
    }
}

fn now_us() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_micros()).unwrap_or(i64::MAX))
}

impl LedgerStore for PgStore {
    fn append(&mut self, records: &[Record]) -> Result<Vec<Receipt>, LedgerError> {
        let mut ids = Vec::with_capacity(records.len());
        let mut ords = Vec::with_capacity(records.len());
        let mut bodies = Vec::with_capacity(records.len());
        for (i, r) in records.iter().enumerate() {
            ids.push(r.id.to_string());
            ords.push(i32::try_from(i).unwrap_or(i32::MAX));
            bodies.push(serde_json::to_vec(r).map_err(|e| LedgerError::Unstorable(e.to_string()))?);
        }
        let queued = now_us().max(self.last_queued.saturating_add(1));
        self.last_queued = queued;
        let replica = self.config.replica.clone();
        // One statement, one transaction: durable when it returns. A batch
        // retried after a lost acknowledgement is not queued twice; the
        // retry's body (its callers told the write failed: withheld) takes
        // the place of the first while both wait in the queue, and once
        // the first is chained the sequencer chains the retry's body as a
        // `ledger.resubmitted` event.
        self.with_client(|c| {
            c.execute(
                "INSERT INTO ledger_pending (id, queued_us, replica, ord, body) \
                 SELECT u.id, $2, $3, u.ord, u.body \
                 FROM unnest($1::text[], $4::int4[], $5::bytea[]) AS u(id, ord, body) \
                 ON CONFLICT (id) DO UPDATE SET body = EXCLUDED.body",
                &[&ids, &queued, &replica, &ords, &bodies],
            )
        })?;
        Ok(vec![Receipt::queued(); records.len()])
    }

    fn check_writable(&mut self) -> Result<(), LedgerError> {
        self.with_client(|c| c.simple_query("SELECT 1").map(|_| ()))
    }
}

impl LedgerReader for PgStore {
    fn scan(&self, from: u64, f: &mut dyn FnMut(ChainedRecord) -> bool) -> Result<(), LedgerError> {
        let mut next = i64::try_from(from).unwrap_or(i64::MAX);
        loop {
            let rows = self.with_client(|c| {
                c.query(
                    "SELECT seq, body, prev_hash, hash FROM ledger_records \
                     WHERE seq >= $1 ORDER BY seq LIMIT $2",
                    &[&next, &SCAN_PAGE],
                )
            })?;
            let n = rows.len();
            for row in rows {
                let seq: i64 = row.get(0);
                let body: &[u8] = row.get(1);
                let bad = |what: &str| LedgerError::Corrupt(format!("record {seq}: bad {what}"));
                let record = match Record::from_json_checked(body) {
                    Ok(r) => r,
                    Err(proviso_ledger::BodyError::Newer(what)) => {
                        return Err(LedgerError::Newer(format!(
                            "record {seq}: {what}; read the ledger with the version that wrote it"
                        )));
                    }
                    Err(proviso_ledger::BodyError::Unreadable(_)) => return Err(bad("body")),
                };
                let chained = ChainedRecord {
                    seq: u64::try_from(seq).map_err(|_| bad("seq"))?,
                    record,
                    prev_hash: to_hash(row.get(2), "prev_hash")?,
                    hash: to_hash(row.get(3), "hash")?,
                };
                next = seq.saturating_add(1);
                if !f(chained) {
                    return Ok(());
                }
            }
            if n < usize::try_from(SCAN_PAGE).unwrap_or(usize::MAX) {
                return Ok(());
            }
        }
    }

    fn checkpoints(&self) -> Result<Vec<Checkpoint>, LedgerError> {
        let rows = self.with_client(|c| {
            c.query(
                "SELECT tree_size, root, last_hash, time_ms FROM ledger_checkpoints \
                 ORDER BY tree_size",
                &[],
            )
        })?;
        rows.iter()
            .map(|r| {
                let size: i64 = r.get(0);
                Ok(Checkpoint {
                    tree_size: u64::try_from(size)
                        .map_err(|_| LedgerError::Corrupt(format!("checkpoint size {size}")))?,
                    root: to_hash(r.get(1), "checkpoint root")?,
                    last_hash: to_hash(r.get(2), "checkpoint last_hash")?,
                    time: UnixMillis(r.get(3)),
                })
            })
            .collect()
    }

    fn tree_state(&self) -> Result<TreeState, LedgerError> {
        let row = self.with_client(|c| {
            c.query_one(
                "SELECT size, last_hash, frontier FROM ledger_tree_state WHERE id = 1",
                &[],
            )
        })?;
        decode_state(row.get(0), row.get(1), row.get(2))
    }

    fn find_by_hash(&self, hash: &Hash) -> Result<Option<u64>, LedgerError> {
        let h: &[u8] = &hash[..];
        let row = self.with_client(|c| {
            c.query_opt(
                "SELECT seq FROM ledger_records WHERE hash = $1 LIMIT 1",
                &[&h],
            )
        })?;
        Ok(row.and_then(|r| u64::try_from(r.get::<_, i64>(0)).ok()))
    }

    fn usage_by_key(&self) -> Result<UsageByKey, LedgerError> {
        let rows = self.with_client(|c| {
            c.query(
                "SELECT key_id, count(*), COALESCE(sum(total_tokens), 0)::int8, max(time_ms) \
                 FROM ledger_records WHERE kind = 'exchange' AND key_id IS NOT NULL \
                 GROUP BY key_id",
                &[],
            )
        })?;
        Ok(rows
            .iter()
            .map(|r| {
                let n: i64 = r.get(1);
                let t: i64 = r.get(2);
                (
                    r.get::<_, String>(0),
                    (
                        u64::try_from(n).unwrap_or(0),
                        u64::try_from(t).unwrap_or(0),
                        UnixMillis(r.get(3)),
                    ),
                )
            })
            .collect())
    }
}

/// One reading connection shared by the threads of a process (the
/// follower, the monitor's feed, the publisher): made when first asked
/// for, and again after it is lost; reads take turns on it.
pub struct SharedReader {
    config: PgConfig,
    store: Mutex<Option<std::sync::Arc<PgStore>>>,
}

impl SharedReader {
    /// Nothing is connected until [`SharedReader::get`].
    pub fn new(config: PgConfig) -> Self {
        Self {
            config,
            store: Mutex::new(None),
        }
    }

    /// The shared store, opened on first use.
    pub fn get(&self) -> Result<SharedStore, LedgerError> {
        let mut g = self
            .store
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(s) = g.as_ref() {
            return Ok(SharedStore(s.clone()));
        }
        let s = std::sync::Arc::new(PgStore::open(self.config.clone())?);
        *g = Some(s.clone());
        Ok(SharedStore(s))
    }
}

/// A handle on the shared reading store.
pub struct SharedStore(std::sync::Arc<PgStore>);

impl LedgerReader for SharedStore {
    fn scan(&self, from: u64, f: &mut dyn FnMut(ChainedRecord) -> bool) -> Result<(), LedgerError> {
        self.0.scan(from, f)
    }

    fn checkpoints(&self) -> Result<Vec<Checkpoint>, LedgerError> {
        self.0.checkpoints()
    }

    fn tree_state(&self) -> Result<TreeState, LedgerError> {
        self.0.tree_state()
    }

    fn find_by_hash(&self, hash: &Hash) -> Result<Option<u64>, LedgerError> {
        self.0.find_by_hash(hash)
    }

    fn usage_by_key(&self) -> Result<UsageByKey, LedgerError> {
        self.0.usage_by_key()
    }
}
