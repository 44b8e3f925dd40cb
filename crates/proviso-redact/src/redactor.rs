use std::collections::BTreeMap;

use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;
use thiserror::Error;

use crate::actions::mask;
use crate::gate::{Gate, Marks};
use crate::recognizers::{self, Recognizer};
use crate::{Action, EntityKind, Finding, Session};

/// A problem building the redactor.
#[derive(Debug, Error)]
pub enum RedactError {
    /// A recogniser did not build (a bug).
    #[error("recogniser: {0}")]
    Recognizer(#[from] crate::recognizers::RecognizerError),
    /// `hash` was asked for without an HMAC key.
    #[error("the `hash` action needs an hmac_key")]
    NoHmacKey,
}

/// `[redact]`: what to look for and what to do with it.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct RedactConfig {
    /// Entity types looked for when a policy rule names none (default: all).
    #[serde(default = "all_kinds")]
    pub entities: Vec<EntityKind>,
    /// Action per entity type (default: `pseudonymize`).
    #[serde(default)]
    pub actions: BTreeMap<EntityKind, Action>,
    /// Findings below this confidence are ignored (context words add 0.3).
    #[serde(default = "default_threshold")]
    pub threshold: f32,
    /// Key for the `hash` action (HMAC-SHA256), usually `${PROVISO_HMAC_KEY}`.
    #[serde(default)]
    pub hmac_key: Option<String>,
}

fn all_kinds() -> Vec<EntityKind> {
    EntityKind::ALL.to_vec()
}
fn default_threshold() -> f32 {
    0.5
}

impl Default for RedactConfig {
    fn default() -> Self {
        Self {
            entities: all_kinds(),
            actions: BTreeMap::new(),
            threshold: default_threshold(),
            hmac_key: None,
        }
    }
}

/// A redacted text and what was replaced.
#[derive(Clone, Debug)]
pub struct Redacted {
    /// The text with replacements.
    pub text: String,
    /// The findings, with offsets into the original text.
    pub findings: Vec<Finding>,
}

/// The recognisers and the configuration, ready to use; share it.
pub struct Redactor {
    recognizers: Vec<Recognizer>,
    cfg: RedactConfig,
}

/// The candidates of `r` in `text` (the spans of its entity group), in the
/// given windows, or in the whole text without them. No pattern has
/// lookaround or anchors: a window's matches are the whole text's matches
/// inside it.
fn candidates<'t>(
    r: &'t Recognizer,
    text: &'t str,
    windows: Option<Vec<(usize, usize)>>,
) -> impl Iterator<Item = (usize, usize)> + 't {
    let windows = windows.unwrap_or_else(|| vec![(0, text.len())]);
    windows.into_iter().flat_map(move |(ws, we)| {
        let hay = &text[..we];
        let mut at = Some(ws);
        std::iter::from_fn(move || {
            // The whole match needs no capture groups, which cost a second
            // search per candidate.
            let (s, e, entity) = if r.group == 0 {
                let m = r.regex.find_at(hay, at?)?;
                (m.start(), m.end(), Some((m.start(), m.end())))
            } else {
                let c = r.regex.captures_at(hay, at?)?;
                let m = c.get(0)?;
                (
                    m.start(),
                    m.end(),
                    c.get(r.group).map(|g| (g.start(), g.end())),
                )
            };
            // After an empty match, the search goes on a character later.
            at = if e > s {
                Some(e)
            } else {
                hay[e..].chars().next().map(|c| e + c.len_utf8())
            };
            Some(entity)
        })
        .flatten()
    })
}

/// How far before a candidate context words are looked for, bytes.
const CONTEXT_WINDOW: usize = 48;

/// Where `n` starts in `h`. Context windows are short: a plain scan beats
/// setting up a substring search for every word.
fn occurrences<'a>(h: &'a [u8], n: &'a [u8]) -> impl Iterator<Item = usize> + 'a {
    let first = n.first().copied();
    (0..(h.len() + 1).saturating_sub(n.len()))
        .filter(move |&i| first.is_none_or(|f| h[i] == f) && h[i..].starts_with(n))
}

/// Whether `window` holds the context word `w`: an ASCII word as a whole
/// word (`tel` is not in `hotel`, `cell` not in `excellent`), others (Chinese,
/// Japanese) anywhere.
fn has_word(window: &str, w: &str) -> bool {
    if !w
        .bytes()
        .all(|c| c.is_ascii_alphanumeric() || c == b' ' || c == b'-')
    {
        return occurrences(window.as_bytes(), w.as_bytes())
            .next()
            .is_some();
    }
    let b = window.as_bytes();
    occurrences(b, w.as_bytes()).any(|i| {
        let before = i.checked_sub(1).and_then(|j| b.get(j));
        let after = b.get(i + w.len());
        before.is_none_or(|c| !c.is_ascii_alphabetic())
            && after.is_none_or(|c| !c.is_ascii_alphabetic())
    })
}

