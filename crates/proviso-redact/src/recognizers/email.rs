//! E-mail addresses, ASCII or internationalised: a Unicode local part
//! (RFC 6531, `josé@example.es`, `用户@例子.公司`) and domain names in any
//! script (`müller@bücher.de`, `info@例え.jp`). The top-level domain must be
//! on the public suffix list (the `psl` crate) or a special-use or private
//! name (`.example`, `.test`, `.internal`, `.corp`), so `icon@2x.png` is not
//! an address. In text without spaces the address
//! starts after a context word (`邮箱zhang@…`) or where the script changes
//! (`联系zhang.wei@…`), and ends where its top-level domain does
//! (`….cn谢谢`). A URL's `user:password@host` is not an address.

use super::{Check, Gate, Judged, Recognizer, RecognizerError, re};
use crate::EntityKind;

/// Words before a candidate that make it less likely.
const NEG: &[&str] = &[];

/// How far before an address a URL's `scheme://` is looked for, bytes.
const USERINFO_LOOKBACK: usize = 256;

/// Words that end where an address written against them begins.
const LEADS: &[&str] = &[
    "电子邮件",
    "电子邮箱",
    "邮箱地址",
    "邮箱",
    "邮件",
    "电邮",
    "信箱",
    "联系",
    "郵箱",
    "郵件",
    "メール",
    "アドレス",
    "：",
    ":",
];

pub(super) fn recognizers() -> Result<Vec<Recognizer>, RecognizerError> {
    Ok(vec![Recognizer {
        kind: EntityKind::Email,
        // Unbounded repetitions (bounded ones of Unicode classes make the
        // automaton too big); lengths are checked after.
        regex: re(concat!(
            r"\w[\w.%+-]*@\w[\w-]*(?:\.\w[\w-]*)*",
            r"\.(?:[A-Za-z]{2,24}|\w+)",
        ))?,
        group: 0,
        gate: Gate::Everywhere,
        check: Check::Refine(refine),
        context: &["email", "e-mail", "mail", "contact", "邮箱", "邮件"],
        negative: NEG,
    }])
}

/// Han, kana, Hangul and the CJK punctuation and full-width blocks.
fn is_cjk(c: char) -> bool {
    matches!(c as u32, 0x3000..=0x30FF | 0x3400..=0x9FFF | 0xAC00..=0xD7AF | 0xF900..=0xFAFF | 0xFF00..=0xFFEF | 0x20000..=0x3134F)
}

fn is_ascii_word(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '%' | '+' | '-')
}

/// Where the local part `local` really starts (a byte offset into it):
/// after the last context word in it, then, if what is left ends in ASCII
/// after Chinese, Japanese or Korean (`到zhang.wei`), where the ASCII
/// begins.
fn local_start(local: &str) -> usize {
    if local.is_ascii() {
        return 0;
    }
    let lead = LEADS
        .iter()
        .filter_map(|w| local.rfind(w).map(|i| i + w.len()))
        .filter(|end| *end < local.len())
        .max()
        .unwrap_or(0);
    let rest = &local[lead..];
    let ascii_tail = rest
        .char_indices()
        .rev()
        .take_while(|(_, c)| is_ascii_word(*c))
        .last()
        .map(|(i, _)| i);
    match ascii_tail {
        Some(i) if i > 0 && rest[..i].chars().any(is_cjk) => lead + i,
        _ => lead,
    }
}

/// Top-level names that are not on the public suffix list but are real
/// where they are used: the special-use names of RFC 2606 and RFC 6761
/// (`example`, `test`, …) and the private ones organisations run inside
/// (`corp`, `internal`, `lan`, …): an address there is someone's address.
const PRIVATE_TLDS: &[&str] = &[
    "example",
    "test",
    "invalid",
    "localhost",
    "local",
    "internal",
    "intranet",
    "corp",
    "home",
    "lan",
    "private",
];

/// Whether `domain` (lower-cased) ends in a suffix on the public list, or
/// in a special-use or private top-level name.
fn known_suffix(domain: &str) -> bool {
    let lower = domain.to_lowercase();
    let last = lower.rsplit('.').next().unwrap_or("");
    !last.chars().all(|c| c.is_ascii_digit())
        && (PRIVATE_TLDS.contains(&last)
            || psl::suffix(lower.as_bytes()).is_some_and(|s| s.is_known()))
}

