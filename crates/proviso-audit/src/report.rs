//! Scanning documents against the index, and the summary.

use std::collections::BTreeMap;

use proviso_index::{IndexSet, Match, Reference};
use rayon::prelude::*;
use serde::Serialize;

use crate::read::{Picker, Unit, extract, line_text, produce};
use crate::stats::{clopper_pearson, wilson};
use crate::{BadInput, Document, FieldSpec, Progress};

/// One flagged document.
#[derive(Clone, Debug, Serialize)]
pub struct Flagged {
    /// The file.
    pub file: String,
    /// Line or element.
    pub line: u64,
    /// `exact` or `near` (of the best match).
    pub kind: String,
    /// Longest run shared with a reference, tokens.
    pub longest_run: usize,
    /// Share of the document's tokens inside matched runs.
    pub covered: f64,
    /// Best estimated Jaccard similarity.
    pub jaccard: f64,
    /// Matched byte ranges.
    pub spans: Vec<(usize, usize)>,
    /// Tokens in the document.
    pub tokens: usize,
    /// The references it matched, with their attribution.
    pub references: Vec<AttributedMatch>,
}

/// A match and where the reference came from.
#[derive(Clone, Debug, Serialize)]
pub struct AttributedMatch {
    /// How it matched.
    #[serde(flatten)]
    pub matched: Match,
    /// The reference output's origin (ledger record or source file row).
    pub attribution: Reference,
}

/// The audit's totals.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Summary {
    /// Documents read (scanned or sampled from).
    pub documents: u64,
    /// Documents audited (all, or the sample).
    pub audited: u64,
    /// Bytes audited.
    pub bytes: u64,
    /// Tokens audited.
    pub tokens: u64,
    /// Documents flagged.
    pub flagged: u64,
    /// `flagged / audited`.
    pub rate: f64,
    /// 95% Wilson interval of the rate.
    pub wilson: (f64, f64),
    /// 95% Clopper–Pearson interval of the rate.
    pub clopper_pearson: (f64, f64),
    /// Share of audited tokens inside flagged documents.
    pub token_weighted_rate: f64,
    /// Per input file: audited and flagged.
    pub by_file: BTreeMap<String, (u64, u64)>,
    /// Bad input, with file and line.
    pub errors: Vec<BadInput>,
    /// Whether the figures come from a sample.
    pub sampled: bool,
    /// Tokens inside flagged documents.
    #[serde(skip)]
    flagged_tokens: u64,
}

/// A flagged document as a full scan hands it on.
#[derive(Debug)]
pub struct Found {
    /// What it matched.
    pub flagged: Flagged,
    /// Its text.
    pub text: String,
    /// `flagged` as one line of JSON (without the line end), made on the
    /// scanning thread beside the look-up when the scan is asked for it.
    pub json: Option<String>,
}

/// What one document came to.
enum Outcome {
    Clean { bytes: usize, tokens: usize },
    Flagged(Box<Found>),
}

/// A document's outcome, keeping its text when it is flagged (and its
/// JSON line, with `json`).
fn outcome(index: &IndexSet, file: &str, line: u64, text: String, json: bool) -> Outcome {
    match audit_one(index, file, line, &text) {
        (tokens, None) => Outcome::Clean {
            bytes: text.len(),
            tokens,
        },
        (_, Some(f)) => {
            let json = json.then(|| {
                serde_json::to_string(&f)
                    .unwrap_or_else(|e| serde_json::json!({ "error": e.to_string() }).to_string())
            });
            Outcome::Flagged(Box::new(Found {
                flagged: *f,
                text,
                json,
            }))
        }
    }
}

/// The document's tokens, and what it matched when it is flagged.
pub(crate) fn audit_one(
    index: &IndexSet,
    file: &str,
    line: u64,
    text: &str,
) -> (usize, Option<Box<Flagged>>) {
    let r = index.query(text);
    let tokens = r.tokens;
    if !r.flagged {
        return (tokens, None);
    }
    let kind = r.matches.first().map_or("exact", |m| m.kind).to_string();
    let references = r
        .matches
        .into_iter()
        .take(10)
        .map(|m| AttributedMatch {
            attribution: index.reference(m.reference).unwrap_or_default(),
            matched: m,
        })
        .collect();
    let flagged = Flagged {
        file: file.to_owned(),
        line,
        kind,
        longest_run: r.longest_run,
        covered: r.covered,
        jaccard: r.jaccard,
        spans: r.spans,
        tokens,
        references,
    };
    (tokens, Some(Box::new(flagged)))
}

impl Summary {
    /// Counts one audited document.
    pub(crate) fn count(&mut self, file: &str, bytes: usize, tokens: usize, flagged: bool) {
        self.audited += 1;
        self.bytes += bytes as u64;
        self.tokens += tokens as u64;
        let e = match self.by_file.get_mut(file) {
            Some(e) => e,
            None => self.by_file.entry(file.to_owned()).or_default(),
        };
        e.0 += 1;
        if flagged {
            e.1 += 1;
            self.flagged += 1;
            self.flagged_tokens += tokens as u64;
        }
    }

    /// Tokens inside flagged documents.
    pub fn flagged_tokens(&self) -> u64 {
        self.flagged_tokens
    }

    /// Ends a count made batch by batch (see [`crate::audit_batch`]): the
    /// documents read are those audited, and the rate and its intervals
    /// are computed.
    pub fn finish(&mut self) {
        self.documents = self.audited;
        self.settle();
    }

