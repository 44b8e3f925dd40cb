use super::{Chain, Check, Gate, Judged, Recognizer, RecognizerError, digits, isolated, re};
use crate::EntityKind;

/// Words before a candidate that make it less likely.
const NEG: &[&str] = &[
    "order",
    "invoice",
    "tracking",
    "isbn",
    "订单",
    "单号",
    "身份证",
    "证件号",
    "id number",
    "resident id",
];

const CONTEXT: &[&str] = &[
    "card",
    "visa",
    "mastercard",
    "amex",
    "credit",
    "debit",
    "卡号",
    "信用卡",
    "银行卡",
];

pub(super) fn recognizers() -> Result<Vec<Recognizer>, RecognizerError> {
    Ok(vec![
        Recognizer {
            kind: EntityKind::CreditCard,
            // Digits on one line, compact or grouped with spaces, dashes or
            // dots: a list of cards one a line gives one candidate each.
            regex: re(r"[0-9](?:[ .\-]?[0-9]){12,18}")?,
            group: 0,
            // Thirteen to nineteen digits, one separator between two.
            gate: Gate::Digits(Chain {
                gap: 1,
                min: 13,
                before: 0,
                after: 0,
            }),
            check: Check::Valid(validate, 0.85),
            context: CONTEXT,
            negative: NEG,
        },
        Recognizer {
            kind: EntityKind::CreditCard,
            // A card split across a line break.
            regex: re(r"[0-9](?:(?:[ .\-]|\r?\n)?[0-9]){12,18}")?,
            group: 0,
            // A line break (two bytes with `\r`) may stand between two.
            gate: Gate::Digits(Chain {
                gap: 2,
                min: 13,
                before: 0,
                after: 0,
            }),
            check: Check::Refine(refine_split),
            context: CONTEXT,
            negative: NEG,
        },
    ])
}

/// A card across a line break: the candidate, or the candidate cut at one
/// of its later line breaks (the pattern may run on into the next line's
/// number), holding a line break whose first line is not a whole card
/// (cards one a line are the other recogniser's).
fn refine_split(text: &str, start: usize, end: usize) -> Option<Judged> {
    let s = &text[start..end];
    let first = s.find('\n')?;
    if digits(&s[..first]).len() >= 13 {
        return None;
    }
    // The candidate, then cut before each later line break (and its `\r`).
    let cuts = s[first + 1..].rmatch_indices('\n').map(|(i, _)| {
        let e = start + first + 1 + i;
        if text[..e].ends_with('\r') { e - 1 } else { e }
    });
    std::iter::once(end)
        .chain(cuts)
        .find(|&e| validate(text, start, e))
        .map(|e| (start, e, 0.85))
}

/// The Luhn checksum over the digits of `s`.
pub fn luhn_valid(s: &str) -> bool {
    let d: Vec<u32> = s.chars().filter_map(|c| c.to_digit(10)).collect();
    if d.len() < 2 {
        return false;
    }
    let sum: u32 = d
        .iter()
        .rev()
        .enumerate()
        .map(|(i, &x)| {
            if i % 2 == 1 {
                let y = x * 2;
                if y > 9 { y - 9 } else { y }
            } else {
                x
            }
        })
        .sum();
    sum.is_multiple_of(10)
}

fn known_issuer(d: &str) -> bool {
    let p = |n: usize| d.get(..n).and_then(|s| s.parse::<u32>().ok()).unwrap_or(0);
    let len = d.len();
    (d.starts_with('4') && matches!(len, 13 | 16 | 19))
        || ((51..=55).contains(&p(2)) || (2221..=2720).contains(&p(4))) && len == 16
        || matches!(p(2), 34 | 37) && len == 15
        || (p(4) == 6011 || p(2) == 65 || (644..=649).contains(&p(3))) && (16..=19).contains(&len)
        // JCB is 3528-3589 in the IIN register; issuers' and processors'
        // own checks (and the numbers people are given) use all of 35.
        || p(2) == 35 && (16..=19).contains(&len)
        || p(2) == 62 && (16..=19).contains(&len)
        || (p(2) == 36 || (300..=305).contains(&p(3))) && (14..=19).contains(&len)
}

