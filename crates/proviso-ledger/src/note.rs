//! Checkpoints that leave the machine: the C2SP `tlog-checkpoint` body
//! (origin, tree size, root) in a C2SP signed note with an Ed25519
//! signature, the format of Sigstore, Go's checksum database and the
//! public witness network. Keys are written as those tools write them:
//! `PRIVATE+KEY+<name>+<id>+<base64>` to sign, `<name>+<id>+<base64>` to
//! verify.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use ed25519_dalek::{Signer as _, SigningKey, VerifyingKey};
use sha2::{Digest, Sha256};
use thiserror::Error;

use crate::Hash;

/// The Ed25519 signature type of C2SP signed notes.
const ALG_ED25519: u8 = 0x01;

/// What can be wrong with a key, a note or a checkpoint.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum NoteError {
    /// A key string that is not one.
    #[error("bad key: {0}")]
    BadKey(String),
    /// A note or checkpoint body that does not follow the format.
    #[error("malformed checkpoint: {0}")]
    Malformed(String),
    /// No signature by the given key, or one that does not verify.
    #[error("no valid signature by key {0}")]
    NotSigned(String),
}

fn check_name(name: &str) -> Result<(), NoteError> {
    if name.is_empty() || name.contains('+') || name.chars().any(char::is_whitespace) {
        return Err(NoteError::BadKey(format!(
            "key name {name:?}: must be non-empty, without '+' or spaces"
        )));
    }
    Ok(())
}

/// The 4-byte key id: SHA-256(name || '\n' || type || public key).
fn key_id(name: &str, public: &[u8; 32]) -> [u8; 4] {
    let mut h = Sha256::new();
    h.update(name.as_bytes());
    h.update(b"\n");
    h.update([ALG_ED25519]);
    h.update(public);
    let d = h.finalize();
    [d[0], d[1], d[2], d[3]]
}

/// A key that signs checkpoints. Its `Debug` never shows the secret.
pub struct SignerKey {
    name: String,
    key: SigningKey,
}

impl std::fmt::Debug for SignerKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "SignerKey({})", self.name)
    }
}

impl SignerKey {
    /// A new random key named `name` (the log's name, e.g.
    /// `proviso.example.com/ledger`).
    pub fn generate(name: &str) -> Result<Self, NoteError> {
        check_name(name)?;
        let mut seed = [0u8; 32];
        getrandom::fill(&mut seed).map_err(|e| NoteError::BadKey(format!("no randomness: {e}")))?;
        Ok(Self {
            name: name.to_owned(),
            key: SigningKey::from_bytes(&seed),
        })
    }

    /// Reads `PRIVATE+KEY+<name>+<id>+<base64(0x01 || seed)>`.
    pub fn parse(s: &str) -> Result<Self, NoteError> {
        let s = s.trim();
        let rest = s
            .strip_prefix("PRIVATE+KEY+")
            .ok_or_else(|| NoteError::BadKey("a signing key starts with PRIVATE+KEY+".into()))?;
        let (name, id, bytes) = split_key(rest)?;
        let seed: [u8; 32] = bytes
            .try_into()
            .map_err(|_| NoteError::BadKey("the seed is not 32 bytes".into()))?;
        let key = SigningKey::from_bytes(&seed);
        if key_id(&name, key.verifying_key().as_bytes()) != id {
            return Err(NoteError::BadKey(format!(
                "key {name}: its id does not match its key"
            )));
        }
        Ok(Self { name, key })
    }

    /// The key as written to a file.
    pub fn encode(&self) -> String {
        let public = self.key.verifying_key();
        let mut b = vec![ALG_ED25519];
        b.extend_from_slice(self.key.as_bytes());
        format!(
            "PRIVATE+KEY+{}+{}+{}",
            self.name,
            hex::encode(key_id(&self.name, public.as_bytes())),
            B64.encode(b)
        )
    }

    /// Its name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The key that checks its signatures.
    pub fn verifier(&self) -> VerifierKey {
        VerifierKey {
            name: self.name.clone(),
            key: self.key.verifying_key(),
        }
    }

    /// Signs `text` (which must end in a newline) as a signed note.
    pub fn sign(&self, text: &str) -> Result<String, NoteError> {
        if !text.ends_with('\n') {
            return Err(NoteError::Malformed(
                "note text must end in a newline".into(),
            ));
        }
        let sig = self.key.sign(text.as_bytes());
        let mut b = key_id(&self.name, self.key.verifying_key().as_bytes()).to_vec();
        b.extend_from_slice(&sig.to_bytes());
        Ok(format!(
            "{text}\n\u{2014} {} {}\n",
            self.name,
            B64.encode(b)
        ))
    }
}

