use std::collections::HashMap;

use aes_gcm::aead::{Aead, KeyInit};
use aes_gcm::{Aes256Gcm, Nonce};
use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::EntityKind;

/// Problems sealing or opening a mapping.
#[derive(Debug, Error)]
pub enum SealError {
    /// The key is not 32 bytes of hex (64 hex characters).
    #[error("the mapping key must be 64 hex characters (32 bytes)")]
    BadKey,
    /// Encryption or decryption failed (wrong key, tampered data).
    #[error("the mapping could not be sealed or opened (wrong key or damaged data)")]
    Crypto,
    /// The random source failed.
    #[error("random source: {0}")]
    Random(String),
}

/// The placeholders of one conversation: the same value always gets the
/// same placeholder, numbered per type in order of first appearance, so a
/// conversation re-sent turn after turn keeps its numbering.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct Session {
    by_value: HashMap<String, String>,
    by_placeholder: HashMap<String, String>,
    counters: HashMap<EntityKind, u32>,
}

/// The longest placeholder `restore` looks for, in bytes.
pub const MAX_PLACEHOLDER: usize = 40;

impl Session {
    /// The placeholder for `value`, creating it if new.
    pub fn placeholder(&mut self, kind: EntityKind, value: &str) -> String {
        let k = format!("{}\0{value}", kind.name());
        if let Some(p) = self.by_value.get(&k) {
            return p.clone();
        }
        let n = self.counters.entry(kind).or_insert(0);
        *n += 1;
        let p = format!("<{}_{n}>", kind.label());
        self.by_value.insert(k, p.clone());
        self.by_placeholder.insert(p.clone(), value.to_owned());
        p
    }

    /// Whether nothing was pseudonymised.
    pub fn is_empty(&self) -> bool {
        self.by_placeholder.is_empty()
    }

    /// Number of distinct values held.
    pub fn len(&self) -> usize {
        self.by_placeholder.len()
    }

    /// The value behind a placeholder.
    pub fn value(&self, placeholder: &str) -> Option<&str> {
        self.by_placeholder.get(placeholder).map(String::as_str)
    }

    /// Replaces every known placeholder in `text` by its value.
    pub fn restore(&self, text: &str) -> String {
        if self.is_empty() || !text.contains('<') {
            return text.to_owned();
        }
        let mut out = String::with_capacity(text.len());
        let mut rest = text;
        while let Some(i) = rest.find('<') {
            out.push_str(&rest[..i]);
            let tail = &rest[i..];
            match tail.find('>').filter(|j| *j < MAX_PLACEHOLDER) {
                Some(j) if self.by_placeholder.contains_key(&tail[..=j]) => {
                    out.push_str(&self.by_placeholder[&tail[..=j]]);
                    rest = &tail[j + 1..];
                }
                _ => {
                    out.push('<');
                    rest = &tail[1..];
                }
            }
        }
        out.push_str(rest);
        out
    }

    /// The mapping, encrypted with AES-256-GCM under `key_hex` (a random
    /// nonce, then the ciphertext; hex), for the ledger: only a holder of
    /// the key can reverse the placeholders.
    pub fn seal(&self, key_hex: &str) -> Result<String, SealError> {
        let cipher = cipher(key_hex)?;
        let mut nonce = [0u8; 12];
        getrandom::fill(&mut nonce).map_err(|e| SealError::Random(e.to_string()))?;
        let plain = serde_json::to_vec(&self.by_placeholder).map_err(|_| SealError::Crypto)?;
        let ct = cipher
            .encrypt(Nonce::from_slice(&nonce), plain.as_slice())
            .map_err(|_| SealError::Crypto)?;
        Ok(format!("{}{}", hex::encode(nonce), hex::encode(ct)))
    }

    /// Opens a sealed mapping: placeholder → value.
    pub fn open(sealed: &str, key_hex: &str) -> Result<HashMap<String, String>, SealError> {
        let cipher = cipher(key_hex)?;
        let raw = hex::decode(sealed).map_err(|_| SealError::Crypto)?;
        if raw.len() < 12 {
            return Err(SealError::Crypto);
        }
        let (nonce, ct) = raw.split_at(12);
        let plain = cipher
            .decrypt(Nonce::from_slice(nonce), ct)
            .map_err(|_| SealError::Crypto)?;
        serde_json::from_slice(&plain).map_err(|_| SealError::Crypto)
    }
}

fn cipher(key_hex: &str) -> Result<Aes256Gcm, SealError> {
    let key = hex::decode(key_hex.trim()).map_err(|_| SealError::BadKey)?;
    Aes256Gcm::new_from_slice(&key).map_err(|_| SealError::BadKey)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn consistent_and_restorable() {
        let mut s = Session::default();
        let a = s.placeholder(EntityKind::Email, "a@x.io");
        let b = s.placeholder(EntityKind::Email, "b@x.io");
        assert_eq!((a.as_str(), b.as_str()), ("<EMAIL_1>", "<EMAIL_2>"));
        assert_eq!(s.placeholder(EntityKind::Email, "a@x.io"), "<EMAIL_1>");
        assert_eq!(s.placeholder(EntityKind::Phone, "123"), "<PHONE_1>");
        assert_eq!(
            s.restore("<EMAIL_2> wrote to <EMAIL_1> <b>bold</b> <EMAIL_9>"),
            "b@x.io wrote to a@x.io <b>bold</b> <EMAIL_9>"
        );
    }

    #[test]
    fn seal_and_open() {
        let mut s = Session::default();
        s.placeholder(EntityKind::Email, "a@x.io");
        let key = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff";
        let sealed = s.seal(key).unwrap();
        assert!(!sealed.contains("a@x.io"));
        assert_eq!(Session::open(&sealed, key).unwrap()["<EMAIL_1>"], "a@x.io");
        let other = "ff112233445566778899aabbccddeeff00112233445566778899aabbccddeeff";
        assert!(Session::open(&sealed, other).is_err());
        assert!(s.seal("short").is_err());
    }
}
