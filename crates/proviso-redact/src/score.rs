//! Scores the recognisers on an independently labelled set: one JSON object
//! per line with a document (`text`), the one item planted in it (`kind`,
//! byte `start`..`end`), whether it is a valid item (`valid`) or a
//! look-alike or decoy (`kind = "decoy"`), how it is written (`notation`),
//! and its `split` (`tune` or `test`). The set is made by
//! `bench/redact_eval/gen.py` from faker, libphonenumber's example numbers
//! and python-stdnum, never with this crate's validators.
//!
//! - A valid item is **recalled** when a finding of its type covers every
//!   letter and digit of it and no letter or digit of the text around it.
//! - A look-alike or decoy is a **false positive** when any finding, of any
//!   type, touches it.
//! - The **carrier** is the text around the item: any finding there is a
//!   false positive of the finding's type (the text has no other entity).
//! - **Precision** of a type: findings of that type that recall an item,
//!   over all findings of that type.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::{EntityKind, Finding, Redactor};

/// One labelled document.
#[derive(Clone, Debug, Deserialize)]
pub struct Labelled {
    /// The document.
    pub text: String,
    /// The planted item's type (an [`EntityKind`] name), or `decoy`.
    pub kind: String,
    /// A valid item (to be found) or a look-alike (not to be found).
    pub valid: bool,
    /// How it is written (`national_DE`, `lower_grouped_FR`, `ipv6_full`…).
    pub notation: String,
    /// Byte offset of the item.
    pub start: usize,
    /// Byte offset after the item.
    pub end: usize,
    /// `tune` or `test`.
    pub split: String,
    /// `en` or `zh`.
    #[serde(default)]
    pub lang: String,
}

/// Counts for one type.
#[derive(Clone, Debug, Default, Serialize)]
pub struct TypeScore {
    /// Valid items of this type.
    pub positives: u64,
    /// Of them, recalled.
    pub recalled: u64,
    /// Look-alikes of this type.
    pub lookalikes: u64,
    /// Of them, touched by a finding.
    pub lookalikes_flagged: u64,
    /// Findings of this type.
    pub findings: u64,
    /// Of them, recalling an item.
    pub findings_correct: u64,
    /// Findings of this type in carrier text.
    pub carrier_findings: u64,
    /// Valid items missed, by notation.
    pub missed: BTreeMap<String, u64>,
    /// Look-alikes flagged, by notation.
    pub flagged: BTreeMap<String, u64>,
}

impl TypeScore {
    /// Recall.
    pub fn recall(&self) -> f64 {
        ratio(self.recalled, self.positives)
    }

    /// The share of look-alikes flagged.
    pub fn lookalike_fp(&self) -> f64 {
        ratio(self.lookalikes_flagged, self.lookalikes)
    }

    /// Precision.
    pub fn precision(&self) -> f64 {
        if self.findings == 0 {
            1.0
        } else {
            ratio(self.findings_correct, self.findings)
        }
    }
}

fn ratio(k: u64, n: u64) -> f64 {
    if n == 0 { 0.0 } else { k as f64 / n as f64 }
}

/// The Wilson score interval (95%) of `k` successes in `n` trials.
pub fn wilson(k: u64, n: u64) -> (f64, f64) {
    if n == 0 {
        return (0.0, 1.0);
    }
    let (k, n, z) = (k as f64, n as f64, 1.959_964);
    let p = k / n;
    let d = 1.0 + z * z / n;
    let c = (p + z * z / (2.0 * n)) / d;
    let m = z * ((p * (1.0 - p) / n + z * z / (4.0 * n * n)).sqrt()) / d;
    ((c - m).max(0.0), (c + m).min(1.0))
}

/// The whole score: per type (`decoy` holds the decoys), and the documents
/// whose carrier text got a finding.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Score {
    /// Per type.
    pub types: BTreeMap<String, TypeScore>,
    /// Documents scored.
    pub docs: u64,
    /// Documents with a finding in their carrier text.
    pub carrier_docs_touched: u64,
}

fn alnum_in(s: &str) -> bool {
    s.chars().any(char::is_alphanumeric)
}

