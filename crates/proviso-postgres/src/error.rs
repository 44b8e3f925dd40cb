//! PostgreSQL errors as ledger errors: data the server refuses is
//! `Unstorable` (retrying the same record fails again), everything else
//! (the server down, the connection lost, a timeout) is `Unavailable`.

use proviso_ledger::LedgerError;

/// Maps a client error. Classes 22 (data exception), 23 (integrity
/// constraint) and 54 (program limit exceeded) are about the data.
pub fn ledger_error(e: &postgres::Error) -> LedgerError {
    let data_class = e
        .code()
        .map(|c| c.code())
        .is_some_and(|c| c.starts_with("22") || c.starts_with("23") || c.starts_with("54"));
    if data_class {
        LedgerError::Unstorable(describe(e))
    } else {
        LedgerError::Unavailable(format!("PostgreSQL: {}", describe(e)))
    }
}

/// The server's message where there is one (the client's own `Display`
/// says only "db error"), else the error with its causes ("error
/// performing TLS handshake: … certificate verify failed …").
pub fn describe(e: &postgres::Error) -> String {
    match e.as_db_error() {
        Some(db) => format!("{} ({})", db.message(), db.code().code()),
        None => {
            let mut out = e.to_string();
            let mut cause = std::error::Error::source(e);
            while let Some(c) = cause {
                let s = c.to_string();
                if !out.contains(&s) {
                    out = format!("{out}: {s}");
                }
                cause = c.source();
            }
            out
        }
    }
}

/// Whether the connection is unusable after `e` (it must be dropped and
/// made again).
pub fn connection_lost(e: &postgres::Error, client: &postgres::Client) -> bool {
    client.is_closed() || e.as_db_error().is_none()
}
