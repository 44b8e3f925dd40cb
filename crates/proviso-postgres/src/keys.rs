//! The key store on PostgreSQL, shared by every replica: the lifecycle
//! rules stay in `proviso_access::KeyStore`; this is its table. Every
//! write bumps a version and sends `NOTIFY proviso_keys` in its own
//! transaction, so replicas see a revocation at their next refresh, or at
//! once when they listen ([`PgKeys::change_listener`]).
//!
//! The client library runs its own small runtime, which must not be
//! entered from an async worker thread; the table's calls therefore run on
//! a thread of its own and the caller waits for the answer, as it would
//! wait for SQLite.

use std::sync::Mutex;
use std::sync::mpsc;
use std::time::Duration;

use postgres::fallible_iterator::FallibleIterator as _;
use proviso_access::{AccessError, KeyRecord, KeyRow, KeyState, KeyTable, Quotas};
use proviso_types::{KeyId, UnixMillis};

use crate::PgConfig;
use crate::error::describe;

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS access_keys (
  id TEXT PRIMARY KEY,
  secret_sha256 TEXT UNIQUE,
  team TEXT NOT NULL,
  name TEXT,
  state TEXT NOT NULL,
  contact TEXT,
  justification TEXT,
  purposes TEXT NOT NULL,
  models TEXT NOT NULL,
  default_purpose TEXT,
  quotas TEXT NOT NULL,
  expires_ms BIGINT,
  revoke_at_ms BIGINT,
  created_ms BIGINT NOT NULL,
  updated_ms BIGINT NOT NULL,
  reason TEXT,
  updated_by TEXT,
  reason_ref TEXT
);
CREATE TABLE IF NOT EXISTS access_meta (
  id INTEGER PRIMARY KEY CHECK (id = 1),
  version BIGINT NOT NULL,
  schema_version TEXT NOT NULL
);
INSERT INTO access_meta (id, version, schema_version) VALUES (1, 0, '1') ON CONFLICT (id) DO NOTHING;
";

const COLUMNS: &str = "id, team, name, state, contact, justification, purposes, models, \
    default_purpose, quotas, expires_ms, revoke_at_ms, created_ms, updated_ms, reason, updated_by, \
    reason_ref";

/// The channel replicas are told of key changes on.
pub const KEYS_CHANNEL: &str = "proviso_keys";

/// Schema creation takes turns with other replicas on this lock.
const LOCK_KEYS_SCHEMA: i64 = 0x5052_5653_0000_0003;

fn err(e: &postgres::Error) -> AccessError {
    AccessError::Unavailable(format!("PostgreSQL: {}", describe(e)))
}

fn json<T: serde::Serialize>(v: &T) -> String {
    serde_json::to_string(v).unwrap_or_else(|_| "null".into())
}

fn row_to_key(r: &postgres::Row) -> Result<KeyRecord, AccessError> {
    let bad = |what: &str, e: &dyn std::fmt::Display| {
        AccessError::Unavailable(format!("key store: bad {what}: {e}"))
    };
    let js = |i: usize, what: &str| -> Result<String, AccessError> {
        r.try_get::<_, String>(i).map_err(|e| bad(what, &e))
    };
    // A damaged column fails closed, as with SQLite: no purposes or models
    // would mean "any".
    let purposes: Vec<String> =
        serde_json::from_str(&js(6, "purposes")?).map_err(|e| bad("purposes", &e))?;
    let models: Vec<String> =
        serde_json::from_str(&js(7, "models")?).map_err(|e| bad("models", &e))?;
    let quotas: Quotas = serde_json::from_str(&js(9, "quotas")?).map_err(|e| bad("quotas", &e))?;
    let get = |i: usize| {
        r.try_get::<_, Option<String>>(i)
            .map_err(|e| bad("column", &e))
    };
    let ms = |i: usize| r.try_get::<_, Option<i64>>(i).map_err(|e| bad("time", &e));
    Ok(KeyRecord {
        id: KeyId(js(0, "id")?),
        team: js(1, "team")?,
        name: get(2)?,
        state: KeyState::parse(&js(3, "state")?),
        contact: get(4)?,
        justification: get(5)?,
        purposes,
        models,
        default_purpose: get(8)?,
        quotas,
        expires: ms(10)?.map(UnixMillis),
        revoke_at: ms(11)?.map(UnixMillis),
        created: UnixMillis(ms(12)?.unwrap_or(0)),
        updated: UnixMillis(ms(13)?.unwrap_or(0)),
        reason: get(14)?,
        updated_by: get(15)?,
        reason_ref: get(16)?,
    })
}

struct Worker {
    config: PgConfig,
    client: Option<postgres::Client>,
    in_tx: bool,
    /// When connecting last failed: for a second after, calls fail at once
    /// instead of each waiting for a connection timeout (they come from the
    /// request path).
    down_since: Option<std::time::Instant>,
}

