//! `ledger verify`: recompute every hash, every link and every checkpoint.

use std::fmt;

use serde::Serialize;

use crate::merkle::Frontier;
use crate::{Hash, LedgerError, LedgerReader, record_hash};

/// What kind of damage a finding describes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FindingKind {
    /// A record's content no longer matches its hash: a field was changed.
    ChangedRecord,
    /// Sequence numbers jump: records were deleted.
    MissingRecords,
    /// A record does not follow the hash of the record stored before it and
    /// its real predecessor is nowhere in the log: that record was deleted
    /// or rewritten.
    DeletedBefore,
    /// A record's real predecessor sits further back: records were inserted
    /// between them.
    InsertedBefore,
    /// A record's real predecessor sits after it: records were reordered.
    Reordered,
    /// A checkpoint's root does not match the records it covers.
    ChangedCheckpoint,
    /// A checkpoint covers more records than the log has, or the stored tree
    /// state disagrees with the log's end: records were removed from or
    /// added to the end.
    ChangedEnd,
}

/// One problem, naming the first record (or checkpoint) where it shows.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Finding {
    /// The kind of damage.
    pub kind: FindingKind,
    /// The sequence number of the record (or the checkpoint's tree size).
    pub seq: u64,
    /// The record's id, when there is a record.
    pub record_id: Option<String>,
    /// What exactly is wrong.
    pub message: String,
}

impl fmt::Display for Finding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?} at {}: {}", self.kind, self.seq, self.message)
    }
}

/// The result of [`verify`].
#[derive(Clone, Debug, Default, Serialize)]
pub struct VerifyReport {
    /// Records read.
    pub records: u64,
    /// Checkpoints compared.
    pub checkpoints: u64,
    /// Problems, in log order; at most [`VerifyReport::MAX_FINDINGS`].
    pub findings: Vec<Finding>,
    /// Problems found in all (may exceed `findings.len()`).
    pub total_findings: u64,
    /// The Merkle root over all records.
    pub root: String,
    /// Streamed exchanges whose `exchange.opened` record is in the log but
    /// whose closing exchange record is not (the gateway stopped, or was
    /// killed, in the middle of the stream: the client may hold text that
    /// is recorded only as opened). Not damage: the chain may be intact.
    pub unclosed: Vec<Unclosed>,
}

/// A streamed exchange that was opened and never closed.
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub struct Unclosed {
    /// The sequence number of the `exchange.opened` record.
    pub seq: u64,
    /// Its record id.
    pub opened_id: String,
    /// The id the closing exchange record would have had.
    pub exchange_id: String,
}

/// The event recorded before a streamed answer's first byte is relayed; its
/// `detail.exchange` is the id of the exchange record that closes it.
pub const OPENED_EVENT: &str = "exchange.opened";

/// The exchange id an `exchange.opened` record announces.
pub fn opened_exchange(r: &crate::Record) -> Option<String> {
    if r.kind != crate::RecordKind::Event || r.endpoint != OPENED_EVENT {
        return None;
    }
    let d: serde_json::Value = serde_json::from_str(r.detail.as_deref()?).ok()?;
    d.get("exchange")?.as_str().map(str::to_owned)
}

impl VerifyReport {
    /// How many findings are kept in full.
    pub const MAX_FINDINGS: usize = 100;

    /// True when nothing was found.
    pub fn is_intact(&self) -> bool {
        self.total_findings == 0
    }

    /// The first finding of `kind`, if any.
    pub fn first(&self, kind: FindingKind) -> Option<&Finding> {
        self.findings.iter().find(|f| f.kind == kind)
    }

    fn push(&mut self, f: Finding) {
        self.total_findings += 1;
        if self.findings.len() < Self::MAX_FINDINGS {
            self.findings.push(f);
        }
    }
}

/// Broken links explained by the store's own look-up before a map of all
/// hashes is built.
const DIRECT_LOOKUPS: u32 = 16;

