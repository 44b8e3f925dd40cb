use super::{Check, Recognizer, re};
use crate::EntityKind;

/// Words before a candidate that make it less likely.
const NEG: &[&str] = &[];

/// How far before an address a URL's `scheme://` is looked for, bytes.
const USERINFO_LOOKBACK: usize = 256;

pub(super) fn recognizers() -> Result<Vec<Recognizer>, regex::Error> {
    Ok(vec![Recognizer {
        kind: EntityKind::Email,
        regex: re(
            r"[A-Za-z0-9][A-Za-z0-9._%+-]{0,63}@[A-Za-z0-9](?:[A-Za-z0-9-]{0,62}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,62}[A-Za-z0-9])?)*\.[A-Za-z]{2,24}",
        )?,
        group: 0,
        check: Check::Valid(validate, 0.9),
        context: &["email", "e-mail", "mail", "contact", "邮箱", "邮件"],
        negative: NEG,
    }])
}

fn validate(text: &str, start: usize, end: usize) -> bool {
    let Some((local, _domain)) = text[start..end].split_once('@') else {
        return false;
    };
    // `scheme://user:password@host` is a URL's userinfo, not an address.
    // Look back at most USERINFO_LOOKBACK bytes for the URL's start: a
    // longer look would make text of back-to-back addresses quadratic, and
    // a longer userinfo is then masked as an address, which errs safe.
    let from = start.saturating_sub(USERINFO_LOOKBACK);
    let before = &text.as_bytes()[from..start];
    let token_start = before
        .iter()
        .rposition(|b| !b.is_ascii_graphic())
        .map_or(0, |i| i + 1);
    let in_url = before[token_start..].windows(3).any(|w| w == b"://");
    !local.ends_with('.') && !local.contains("..") && !in_url
}

#[cfg(test)]
mod tests {
    use crate::{EntityKind, RedactConfig, Redactor};

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
            kinds("postgres://svc:Pw1x@db.internal:5432/app"),
            0,
            "URL userinfo"
        );
    }
}
