//! A fresh database per test on a PostgreSQL server, dropped afterwards.

use std::sync::atomic::{AtomicU32, Ordering};

/// A database made for one test. The server is `PROVISO_TEST_PG_URL`
/// (a URL naming a database to connect to for `CREATE DATABASE`), else
/// the machine's own at `postgres://postgres@127.0.0.1:5432/postgres`.
/// Dropped (with its connections) when this value is.
pub struct TestDatabase {
    admin: String,
    name: String,
    url: String,
}

static NEXT: AtomicU32 = AtomicU32::new(0);

impl TestDatabase {
    /// Makes the database; the error says which server could not be used.
    pub fn create() -> Result<Self, String> {
        let admin = std::env::var("PROVISO_TEST_PG_URL")
            .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into());
        let name = format!(
            "proviso_test_{}_{}_{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed),
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.subsec_nanos())
        );
        let mut c = postgres::Client::connect(&admin, postgres::NoTls)
            .map_err(|e| format!("PostgreSQL for tests at {}: {e}", crate::redact_url(&admin)))?;
        c.batch_execute(&format!("CREATE DATABASE {name}"))
            .map_err(|e| format!("CREATE DATABASE on {}: {e}", crate::redact_url(&admin)))?;
        let url = match admin.rsplit_once('/') {
            Some((base, _)) => format!("{base}/{name}"),
            None => {
                return Err(format!(
                    "{}: not a URL ending in a database name",
                    crate::redact_url(&admin)
                ));
            }
        };
        Ok(Self { admin, name, url })
    }

    /// The URL of the new database.
    pub fn url(&self) -> &str {
        &self.url
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        if let Ok(mut c) = postgres::Client::connect(&self.admin, postgres::NoTls) {
            let _ = c.batch_execute(&format!(
                "DROP DATABASE IF EXISTS {} WITH (FORCE)",
                self.name
            ));
        }
    }
}
