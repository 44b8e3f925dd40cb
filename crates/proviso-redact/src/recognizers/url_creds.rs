use super::{Check, Recognizer, re};
use crate::EntityKind;

/// Words before a candidate that make it less likely.
const NEG: &[&str] = &[];

pub(super) fn recognizers() -> Result<Vec<Recognizer>, regex::Error> {
    Ok(vec![Recognizer {
        kind: EntityKind::UrlCredentials,
        // The entity is the `user:password` part; the host stays readable.
        regex: re(
            r"[A-Za-z][A-Za-z0-9+.-]{1,15}://([^\s:/@]{1,128}:[^\s/@]{1,256})@[A-Za-z0-9.-]+",
        )?,
        group: 1,
        check: Check::Valid(|_, _, _| true, 0.95),
        context: &[],
        negative: NEG,
    }])
}

#[cfg(test)]
mod tests {
    use crate::{EntityKind, RedactConfig, Redactor};

    #[test]
    fn url_credentials() {
        let r = Redactor::new(RedactConfig::default()).unwrap();
        let t = "db at postgres://app:s3cr3t!@db.internal:5432/prod and https://example.com/a:b@c";
        let f: Vec<_> = r
            .find(t, None)
            .into_iter()
            .filter(|f| f.kind == EntityKind::UrlCredentials)
            .collect();
        assert_eq!(f.len(), 1);
        assert_eq!(&t[f[0].start..f[0].end], "app:s3cr3t!");
    }
}
