//! Where the ledger lives: the SQLite file (the default) or, with
//! `[ledger] url`, PostgreSQL shared by every replica. Every command opens
//! it here, so each works on either.

use std::time::Duration;

use anyhow::Context as _;
use proviso_ledger::{LedgerReader, LedgerStore, SqliteConfig, SqliteStore};
use proviso_postgres::{PgConfig, PgStore};

use crate::config::Config;

/// A ledger to read, whichever kind.
pub type Reader = Box<dyn LedgerReader + Send>;

/// The PostgreSQL settings, when `[ledger] url` is set.
pub fn postgres(cfg: &Config) -> Option<PgConfig> {
    let url = cfg.ledger.url.as_ref()?.as_str();
    let mut pg = PgConfig::new(url);
    pg.checkpoint_every = cfg.ledger.checkpoint_every.max(1);
    pg.statement_timeout = Duration::from_millis(cfg.ledger.statement_timeout_ms.max(100));
    if let Some(r) = &cfg.ledger.replica {
        pg.replica = r.clone();
    }
    Some(pg)
}

/// The ledger for messages: its file, or its URL without the password.
pub fn describe(cfg: &Config) -> String {
    match &cfg.ledger.url {
        Some(url) => proviso_postgres::redact_url(url.as_str()),
        None => cfg.ledger_path().display().to_string(),
    }
}

/// An existing ledger, for reading (an error if the SQLite file is
/// missing or the server cannot be reached).
pub fn reader(cfg: &Config) -> anyhow::Result<Reader> {
    match postgres(cfg) {
        Some(pg) => {
            Ok(Box::new(PgStore::open(pg).with_context(|| {
                format!("opening the ledger {}", describe(cfg))
            })?))
        }
        None => {
            let path = cfg.ledger_path();
            Ok(Box::new(
                SqliteStore::open_existing(&path, SqliteConfig::default())
                    .with_context(|| format!("opening the ledger {}", path.display()))?,
            ))
        }
    }
}

/// The ledger for a command that records events (`proviso keys …`),
/// created if missing. With PostgreSQL the events are queued; call
/// [`settle`] after appending so they are chained even when no gateway
/// runs.
pub fn writer(cfg: &Config, sqlite: SqliteConfig) -> anyhow::Result<Box<dyn LedgerStore>> {
    match postgres(cfg) {
        Some(pg) => {
            Ok(Box::new(PgStore::open(pg).with_context(|| {
                format!("opening the ledger {}", describe(cfg))
            })?))
        }
        None => {
            let path = cfg.ledger_path();
            Ok(Box::new(SqliteStore::open(&path, sqlite).with_context(
                || format!("opening the ledger {}", path.display()),
            )?))
        }
    }
}

/// With PostgreSQL, chains what is queued (safe beside a running
/// sequencer: they take turns); nothing to do for SQLite.
pub fn settle(cfg: &Config) -> anyhow::Result<()> {
    if let Some(pg) = postgres(cfg) {
        let store = PgStore::open(pg)?;
        store.sequence_pending(1000)?;
    }
    Ok(())
}