/// Whether `f` covers every letter and digit of `text[start..end]` and none
/// of the text around it.
fn covers(text: &str, f: &Finding, start: usize, end: usize) -> bool {
    let item = &text[start..end];
    let first = item
        .char_indices()
        .find(|(_, c)| c.is_alphanumeric())
        .map_or(start, |(i, _)| start + i);
    let last = item
        .char_indices()
        .rev()
        .find(|(_, c)| c.is_alphanumeric())
        .map_or(end, |(i, c)| start + i + c.len_utf8());
    let outside_before = text.get(f.start.min(start)..start).unwrap_or("");
    let outside_after = text.get(end..f.end.max(end)).unwrap_or("");
    f.start <= first && f.end >= last && !alnum_in(outside_before) && !alnum_in(outside_after)
}

/// Adds one document's result.
pub fn add(score: &mut Score, r: &Redactor, d: &Labelled) {
    let found = r.find(&d.text, Some(EntityKind::ALL.as_slice()));
    score.docs += 1;
    let mut carrier = false;
    let planted = score.types.entry(d.kind.clone()).or_default();
    if d.valid {
        planted.positives += 1;
    } else {
        planted.lookalikes += 1;
    }
    let mut recalled = false;
    let mut touched = false;
    let mut per_kind: Vec<(String, bool, bool)> = Vec::new();
    for f in &found {
        let overlaps = f.start < d.end && f.end > d.start;
        let correct = d.valid && f.kind.name() == d.kind && covers(&d.text, f, d.start, d.end);
        recalled |= correct;
        touched |= overlaps;
        if !overlaps {
            carrier = true;
        }
        per_kind.push((f.kind.name().to_owned(), correct, !overlaps));
    }
    let planted = score.types.entry(d.kind.clone()).or_default();
    if d.valid && recalled {
        planted.recalled += 1;
    } else if d.valid {
        *planted.missed.entry(d.notation.clone()).or_default() += 1;
    }
    if !d.valid && touched {
        planted.lookalikes_flagged += 1;
        *planted.flagged.entry(d.notation.clone()).or_default() += 1;
    }
    for (kind, correct, in_carrier) in per_kind {
        let t = score.types.entry(kind).or_default();
        t.findings += 1;
        t.findings_correct += u64::from(correct);
        t.carrier_findings += u64::from(in_carrier);
    }
    score.carrier_docs_touched += u64::from(carrier);
}

/// Scores every line of `jsonl` in `split` (`None`: all).
pub fn score_jsonl(r: &Redactor, jsonl: &str, split: Option<&str>) -> Result<Score, String> {
    let mut score = Score::default();
    for (i, line) in jsonl.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let d: Labelled = serde_json::from_str(line).map_err(|e| format!("line {}: {e}", i + 1))?;
        if d.start > d.end
            || d.end > d.text.len()
            || !d.text.is_char_boundary(d.start)
            || !d.text.is_char_boundary(d.end)
        {
            return Err(format!("line {}: the span is not in the text", i + 1));
        }
        if split.is_none_or(|s| s == d.split) {
            add(&mut score, r, &d);
        }
    }
    Ok(score)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wilson_intervals() {
        let (lo, hi) = wilson(95, 100);
        assert!(
            (lo - 0.888).abs() < 0.002 && (hi - 0.978).abs() < 0.002,
            "{lo} {hi}"
        );
        assert_eq!(wilson(0, 0), (0.0, 1.0));
        let (lo, hi) = wilson(0, 300);
        assert!(lo < 1e-12, "{lo}");
        assert!(hi < 0.013, "{hi}");
    }

    #[test]
    fn a_finding_counts_only_when_it_covers_the_item_and_not_the_carrier() {
        let text = "call 415-555-0132x77 now";
        let f = |start, end| Finding {
            kind: EntityKind::Phone,
            start,
            end,
            score: 1.0,
        };
        assert!(covers(text, &f(5, 20), 5, 20));
        assert!(!covers(text, &f(5, 17), 5, 20), "the extension left out");
        assert!(!covers(text, &f(0, 20), 5, 20), "the carrier's word taken");
        assert!(
            covers(text, &f(4, 20), 5, 20),
            "a space around it is no harm"
        );
    }
}
