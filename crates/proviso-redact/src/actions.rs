use serde::{Deserialize, Serialize};

/// What to do with a finding.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    /// A placeholder such as `<EMAIL_1>`, the same for the same value within
    /// a conversation, restored in the answer.
    #[default]
    Pseudonymize,
    /// Keep the last four characters, star the rest (separators kept).
    Mask,
    /// `<EMAIL>`: gone for good.
    Redact,
    /// `<EMAIL:9f2c…>`: a keyed HMAC-SHA256, stable across conversations,
    /// not reversible without the key.
    Hash,
}

/// Partial masking: letters and digits become `*` except the last four.
pub fn mask(value: &str) -> String {
    let alnum = value.chars().filter(|c| c.is_alphanumeric()).count();
    let keep_from = alnum.saturating_sub(4);
    let mut seen = 0;
    value
        .chars()
        .map(|c| {
            if c.is_alphanumeric() {
                seen += 1;
                if seen <= keep_from { '*' } else { c }
            } else {
                c
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::mask;

    #[test]
    fn masks_all_but_last_four() {
        assert_eq!(mask("4111 1111 1111 1111"), "**** **** **** 1111");
        assert_eq!(mask("abc"), "abc");
    }
}