fn validate(text: &str, start: usize, end: usize) -> bool {
    let s = &text[start..end];
    let d = digits(s);
    // Eighteen digits with a province and a birth date where a Chinese
    // resident ID has them are an ID (perhaps mistyped), not a card.
    let id_shaped = super::cn_id::cn_id_shaped(&d);
    !id_shaped
        && known_issuer(&d)
        && luhn_valid(&d)
        && grouped_as_cards_are(s)
        && isolated(text, start, end)
}

/// Whether `s` is compact or grouped as cards are printed (4-4-4-4,
/// 4-4-4-4-3, 4-6-5, 4-6-4, 4-4-4-1), with one kind of separator (a line
/// break may stand for it), so that a run of unrelated numbers is not
/// read as one card.
fn grouped_as_cards_are(s: &str) -> bool {
    let groups: Vec<usize> = s
        .split(|c: char| !c.is_ascii_digit())
        .filter(|g| !g.is_empty())
        .map(str::len)
        .collect();
    if groups.len() == 1 {
        return true;
    }
    let seps: Vec<&str> = s
        .split(|c: char| c.is_ascii_digit())
        .filter(|x| !x.is_empty())
        .collect();
    // One kind of separator; a line break may stand for it anywhere (a
    // number wrapped, or written one group a line).
    let kind = seps.iter().find(|x| !x.contains('\n'));
    let consistent = seps.iter().all(|x| x.contains('\n') || Some(x) == kind);
    let layouts: &[&[usize]] = &[
        &[4, 4, 4, 4],
        &[4, 4, 4, 4, 3],
        &[4, 6, 5],
        &[4, 6, 4],
        &[4, 4, 4, 1],
        &[4, 4, 4, 4, 1],
        &[4, 4, 4, 4, 2],
    ];
    consistent && layouts.contains(&groups.as_slice())
}

#[cfg(test)]
mod tests {
    use super::luhn_valid;
    use crate::{EntityKind, RedactConfig, Redactor};

    #[test]
    fn luhn() {
        assert!(luhn_valid("4111111111111111"));
        assert!(!luhn_valid("4111111111111112"));
        assert!(luhn_valid("378282246310005"));
    }

    #[test]
    fn cards() {
        let r = Redactor::new(RedactConfig::default()).unwrap();
        let n = |t: &str| {
            r.find(t, None)
                .into_iter()
                .filter(|f| f.kind == EntityKind::CreditCard)
                .count()
        };
        assert_eq!(n("card 4111 1111 1111 1111 exp 12/29"), 1);
        assert_eq!(
            n("卡号6222-0212-3456-7891-237请核对"),
            usize::from(luhn_valid("6222021234567891237"))
        );
        assert_eq!(n("card 4111 1111 1111 1112"), 0, "Luhn fails");
        assert_eq!(n("tracking 1234567890123456"), 0, "no issuer starts with 1");
        for card in [
            "4111 1111 1111 1111",
            "4111-1111-1111-1111",
            "4111.1111.1111.1111",
            "4111111111111111",
            "4111 1111\n1111 1111",
            "3782 822463 10005",
        ] {
            assert_eq!(n(&format!("card {card} ok")), 1, "{card:?}");
            assert_eq!(n(&format!("卡号{card}，谢谢")), 1, "{card:?}");
        }
        // Cards one a line, as in a list: each found, none joined to the
        // next across the line break.
        let list = "cards:\n4111 1111 1111 1111\n5555 5555 5555 4444\n3782 822463 10005\r\n4012888888881881\n";
        let found: Vec<&str> = r
            .find(list, None)
            .into_iter()
            .filter(|f| f.kind == EntityKind::CreditCard)
            .map(|f| &list[f.start..f.end])
            .collect();
        assert_eq!(
            found,
            vec![
                "4111 1111 1111 1111",
                "5555 5555 5555 4444",
                "3782 822463 10005",
                "4012888888881881"
            ]
        );
        assert_eq!(
            n("卡号\n4111 1111\n1111 1111\n5555 5555 5555 4444"),
            2,
            "a split card, then a whole one"
        );
        assert_eq!(n("ref 444114 4960426"), 0, "not a card's grouping");
        assert_eq!(n("4111 1111-1111.1111"), 0, "mixed separators");
    }
}
