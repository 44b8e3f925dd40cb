//! Settings and connections.

use std::str::FromStr;
use std::time::Duration;

use proviso_ledger::LedgerError;

/// Settings of the PostgreSQL ledger.
#[derive(Clone, Debug)]
pub struct PgConfig {
    /// `postgres://user@host:port/database` (libpq's URL or key=value form).
    pub url: String,
    /// The name this replica queues its records under (for operators; the
    /// sequencer orders pending records by arrival, then replica, then
    /// place in the batch).
    pub replica: String,
    /// Write a Merkle checkpoint every this many records.
    pub checkpoint_every: u64,
    /// How long to wait for a connection.
    pub connect_timeout: Duration,
    /// Longest a statement may run before the server cancels it (a stalled
    /// server then fails the batch instead of holding the writer).
    pub statement_timeout: Duration,
    /// Most pending records the sequencer chains in one transaction.
    pub sequence_batch: usize,
    /// How often the sequencer looks for pending records when it found
    /// none.
    pub sequence_interval: Duration,
    /// How often a replica that is not the sequencer tries to become it.
    pub takeover_interval: Duration,
}

impl PgConfig {
    /// Defaults for `url`.
    pub fn new(url: &str) -> Self {
        Self {
            url: url.to_owned(),
            replica: default_replica(),
            checkpoint_every: 1024,
            connect_timeout: Duration::from_secs(5),
            statement_timeout: Duration::from_secs(10),
            sequence_batch: 4096,
            sequence_interval: Duration::from_millis(20),
            takeover_interval: Duration::from_millis(1000),
        }
    }

    /// A new connection with the timeouts set.
    pub fn connect(&self) -> Result<postgres::Client, LedgerError> {
        let mut cfg = postgres::Config::from_str(&self.url).map_err(|e| {
            LedgerError::Unavailable(format!("bad PostgreSQL url {}: {e}", redact_url(&self.url)))
        })?;
        cfg.connect_timeout(self.connect_timeout)
            .keepalives(true)
            .keepalives_idle(Duration::from_secs(10))
            .application_name(&format!("proviso:{}", self.replica))
            .options(&format!(
                "-c statement_timeout={} -c lock_timeout={}",
                self.statement_timeout.as_millis(),
                self.statement_timeout.as_millis()
            ));
        cfg.connect(postgres::NoTls).map_err(|e| {
            LedgerError::Unavailable(format!(
                "cannot connect to PostgreSQL at {}: {}",
                redact_url(&self.url),
                crate::error::describe(&e)
            ))
        })
    }
}

/// The host name and process id: distinct for replicas on one machine.
fn default_replica() -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_owned())
        .unwrap_or_else(|_| "replica".into());
    format!("{host}:{}", std::process::id())
}

/// The url without its password, for messages.
pub fn redact_url(url: &str) -> String {
    // postgres://user:secret@host/db -> postgres://user:***@host/db;
    // host=h password=secret -> host=h password=***
    if !url.contains("://") {
        return url
            .split_whitespace()
            .map(|kv| {
                if kv.starts_with("password=") {
                    "password=***"
                } else {
                    kv
                }
            })
            .collect::<Vec<_>>()
            .join(" ");
    }
    if let Some((scheme, rest)) = url.split_once("://")
        && let Some((auth, host)) = rest.rsplit_once('@')
        && let Some((user, _)) = auth.split_once(':')
    {
        return format!("{scheme}://{user}:***@{host}");
    }
    url.to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_are_not_shown() {
        assert_eq!(
            redact_url("postgres://u:pw@h:5432/db"),
            "postgres://u:***@h:5432/db"
        );
        assert_eq!(redact_url("postgres://u@h/db"), "postgres://u@h/db");
        assert_eq!(redact_url("host=h user=u"), "host=h user=u");
        assert_eq!(
            redact_url("host=h password=pw user=u"),
            "host=h password=*** user=u"
        );
    }

    #[test]
    fn a_bad_url_is_an_error_naming_it() {
        let e = PgConfig::new("postgres://u:pw@h:notaport/db")
            .connect()
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(
            e.contains("bad PostgreSQL url") && !e.contains("pw@"),
            "{e}"
        );
    }
}