impl Worker {
    fn client(&mut self) -> Result<&mut postgres::Client, AccessError> {
        if self.client.is_none() {
            if self
                .down_since
                .is_some_and(|t| t.elapsed() < Duration::from_secs(1))
            {
                return Err(AccessError::Unavailable(
                    "PostgreSQL was unreachable a moment ago".into(),
                ));
            }
            match self.config.connect() {
                Ok(c) => {
                    self.client = Some(c);
                    self.down_since = None;
                }
                Err(e) => {
                    self.down_since = Some(std::time::Instant::now());
                    return Err(AccessError::Unavailable(e.to_string()));
                }
            }
        }
        self.client
            .as_mut()
            .ok_or_else(|| AccessError::Unavailable("no PostgreSQL connection".into()))
    }

    /// Runs `f`; a lost connection is dropped (and an open transaction
    /// with it) so the next call connects again. Outside a transaction, a
    /// connection found dead (the server restarted since) is made again and
    /// `f` tried once more.
    fn run<T>(
        &mut self,
        mut f: impl FnMut(&mut postgres::Client) -> Result<T, postgres::Error>,
    ) -> Result<T, AccessError> {
        for attempt in 0..2 {
            let c = self.client()?;
            match f(c) {
                Ok(v) => return Ok(v),
                Err(e) => {
                    let lost = c.is_closed() || e.as_db_error().is_none();
                    if !lost {
                        return Err(err(&e));
                    }
                    self.client = None;
                    let in_tx = std::mem::replace(&mut self.in_tx, false);
                    if in_tx || attempt == 1 {
                        return Err(err(&e));
                    }
                }
            }
        }
        Err(AccessError::Unavailable("no PostgreSQL connection".into()))
    }

    /// A write: inside the caller's transaction, or one of its own; the
    /// version is bumped and replicas are told on commit.
    fn write(
        &mut self,
        mut f: impl FnMut(&mut postgres::Client) -> Result<u64, postgres::Error>,
    ) -> Result<u64, AccessError> {
        let own = !self.in_tx;
        self.run(|c| {
            if own {
                c.batch_execute("BEGIN")?;
            }
            let n = match f(c) {
                Ok(n) => n,
                Err(e) => {
                    if own {
                        let _ = c.batch_execute("ROLLBACK");
                    }
                    return Err(e);
                }
            };
            let bump = if n > 0 {
                c.batch_execute(&format!(
                    "UPDATE access_meta SET version = version + 1 WHERE id = 1; NOTIFY {KEYS_CHANNEL}"
                ))
            } else {
                Ok(())
            };
            if own {
                match bump {
                    Ok(()) => c.batch_execute("COMMIT")?,
                    Err(e) => {
                        let _ = c.batch_execute("ROLLBACK");
                        return Err(e);
                    }
                }
            } else {
                bump?;
            }
            Ok(n)
        })
    }
}

type Job = Box<dyn FnOnce(&mut Worker) + Send>;

/// Keys in PostgreSQL (tables `access_keys` and `access_meta`).
pub struct PgKeys {
    jobs: Mutex<mpsc::Sender<Job>>,
    config: PgConfig,
}

impl PgKeys {
    /// Connects, creates the tables if missing and starts the table's
    /// thread.
    pub fn open(config: PgConfig) -> Result<Self, AccessError> {
        let mut c = config
            .connect()
            .map_err(|e| AccessError::Unavailable(e.to_string()))?;
        let made: bool = c
            .query_one("SELECT to_regclass('access_meta') IS NOT NULL", &[])
            .map_err(|e| err(&e))?
            .get(0);
        let mut tx = c.transaction().map_err(|e| err(&e))?;
        if !made {
            tx.execute("SELECT pg_advisory_xact_lock($1)", &[&LOCK_KEYS_SCHEMA])
                .map_err(|e| err(&e))?;
            tx.batch_execute(SCHEMA).map_err(|e| err(&e))?;
        }
        let v: String = tx
            .query_one("SELECT schema_version FROM access_meta WHERE id = 1", &[])
            .map_err(|e| err(&e))?
            .get(0);
        if v != "1" {
            return Err(AccessError::Invalid(format!(
                "PostgreSQL key store schema version {v}, this build reads 1"
            )));
        }
        tx.commit().map_err(|e| err(&e))?;
        let (tx, rx) = mpsc::channel::<Job>();
        let mut worker = Worker {
            config: config.clone(),
            client: Some(c),
            in_tx: false,
            down_since: None,
        };
        std::thread::Builder::new()
            .name("key-store".into())
            .spawn(move || {
                while let Ok(job) = rx.recv() {
                    // A job that panics (it should not) loses its answer,
                    // which its caller sees as an error; the thread and
                    // the key store go on.
                    let run = std::panic::AssertUnwindSafe(|| job(&mut worker));
                    if std::panic::catch_unwind(run).is_err() {
                        tracing::error!("a key store call panicked; its connection is made again");
                        worker.client = None;
                        worker.in_tx = false;
                    }
                }
            })
            .map_err(|e| AccessError::Unavailable(format!("cannot start a thread: {e}")))?;
        Ok(Self {
            jobs: Mutex::new(tx),
            config,
        })
    }

