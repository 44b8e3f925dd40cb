use super::{Chain, Check, Gate, Judged, Recognizer, RecognizerError, isolated, re};
use crate::EntityKind;

/// Words before a candidate that make it less likely.
const NEG: &[&str] = &[];

pub(super) fn recognizers() -> Result<Vec<Recognizer>, RecognizerError> {
    Ok(vec![Recognizer {
        kind: EntityKind::CnResidentId,
        // 18 characters, compact or as 6-8-4 with spaces; or the 15-digit
        // numbers issued before 1999 (no century, no check character).
        regex: re(r"[0-9]{6} ?[0-9]{8} ?[0-9]{3}[0-9Xx]|[0-9]{15}")?,
        group: 0,
        // Fifteen or seventeen digits, a space at most between two, and a
        // check character that may be `X`.
        gate: Gate::Digits(Chain {
            gap: 1,
            min: 15,
            before: 0,
            after: 1,
        }),
        check: Check::Refine(refine),
        context: &[
            "身份证",
            "身份证号",
            "证件号",
            "id card",
            "resident id",
            "identity",
        ],
        negative: NEG,
    }])
}

/// Province-level region codes (first two digits).
const REGIONS: &[u32] = &[
    11, 12, 13, 14, 15, 21, 22, 23, 31, 32, 33, 34, 35, 36, 37, 41, 42, 43, 44, 45, 46, 50, 51, 52,
    53, 54, 61, 62, 63, 64, 65, 71, 81, 82,
];

fn leap(y: u32) -> bool {
    (y.is_multiple_of(4) && !y.is_multiple_of(100)) || y.is_multiple_of(400)
}

/// The structure of an 18-character resident ID, check character aside:
/// 17 digits, a valid province and a real birth date (1800 to 2099).
pub fn cn_id_shaped(s: &str) -> bool {
    let b = s.as_bytes();
    if b.len() != 18 || !b[..17].iter().all(u8::is_ascii_digit) {
        return false;
    }
    let num = |r: std::ops::Range<usize>| s[r].parse::<u32>().unwrap_or(0);
    if !REGIONS.contains(&num(0..2)) {
        return false;
    }
    let (y, m, d) = (num(6..10), num(10..12), num(12..14));
    let days = match m {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if leap(y) => 29,
        2 => 28,
        _ => return false,
    };
    (1800..=2099).contains(&y) && d != 0 && d <= days
}

/// GB 11643: a valid province, a real birth date (1800 to 2099) and the
/// ISO 7064 MOD 11-2 check character.
pub fn cn_id_valid(s: &str) -> bool {
    if !cn_id_shaped(s) {
        return false;
    }
    let b = s.as_bytes();
    const W: [u32; 17] = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
    let sum: u32 = b[..17]
        .iter()
        .zip(W)
        .map(|(c, w)| u32::from(c - b'0') * w)
        .sum();
    let check = b"10X98765432"[(sum % 11) as usize];
    b[17].to_ascii_uppercase() == check
}

/// A 15-digit number of before 1999: a valid province and a real date of
/// birth in the 1900s (`YYMMDD`); it has no check character, so it is
/// weaker evidence than an 18-character one.
pub fn cn_id_legacy_valid(s: &str) -> bool {
    // Judged as the 18-character form with the century put in; the check
    // character it lacks plays no part in the shape.
    s.len() == 15
        && s.bytes().all(|c| c.is_ascii_digit())
        && cn_id_shaped(&format!("{}19{}0", &s[..6], &s[6..]))
}

fn refine(text: &str, start: usize, end: usize) -> Option<Judged> {
    let s = &text[start..end];
    if !isolated(text, start, end) {
        return None;
    }
    let compact: String = s.chars().filter(|c| *c != ' ').collect();
    if compact.len() == 18 && cn_id_valid(&compact) {
        return Some((start, end, 0.9));
    }
    (compact.len() == 15 && cn_id_legacy_valid(&compact)).then_some((start, end, 0.5))
}

#[cfg(test)]
mod tests {
    use super::cn_id_valid;

    #[test]
    fn ids() {
        assert!(cn_id_valid("11010519491231002X"));
        assert!(cn_id_valid("440524188001010014"));
        assert!(!cn_id_valid("110105194912310021"), "check character");
        assert!(!cn_id_valid("11010519490231002X"), "February 31st");
        assert!(!cn_id_valid("99010519491231002X"), "no such region");
        assert!(super::cn_id_legacy_valid("110105491231002"));
        assert!(
            !super::cn_id_legacy_valid("110105490231002"),
            "February 31st"
        );
    }

    #[test]
    fn notations() {
        use crate::EntityKind;
        let found = |t: &str| crate::recognizers::recognizer::found(EntityKind::CnResidentId, t);
        for id in [
            "11010519491231002X",
            "11010519491231002x",
            "110105 19491231 002X",
            "１１０１０５１９４９１２３１００２Ｘ",
            "110105491231002",
        ] {
            assert_eq!(found(&format!("身份证号{id}，谢谢")), vec![id], "{id}");
            assert_eq!(found(&format!("ID {id} on file")), vec![id], "{id}");
        }
    }
}