/// A key that checks checkpoint signatures.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VerifierKey {
    name: String,
    key: VerifyingKey,
}

impl VerifierKey {
    /// Reads `<name>+<id>+<base64(0x01 || public key)>`.
    pub fn parse(s: &str) -> Result<Self, NoteError> {
        let (name, id, bytes) = split_key(s.trim())?;
        let public: [u8; 32] = bytes
            .try_into()
            .map_err(|_| NoteError::BadKey("the public key is not 32 bytes".into()))?;
        if key_id(&name, &public) != id {
            return Err(NoteError::BadKey(format!(
                "key {name}: its id does not match its key"
            )));
        }
        let key = VerifyingKey::from_bytes(&public)
            .map_err(|_| NoteError::BadKey(format!("key {name}: not an Ed25519 public key")))?;
        Ok(Self { name, key })
    }

    /// The key as published.
    pub fn encode(&self) -> String {
        let mut b = vec![ALG_ED25519];
        b.extend_from_slice(self.key.as_bytes());
        format!(
            "{}+{}+{}",
            self.name,
            hex::encode(key_id(&self.name, self.key.as_bytes())),
            B64.encode(b)
        )
    }

    /// Its name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The note's text if it carries a valid signature by this key (other
    /// signatures, e.g. witnesses' cosignatures, are left alone).
    pub fn open<'a>(&self, note: &'a str) -> Result<&'a str, NoteError> {
        let split = note
            .rfind("\n\n")
            .ok_or_else(|| NoteError::Malformed("no blank line before the signatures".into()))?;
        let (text, sigs) = (&note[..=split], &note[split + 2..]);
        if !sigs.ends_with('\n') {
            return Err(NoteError::Malformed(
                "signatures must end in a newline".into(),
            ));
        }
        let id = key_id(&self.name, self.key.as_bytes());
        for line in sigs.lines() {
            let rest = line
                .strip_prefix("\u{2014} ")
                .ok_or_else(|| NoteError::Malformed(format!("not a signature line: {line:?}")))?;
            let Some((name, b64)) = rest.split_once(' ') else {
                return Err(NoteError::Malformed(format!(
                    "not a signature line: {line:?}"
                )));
            };
            if name != self.name {
                continue;
            }
            let Ok(raw) = B64.decode(b64) else { continue };
            if raw.len() != 68 || raw[..4] != id {
                continue;
            }
            let Ok(sig) = ed25519_dalek::Signature::from_slice(&raw[4..]) else {
                continue;
            };
            if self.key.verify_strict(text.as_bytes(), &sig).is_ok() {
                return Ok(text);
            }
        }
        Err(NoteError::NotSigned(self.name.clone()))
    }
}

/// `<name>+<hex id>+<base64(0x01 || 32 bytes)>` into its parts.
fn split_key(s: &str) -> Result<(String, [u8; 4], Vec<u8>), NoteError> {
    // The base64 part may itself hold '+': only the first two split.
    let mut parts = s.splitn(3, '+');
    let (Some(name), Some(id), Some(b64)) = (parts.next(), parts.next(), parts.next()) else {
        return Err(NoteError::BadKey("expected <name>+<id>+<key>".into()));
    };
    check_name(name)?;
    let id: [u8; 4] = hex::decode(id)
        .ok()
        .and_then(|v| v.try_into().ok())
        .ok_or_else(|| NoteError::BadKey("the key id is not 8 hex digits".into()))?;
    let raw = B64
        .decode(b64)
        .map_err(|_| NoteError::BadKey("the key is not base64".into()))?;
    match raw.split_first() {
        Some((&ALG_ED25519, key)) => Ok((name.to_owned(), id, key.to_vec())),
        _ => Err(NoteError::BadKey("not an Ed25519 key (type 0x01)".into())),
    }
}

/// A checkpoint's body: the log's origin, its size and its root.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CheckpointBody {
    /// The log's name (a schema-less URL by convention).
    pub origin: String,
    /// Number of records.
    pub size: u64,
    /// RFC 6962 root over their hashes.
    pub root: Hash,
}

impl CheckpointBody {
    /// The body's text: three lines, each ending in a newline.
    pub fn text(&self) -> String {
        format!(
            "{}\n{}\n{}\n",
            self.origin,
            self.size,
            B64.encode(self.root)
        )
    }