    fn call<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut Worker) -> Result<T, AccessError> + Send + 'static,
    ) -> Result<T, AccessError> {
        let (reply, answer) = mpsc::channel();
        let job: Job = Box::new(move |w| {
            let _ = reply.send(f(w));
        });
        self.jobs
            .lock()
            .map_err(|_| AccessError::Unavailable("key store thread lock poisoned".into()))?
            .send(job)
            .map_err(|_| AccessError::Unavailable("the key store's thread stopped".into()))?;
        answer
            .recv()
            .map_err(|_| AccessError::Unavailable("the key store's thread stopped".into()))?
    }

    fn query_keys(
        &self,
        sql: String,
        arg: Option<ParamValue>,
    ) -> Result<Vec<KeyRecord>, AccessError> {
        self.call(move |w| {
            let rows = w.run(|c| match &arg {
                None => c.query(&sql, &[]),
                Some(ParamValue::Text(s)) => c.query(&sql, &[s]),
                Some(ParamValue::Int(i)) => c.query(&sql, &[i]),
            })?;
            rows.iter().map(row_to_key).collect()
        })
    }

    /// Waits up to `timeout` for a change made by anyone (LISTEN on its
    /// own connection): a replica calls this in a loop and reloads its
    /// cache when it returns true, so a revocation is seen at once.
    pub fn change_listener(&self) -> Result<ChangeListener, AccessError> {
        let mut c = self
            .config
            .connect()
            .map_err(|e| AccessError::Unavailable(e.to_string()))?;
        c.batch_execute(&format!("LISTEN {KEYS_CHANNEL}"))
            .map_err(|e| err(&e))?;
        Ok(ChangeListener {
            config: self.config.clone(),
            client: Some(c),
        })
    }
}

/// A connection that listens for key changes.
pub struct ChangeListener {
    config: PgConfig,
    client: Option<postgres::Client>,
}

impl ChangeListener {
    /// True when a change was announced within `timeout` (or the
    /// connection was lost and made again: changes may have been missed,
    /// so the caller reloads).
    pub fn wait(&mut self, timeout: Duration) -> bool {
        let Some(c) = self.client.as_mut() else {
            std::thread::sleep(timeout);
            match self.config.connect() {
                Ok(mut c) => {
                    if c.batch_execute(&format!("LISTEN {KEYS_CHANNEL}")).is_ok() {
                        self.client = Some(c);
                        return true;
                    }
                }
                Err(e) => tracing::debug!(error = %e, "key change listener: no connection"),
            }
            return false;
        };
        let next = c.notifications().timeout_iter(timeout).next();
        let got = match next {
            Ok(Some(_)) => true,
            Ok(None) => false,
            Err(_) => {
                self.client = None;
                return true;
            }
        };
        // Several changes at once need one reload.
        if got {
            while let Ok(Some(_)) = c.notifications().iter().next() {}
        }
        if c.is_closed() {
            self.client = None;
        }
        got
    }
}

enum ParamValue {
    Text(String),
    Int(i64),
}

/// A row's values in the order of `COLUMNS`, then its secret's hash:
/// `$1` … `$18` of both the insert and the guarded update.
fn values(row: &KeyRow) -> Vec<Box<dyn postgres::types::ToSql + Sync + Send>> {
    let k = &row.record;
    vec![
        Box::new(k.id.0.clone()),
        Box::new(k.team.clone()),
        Box::new(k.name.clone()),
        Box::new(k.state.as_str().to_owned()),
        Box::new(k.contact.clone()),
        Box::new(k.justification.clone()),
        Box::new(json(&k.purposes)),
        Box::new(json(&k.models)),
        Box::new(k.default_purpose.clone()),
        Box::new(json(&k.quotas)),
        Box::new(k.expires.map(|e| e.0)),
        Box::new(k.revoke_at.map(|e| e.0)),
        Box::new(k.created.0),
        Box::new(k.updated.0),
        Box::new(k.reason.clone()),
        Box::new(k.updated_by.clone()),
        Box::new(k.reason_ref.clone()),
        Box::new(row.secret_sha256.clone()),
    ]
}

fn refs(
    v: &[Box<dyn postgres::types::ToSql + Sync + Send>],
) -> Vec<&(dyn postgres::types::ToSql + Sync)> {
    v.iter()
        .map(|b| b.as_ref() as &(dyn postgres::types::ToSql + Sync))
        .collect()
}

