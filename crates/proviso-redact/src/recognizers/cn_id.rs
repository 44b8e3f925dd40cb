use super::{Check, Recognizer, isolated, re};
use crate::EntityKind;

/// Words before a candidate that make it less likely.
const NEG: &[&str] = &[];

pub(super) fn recognizers() -> Result<Vec<Recognizer>, regex::Error> {
    Ok(vec![Recognizer {
        kind: EntityKind::CnResidentId,
        regex: re(r"[0-9]{17}[0-9Xx]")?,
        group: 0,
        check: Check::Valid(validate, 0.9),
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

/// GB 11643: a valid province, a real birth date (1800 to 2099) and the
/// ISO 7064 MOD 11-2 check character.
pub fn cn_id_valid(s: &str) -> bool {
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
    if !(1800..=2099).contains(&y) || d == 0 || d > days {
        return false;
    }
    const W: [u32; 17] = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
    let sum: u32 = b[..17]
        .iter()
        .zip(W)
        .map(|(c, w)| u32::from(c - b'0') * w)
        .sum();
    let check = b"10X98765432"[(sum % 11) as usize];
    b[17].to_ascii_uppercase() == check
}

fn validate(text: &str, start: usize, end: usize) -> bool {
    cn_id_valid(&text[start..end]) && isolated(text, start, end)
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
    }
}
