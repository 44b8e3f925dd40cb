//! Where keys are kept: a table of rows and the few operations the key
//! store's lifecycle needs. SQLite ([`crate::SqliteKeys`]) is the embedded
//! default; PostgreSQL (in proviso-postgres) is shared by every replica.
//! All lifecycle rules live in [`crate::KeyStore`], above this trait, so
//! both backends enforce the same ones.

use proviso_types::UnixMillis;

use crate::{AccessError, KeyRecord};

/// A key as stored: the record and the SHA-256 of its secret, if it has
/// one (a pending application has none).
#[derive(Clone, Debug)]
pub struct KeyRow {
    /// The key.
    pub record: KeyRecord,
    /// Hex SHA-256 of its secret.
    pub secret_sha256: Option<String>,
}

/// The storage of keys. Every write that changes a key is guarded:
/// [`KeyTable::replace_if`] applies only if the key is still in the state
/// and at the update time it was read in, since several writers exist (the
/// CLI beside the gateway, the monitor, other replicas).
pub trait KeyTable: Send {
    /// Adds a new key (its id and secret hash are unique).
    fn insert(&mut self, row: &KeyRow) -> Result<(), AccessError>;

    /// Replaces the key `row.record.id` by `row` only if its stored state is
    /// `state` and its update time `updated` (compare-and-set); false when
    /// it was changed meanwhile. A `secret_sha256` of `None` keeps the
    /// stored one.
    fn replace_if(
        &mut self,
        row: &KeyRow,
        state: &str,
        updated: UnixMillis,
    ) -> Result<bool, AccessError>;

    /// The key with this id.
    fn get(&self, id: &str) -> Result<Option<KeyRecord>, AccessError>;

    /// The key whose secret hashes to `sha256_hex`.
    fn by_hash(&self, sha256_hex: &str) -> Result<Option<KeyRecord>, AccessError>;

    /// Every key that has a secret, with its hash.
    fn all_with_hashes(&self) -> Result<Vec<(String, KeyRecord)>, AccessError>;

    /// Every key and application, oldest first.
    fn list(&self) -> Result<Vec<KeyRecord>, AccessError>;

    /// Suspended keys whose notice period has ended at `now`.
    fn due_for_revocation(&self, now: UnixMillis) -> Result<Vec<KeyRecord>, AccessError>;

    /// A number that changes whenever another writer commits a change, so
    /// a cache can tell cheaply whether to reload.
    fn version(&self) -> Result<i64, AccessError>;

    /// Starts a transaction held until [`KeyTable::commit`] or
    /// [`KeyTable::rollback`]; writes meanwhile are part of it.
    fn begin(&mut self) -> Result<(), AccessError>;

    /// Commits the transaction.
    fn commit(&mut self) -> Result<(), AccessError>;

    /// Undoes the transaction.
    fn rollback(&mut self);
}
