//! Scanning documents against the index, and the summary.

use std::collections::BTreeMap;

use proviso_index::{Index, Match, Reference};
use rayon::prelude::*;
use serde::Serialize;

use crate::stats::{clopper_pearson, wilson};
use crate::{BadInput, Document};

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
}

fn audit_one(index: &Index, d: &Document) -> (usize, Option<Flagged>) {
    let r = index.query(&d.text);
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
            attribution: index
                .references()
                .get(m.reference as usize)
                .cloned()
                .unwrap_or_default(),
        })
        .collect();
    (
        tokens,
        Some(Flagged {
            file: d.file.clone(),
            line: d.line,
            kind,
            longest_run: r.longest_run,
            covered: r.covered,
            jaccard: r.jaccard,
            spans: r.spans,
            tokens,
            references,
        }),
    )
}

/// Audits `docs` in parallel; adds to `summary` and returns the flagged.
pub fn scan(index: &Index, docs: &[Document], summary: &mut Summary) -> Vec<Flagged> {
    let results: Vec<(usize, Option<Flagged>)> =
        docs.par_iter().map(|d| audit_one(index, d)).collect();
    let mut flagged = Vec::new();
    let mut flagged_tokens = (summary.token_weighted_rate * summary.tokens as f64).round() as u64;
    for (d, (tokens, f)) in docs.iter().zip(results) {
        summary.audited += 1;
        summary.bytes += d.text.len() as u64;
        summary.tokens += tokens as u64;
        let e = summary.by_file.entry(d.file.clone()).or_default();
        e.0 += 1;
        if let Some(f) = f {
            e.1 += 1;
            summary.flagged += 1;
            flagged_tokens += tokens as u64;
            flagged.push(f);
        }
    }
    summary.rate = summary.flagged as f64 / summary.audited.max(1) as f64;
    summary.wilson = wilson(summary.flagged, summary.audited);
    summary.clopper_pearson = clopper_pearson(summary.flagged, summary.audited);
    summary.token_weighted_rate = flagged_tokens as f64 / summary.tokens.max(1) as f64;
    flagged
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
