use super::{Check, Gate, Recognizer, RecognizerError, re};
use crate::EntityKind;

/// Words before a candidate that make it less likely.
const NEG: &[&str] = &[];

pub(super) fn recognizers() -> Result<Vec<Recognizer>, RecognizerError> {
    Ok(vec![Recognizer {
        kind: EntityKind::UrlCredentials,
        // The entity is the `user:password` part; the host stays readable.
        regex: re(
            r"[A-Za-z][A-Za-z0-9+.-]{1,15}://([^\s:/@]{1,128}:[^\s/@]{1,256})@[A-Za-z0-9.-]+",
        )?,
        group: 1,
        gate: Gate::Everywhere,
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

    #[test]
    fn every_scheme_and_inside_chinese_text() {
        let found = |t: &str| crate::recognizers::recognizer::found(EntityKind::UrlCredentials, t);
        for url in [
            "https://ann:Pw9xQz@example.com/path",
            "ftp://ann:Pw9xQz@files.example.com",
            "mongodb+srv://svc:Pw9xQz@cluster0.example.net/db",
            "redis://default:Pw9xQz@cache.example.com:6379",
            "amqp://guest:Pw9xQz@mq.example.com:5672/",
            "jdbc:postgresql://svc:Pw9xQz@db.example.com:5432/app",
        ] {
            // `user:password`, between the scheme and the last `@`.
            let creds = url.split("://").nth(1).unwrap().rsplit_once('@').unwrap().0;
            assert_eq!(found(&format!("use {url} now")), vec![creds], "{url}");
            assert_eq!(found(&format!("连接串{url}，谢谢")).len(), 1, "{url}");
        }
        assert!(
            found("clone ssh://git@github.com/org/repo.git").is_empty(),
            "no password"
        );
    }
}
