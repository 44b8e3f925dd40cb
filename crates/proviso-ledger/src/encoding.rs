//! The canonical, versioned encoding that record hashes are computed over.

use sha2::{Digest, Sha256};

use crate::{Hash, Record};

/// Domain-separation prefix of encoding version 1: the hash of a record is
/// `SHA-256(ENCODING_V1 || prev_hash || JSON(record))`, where the JSON is
/// `serde_json`'s compact form of [`Record`] with fields in declaration
/// order. Changing [`Record`] requires a new version.
pub const ENCODING_V1: &[u8] = b"proviso.ledger.record.v1\n";

/// The chain hash of `record` given the hash of the record before it.
pub fn record_hash(record: &Record, prev_hash: &Hash) -> Hash {
    let mut h = Sha256::new();
    h.update(ENCODING_V1);
    h.update(prev_hash);
    // Serialising a plain struct of strings and numbers cannot fail; should
    // it ever, hashing the error text still yields a hash that verify will
    // flag rather than a panic.
    // Room for the texts and the fields around them, so the buffer is not
    // grown and copied on the way.
    let mut bytes = Vec::with_capacity(record.texts_len() + 512);
    match serde_json::to_writer(&mut bytes, record) {
        Ok(()) => h.update(&bytes),
        Err(e) => h.update(e.to_string().as_bytes()),
    }
    h.finalize().into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hash_depends_on_every_input() {
        let r = Record::test("a");
        let base = record_hash(&r, &[0; 32]);
        assert_ne!(base, record_hash(&r, &[1; 32]));
        let mut r2 = r.clone();
        r2.output.push('b');
        assert_ne!(base, record_hash(&r2, &[0; 32]));
        assert_eq!(base, record_hash(&r.clone(), &[0; 32]));
    }
}
