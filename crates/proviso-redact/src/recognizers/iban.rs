//! IBANs of every country in the SWIFT registry (the `iban_validate`
//! crate checks the country's length and BBAN format and the mod-97 check
//! digits), written compact or in groups of four, in capitals or lower
//! case. A candidate that took in the next word (`… 7654 32 and`) is
//! trimmed of its last group until valid.

use super::{Check, Gate, Judged, Recognizer, RecognizerError, isolated, re};
use crate::EntityKind;

/// Words before a candidate that make it less likely.
const NEG: &[&str] = &[];

pub(super) fn recognizers() -> Result<Vec<Recognizer>, RecognizerError> {
    Ok(vec![Recognizer {
        kind: EntityKind::Iban,
        regex: re(r"(?i)[A-Z]{2}[0-9]{2}(?: ?[A-Z0-9]{4}){2,7}(?: ?[A-Z0-9]{1,3})?")?,
        group: 0,
        // Country letters and check digits, then at most 39 more bytes.
        gate: Gate::LettersDigits { len: 43 },
        check: Check::Refine(refine),
        context: &[
            "iban", "account", "bank", "transfer", "账户", "账号", "konto", "compte", "cuenta",
            "conto", "rekening",
        ],
        negative: NEG,
    }])
}

/// Whether `s` (spaces allowed anywhere, any case) is a valid IBAN.
pub fn iban_valid(s: &str) -> bool {
    let compact: String = s
        .chars()
        .filter(|c| !c.is_whitespace())
        .map(|c| c.to_ascii_uppercase())
        .collect();
    compact.parse::<iban::Iban>().is_ok()
}

/// The IBAN in the candidate, trimmed of trailing groups until valid.
fn refine(text: &str, start: usize, end: usize) -> Option<Judged> {
    let mut end = end;
    for _ in 0..3 {
        let cand = &text[start..end];
        if iban_valid(cand) && isolated(text, start, end) {
            return Some((start, end, 0.9));
        }
        // Drop the last space-separated group.
        let cut = cand.rfind(' ')?;
        end = start + cand[..cut].trim_end().len();
    }
    None
}

#[cfg(test)]
mod tests {
    use super::iban_valid;
    use crate::EntityKind;

    #[test]
    fn ibans() {
        assert!(iban_valid("GB82 WEST 1234 5698 7654 32"));
        assert!(iban_valid("DE89370400440532013000"));
        assert!(!iban_valid("GB82 WEST 1234 5698 7654 33"), "check digits");
        assert!(!iban_valid("DE8937040044053201300"), "length");
        assert!(!iban_valid("ZZ89370400440532013000"), "country");
        assert!(iban_valid("gb82 west 1234 5698 7654 32"), "lower case");
    }

    #[test]
    fn notations() {
        let found = |t: &str| crate::recognizers::recognizer::found(EntityKind::Iban, t);
        for iban in [
            "GB82 WEST 1234 5698 7654 32",
            "GB82WEST12345698765432",
            "gb82 west 1234 5698 7654 32",
            "FR14 2004 1010 0505 0001 3M02 606",
            "NO93 8601 1117 947",
            "MT84 MALT 0110 0001 2345 MTLC AST0 01S",
        ] {
            assert_eq!(
                found(&format!("pay to {iban} and thanks")),
                vec![iban],
                "{iban}"
            );
            assert_eq!(found(&format!("汇款至{iban}，谢谢")), vec![iban], "{iban}");
        }
        assert!(
            found("pay to GB82 WEST 1234 5698 7654 33 now").is_empty(),
            "check digits"
        );
    }
}
