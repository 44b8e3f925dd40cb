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
    let url = cfg.ledger.url.as_ref()?;
    let mut pg = pg_config(cfg, url.as_str());
    pg.checkpoint_every = cfg.ledger.checkpoint_every.max(1);
    Some(pg)
}

/// Settings for a connection to `url` (the ledger's or the key store's):
/// the statement timeout and the replica's name from `[ledger]`.
pub fn pg_config(cfg: &Config, url: &str) -> PgConfig {
    let mut pg = PgConfig::new(url);
    pg.statement_timeout = Duration::from_millis(cfg.ledger.statement_timeout_ms.max(100));
    if let Some(r) = &cfg.ledger.replica {
        pg.replica = r.clone();
    }
    pg
}

/// The ledger for messages: its file, or its URL without the password.
pub fn describe(cfg: &Config) -> String {
    match &cfg.ledger.url {
        Some(url) => proviso_postgres::redact_url(url.as_str()),
        None => cfg.ledger_path().display().to_string(),
    }
}

/// An existing ledger, for reading (an error if the SQLite file is
/// missing or the server cannot be reached). PostgreSQL is read in one
/// snapshot, so a command sees one moment of a ledger that keeps growing.
pub fn reader(cfg: &Config) -> anyhow::Result<Reader> {
    match postgres(cfg) {
        Some(pg) => Ok(Box::new(opened(cfg, PgStore::open_snapshot(pg))?)),
        None => {
            let path = cfg.ledger_path();
            Ok(Box::new(opened(
                cfg,
                SqliteStore::open_existing(&path, SqliteConfig::default()),
            )?))
        }
    }
}

/// The ledger for a command that records events (`proviso keys …`),
/// created if missing. With PostgreSQL the events are queued; call
/// [`settle`] after appending so they are chained even when no gateway
/// runs.
pub fn writer(cfg: &Config, sqlite: SqliteConfig) -> anyhow::Result<Box<dyn LedgerStore>> {
    match postgres(cfg) {
        Some(pg) => Ok(Box::new(opened(cfg, PgStore::open(pg))?)),
        None => Ok(Box::new(opened(
            cfg,
            SqliteStore::open(&cfg.ledger_path(), sqlite),
        )?)),
    }
}

/// The store, or an error naming the ledger.
fn opened<T>(cfg: &Config, r: Result<T, proviso_ledger::LedgerError>) -> anyhow::Result<T> {
    r.with_context(|| format!("opening the ledger {}", describe(cfg)))
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
