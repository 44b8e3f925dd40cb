//! Proviso on PostgreSQL: one ledger shared by many gateway replicas.
//!
//! The pattern is Trillian's and Tessera's. Each replica's writer thread
//! group-commits its records into a pending table ([`PgStore`], keyed by
//! the record id, so a retried batch is not queued twice) and acknowledges
//! each caller after that COMMIT: a response is still released only after
//! its record is durable. One sequencer for the whole deployment, elected
//! with a PostgreSQL advisory lock held by a dedicated session
//! ([`SequencerHandle`]), moves pending records into the hash chain in
//! batches, each inside one transaction: the tree state is read
//! `FOR UPDATE`, the records get contiguous sequence numbers and are
//! chained, checkpoints are written, the tree state is updated and the
//! pending rows are deleted. When the holder dies its session ends, the lock
//! is free, and another replica's sequencer takes over; a record already
//! in the chain is never chained again (its id is unique there).
//!
//! Nothing on the request path updates a shared row: replicas only insert.
//! Chain order is the sequencer's, never a sequence column's.
#![deny(missing_docs)]

mod connect;
mod error;
mod keys;
mod leader;
mod schema;
mod sequencer;
mod state;
mod store;
#[cfg(feature = "testdb")]
mod testdb;
mod tls;

pub use connect::PgConfig;
pub use connect::redact_url;
pub use keys::{ChangeListener, KEYS_CHANNEL, PgKeys};
pub use leader::{Leadership, MonitorReports, jobs};
pub use sequencer::{BATCH_BYTES, Head, SequencerHandle, SequencerStats, sequence_batch};
pub use store::{PgStore, SharedReader, SharedStore};
#[cfg(feature = "testdb")]
pub use testdb::TestDatabase;