    /// Recomputes the rate and its intervals.
    fn settle(&mut self) {
        self.rate = self.flagged as f64 / self.audited.max(1) as f64;
        self.wilson = wilson(self.flagged, self.audited);
        self.clopper_pearson = clopper_pearson(self.flagged, self.audited);
        self.token_weighted_rate = self.flagged_tokens as f64 / self.tokens.max(1) as f64;
    }

    /// Counts an outcome; hands a flagged document on.
    fn take(&mut self, file: &str, o: Outcome, on_flagged: &mut dyn FnMut(Found)) {
        match o {
            Outcome::Clean { bytes, tokens } => self.count(file, bytes, tokens, false),
            Outcome::Flagged(f) => {
                self.count(file, f.text.len(), f.flagged.tokens, true);
                on_flagged(*f);
            }
        }
    }
}

/// Audits `docs` in parallel; adds to `summary` and returns the flagged.
pub fn scan(index: &IndexSet, docs: &[Document], summary: &mut Summary) -> Vec<Flagged> {
    let results: Vec<(usize, Option<Box<Flagged>>)> = docs
        .par_iter()
        .map(|d| audit_one(index, &d.file, d.line, &d.text))
        .collect();
    let mut flagged = Vec::new();
    for (d, (tokens, f)) in docs.iter().zip(results) {
        summary.count(&d.file, d.text.len(), tokens, f.is_some());
        flagged.extend(f.map(|f| *f));
    }
    summary.settle();
    flagged
}

/// What the look-ups of one unit of input came to, in input order.
enum Done {
    Lines(std::sync::Arc<str>, Vec<Option<Result<Outcome, BadInput>>>),
    Parsed(Vec<Result<(String, Outcome), BadInput>>),
    Bad(BadInput),
}

/// A full scan of every document of `paths`, in three stages that run at
/// once: the files are read on a thread of their own, a block of lines
/// ahead; the lines of the block before are parsed and looked up on every
/// core; and the outcomes of the block before that are counted and handed
/// on here, on the calling thread (so that the cores do not wait while a
/// block's outcomes are counted and its flagged documents written). Counts
/// go to `summary` (bad input to `summary.errors`, in the order of the
/// input); each flagged document is handed to `on_flagged`, in input
/// order, with its JSON line when `json` is set (made on the scanning
/// threads); `on_block` sees the counts after every block (for a progress
/// line; the rate and its intervals are computed once, at the end) and
/// stops the scan by returning false.
#[allow(clippy::too_many_arguments)]
pub fn scan_paths(
    index: &IndexSet,
    paths: &[String],
    spec: &FieldSpec,
    progress: &Progress,
    json: bool,
    summary: &mut Summary,
    on_flagged: &mut dyn FnMut(Found),
    on_block: &mut dyn FnMut(&Summary) -> bool,
) {
    let pick = |v: &serde_json::Value| extract(v, spec);
    let picker = Picker {
        first_key: spec.first_key(false),
        pick: &pick,
    };
    let (tx, rx) = std::sync::mpsc::sync_channel::<Unit>(2);
    // Blocks' buffers go back to the reader once their lines are scanned.
    let (back, spares) = std::sync::mpsc::sync_channel::<Vec<u8>>(4);
    let (done_tx, done_rx) = std::sync::mpsc::sync_channel::<Done>(1);
    std::thread::scope(|s| {
        s.spawn(move || {
            // Sending fails once the receiver is gone (the scan stopped).
            produce(
                paths,
                spec,
                picker,
                false,
                progress,
                &mut || spares.try_recv().ok(),
                &mut |u| tx.send(u).is_ok(),
            )
        });
        // The look-ups: this thread hands each unit to every core and
        // waits; it stops when the counting below stops taking outcomes
        // (and so the reader at its next block).
        s.spawn(move || {
            for unit in rx {
                let done = match unit {
                    Unit::Lines(l) => {
                        let lines: Vec<(u64, &[u8])> = l.each().collect();
                        let results = lines
                            .par_iter()
                            .map(|&(n, raw)| {
                                Some(match line_text(raw, l.json, picker)? {
                                    Ok(text) => Ok(outcome(index, &l.file, n, text, json)),
                                    Err(error) => Err(BadInput {
                                        file: l.file.to_string(),
                                        line: n,
                                        error,
                                    }),
                                })
                            })
                            .collect();
                        drop(lines);
                        let _ = back.try_send(l.buf);
                        Done::Lines(l.file, results)
                    }
                    Unit::Parsed(items) => Done::Parsed(
                        items
                            .into_par_iter()
                            .map(|item| {
                                item.map(|d| {
                                    let o = outcome(index, &d.file, d.line, d.text, json);
                                    (d.file, o)
                                })
                            })
                            .collect(),
                    ),
                    Unit::Bad(b) => Done::Bad(b),
                };
                if done_tx.send(done).is_err() {
                    break;
                }
            }
        });
        for done in done_rx {
            match done {
                Done::Lines(file, results) => {
                    for r in results.into_iter().flatten() {
                        match r {
                            Ok(o) => summary.take(&file, o, on_flagged),
                            Err(b) => summary.errors.push(b),
                        }
                    }
                }
                Done::Parsed(results) => {
                    for r in results {
                        match r {
                            Ok((file, o)) => summary.take(&file, o, on_flagged),
                            Err(b) => summary.errors.push(b),
                        }
                    }
                }
                Done::Bad(b) => summary.errors.push(b),
            }
            if !on_block(summary) {
                break; // the look-ups stop at their next unit, the reader at its next block
            }
        }
    });
    summary.documents = summary.audited;
    // Once, at the end: the Clopper-Pearson bounds cost a sum over the
    // flagged count for every step of their bisection.
    summary.settle();
}