impl Redactor {
    /// Compiles the recognisers.
    pub fn new(cfg: RedactConfig) -> Result<Self, RedactError> {
        if cfg.actions.values().any(|a| *a == Action::Hash)
            && cfg.hmac_key.as_deref().is_none_or(str::is_empty)
        {
            return Err(RedactError::NoHmacKey);
        }
        Ok(Self {
            recognizers: recognizers::all()?,
            cfg,
        })
    }

    /// The configuration.
    pub fn config(&self) -> &RedactConfig {
        &self.cfg
    }

    /// Findings of the given types (default: the configured ones), overlaps
    /// resolved, in text order.
    ///
    /// The text is folded first (full-width forms and other scripts' digits
    /// to ASCII, Unicode spaces and dashes to ASCII ones, zero-width
    /// characters dropped: [`crate::fold`]); the offsets returned are the
    /// original text's, so a finding covers exactly the characters written.
    pub fn find(&self, original: &str, only: Option<&[EntityKind]>) -> Vec<Finding> {
        let folded = crate::fold::Folded::new(original);
        let mut found = self.find_folded(folded.text(), only, true);
        for f in &mut found {
            (f.start, f.end) = folded.original(f.start, f.end);
        }
        found
    }

    fn find_folded(&self, text: &str, only: Option<&[EntityKind]>, gated: bool) -> Vec<Finding> {
        let wanted = only.unwrap_or(&self.cfg.entities);
        let mut found = Vec::new();
        let marks = std::cell::OnceCell::new();
        for r in self.recognizers.iter().filter(|r| wanted.contains(&r.kind)) {
            let windows = match &r.gate {
                Gate::Everywhere => None,
                gate if gated => {
                    crate::gate::windows(text, gate, || marks.get_or_init(|| Marks::new(text)))
                }
                _ => None,
            };
            for (m_start, m_end) in candidates(r, text, windows) {
                let Some((start, end, mut score)) = r.check.judge(text, m_start, m_end) else {
                    continue;
                };
                if !r.context.is_empty() || !r.negative.is_empty() {
                    let from =
                        crate::fold::floor_boundary(text, start.saturating_sub(CONTEXT_WINDOW));
                    let window = text[from..start].to_lowercase();
                    if r.context.iter().any(|w| has_word(&window, w)) {
                        score = (score + 0.3).min(1.0);
                    }
                    if r.negative.iter().any(|w| has_word(&window, w)) {
                        score = (score - 0.3).max(0.0);
                    }
                }
                if score >= self.cfg.threshold {
                    found.push(Finding {
                        kind: r.kind,
                        start,
                        end,
                        score,
                    });
                }
            }
        }
        crate::resolve(found)
    }

    /// Replaces findings according to each type's action; pseudonyms go
    /// into `session` so the answer can be restored.
    pub fn redact(
        &self,
        text: &str,
        only: Option<&[EntityKind]>,
        session: &mut Session,
    ) -> Redacted {
        let findings = self.find(text, only);
        Redacted {
            text: self.replace(text, &findings, session),
            findings,
        }
    }

