//! Proviso's ledger: every exchange the gateway handles becomes one
//! [`Record`], hash-chained to the one before it and grouped into RFC 6962
//! Merkle [checkpoints](Checkpoint), so that any edit, deletion, insertion or
//! reordering is found by [`verify`].
//!
//! The ledger's API is "append, durable, then acknowledged": a
//! [`LedgerHandle`] hands records to one writer thread that group-commits
//! them (many records per transaction) and answers each caller once its
//! record is on disk. Sequencing and hashing are a step of their own
//! ([`Sequencer`]) that the SQLite store runs inside its write transaction;
//! a PostgreSQL store will run it in a separate sequencer instead (see
//! `ARCHITECTURE.md`). Storage sits behind [`LedgerStore`], with an in-memory
//! twin for tests.
//!
//! ```
//! use proviso_ledger::{LedgerHandle, MemoryStore, Record, WriterConfig, verify};
//! let store = MemoryStore::default();
//! let reader = store.clone();
//! let ledger = LedgerHandle::spawn(Box::new(store), WriterConfig::default()).unwrap();
//! let receipt = ledger.append_blocking(Record::test("hello")).unwrap();
//! assert_eq!(receipt.seq, Some(1));
//! ledger.shutdown();
//! assert!(verify(&reader).unwrap().is_intact());
//! ```
#![deny(missing_docs)]

mod encoding;
mod error;
mod export;
mod memory;
pub mod merkle;
mod note;
mod published;
mod record;
mod sequencer;
mod sqlite;
mod store;
#[cfg(feature = "suite")]
pub mod suite;
mod verify;
mod writer;

pub use encoding::{ENCODING_V1, record_hash};
pub use error::LedgerError;
pub use export::export_jsonl;
pub use memory::MemoryStore;
pub use note::{CheckpointBody, NoteError, SignerKey, VerifierKey};
pub use published::{Consistency, check_note, leaf_hashes, sign_current};
pub use record::{BodyError, ChainedRecord, Outcome, Record, RecordKind};
pub use sequencer::{Checkpoint, Link, Sequencer, TreeState};
pub use sqlite::{RestartGate, SqliteConfig, SqliteStore};
pub use store::{LedgerReader, LedgerStore, Receipt, UsageByKey};
pub use verify::{
    Finding, FindingKind, OPENED_EVENT, Unclosed, VerifyReport, opened_exchange, verify,
};
pub use writer::{
    COMMIT_BUCKETS as COMMIT_BUCKETS_SECONDS, LedgerHandle, LedgerStats, Tap, WriterConfig,
};

/// A SHA-256 digest.
pub type Hash = [u8; 32];
