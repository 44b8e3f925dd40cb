use super::{Check, Gate, Keywords, Recognizer, RecognizerError, re};
use crate::EntityKind;

/// Words before a candidate that make it less likely.
const NEG: &[&str] = &[];

fn always(_: &str, _: usize, _: usize) -> bool {
    true
}

/// Keys and tokens whose issuers give them a fixed prefix: Anthropic,
/// OpenAI, AWS, GitHub, Slack, Google, Stripe, JWTs and Proviso's own.
const KNOWN: &[&str] = &[
    r"sk-ant-[A-Za-z0-9_-]{20,}",
    r"sk-(?:proj-|svcacct-)?[A-Za-z0-9_-]{20,}",
    r"(?:AKIA|ASIA)[0-9A-Z]{16}",
    r"gh[pousr]_[A-Za-z0-9]{36,}",
    r"github_pat_[A-Za-z0-9_]{22,}",
    r"xox[baprs]-[A-Za-z0-9-]{10,}",
    r"AIza[0-9A-Za-z_-]{35}",
    r"(?:sk|rk)_(?:live|test)_[A-Za-z0-9]{16,}",
    r"eyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}",
    r"pvk-[A-Za-z0-9]{40}",
];

/// The words the key-value pattern starts with (every way its alternation
/// can be spelled; matched in any case).
const KEY_WORDS: &[&str] = &[
    "api_key",
    "api-key",
    "apikey",
    "secret",
    "token",
    "password",
    "passwd",
    "pwd",
    "access_key",
    "access-key",
    "accesskey",
    "auth",
    "bearer",
    "credential",
    "密码",
    "密钥",
];

/// What may follow a key word inside a candidate: quotes, white space,
/// `:` and `=`, and the value's characters (the letters of `is` and
/// `bearer` among them).
fn after_key_word(c: char) -> bool {
    c.is_whitespace() || c.is_ascii_alphanumeric() || "\"'_-+/=.!@#$%^&*:".contains(c)
}

pub(super) fn recognizers() -> Result<Vec<Recognizer>, RecognizerError> {
    Ok(vec![
        // Private key blocks, whole. The body may hold anything but five
        // dashes (base64 lines, `Proc-Type:`/`DEK-Info:` headers), so a
        // match never runs from one block's header into another's, and the
        // pattern has no large counted repetition: a bounded one
        // (`[\s\S]{16,8192}`) made the regex engine's automaton too large
        // to cache, and text of back-to-back headers ran at 0.1 MB/s.
        Recognizer {
            kind: EntityKind::Secret,
            regex: re(
                r"-----BEGIN [A-Z ]{0,30}PRIVATE KEY-----(?:[^-]|-{1,4}[^-]){16,}-----END [A-Z ]{0,30}PRIVATE KEY-----",
            )?,
            group: 0,
            gate: Gate::Everywhere,
            check: Check::Valid(always, 1.0),
            context: &[],
            negative: NEG,
        },
        // Keys with a known prefix, one pattern (one pass over the text,
        // the prefixes found by the engine's literal search).
        Recognizer {
            kind: EntityKind::Secret,
            regex: re(&KNOWN.join("|"))?,
            group: 0,
            gate: Gate::Everywhere,
            check: Check::Valid(boundary, 0.95),
            context: &[],
            negative: NEG,
        },
        // A high-entropy value right after a key-like word: `api_key = …`,
        // `"password": "…"`, `Authorization: Bearer …`.
        Recognizer {
            kind: EntityKind::Secret,
            regex: re(
                r#"(?i)(?:api[_-]?key|secret|token|passw(?:or)?d|pwd|access[_-]?key|auth(?:orization)?|bearer|credential|密码|密钥)["']?\s{0,16}(?:[:=]|is|:\s{0,16}bearer)?\s{0,16}["']?(?:bearer\s{1,16})?([A-Za-z0-9_\-+/=.!@#$%^&*]{12,})"#,
            )?,
            group: 1,
            gate: Gate::Keywords(Keywords::new(KEY_WORDS, after_key_word)?),
            check: Check::Valid(high_entropy, 0.75),
            context: &[],
            negative: NEG,
        },
    ])
}

fn boundary(text: &str, start: usize, end: usize) -> bool {
    let b = text.as_bytes();
    let ok =
        |c: Option<&u8>| c.is_none_or(|c| !(c.is_ascii_alphanumeric() || *c == b'_' || *c == b'-'));
    ok(start.checked_sub(1).and_then(|i| b.get(i))) && ok(b.get(end))
}

/// Shannon entropy in bits per character.
pub fn entropy(s: &str) -> f64 {
    let mut counts = [0u32; 256];
    for b in s.bytes() {
        counts[usize::from(b)] += 1;
    }
    let n = s.len() as f64;
    counts
        .iter()
        .filter(|c| **c > 0)
        .map(|&c| {
            let p = f64::from(c) / n;
            -p * p.log2()
        })
        .sum()
}

fn high_entropy(text: &str, start: usize, end: usize) -> bool {
    let s = &text[start..end];
    let classes = [
        s.bytes().any(|b| b.is_ascii_lowercase()),
        s.bytes().any(|b| b.is_ascii_uppercase()),
        s.bytes().any(|b| b.is_ascii_digit()),
    ];
    entropy(s) >= 3.3 && classes.iter().filter(|x| **x).count() >= 2
}

#[cfg(test)]
mod tests {
    use crate::{EntityKind, RedactConfig, Redactor};

    #[test]
    fn secrets() {
        let r = Redactor::new(RedactConfig::default()).unwrap();
        let found = |t: &str| {
            r.find(t, None)
                .into_iter()
                .filter(|f| f.kind == EntityKind::Secret)
                .map(|f| t[f.start..f.end].to_string())
                .collect::<Vec<_>>()
        };
        assert_eq!(
            found("key sk-proj-abcDEF1234567890ghijKLMN done"),
            vec!["sk-proj-abcDEF1234567890ghijKLMN"]
        );
        assert_eq!(
            found("AWS AKIAIOSFODNN7EXAMPLE."),
            vec!["AKIAIOSFODNN7EXAMPLE"]
        );
        assert_eq!(
            found("api_key = \"Zx9Qw7Lm2Np4Rt6Vb8\""),
            vec!["Zx9Qw7Lm2Np4Rt6Vb8"]
        );
        assert_eq!(found("-----BEGIN RSA PRIVATE KEY-----\nMIIEpAIBAAKCAQEA1c2\n-----END RSA PRIVATE KEY-----").len(), 1);
        assert!(found("the password is 'correct horse'").is_empty());
        assert!(found("token = aaaaaaaaaaaaaaaa").is_empty(), "low entropy");
        assert!(found("sketch-of-a-plan and risk-management").is_empty());
    }
}
