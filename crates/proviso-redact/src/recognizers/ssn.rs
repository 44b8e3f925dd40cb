//! US social security numbers: `536-22-1234` on its own; `536 22 1234` and
//! `536221234` only after a word that says so ("SSN", "social security").
//! The SSA's rules reject impossible numbers (area 000, 666 or 9xx, group
//! 00, serial 0000, the advertised sample 078-05-1120); the digits after a
//! phone's country code (`+1 201-55-4664`) are not one.

use super::{Chain, Check, Gate, Judged, Recognizer, RecognizerError, isolated_after_label, re};
use crate::EntityKind;

/// Words before a candidate that make it less likely.
const NEG: &[&str] = &["order", "invoice", "tracking", "phone", "tel", "订单"];

pub(super) fn recognizers() -> Result<Vec<Recognizer>, RecognizerError> {
    Ok(vec![Recognizer {
        kind: EntityKind::UsSsn,
        regex: re(r"[0-9]{3}-[0-9]{2}-[0-9]{4}|[0-9]{3} [0-9]{2} [0-9]{4}|[0-9]{9}")?,
        group: 0,
        gate: Gate::Digits(Chain {
            gap: 1,
            min: 9,
            before: 0,
            after: 0,
        }),
        check: Check::Refine(refine),
        context: &[
            "ssn",
            "social security",
            "social-security",
            "taxpayer",
            "社会安全",
            "社會安全",
            "社保号",
        ],
        negative: NEG,
    }])
}

fn refine(text: &str, start: usize, end: usize) -> Option<Judged> {
    let s = &text[start..end];
    let d: String = s.chars().filter(char::is_ascii_digit).collect();
    let (area, group, serial) = (&d[..3], &d[3..5], &d[5..]);
    let possible = area != "000"
        && area != "666"
        && !area.starts_with('9')
        && group != "00"
        && serial != "0000"
        && d != "078051120";
    // `+1 201-55-4664`: a `+` and one to three digits right before (looked
    // at in the few bytes before only, so a long run of digits stays linear).
    let b = text.as_bytes();
    let mut i = start;
    while i > 0 && start - i < 2 && b[i - 1] == b' ' {
        i -= 1;
    }
    let digits_end = i;
    while i > 0 && digits_end - i < 4 && b[i - 1].is_ascii_digit() {
        i -= 1;
    }
    let code = digits_end - i;
    let after_country_code = (1..=3).contains(&code) && i > 0 && b[i - 1] == b'+';
    if !possible || after_country_code || !isolated_after_label(text, start, end, &["ssn", "no"]) {
        return None;
    }
    // Dashes are the SSN's own notation; other forms need a context word
    // (0.35 or 0.4, plus 0.3).
    let score = if s.contains('-') {
        0.85
    } else if s.contains(' ') {
        0.4
    } else {
        0.35
    };
    Some((start, end, score))
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
        assert_eq!(n("SSN: 536 22 1234"), 1);
        assert_eq!(n("social security number 536221234"), 1);
        assert_eq!(n("社会安全号码536221234，"), 1);
        assert_eq!(n("社会安全号码SSN536-22-1234，"), 1, "a label against it");
        assert_eq!(n("see 536221234 and 536 22 1234"), 0, "no context");
        assert_eq!(n("call +1 201-55-4664"), 0, "a phone's digits");
    }
}
