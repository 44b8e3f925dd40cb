//! Who may call: client keys and their lifecycle.
//!
//! A key's secret (`pvk-…`) is shown once, when it is created; only its
//! SHA-256 is stored. The key record has room for the approval workflow,
//! purposes, models and quotas that the usage-specification work adds.
//!
//! ```
//! use proviso_access::{KeyStore, NewKey};
//! let dir = tempfile::tempdir().unwrap();
//! let mut store = KeyStore::open(&dir.path().join("keys.db")).unwrap();
//! let (key, secret) = store.create(&NewKey { team: "ml".into(), name: None }).unwrap();
//! assert_eq!(store.authenticate(&secret).unwrap().unwrap().id, key.id);
//! store.revoke(&key.id, "leaked").unwrap();
//! assert!(!store.authenticate(&secret).unwrap().unwrap().state.is_usable());
//! ```
#![deny(missing_docs)]

mod error;
mod keys;
mod secret;

pub use error::AccessError;
pub use keys::{KeyRecord, KeyState, KeyStore, NewKey};
pub use secret::{generate_secret, hash_secret};
