//! The tables, created on first use, and the format check.

use proviso_ledger::LedgerError;

use crate::error::ledger_error;

/// The format of the tables below; bumped on any incompatible change.
pub const SCHEMA_VERSION: &str = "1";

/// Advisory lock keys (one namespace for Proviso: the high 32 bits spell
/// "PRVS").
pub const LOCK_SCHEMA: i64 = 0x5052_5653_0000_0001;
/// Held by the one sequencer.
pub const LOCK_SEQUENCER: i64 = 0x5052_5653_0000_0002;

/// Records queued by replicas, not yet chained. `body` is the record as
/// JSON (the record's serde form); the columns beside it order the queue.
/// `ledger_records` holds the chain: `body` is the record, hashed by the
/// canonical encoding; the columns beside it are copies for queries only
/// (verification reads `body`). `ledger_tree_state` is the one row the
/// sequencer locks.
const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS ledger_meta (k TEXT PRIMARY KEY, v TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS ledger_pending (
  id TEXT PRIMARY KEY,
  queued_us BIGINT NOT NULL,
  replica TEXT NOT NULL,
  ord INTEGER NOT NULL,
  body BYTEA NOT NULL
);
CREATE INDEX IF NOT EXISTS ledger_pending_order ON ledger_pending (queued_us, replica, ord);
CREATE TABLE IF NOT EXISTS ledger_records (
  seq BIGINT PRIMARY KEY,
  id TEXT NOT NULL UNIQUE,
  time_ms BIGINT NOT NULL,
  kind TEXT NOT NULL,
  key_id TEXT,
  team TEXT,
  endpoint TEXT NOT NULL,
  model TEXT,
  status INTEGER NOT NULL,
  outcome TEXT NOT NULL,
  total_tokens BIGINT,
  body BYTEA NOT NULL,
  prev_hash BYTEA NOT NULL,
  hash BYTEA NOT NULL
);
CREATE INDEX IF NOT EXISTS ledger_records_time ON ledger_records (time_ms);
CREATE TABLE IF NOT EXISTS ledger_checkpoints (
  tree_size BIGINT PRIMARY KEY,
  root BYTEA NOT NULL,
  last_hash BYTEA NOT NULL,
  time_ms BIGINT NOT NULL
);
CREATE TABLE IF NOT EXISTS ledger_tree_state (
  id INTEGER PRIMARY KEY CHECK (id = 1),
  size BIGINT NOT NULL,
  last_hash BYTEA NOT NULL,
  frontier BYTEA NOT NULL
);
INSERT INTO ledger_tree_state (id, size, last_hash, frontier)
  VALUES (1, 0, decode(repeat('00', 32), 'hex'), '\\x') ON CONFLICT (id) DO NOTHING;
";

/// Creates the tables if missing (several replicas starting at once take
/// turns) and checks their format.
pub fn ensure(client: &mut postgres::Client) -> Result<(), LedgerError> {
    // Tables already made: only the format is checked. (DDL, even
    // `IF NOT EXISTS`, takes locks that conflict with a running
    // sequencer's writes.)
    let exists: bool = client
        .query_one(
            "SELECT to_regclass('ledger_meta') IS NOT NULL AND to_regclass('ledger_tree_state') IS NOT NULL",
            &[],
        )
        .map_err(|e| ledger_error(&e))?
        .get(0);
    if exists {
        let v: Option<String> = client
            .query_opt("SELECT v FROM ledger_meta WHERE k = 'schema_version'", &[])
            .map_err(|e| ledger_error(&e))?
            .map(|r| r.get(0));
        if v.as_deref() == Some(SCHEMA_VERSION) {
            return Ok(());
        }
    }
    let mut tx = client.transaction().map_err(|e| ledger_error(&e))?;
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&LOCK_SCHEMA])
        .map_err(|e| ledger_error(&e))?;
    tx.batch_execute(SCHEMA).map_err(|e| ledger_error(&e))?;
    let row = tx
        .query_opt("SELECT v FROM ledger_meta WHERE k = 'schema_version'", &[])
        .map_err(|e| ledger_error(&e))?;
    match row.map(|r| r.get::<_, String>(0)) {
        None => {
            tx.execute(
                "INSERT INTO ledger_meta (k, v) VALUES ('schema_version', $1)",
                &[&SCHEMA_VERSION],
            )
            .map_err(|e| ledger_error(&e))?;
        }
        Some(v) if v == SCHEMA_VERSION => {}
        Some(other) => {
            return Err(LedgerError::Corrupt(format!(
                "PostgreSQL ledger schema version {other}, this build reads {SCHEMA_VERSION}"
            )));
        }
    }
    tx.commit().map_err(|e| ledger_error(&e))
}
