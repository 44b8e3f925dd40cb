//! The log against checkpoints that left the machine: signing the current
//! tree state, and checking that today's log extends a checkpoint
//! published earlier (RFC 6962 consistency), so that truncating the tail
//! or rewriting history is found even by whoever can write the database.

use serde::Serialize;

use crate::merkle::{Frontier, consistency_proof, verify_consistency};
use crate::{CheckpointBody, Hash, LedgerError, LedgerReader, NoteError, SignerKey, VerifierKey};

/// The signed checkpoint of the log as it stands (C2SP signed note).
pub fn sign_current(
    reader: &dyn LedgerReader,
    key: &SignerKey,
    origin: &str,
) -> Result<(CheckpointBody, String), LedgerError> {
    let state = reader.tree_state()?;
    let body = CheckpointBody {
        origin: origin.to_owned(),
        size: state.size(),
        root: state.frontier.root(),
    };
    let note = key
        .sign(&body.text())
        .map_err(|e| LedgerError::Corrupt(e.to_string()))?;
    Ok((body, note))
}

/// How the log stands against one published checkpoint.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "verdict")]
pub enum Consistency {
    /// The log's first `size` records are the checkpoint's: it was only
    /// extended since.
    Consistent {
        /// The checkpoint's size.
        size: u64,
        /// The log's size now.
        log_size: u64,
    },
    /// The log has fewer records than the checkpoint covered: its tail was
    /// cut off (or the whole file was replaced by an older copy).
    Truncated {
        /// The checkpoint's size.
        size: u64,
        /// The log's size now.
        log_size: u64,
    },
    /// The log's first `size` records are not the ones the checkpoint
    /// covered: history was rewritten.
    Rewritten {
        /// The checkpoint's size.
        size: u64,
        /// The log's size now.
        log_size: u64,
    },
    /// The note is not a valid checkpoint signed by the key (forged,
    /// altered, or another key's), or names another log.
    BadCheckpoint {
        /// What is wrong.
        reason: String,
    },
}

impl Consistency {
    /// Whether the log passed.
    pub fn is_consistent(&self) -> bool {
        matches!(self, Consistency::Consistent { .. })
    }
}

/// The hashes of every record in the log, in order (32 bytes a record).
pub fn leaf_hashes(reader: &dyn LedgerReader) -> Result<Vec<Hash>, LedgerError> {
    let mut out = Vec::new();
    reader.scan(0, &mut |c| {
        out.push(c.hash);
        true
    })?;
    Ok(out)
}

/// Checks the log whose record hashes are `leaves` against the signed
/// `note`: its signature by `key`, its origin (when `origin` is given),
/// then a consistency proof from its size to the log's, checked as a
/// remote verifier would (RFC 9162 2.1.4.2).
pub fn check_note(
    leaves: &[Hash],
    note: &str,
    key: &VerifierKey,
    origin: Option<&str>,
) -> Consistency {
    let bad = |e: NoteError| Consistency::BadCheckpoint {
        reason: e.to_string(),
    };
    let body = match key.open(note).and_then(CheckpointBody::parse) {
        Ok(b) => b,
        Err(e) => return bad(e),
    };
    if let Some(o) = origin.filter(|o| *o != body.origin) {
        return Consistency::BadCheckpoint {
            reason: format!("the checkpoint is of log {:?}, not {o:?}", body.origin),
        };
    }
    let n = leaves.len() as u64;
    let (size, log_size) = (body.size, n);
    if body.size > n {
        return Consistency::Truncated { size, log_size };
    }
    let mut f = Frontier::default();
    for l in leaves {
        f.push(l);
    }
    let m = usize::try_from(body.size).unwrap_or(usize::MAX);
    let proof = consistency_proof(leaves, m);
    let ok = if m == 0 {
        body.root == crate::merkle::empty_root()
    } else {
        verify_consistency(body.size, n, &body.root, &f.root(), &proof)
    };
    if ok {
        Consistency::Consistent { size, log_size }
    } else {
        Consistency::Rewritten { size, log_size }
    }
}