impl KeyTable for PgKeys {
    fn insert(&mut self, row: &KeyRow) -> Result<(), AccessError> {
        let v = values(row);
        self.call(move |w| {
            w.write(|c| {
                c.execute(
                    &format!(
                        "INSERT INTO access_keys ({COLUMNS}, secret_sha256) VALUES \
                         ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18)"
                    ),
                    &refs(&v),
                )
            })
            .map(|_| ())
        })
    }

    fn replace_if(
        &mut self,
        row: &KeyRow,
        state: &str,
        updated: UnixMillis,
    ) -> Result<bool, AccessError> {
        let mut v = values(row);
        v.push(Box::new(state.to_owned()));
        v.push(Box::new(updated.0));
        self.call(move |w| {
            // $13 (created) is bound and not set: a key's creation time
            // stays.
            let n = w.write(|c| {
                c.execute(
                    "UPDATE access_keys SET team = $2, name = $3, state = $4, contact = $5, \
                     justification = $6, purposes = $7, models = $8, default_purpose = $9, \
                     quotas = $10, expires_ms = $11, revoke_at_ms = $12, updated_ms = $14, \
                     reason = $15, updated_by = $16, reason_ref = $17, \
                     secret_sha256 = COALESCE($18, secret_sha256) \
                     WHERE id = $1 AND state = $19 AND updated_ms = $20 AND $13::int8 IS NOT NULL",
                    &refs(&v),
                )
            })?;
            Ok(n == 1)
        })
    }

    fn get(&self, id: &str) -> Result<Option<KeyRecord>, AccessError> {
        let sql = format!("SELECT {COLUMNS} FROM access_keys WHERE id = $1");
        Ok(self
            .query_keys(sql, Some(ParamValue::Text(id.to_owned())))?
            .into_iter()
            .next())
    }

    fn by_hash(&self, sha256_hex: &str) -> Result<Option<KeyRecord>, AccessError> {
        let sql = format!("SELECT {COLUMNS} FROM access_keys WHERE secret_sha256 = $1");
        Ok(self
            .query_keys(sql, Some(ParamValue::Text(sha256_hex.to_owned())))?
            .into_iter()
            .next())
    }

    fn all_with_hashes(&self) -> Result<Vec<(String, KeyRecord)>, AccessError> {
        self.call(|w| {
            let rows = w.run(|c| {
                c.query(
                    &format!(
                        "SELECT {COLUMNS}, secret_sha256 FROM access_keys \
                         WHERE secret_sha256 IS NOT NULL ORDER BY id"
                    ),
                    &[],
                )
            })?;
            rows.iter()
                .map(|r| {
                    let h: String = r.try_get(17).map_err(|e| err(&e))?;
                    Ok((h, row_to_key(r)?))
                })
                .collect()
        })
    }

    fn list(&self) -> Result<Vec<KeyRecord>, AccessError> {
        self.query_keys(
            format!("SELECT {COLUMNS} FROM access_keys ORDER BY created_ms, id"),
            None,
        )
    }

    fn due_for_revocation(&self, now: UnixMillis) -> Result<Vec<KeyRecord>, AccessError> {
        self.query_keys(
            format!(
                "SELECT {COLUMNS} FROM access_keys WHERE state = 'suspended' \
                 AND revoke_at_ms IS NOT NULL AND revoke_at_ms <= $1"
            ),
            Some(ParamValue::Int(now.0)),
        )
    }

    fn version(&self) -> Result<i64, AccessError> {
        self.call(|w| {
            w.run(|c| {
                c.query_one("SELECT version FROM access_meta WHERE id = 1", &[])
                    .and_then(|r| r.try_get(0))
            })
        })
    }

    fn begin(&mut self) -> Result<(), AccessError> {
        self.call(|w| {
            w.run(|c| c.batch_execute("BEGIN"))?;
            w.in_tx = true;
            Ok(())
        })
    }

    fn commit(&mut self) -> Result<(), AccessError> {
        self.call(|w| {
            if !w.in_tx {
                return Err(AccessError::Unavailable(
                    "the key store's transaction was lost with its connection".into(),
                ));
            }
            // COMMIT of a transaction an error aborted answers ROLLBACK
            // without an error: ask first, so a change undone is never
            // reported as made.
            let alive = w.run(|c| c.batch_execute("SELECT 1"));
            w.in_tx = false;
            if let Err(e) = alive {
                let _ = w.run(|c| c.batch_execute("ROLLBACK"));
                return Err(e);
            }
            w.run(|c| c.batch_execute("COMMIT"))
        })
    }

    fn rollback(&mut self) {
        let _ = self.call(|w| {
            let was = std::mem::replace(&mut w.in_tx, false);
            if was {
                let _ = w.run(|c| c.batch_execute("ROLLBACK"));
            }
            Ok(())
        });
    }
}
