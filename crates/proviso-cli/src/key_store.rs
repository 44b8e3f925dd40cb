//! Where the keys live: the SQLite file (the default) or, with
//! `[keys] url`, PostgreSQL shared by every replica.

use anyhow::Context as _;
use proviso_access::KeyStore;
use proviso_postgres::{ChangeListener, PgConfig, PgKeys};

use crate::config::Config;

/// The PostgreSQL settings of the key store, when `[keys] url` is set.
fn postgres(cfg: &Config) -> Option<PgConfig> {
    let url = cfg.keys.url.as_ref()?.as_str();
    let mut pg = PgConfig::new(url);
    pg.statement_timeout =
        std::time::Duration::from_millis(cfg.ledger.statement_timeout_ms.max(100));
    if let Some(r) = &cfg.ledger.replica {
        pg.replica = r.clone();
    }
    Some(pg)
}

/// The key store for messages.
pub fn describe(cfg: &Config) -> String {
    match &cfg.keys.url {
        Some(url) => proviso_postgres::redact_url(url.as_str()),
        None => cfg.keys_path().display().to_string(),
    }
}

/// Opens the key store (created if missing), and with PostgreSQL a
/// connection listening for changes other replicas make.
pub fn open_with_listener(cfg: &Config) -> anyhow::Result<(KeyStore, Option<ChangeListener>)> {
    match postgres(cfg) {
        Some(pg) => {
            let keys = PgKeys::open(pg)
                .with_context(|| format!("opening the key store {}", describe(cfg)))?;
            let listener = keys
                .change_listener()
                .with_context(|| format!("listening to the key store {}", describe(cfg)))?;
            Ok((KeyStore::with_table(Box::new(keys)), Some(listener)))
        }
        None => {
            let path = cfg.keys_path();
            let store = KeyStore::open(&path)
                .with_context(|| format!("opening the key store {}", path.display()))?;
            Ok((store, None))
        }
    }
}

/// Opens the key store (created if missing).
pub fn open(cfg: &Config) -> anyhow::Result<KeyStore> {
    match postgres(cfg) {
        Some(pg) => Ok(KeyStore::with_table(Box::new(
            PgKeys::open(pg).with_context(|| format!("opening the key store {}", describe(cfg)))?,
        ))),
        None => {
            let path = cfg.keys_path();
            KeyStore::open(&path)
                .with_context(|| format!("opening the key store {}", path.display()))
        }
    }
}
