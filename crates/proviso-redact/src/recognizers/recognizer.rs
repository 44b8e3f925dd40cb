//! What every recogniser is made of, and the helpers they share.

use regex::Regex;

use crate::EntityKind;
pub use crate::gate::{Chain, Gate, Keywords};

/// One recogniser.
pub struct Recognizer {
    /// What it finds.
    pub kind: EntityKind,
    /// Candidates (the entity is capture group `group`, or the whole match).
    pub regex: Regex,
    /// Which capture group is the entity (0: the whole match).
    pub group: usize,
    /// Where the pattern can match at all (it is searched only there).
    pub gate: Gate,
    /// Which part of a candidate is the entity, and how sure (before
    /// context words).
    pub check: Check,
    /// Words that, shortly before the candidate, raise confidence by 0.3.
    pub context: &'static [&'static str],
    /// Words that, shortly before the candidate, lower confidence by 0.3
    /// (an order number is not a phone number).
    pub negative: &'static [&'static str],
}

/// A recogniser that did not build (a bug, caught by the tests).
#[derive(Debug, thiserror::Error)]
pub enum RecognizerError {
    /// A pattern did not compile.
    #[error("pattern: {0}")]
    Pattern(#[from] regex::Error),
    /// A gate's key words did not build.
    #[error("key words: {0}")]
    Words(#[from] aho_corasick::BuildError),
}

/// How a candidate is judged.
pub enum Check {
    /// The candidate is the entity if the validator (given the whole text
    /// and the candidate's span) accepts it, with this confidence.
    Valid(fn(&str, usize, usize) -> bool, f32),
    /// The entity is the part of the candidate the function gives (a
    /// candidate may take in a neighbouring number), with its confidence;
    /// `None`: no entity.
    Refine(fn(&str, usize, usize) -> Option<Judged>),
}

/// An entity's byte span and confidence.
pub type Judged = (usize, usize, f32);

impl Check {
    /// The entity's span and confidence in the candidate `start..end`.
    pub fn judge(&self, text: &str, start: usize, end: usize) -> Option<Judged> {
        match self {
            Check::Valid(f, score) => f(text, start, end).then_some((start, end, *score)),
            Check::Refine(f) => f(text, start, end),
        }
    }
}

/// Compiles a pattern written in this crate; a bad pattern is a bug caught
/// by the tests, so it is reported through the caller's error.
pub(crate) fn re(p: &str) -> Result<Regex, regex::Error> {
    Regex::new(p)
}

/// Whether the bytes around `start..end` are not ASCII letters or digits
/// (so `12345` is not found inside `A123456`). Works between CJK text and
/// digits, where `\b` would not.
pub fn isolated(text: &str, start: usize, end: usize) -> bool {
    let b = text.as_bytes();
    let before = start
        .checked_sub(1)
        .and_then(|i| b.get(i))
        .is_none_or(|c| !c.is_ascii_alphanumeric());
    let after = b.get(end).is_none_or(|c| !c.is_ascii_alphanumeric());
    before && after
}

/// Whether `before` ends in one of `labels` (lower case ASCII) written
/// right against what follows (`IP10.0.0.1`, `SSN536221234`, common in
/// text without spaces), the label itself not the end of a longer word.
pub fn label_before(before: &str, labels: &[&str]) -> bool {
    let b = before.as_bytes();
    labels.iter().any(|l| {
        b.len() >= l.len()
            && b[b.len() - l.len()..].eq_ignore_ascii_case(l.as_bytes())
            && !b[..b.len() - l.len()]
                .last()
                .is_some_and(u8::is_ascii_alphanumeric)
    })
}

/// As [`isolated`], but a label in `labels` may stand right before.
pub fn isolated_after_label(text: &str, start: usize, end: usize, labels: &[&str]) -> bool {
    let b = text.as_bytes();
    let glued = start
        .checked_sub(1)
        .and_then(|i| b.get(i))
        .is_some_and(u8::is_ascii_alphabetic);
    if glued && label_before(&text[..start], labels) {
        return b.get(end).is_none_or(|c| !c.is_ascii_alphanumeric());
    }
    isolated(text, start, end)
}

/// The ASCII digits of `s`.
pub(crate) fn digits(s: &str) -> String {
    s.chars().filter(char::is_ascii_digit).collect()
}

/// The texts of the findings of `kind` in `t`, with the default
/// configuration (for the recognisers' tests).
#[cfg(test)]
pub(crate) fn found(kind: EntityKind, t: &str) -> Vec<String> {
    use std::sync::OnceLock;
    static R: OnceLock<crate::Redactor> = OnceLock::new();
    let r = R.get_or_init(|| {
        crate::Redactor::new(crate::RedactConfig::default())
            .expect("the default recognisers compile")
    });
    r.find(t, None)
        .into_iter()
        .filter(|f| f.kind == kind)
        .map(|f| t[f.start..f.end].to_string())
        .collect()
}
