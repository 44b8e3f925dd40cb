//! Sequencing and chaining: the step that turns appended records into log
//! entries. SQLite runs it inline inside its write transaction; a
//! multi-replica backend runs it in one elected sequencer.

use proviso_types::UnixMillis;

use crate::merkle::Frontier;
use crate::{ChainedRecord, Hash, Record, record_hash};

/// A Merkle checkpoint: the tree hash of the first `tree_size` records.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Checkpoint {
    /// Number of records covered.
    pub tree_size: u64,
    /// RFC 6962 root over their hashes.
    pub root: Hash,
    /// The hash of record `tree_size`.
    pub last_hash: Hash,
    /// When it was written.
    pub time: UnixMillis,
}

/// The one-row state of the log: its size, the last hash and the Merkle
/// frontier.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TreeState {
    /// The frontier (its size is the log's size).
    pub frontier: Frontier,
    /// Hash of the last record (zeros when empty).
    pub last_hash: Hash,
}

impl TreeState {
    /// Number of records in the log.
    pub fn size(&self) -> u64 {
        self.frontier.size()
    }
}

/// A record's place in the chain ([`Sequencer::link`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Link {
    /// Position in the log, from 1.
    pub seq: u64,
    /// The hash of the record before it.
    pub prev_hash: Hash,
    /// The record's own chain hash.
    pub hash: Hash,
}

/// Assigns sequence numbers and hashes, and says when a checkpoint is due.
#[derive(Debug)]
pub struct Sequencer {
    state: TreeState,
    checkpoint_every: u64,
}

impl Sequencer {
    /// Continues the log from `state`, writing a checkpoint every
    /// `checkpoint_every` records (at least 1).
    pub fn new(state: TreeState, checkpoint_every: u64) -> Self {
        Self {
            state,
            checkpoint_every: checkpoint_every.max(1),
        }
    }

    /// Chains one record; returns it and the checkpoint it completes, if any.
    pub fn sequence(&mut self, record: Record) -> (ChainedRecord, Option<Checkpoint>) {
        let (link, checkpoint) = self.link(&record);
        (
            ChainedRecord {
                seq: link.seq,
                record,
                prev_hash: link.prev_hash,
                hash: link.hash,
            },
            checkpoint,
        )
    }

    /// [`Sequencer::sequence`] for a store that writes the record from where
    /// it is: its place in the chain, without a copy of the record.
    pub fn link(&mut self, record: &Record) -> (Link, Option<Checkpoint>) {
        let prev_hash = self.state.last_hash;
        let hash = record_hash(record, &prev_hash);
        self.state.frontier.push(&hash);
        self.state.last_hash = hash;
        let seq = self.state.size();
        let checkpoint = seq
            .is_multiple_of(self.checkpoint_every)
            .then(|| Checkpoint {
                tree_size: seq,
                root: self.state.frontier.root(),
                last_hash: hash,
                time: UnixMillis::now(),
            });
        (
            Link {
                seq,
                prev_hash,
                hash,
            },
            checkpoint,
        )
    }

    /// The state after everything sequenced so far.
    pub fn state(&self) -> &TreeState {
        &self.state
    }
}
