use super::{Recognizer, digits, isolated, re};
use crate::EntityKind;

/// Words before a candidate that make it less likely.
const NEG: &[&str] = &[
    "order", "invoice", "isbn", "tracking", "serial", "订单", "单号", "编号",
];

const CONTEXT: &[&str] = &[
    "phone", "tel", "call", "mobile", "cell", "whatsapp", "fax", "电话", "手机", "联系", "致电",
];

pub(super) fn recognizers() -> Result<Vec<Recognizer>, regex::Error> {
    Ok(vec![
        // Chinese mobiles: 1[3-9] + 9 digits, optionally +86 / 0086, with
        // optional separators after the third and seventh digit.
        Recognizer {
            kind: EntityKind::Phone,
            regex: re(r"(?:(?:\+|00)86[ -]?)?1[3-9][0-9][ -]?[0-9]{4}[ -]?[0-9]{4}")?,
            group: 0,
            validate: cn_mobile,
            score: 0.85,
            context: CONTEXT,
            negative: NEG,
        },
        // International form: +CC then groups, 8 to 15 digits in all (E.164).
        Recognizer {
            kind: EntityKind::Phone,
            regex: re(r"\+[1-9][0-9]{0,2}(?:[ .-]?\(?[0-9]{1,4}\)?){2,5}")?,
            group: 0,
            validate: international,
            score: 0.8,
            context: CONTEXT,
            negative: NEG,
        },
        // North American national form: (415) 555-0132, 415-555-0132, 415.555.0132.
        Recognizer {
            kind: EntityKind::Phone,
            regex: re(r"(?:\([0-9]{3}\)\s?|[0-9]{3}[-.])[0-9]{3}[-.][0-9]{4}")?,
            group: 0,
            validate: nanp,
            score: 0.6,
            context: CONTEXT,
            negative: NEG,
        },
    ])
}

fn cn_mobile(text: &str, start: usize, end: usize) -> bool {
    let d = digits(&text[start..end]);
    let d = d
        .strip_prefix("0086")
        .or_else(|| d.strip_prefix("86").filter(|r| r.len() == 11))
        .unwrap_or(&d);
    d.len() == 11 && isolated(text, start, end) && !text[..start].ends_with('+')
}

fn international(text: &str, start: usize, end: usize) -> bool {
    let d = digits(&text[start..end]);
    (8..=15).contains(&d.len()) && isolated(text, start, end)
}

fn nanp(text: &str, start: usize, end: usize) -> bool {
    let d = digits(&text[start..end]);
    let ok_area = d.len() == 10 && !d.starts_with('0') && !d.starts_with('1');
    let exchange_ok = d
        .as_bytes()
        .get(3)
        .is_some_and(|c| *c != b'0' && *c != b'1');
    ok_area && exchange_ok && isolated(text, start, end)
}

#[cfg(test)]
mod tests {
    use crate::{EntityKind, RedactConfig, Redactor};

    #[test]
    fn phones() {
        let r = Redactor::new(RedactConfig::default()).unwrap();
        let found = |t: &str| {
            r.find(t, None)
                .into_iter()
                .filter(|f| f.kind == EntityKind::Phone)
                .map(|f| t[f.start..f.end].to_string())
                .collect::<Vec<_>>()
        };
        assert_eq!(found("请联系我：13800138000。"), vec!["13800138000"]);
        assert_eq!(
            found("call +86 138 0013 8000 now"),
            vec!["+86 138 0013 8000"]
        );
        assert_eq!(
            found("UK office +44 20 7946 0958."),
            vec!["+44 20 7946 0958"]
        );
        assert_eq!(
            found("ring (415) 555-0132 or 415-555-0132"),
            vec!["(415) 555-0132", "415-555-0132"]
        );
        assert!(
            found("order 12800138000123 shipped").is_empty(),
            "digits inside a longer number"
        );
        assert!(
            found("version 10.5.2024, code 123-456-7890").is_empty(),
            "area code cannot start with 1"
        );
    }
}