/// Reads the whole log and reports every inconsistency.
pub fn verify(reader: &dyn LedgerReader) -> Result<VerifyReport, LedgerError> {
    let mut report = VerifyReport::default();
    let checkpoints = reader.checkpoints()?;
    let state = reader.tree_state()?;
    let mut frontier = Frontier::default();
    let mut expected_prev: Hash = [0; 32];
    let mut expected_seq = 1u64;
    let mut cp_idx = 0usize;
    let mut lookup_err: Option<LedgerError> = None;
    // Explaining a broken link looks the record's `prev_hash` up among the
    // stored hashes. The store has no index on them (it would slow every
    // write), so after a few look-ups one more pass builds a map: a log
    // with many broken links is verified in linear time, not quadratic.
    let mut lookups = 0u32;
    let mut by_hash: Option<std::collections::HashMap<Hash, u64>> = None;
    let mut find = |h: &Hash| -> Result<Option<u64>, LedgerError> {
        lookups += 1;
        if lookups <= DIRECT_LOOKUPS {
            return reader.find_by_hash(h);
        }
        if by_hash.is_none() {
            let mut m = std::collections::HashMap::new();
            reader.scan(0, &mut |c| {
                m.entry(c.hash).or_insert(c.seq);
                true
            })?;
            by_hash = Some(m);
        }
        Ok(by_hash.as_ref().and_then(|m| m.get(h).copied()))
    };

    let mut open: std::collections::HashMap<String, (u64, String)> =
        std::collections::HashMap::new();
    reader.scan(0, &mut |c| {
        report.records += 1;
        if let Some(ex) = opened_exchange(&c.record) {
            open.insert(ex, (c.seq, c.record.id.to_string()));
        } else if c.record.kind == crate::RecordKind::Exchange && !open.is_empty() {
            open.remove(&c.record.id.to_string());
        }
        let id = Some(c.record.id.to_string());
        if c.seq != expected_seq {
            let message = if c.seq > expected_seq {
                format!("records {expected_seq}..{} are missing", c.seq - 1)
            } else {
                format!(
                    "sequence number {} repeats or goes back (expected {expected_seq})",
                    c.seq
                )
            };
            report.push(Finding {
                kind: FindingKind::MissingRecords,
                seq: c.seq,
                record_id: id.clone(),
                message,
            });
        }
        if record_hash(&c.record, &c.prev_hash) != c.hash {
            report.push(Finding {
                kind: FindingKind::ChangedRecord,
                seq: c.seq,
                record_id: id.clone(),
                message: format!("record {} ({}) does not match its hash", c.seq, c.record.id),
            });
        }
        if c.prev_hash != expected_prev {
            let (kind, message) = match find(&c.prev_hash) {
                Ok(Some(s)) if s > c.seq => (
                    FindingKind::Reordered,
                    format!(
                        "record {} should follow record {s}, which comes after it",
                        c.seq
                    ),
                ),
                Ok(Some(s)) => (
                    FindingKind::InsertedBefore,
                    format!(
                        "record {} should follow record {s}: {} record(s) were inserted before it",
                        c.seq,
                        c.seq.saturating_sub(s + 1)
                    ),
                ),
                Ok(None) => (
                    FindingKind::DeletedBefore,
                    format!(
                        "record {} follows a record that is no longer in the log: the record \
                         before it was deleted or rewritten",
                        c.seq
                    ),
                ),
                Err(e) => {
                    lookup_err = Some(e);
                    return false;
                }
            };
            report.push(Finding {
                kind,
                seq: c.seq,
                record_id: id,
                message,
            });
        }
        frontier.push(&c.hash);
        expected_prev = c.hash;
        expected_seq = c.seq + 1;
        while let Some(cp) = checkpoints
            .get(cp_idx)
            .filter(|cp| cp.tree_size <= frontier.size())
        {
            cp_idx += 1;
            report.checkpoints += 1;
            if cp.tree_size < frontier.size() {
                continue; // out of order; cannot happen with ORDER BY
            }
            if cp.root != frontier.root() || cp.last_hash != c.hash {
                report.push(Finding {
                    kind: FindingKind::ChangedCheckpoint,
                    seq: cp.tree_size,
                    record_id: None,
                    message: format!(
                        "checkpoint at tree size {} does not match the first {} records \
                         (stored root {}, computed {})",
                        cp.tree_size,
                        cp.tree_size,
                        hex::encode(cp.root),
                        hex::encode(frontier.root())
                    ),
                });
            }
        }
        true
    })?;
    if let Some(e) = lookup_err {
        return Err(e);
    }
    for cp in &checkpoints[cp_idx..] {
        report.checkpoints += 1;
        report.push(Finding {
            kind: FindingKind::ChangedEnd,
            seq: cp.tree_size,
            record_id: None,
            message: format!(
                "checkpoint at tree size {} but the log has only {} records: records were \
                 removed from the end",
                cp.tree_size,
                frontier.size()
            ),
        });
    }
    if state.size() != frontier.size() || state.last_hash != expected_prev {
        report.push(Finding {
            kind: FindingKind::ChangedEnd,
            seq: frontier.size(),
            record_id: None,
            message: format!(
                "the tree state records {} records ending in {}, the log has {} ending in {}",
                state.size(),
                hex::encode(state.last_hash),
                frontier.size(),
                hex::encode(expected_prev)
            ),
        });
    } else if state.frontier.root() != frontier.root() {
        report.push(Finding {
            kind: FindingKind::ChangedEnd,
            seq: frontier.size(),
            record_id: None,
            message: "the stored tree state's Merkle frontier does not match the log".into(),
        });
    }
    report.root = hex::encode(frontier.root());
    let mut unclosed: Vec<Unclosed> = open
        .into_iter()
        .map(|(exchange_id, (seq, opened_id))| Unclosed {
            seq,
            opened_id,
            exchange_id,
        })
        .collect();
    unclosed.sort_by_key(|u| u.seq);
    report.unclosed = unclosed;
    Ok(report)
}
