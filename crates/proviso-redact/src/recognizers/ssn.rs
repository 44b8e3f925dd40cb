use super::{Check, Recognizer, isolated, re};
use crate::EntityKind;

/// Words before a candidate that make it less likely.
const NEG: &[&str] = &[];

pub(super) fn recognizers() -> Result<Vec<Recognizer>, regex::Error> {
    Ok(vec![Recognizer {
        kind: EntityKind::UsSsn,
        regex: re(r"[0-9]{3}-[0-9]{2}-[0-9]{4}")?,
        group: 0,
        check: Check::Valid(validate, 0.85),
        context: &["ssn", "social security", "social-security", "taxpayer"],
        negative: NEG,
    }])
}

/// SSA rules: area not 000, 666 or 9xx; group not 00; serial not 0000; and
/// not the advertised sample 078-05-1120.
fn validate(text: &str, start: usize, end: usize) -> bool {
    let s = &text[start..end];
    let (area, rest) = s.split_at(3);
    let (group, serial) = (&rest[1..3], &rest[4..]);
    area != "000"
        && area != "666"
        && !area.starts_with('9')
        && group != "00"
        && serial != "0000"
        && s != "078-05-1120"
        && isolated(text, start, end)
}

#[cfg(test)]
mod tests {
    use crate::{EntityKind, RedactConfig, Redactor};

    #[test]
    fn ssns() {
        let r = Redactor::new(RedactConfig::default()).unwrap();
        let n = |t: &str| {
            r.find(t, None)
                .into_iter()
                .filter(|f| f.kind == EntityKind::UsSsn)
                .count()
        };
        assert_eq!(n("SSN 536-22-1234 on file"), 1);
        assert_eq!(
            n("000-12-3456 666-12-3456 912-12-3456 123-00-4567 123-45-0000"),
            0
        );
    }
}
