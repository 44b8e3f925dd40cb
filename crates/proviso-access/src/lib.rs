//! Who may call: client keys and their lifecycle ("limited access").
//!
//! A team applies for a key (purposes, models, justification); an
//! administrator approves it, possibly narrowing it, or denies it. Active
//! keys can be suspended (optionally with a notice period after which they
//! are revoked), reinstated, revoked, and they can expire. A key's secret
//! (`pvk-…`) is shown once, at creation or approval; only its SHA-256 is
//! stored. Every change names who made it, why, and the ledger event that
//! records it.
//!
//! ```
//! use proviso_access::{Change, KeyStore, NewKey};
//! let dir = tempfile::tempdir().unwrap();
//! let mut store = KeyStore::open(&dir.path().join("keys.db")).unwrap();
//! let now = proviso_types::UnixMillis::now();
//! let by = Change { by: "admin", reason: "new service", record_id: "01J0", now };
//! let new = NewKey { team: "ml".into(), ..NewKey::default() };
//! let (key, secret) = store.create(&new, &by).unwrap();
//! assert_eq!(store.authenticate(&secret).unwrap().unwrap().id, key.id);
//! store.revoke(&key.id, &Change { reason: "leaked", ..by }).unwrap();
//! assert!(!store.authenticate(&secret).unwrap().unwrap().state.is_usable());
//! ```
#![deny(missing_docs)]

mod error;
mod keys;
pub mod limits;
mod quota;
mod secret;
mod sqlite;
mod store;
mod table;

pub use error::AccessError;
pub use keys::{Application, Approval, Change, KeyEvent, KeyRecord, KeyState, NewKey};
pub use quota::Quotas;
pub use secret::{generate_secret, hash_secret};
pub use sqlite::SqliteKeys;
pub use store::KeyStore;
pub use table::{KeyRow, KeyTable};
