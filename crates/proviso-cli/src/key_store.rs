//! Where the keys live: the SQLite file (the default) or, with
//! `[keys] url`, PostgreSQL shared by every replica.

use anyhow::Context as _;
use proviso_access::KeyStore;
use proviso_postgres::{ChangeListener, PgConfig, PgKeys};

use crate::config::Config;

/// The PostgreSQL settings of the key store, when `[keys] url` is set.
fn postgres(cfg: &Config) -> Option<PgConfig> {
    let url = cfg.keys.url.as_ref()?;
    Some(crate::ledger_store::pg_config(cfg, url.as_str()))
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
    open_inner(cfg, true)
}

/// Opens the key store (created if missing).
pub fn open(cfg: &Config) -> anyhow::Result<KeyStore> {
    Ok(open_inner(cfg, false)?.0)
}

fn open_inner(cfg: &Config, listen: bool) -> anyhow::Result<(KeyStore, Option<ChangeListener>)> {
    let Some(pg) = postgres(cfg) else {
        let path = cfg.keys_path();
        let store = KeyStore::open(&path)
            .with_context(|| format!("opening the key store {}", path.display()))?;
        return Ok((store, None));
    };
    let keys =
        PgKeys::open(pg).with_context(|| format!("opening the key store {}", describe(cfg)))?;
    let listener = if listen {
        Some(
            keys.change_listener()
                .with_context(|| format!("listening to the key store {}", describe(cfg)))?,
        )
    } else {
        None
    };
    Ok((KeyStore::with_table(Box::new(keys)), listener))
}