fn refine(text: &str, start: usize, end: usize) -> Option<Judged> {
    let at = start + text[start..end].rfind('@')?;
    let start = start + local_start(&text[start..at]);
    let local = &text[start..at];
    // The domain ends where a known top-level domain does: `….cn谢谢` ends
    // after `cn`, `….中国谢谢` after `中国`.
    let mut end = end;
    loop {
        let domain = &text[at + 1..end];
        if domain.contains('.') && known_suffix(domain) {
            break;
        }
        let last = domain.rsplit('.').next()?;
        if last.is_ascii() || last.chars().count() <= 1 {
            return None;
        }
        let cut = last.char_indices().last().map(|(i, _)| i)?;
        end = end - last.len() + cut;
    }
    let domain = &text[at + 1..end];
    if local.is_empty()
        || local.len() > 64
        || domain.len() > 253
        || domain.split('.').any(|l| l.is_empty() || l.len() > 63)
        || local.starts_with('.')
        || local.ends_with('.')
        || local.contains("..")
    {
        return None;
    }
    // `scheme://user:password@host` is a URL's userinfo, not an address.
    // Look back at most USERINFO_LOOKBACK bytes for the URL's start: a
    // longer look would make text of back-to-back addresses quadratic, and
    // a longer userinfo is then masked as an address, which errs safe.
    let from = crate::fold::floor_boundary(text, start.saturating_sub(USERINFO_LOOKBACK));
    let before = &text.as_bytes()[from..start];
    let token_start = before
        .iter()
        .rposition(|b| !b.is_ascii_graphic())
        .map_or(0, |i| i + 1);
    let in_url = before[token_start..].windows(3).any(|w| w == b"://");
    // Not inside a longer ASCII token (`x.y@z` after `abc` is fine: the
    // regex took the whole token).
    (!in_url).then_some((start, end, 0.9))
}

#[cfg(test)]
mod tests {
    use crate::{EntityKind, RedactConfig, Redactor};

    #[test]
    fn notations() {
        let found = |t: &str| crate::recognizers::recognizer::found(EntityKind::Email, t);
        for (text, want) in [
            (
                "write to ann.lee+tag@mail.example.co.uk today",
                "ann.lee+tag@mail.example.co.uk",
            ),
            ("请发邮件到zhang.wei@example.cn谢谢", "zhang.wei@example.cn"),
            ("邮箱josé@correo.es，谢谢", "josé@correo.es"),
            ("mail josé.garcía@correo.es now", "josé.garcía@correo.es"),
            ("mail info@bücher.de now", "info@bücher.de"),
            ("mail info@例え.jp now", "info@例え.jp"),
            ("邮箱用户@例子.中国。", "用户@例子.中国"),
            ("mail ivan@пример.рф now", "ivan@пример.рф"),
            ("MAIL ANN@EXAMPLE.COM NOW", "ANN@EXAMPLE.COM"),
            ("write to bob@corp.example now", "bob@corp.example"),
            ("write to ops@mail.internal now", "ops@mail.internal"),
        ] {
            assert_eq!(found(text), vec![want], "{text}");
        }
    }

    #[test]
    fn emails() {
        let r = Redactor::new(RedactConfig::default()).unwrap();
        let kinds = |t: &str| {
            r.find(t, None)
                .into_iter()
                .filter(|f| f.kind == EntityKind::Email)
                .count()
        };
        assert_eq!(kinds("write to ann.lee+tag@mail.example.co.uk today"), 1);
        assert_eq!(kinds("请发邮件到zhang.wei@example.cn谢谢"), 1);
        assert_eq!(kinds("not an email: a@b, user@localhost, @example.com"), 0);
        assert_eq!(
            kinds("icons: icon@2x.png, retina@3x.webp, logo@1.5x.svg"),
            0
        );
        assert_eq!(
            kinds("postgres://svc:Pw1x@db.internal:5432/app"),
            0,
            "URL userinfo"
        );
    }
}