    /// Reads a body (extension lines after the root are allowed).
    pub fn parse(text: &str) -> Result<Self, NoteError> {
        let bad = |m: &str| NoteError::Malformed(m.to_owned());
        let mut lines = text.split('\n');
        let origin = lines
            .next()
            .filter(|o| !o.is_empty())
            .ok_or_else(|| bad("no origin line"))?;
        let size_line = lines.next().ok_or_else(|| bad("no tree size line"))?;
        if size_line.is_empty()
            || !size_line.bytes().all(|b| b.is_ascii_digit())
            || (size_line.len() > 1 && size_line.starts_with('0'))
        {
            return Err(bad("the tree size is not a decimal number"));
        }
        let size = size_line
            .parse()
            .map_err(|_| bad("the tree size is too large"))?;
        let root: Hash = lines
            .next()
            .and_then(|r| B64.decode(r).ok())
            .and_then(|v| v.try_into().ok())
            .ok_or_else(|| bad("the root is not 32 bytes of base64"))?;
        Ok(Self {
            origin: origin.to_owned(),
            size,
            root,
        })
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn body() -> CheckpointBody {
        CheckpointBody {
            origin: "proviso.example/ledger".into(),
            size: 1234,
            root: [7; 32],
        }
    }

    #[test]
    fn a_signed_checkpoint_opens_with_its_key_and_round_trips() {
        let k = SignerKey::generate("proviso.example/ledger").unwrap();
        let note = k.sign(&body().text()).unwrap();
        assert!(note.contains("\n\n\u{2014} proviso.example/ledger "));
        let v = VerifierKey::parse(&k.verifier().encode()).unwrap();
        let text = v.open(&note).unwrap();
        assert_eq!(CheckpointBody::parse(text).unwrap(), body());
        let k2 = SignerKey::parse(&k.encode()).unwrap();
        assert_eq!(k2.verifier(), k.verifier());
        // Base64 may hold '+', the separator: keys with it read back too.
        let mut with_plus = 0;
        for _ in 0..64 {
            let k = SignerKey::generate("n").unwrap();
            let (s, v) = (k.encode(), k.verifier().encode());
            with_plus += usize::from(v.matches('+').count() > 2);
            assert_eq!(SignerKey::parse(&s).unwrap().verifier(), k.verifier());
            assert_eq!(VerifierKey::parse(&v).unwrap(), k.verifier());
        }
        assert!(with_plus > 0);
    }

    #[test]
    fn forged_or_foreign_signatures_are_refused() {
        let k = SignerKey::generate("log").unwrap();
        let note = k.sign(&body().text()).unwrap();
        // The body changed after signing.
        let forged = note.replace("1234", "1235");
        assert!(matches!(
            k.verifier().open(&forged),
            Err(NoteError::NotSigned(_))
        ));
        // Another key of the same name.
        let other = SignerKey::generate("log").unwrap();
        assert!(other.verifier().open(&note).is_err());
        let by_other = other.sign(&body().text()).unwrap();
        assert!(k.verifier().open(&by_other).is_err());
        // A flipped signature byte.
        let line = note.lines().last().unwrap();
        let b64 = line.rsplit(' ').next().unwrap();
        let mut raw = B64.decode(b64).unwrap();
        raw[10] ^= 1;
        let flipped = note.replace(b64, &B64.encode(raw));
        assert!(k.verifier().open(&flipped).is_err());
        // No signatures at all.
        assert!(k.verifier().open(&body().text()).is_err());
    }

    #[test]
    fn a_witness_cosignature_beside_ours_is_ignored() {
        let k = SignerKey::generate("log").unwrap();
        let w = SignerKey::generate("witness.example").unwrap();
        let note = k.sign(&body().text()).unwrap();
        let wsig = w.sign(&body().text()).unwrap();
        let cosigned = format!("{note}{}", wsig.rsplit("\n\n").next().unwrap());
        assert_eq!(k.verifier().open(&cosigned).unwrap(), body().text());
        assert_eq!(w.verifier().open(&cosigned).unwrap(), body().text());
    }

    #[test]
    fn bad_keys_and_bodies_say_what_is_wrong() {
        assert!(matches!(VerifierKey::parse("x"), Err(NoteError::BadKey(_))));
        assert!(SignerKey::generate("has space").is_err());
        let k = SignerKey::generate("log").unwrap();
        let enc = k.verifier().encode();
        let wrong_id = format!("log+00000000+{}", enc.rsplit('+').next().unwrap());
        assert!(VerifierKey::parse(&wrong_id).is_err());
        for bad in [
            "",
            "log\n",
            "log\n01\nAAAA\n",
            "log\n12\nnot base64\n",
            "log\nx\n",
        ] {
            assert!(CheckpointBody::parse(bad).is_err(), "{bad:?}");
        }
    }
}
