//! Settings and connections.

use std::str::FromStr;
use std::time::Duration;

use proviso_ledger::LedgerError;

use crate::tls::SslMode;

/// Settings of the PostgreSQL ledger. Its `Debug` hides the password.
#[derive(Clone)]
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

impl std::fmt::Debug for PgConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PgConfig")
            .field("url", &redact_url(&self.url))
            .field("replica", &self.replica)
            .finish_non_exhaustive()
    }
}

/// Server settings of a session that holds a lock (the sequencer's, an
/// elected job's): the server ends it when it goes silent, so another
/// replica can take over. A holder queries far more often than this
/// (the sequencer every `sequence_interval`, the monitor's feed every
/// 200 ms); a process that hangs or a machine that is gone loses the lock
/// within about 15 s. (`idle_session_timeout` needs PostgreSQL 14.)
const LOCK_SESSION: &str = "-c idle_session_timeout=15000 -c tcp_keepalives_idle=5 \
    -c tcp_keepalives_interval=2 -c tcp_keepalives_count=3 -c tcp_user_timeout=10000";

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
        self.connect_with("")
    }

    /// A connection for a session that holds a lock (see `LOCK_SESSION`).
    pub fn connect_lock_session(&self) -> Result<postgres::Client, LedgerError> {
        self.connect_with(LOCK_SESSION)
    }

    fn connect_with(&self, extra: &str) -> Result<postgres::Client, LedgerError> {
        let bad = |e: String| {
            LedgerError::Unavailable(format!("bad PostgreSQL url {}: {e}", redact_url(&self.url)))
        };
        let (url, tls) = crate::tls::split(&self.url).map_err(bad)?;
        let mut cfg = postgres::Config::from_str(&url).map_err(|e| bad(e.to_string()))?;
        // Options the URL sets (a search_path, say) are kept: ours are
        // added to them, not put in their place.
        let options = format!(
            "{} -c statement_timeout={} -c lock_timeout={} {extra}",
            cfg.get_options().unwrap_or(""),
            self.statement_timeout.as_millis(),
            self.statement_timeout.as_millis()
        );
        cfg.connect_timeout(self.connect_timeout)
            .keepalives(true)
            .keepalives_idle(Duration::from_secs(10))
            .application_name(&format!("proviso:{}", self.replica))
            .options(options.trim());
        let unavailable = |e: postgres::Error| {
            LedgerError::Unavailable(format!(
                "cannot connect to PostgreSQL at {}: {}",
                redact_url(&self.url),
                crate::error::describe(&e)
            ))
        };
        if cfg.get_ssl_mode() != postgres::config::SslMode::Prefer {
            // Every sslmode was taken out above: one left was smuggled in
            // a form this reader missed, and would be overwritten.
            return Err(bad("sslmode in a form not understood".into()));
        }
        // libpq ignores sslmode on a Unix socket; and with only
        // `hostaddr`s there is no name to present for TLS, which `prefer`
        // then does without (the stricter modes fail with the reason).
        let all_unix = !cfg.get_hosts().is_empty()
            && cfg
                .get_hosts()
                .iter()
                .all(|h| matches!(h, postgres::config::Host::Unix(_)));
        let plain = all_unix || (tls.mode == SslMode::Prefer && cfg.get_hosts().is_empty());
        match if plain { SslMode::Disable } else { tls.mode } {
            SslMode::Disable => {
                cfg.ssl_mode(postgres::config::SslMode::Disable);
                cfg.connect(postgres::NoTls).map_err(unavailable)
            }
            mode => {
                cfg.ssl_mode(if mode == SslMode::Prefer {
                    postgres::config::SslMode::Prefer
                } else {
                    postgres::config::SslMode::Require
                });
                let connector = crate::tls::connector(&tls).map_err(|e| {
                    LedgerError::Unavailable(format!(
                        "PostgreSQL at {}: {e}",
                        redact_url(&self.url)
                    ))
                })?;
                cfg.connect(postgres_native_tls::MakeTlsConnector::new(connector))
                    .map_err(unavailable)
            }
        }
    }
}

/// The host name and process id: distinct for replicas on one machine.
fn default_replica() -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_owned())
        .unwrap_or_else(|_| "replica".into());
    format!("{host}:{}", std::process::id())
}

/// The url without its password, for messages: `user:secret@` in a URL,
/// and a `password=` parameter (in a URL's query or the key=value form,
/// quoted or not).
pub fn redact_url(url: &str) -> String {
    let mut out = url.to_owned();
    if let Some((scheme, rest)) = url.split_once("://")
        && let Some((auth, host)) = rest.rsplit_once('@')
        && let Some((user, _)) = auth.split_once(':')
    {
        out = format!("{scheme}://{user}:***@{host}");
    }
    let mut from = 0;
    while let Some(i) = out[from..].find("password").map(|i| i + from) {
        let after = &out[i + "password".len()..];
        let trimmed = after.trim_start();
        let Some(value) = trimmed.strip_prefix('=') else {
            from = i + 1;
            continue;
        };
        let value = value.trim_start();
        let start = out.len() - value.len();
        let end = if let Some(q) = value.strip_prefix('\'') {
            // Quoted: up to the closing quote not escaped by a backslash.
            let mut end = None;
            let mut escaped = false;
            for (k, c) in q.char_indices() {
                match c {
                    '\\' if !escaped => escaped = true,
                    '\'' if !escaped => {
                        end = Some(start + 1 + k + 1);
                        break;
                    }
                    _ => escaped = false,
                }
            }
            end.unwrap_or(out.len())
        } else {
            start
                + value
                    .find(|c: char| c.is_whitespace() || c == '&')
                    .unwrap_or(value.len())
        };
        out.replace_range(start..end, "***");
        from = start + 3;
    }
    out
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
        assert_eq!(
            redact_url("host=h password = 'a b\\' c' user=u"),
            "host=h password = *** user=u"
        );
        assert_eq!(
            redact_url("postgres://u@h/db?sslmode=disable&password=pw&x=1"),
            "postgres://u@h/db?sslmode=disable&password=***&x=1"
        );
        let c = PgConfig::new("postgres://u:topsecret@h/db?password=other");
        let d = format!("{c:?}");
        assert!(!d.contains("topsecret") && !d.contains("other"), "{d}");
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
