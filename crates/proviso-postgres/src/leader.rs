//! One replica of the deployment does a job (the monitor, the index
//! follower): the one holding a PostgreSQL advisory lock on a session of
//! its own. When that replica dies its session ends, the lock is free,
//! and the next replica to ask takes the job.

use crate::PgConfig;

/// Lock keys of the jobs elected this way (the sequencer's is in the
/// schema module).
pub mod jobs {
    /// The index follower.
    pub const FOLLOWER: i64 = 0x5052_5653_0000_0004;
    /// The extraction monitor.
    pub const MONITOR: i64 = 0x5052_5653_0000_0005;
}

/// A replica's claim to one job.
pub struct Leadership {
    config: PgConfig,
    key: i64,
    client: Option<postgres::Client>,
    held: bool,
}

impl Leadership {
    /// A claim to the job whose lock is `key` (see [`jobs`]); nothing is
    /// taken until [`Leadership::check`].
    pub fn new(config: PgConfig, key: i64) -> Self {
        Self {
            config,
            key,
            client: None,
            held: false,
        }
    }

    /// Whether this replica does the job now: keeps the lock while its
    /// session is alive, else tries to take it (connecting if needed).
    /// Never blocks beyond one round trip (or a connection attempt).
    pub fn check(&mut self) -> bool {
        if self.held {
            let alive = self
                .client
                .as_mut()
                .is_some_and(|c| c.simple_query("SELECT 1").is_ok());
            if alive {
                return true;
            }
            tracing::warn!(job = self.key, "lost the session holding a job's lock");
            self.client = None;
            self.held = false;
        }
        if self.client.is_none() {
            match self.config.connect_lock_session() {
                Ok(c) => self.client = Some(c),
                Err(e) => {
                    tracing::debug!(error = %e, "leadership: no connection");
                    return false;
                }
            }
        }
        let Some(c) = self.client.as_mut() else {
            return false;
        };
        match c
            .query_one("SELECT pg_try_advisory_lock($1)", &[&self.key])
            .map(|r| r.get::<_, bool>(0))
        {
            Ok(true) => {
                tracing::info!(replica = %self.config.replica, job = self.key, "this replica took a deployment job");
                self.held = true;
                true
            }
            Ok(false) => false,
            Err(_) => {
                self.client = None;
                false
            }
        }
    }

    /// The session that holds the lock, while it is held (a job that
    /// works on that session, as the sequencer does).
    pub fn client(&mut self) -> Option<&mut postgres::Client> {
        if self.held {
            self.client.as_mut()
        } else {
            None
        }
    }

    /// Gives the job up (ends the session).
    pub fn release(&mut self) {
        self.client = None;
        self.held = false;
    }
}

/// The monitor's report, published by the replica that runs the monitor so
/// that any replica can answer `/admin/monitor`.
pub struct MonitorReports {
    config: PgConfig,
    client: Option<postgres::Client>,
}

const REPORT_SCHEMA: &str = "CREATE TABLE IF NOT EXISTS monitor_report (\
    id INTEGER PRIMARY KEY CHECK (id = 1), replica TEXT NOT NULL, updated_ms BIGINT NOT NULL, \
    report TEXT NOT NULL)";

impl MonitorReports {
    /// Reports in the database of `config`.
    pub fn new(config: PgConfig) -> Self {
        Self {
            config,
            client: None,
        }
    }

    fn client(&mut self) -> Result<&mut postgres::Client, String> {
        if self.client.is_none() {
            let mut c = self.config.connect().map_err(|e| e.to_string())?;
            let made: bool = c
                .query_one("SELECT to_regclass('monitor_report') IS NOT NULL", &[])
                .map_err(|e| crate::error::describe(&e))?
                .get(0);
            if !made {
                c.batch_execute(REPORT_SCHEMA)
                    .map_err(|e| crate::error::describe(&e))?;
            }
            self.client = Some(c);
        }
        self.client
            .as_mut()
            .ok_or_else(|| "no PostgreSQL connection".to_owned())
    }

    /// Publishes `report` (JSON) as the deployment's.
    pub fn publish(&mut self, report: &str, now_ms: i64) -> Result<(), String> {
        let replica = self.config.replica.clone();
        let r = self.client()?.execute(
            "INSERT INTO monitor_report (id, replica, updated_ms, report) VALUES (1, $1, $2, $3) \
             ON CONFLICT (id) DO UPDATE SET replica = excluded.replica, \
             updated_ms = excluded.updated_ms, report = excluded.report",
            &[&replica, &now_ms, &report],
        );
        r.map(|_| ()).map_err(|e| {
            self.client = None;
            crate::error::describe(&e)
        })
    }

    /// The last published report: which replica, when, the JSON.
    pub fn latest(&mut self) -> Result<Option<(String, i64, String)>, String> {
        let r = self.client()?.query_opt(
            "SELECT replica, updated_ms, report FROM monitor_report WHERE id = 1",
            &[],
        );
        match r {
            Ok(row) => Ok(row.map(|r| (r.get(0), r.get(1), r.get(2)))),
            Err(e) => {
                self.client = None;
                Err(crate::error::describe(&e))
            }
        }
    }
}