    /// `text` with each of `findings` (in order, not overlapping) replaced
    /// according to its type's action.
    pub(crate) fn replace(
        &self,
        text: &str,
        findings: &[Finding],
        session: &mut Session,
    ) -> String {
        let mut out = String::with_capacity(text.len());
        let mut last = 0;
        for f in findings {
            out.push_str(&text[last..f.start]);
            let value = &text[f.start..f.end];
            let action = self.cfg.actions.get(&f.kind).copied().unwrap_or_default();
            match action {
                Action::Pseudonymize => out.push_str(&session.placeholder(f.kind, value)),
                Action::Mask => out.push_str(&mask(value)),
                Action::Redact => {
                    out.push('<');
                    out.push_str(&f.kind.label());
                    out.push('>');
                }
                Action::Hash => {
                    let key = self.cfg.hmac_key.as_deref().unwrap_or_default();
                    let digest = match Hmac::<Sha256>::new_from_slice(key.as_bytes()) {
                        Ok(mut m) => {
                            m.update(f.kind.name().as_bytes());
                            m.update(b"\0");
                            m.update(value.as_bytes());
                            hex::encode(&m.finalize().into_bytes()[..8])
                        }
                        Err(_) => "0".repeat(16),
                    };
                    out.push_str(&format!("<{}:{digest}>", f.kind.label()));
                }
            }
            last = f.end;
        }
        out.push_str(&text[last..]);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn actions() {
        let mut cfg = RedactConfig::default();
        cfg.actions.insert(EntityKind::CreditCard, Action::Mask);
        cfg.actions.insert(EntityKind::UsSsn, Action::Redact);
        cfg.actions.insert(EntityKind::Email, Action::Hash);
        assert!(Redactor::new(cfg.clone()).is_err(), "hash needs a key");
        cfg.hmac_key = Some("k".into());
        let r = Redactor::new(cfg).unwrap();
        let mut s = Session::default();
        let out = r.redact(
            "card 4111 1111 1111 1111, SSN 536-22-1234, ann@example.com",
            None,
            &mut s,
        );
        assert!(
            out.text
                .starts_with("card **** **** **** 1111, SSN <US_SSN>, <EMAIL:"),
            "{}",
            out.text
        );
        let again = r.redact("ann@example.com", None, &mut Session::default());
        assert_eq!(
            out.text.rsplit(", ").next().unwrap(),
            again.text,
            "keyed hash is stable"
        );
        assert!(s.is_empty(), "nothing reversible was stored");
    }

    #[test]
    fn context_raises_confidence() {
        let cfg = RedactConfig {
            threshold: 0.8,
            ..RedactConfig::default()
        };
        let r = Redactor::new(cfg).unwrap();
        assert!(r.find("see 415-555-0132", None).is_empty());
        assert_eq!(r.find("phone: 415-555-0132", None).len(), 1);
        let default = Redactor::new(RedactConfig::default()).unwrap();
        assert_eq!(default.find("see 415-555-0132", None).len(), 1);
        assert!(
            default.find("order no. 415-555-0132", None).is_empty(),
            "negative context lowers confidence"
        );
    }

    use proptest::strategy::Strategy as _;

    /// Findings searched with the gates and over the whole text, side by
    /// side: the gates must change nothing.
    fn same_with_and_without_gates(r: &Redactor, t: &str) {
        let folded = crate::fold::Folded::new(t);
        let gated = r.find_folded(folded.text(), None, true);
        let whole = r.find_folded(folded.text(), None, false);
        assert_eq!(gated, whole, "in {t:?}");
    }

    #[test]
    fn gates_change_nothing_on_the_evaluation_and_corpora() {
        let r = Redactor::new(RedactConfig::default()).unwrap();
        let mut docs = 0;
        for line in include_str!("../../../tests/fixtures/redact_eval.jsonl").lines() {
            let v: serde_json::Value = serde_json::from_str(line).unwrap();
            same_with_and_without_gates(&r, v["text"].as_str().unwrap());
            docs += 1;
        }
        assert!(docs > 500);
        for corpus in [
            include_str!("../../../tests/fixtures/gpt4_outputs.json"),
            include_str!("../../../tests/fixtures/chinese_reviews.json"),
            include_str!("../../../tests/fixtures/c4_human.jsonl"),
        ] {
            same_with_and_without_gates(&r, corpus);
        }
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(2000))]
        #[test]
        fn gates_change_nothing_on_random_text(
            parts in proptest::collection::vec(proptest::prop_oneof![
                proptest::string::string_regex("[0-9]{1,8}").unwrap(),
                proptest::string::string_regex("[ .:/()+#xX-]{1,3}").unwrap(),
                proptest::string::string_regex("[a-fA-F0-9:]{1,9}").unwrap(),
                proptest::string::string_regex("[A-Z]{2}[0-9]{2}").unwrap(),
                proptest::string::string_regex("[a-z ]{1,6}").unwrap(),
                proptest::sample::select(vec![
                    "ext. ", "分机", "tel ", "SSN ", "IBAN ", "password: ", "Token=", "AUTH ",
                    "secretoken ", "@", "ann@example.com", "::", "\n", "\r\n", "号码", "，",
                    "X", "sk-", "4111", "+", "00", "(0)",
                ]).prop_map(str::to_string),
            ], 0..40)
        ) {
            static R: std::sync::OnceLock<Redactor> = std::sync::OnceLock::new();
            let r = R.get_or_init(|| Redactor::new(RedactConfig::default()).unwrap());
            same_with_and_without_gates(r, &parts.concat());
        }
    }

    #[test]
    fn only_the_requested_types() {
        let r = Redactor::new(RedactConfig::default()).unwrap();
        let t = "ann@example.com 192.168.0.1";
        assert_eq!(r.find(t, Some(&[EntityKind::IpAddress])).len(), 1);
    }
}
