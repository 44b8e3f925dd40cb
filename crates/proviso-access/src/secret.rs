use sha2::{Digest, Sha256};

use crate::AccessError;

const ALPHABET: &[u8; 62] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/// A new secret: `pvk-` followed by 40 base-62 characters (238 bits), and
/// the public id derived from fresh randomness (`key_` + 16 characters).
pub fn generate_secret() -> Result<(String, String), AccessError> {
    let mut buf = [0u8; 56];
    getrandom::fill(&mut buf).map_err(|e| AccessError::Random(e.to_string()))?;
    // 256 is not a multiple of 62: reject bytes >= 248 to keep it uniform.
    let mut chars = buf
        .iter()
        .filter(|b| **b < 248)
        .map(|b| ALPHABET[usize::from(*b % 62)]);
    let secret: String = std::iter::once("pvk-".to_string())
        .chain((&mut chars).take(40).map(|c| char::from(c).to_string()))
        .collect();
    let id: String = std::iter::once("key_".to_string())
        .chain(chars.take(16).map(|c| char::from(c).to_string()))
        .collect();
    if secret.len() != 44 || id.len() != 20 {
        // Astronomically unlikely (too many rejected bytes); try again.
        return generate_secret();
    }
    Ok((id, secret))
}

/// Hex SHA-256 of a secret: the only form in which secrets are stored.
pub fn hash_secret(secret: &str) -> String {
    hex::encode(Sha256::digest(secret.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_well_formed_and_distinct() {
        let (id1, s1) = generate_secret().unwrap();
        let (id2, s2) = generate_secret().unwrap();
        assert!(s1.starts_with("pvk-") && s1.len() == 44);
        assert!(id1.starts_with("key_") && id1.len() == 20);
        assert_ne!(s1, s2);
        assert_ne!(id1, id2);
        assert_eq!(hash_secret(&s1).len(), 64);
    }
}
