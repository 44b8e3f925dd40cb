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

/// What one document came to.
enum Outcome {
    Clean { bytes: usize, tokens: usize },
    Flagged(Box<Flagged>, String),
}

/// A document's outcome, keeping its text when it is flagged.
fn outcome(index: &IndexSet, file: &str, line: u64, text: String) -> Outcome {
    match audit_one(index, file, line, &text) {
        (tokens, None) => Outcome::Clean {
            bytes: text.len(),
            tokens,
        },
        (_, Some(f)) => Outcome::Flagged(f, text),
    }
}

/// The document's tokens, and what it matched when it is flagged.
fn audit_one(index: &IndexSet, file: &str, line: u64, text: &str) -> (usize, Option<Box<Flagged>>) {
    let r = index.query(text);
    let tokens = r.tokens;
    if !r.flagged {
        return (tokens, None);
    }
    let kind = r.matches.first().map_or("exact", |m| m.kind).to_string();
    let references = r
        .matches
        .iter()
        .take(10)
        .map(|m| AttributedMatch {
            matched: m.clone(),
            attribution: index.reference(m.reference).cloned().unwrap_or_default(),
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
    fn count(&mut self, file: &str, bytes: usize, tokens: usize, flagged: bool) {
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

    /// Recomputes the rate and its intervals.
    fn settle(&mut self) {
        self.rate = self.flagged as f64 / self.audited.max(1) as f64;
        self.wilson = wilson(self.flagged, self.audited);
        self.clopper_pearson = clopper_pearson(self.flagged, self.audited);
        self.token_weighted_rate = self.flagged_tokens as f64 / self.tokens.max(1) as f64;
    }

    /// Counts an outcome; hands a flagged document on with its text.
    fn take(&mut self, file: &str, o: Outcome, on_flagged: &mut dyn FnMut(Flagged, String)) {
        match o {
            Outcome::Clean { bytes, tokens } => self.count(file, bytes, tokens, false),
            Outcome::Flagged(f, text) => {
                self.count(file, text.len(), f.tokens, true);
                on_flagged(*f, text);
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

/// A full scan of every document of `paths`: the files are read on a
/// thread of their own, a block of lines ahead, while the lines of the
/// block before are parsed and looked up on every core. Counts go to
/// `summary` (bad input to `summary.errors`, in the order of the input);
/// each flagged document is handed to `on_flagged` with its text, in input
/// order; `on_block` sees the counts after every block (for a progress
/// line; the rate and its intervals are computed once, at the end) and
/// stops the scan by returning false.
pub fn scan_paths(
    index: &IndexSet,
    paths: &[String],
    spec: &FieldSpec,
    progress: &Progress,
    summary: &mut Summary,
    on_flagged: &mut dyn FnMut(Flagged, String),
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
        for unit in rx {
            match unit {
                Unit::Lines(l) => {
                    let lines: Vec<(u64, &[u8])> = l.each().collect();
                    let results: Vec<Option<Result<Outcome, BadInput>>> = lines
                        .par_iter()
                        .map(|&(n, raw)| {
                            Some(match line_text(raw, l.json, picker)? {
                                Ok(text) => Ok(outcome(index, &l.file, n, text)),
                                Err(error) => Err(BadInput {
                                    file: l.file.to_string(),
                                    line: n,
                                    error,
                                }),
                            })
                        })
                        .collect();
                    for r in results.into_iter().flatten() {
                        match r {
                            Ok(o) => summary.take(&l.file, o, on_flagged),
                            Err(b) => summary.errors.push(b),
                        }
                    }
                    drop(lines);
                    let _ = back.try_send(l.buf);
                }
                Unit::Parsed(items) => {
                    let results: Vec<Result<(String, Outcome), BadInput>> = items
                        .into_par_iter()
                        .map(|item| {
                            item.map(|d| {
                                let o = outcome(index, &d.file, d.line, d.text);
                                (d.file, o)
                            })
                        })
                        .collect();
                    for r in results {
                        match r {
                            Ok((file, o)) => summary.take(&file, o, on_flagged),
                            Err(b) => summary.errors.push(b),
                        }
                    }
                }
                Unit::Bad(b) => summary.errors.push(b),
            }
            if !on_block(summary) {
                break; // the receiver goes: the reader stops at its next block
            }
        }
    });
    summary.documents = summary.audited;
    // Once, at the end: the Clopper-Pearson bounds cost a sum over the
    // flagged count for every step of their bisection.
    summary.settle();
}

/// A uniform reservoir sample of `n` documents from a stream, seeded.
pub struct Sampler {
    n: usize,
    seen: u64,
    state: u64,
    /// The sample so far.
    pub kept: Vec<Document>,
}

/// A sampler of `n` documents with `seed`.
pub fn sample(n: usize, seed: u64) -> Sampler {
    Sampler {
        n,
        seen: 0,
        state: seed ^ 0x9E37_79B9_7F4A_7C15 | 1,
        kept: Vec::with_capacity(n),
    }
}

impl Sampler {
    fn rand(&mut self) -> u64 {
        self.state ^= self.state >> 12;
        self.state ^= self.state << 25;
        self.state ^= self.state >> 27;
        self.state.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// Offers one document (algorithm R).
    pub fn offer(&mut self, d: Document) {
        self.seen += 1;
        if self.kept.len() < self.n {
            self.kept.push(d);
        } else {
            let j = self.rand() % self.seen;
            if (j as usize) < self.n {
                self.kept[j as usize] = d;
            }
        }
    }

    /// Documents offered.
    pub fn seen(&self) -> u64 {
        self.seen
    }
}
