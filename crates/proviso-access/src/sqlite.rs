//! Keys in a SQLite file, shared by the gateway and the CLI (WAL mode, so
//! `proviso keys …` works while the gateway runs).

use std::path::Path;
use std::time::Duration;

use proviso_types::{KeyId, UnixMillis};
use rusqlite::types::Value;
use rusqlite::{Connection, OptionalExtension, Row, params_from_iter};

use crate::AccessError;
use crate::keys::{KeyRecord, KeyState};
use crate::table::{KeyRow, KeyTable};

/// The SQLite key table.
pub struct SqliteKeys {
    conn: Connection,
}

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS meta (k TEXT PRIMARY KEY, v TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS keys (
  id TEXT PRIMARY KEY,
  secret_sha256 TEXT UNIQUE,
  team TEXT NOT NULL,
  name TEXT,
  state TEXT NOT NULL,
  contact TEXT,
  justification TEXT,
  purposes TEXT NOT NULL DEFAULT '[]',
  models TEXT NOT NULL DEFAULT '[]',
  default_purpose TEXT,
  quotas TEXT NOT NULL DEFAULT '{}',
  expires_ms INTEGER,
  revoke_at_ms INTEGER,
  created_ms INTEGER NOT NULL,
  updated_ms INTEGER NOT NULL,
  reason TEXT,
  updated_by TEXT,
  reason_ref TEXT
);
";

const SCHEMA_VERSION: &str = "1";

const COLUMNS: &str = "id, team, name, state, contact, justification, purposes, models, \
    default_purpose, quotas, expires_ms, revoke_at_ms, created_ms, updated_ms, reason, updated_by, \
    reason_ref";

fn json_col<T: serde::de::DeserializeOwned + Default>(
    r: &Row<'_>,
    i: usize,
) -> rusqlite::Result<T> {
    let s: String = r.get(i)?;
    // A damaged column fails closed: no purposes/models would mean "any",
    // so refuse to read the key at all.
    serde_json::from_str(&s).map_err(|e| {
        rusqlite::Error::FromSqlConversionFailure(i, rusqlite::types::Type::Text, Box::new(e))
    })
}

fn row_to_key(r: &Row<'_>) -> rusqlite::Result<KeyRecord> {
    Ok(KeyRecord {
        id: KeyId(r.get(0)?),
        team: r.get(1)?,
        name: r.get(2)?,
        state: KeyState::parse(&r.get::<_, String>(3)?),
        contact: r.get(4)?,
        justification: r.get(5)?,
        purposes: json_col(r, 6)?,
        models: json_col(r, 7)?,
        default_purpose: r.get(8)?,
        quotas: json_col(r, 9)?,
        expires: r.get::<_, Option<i64>>(10)?.map(UnixMillis),
        revoke_at: r.get::<_, Option<i64>>(11)?.map(UnixMillis),
        created: UnixMillis(r.get(12)?),
        updated: UnixMillis(r.get(13)?),
        reason: r.get(14)?,
        updated_by: r.get(15)?,
        reason_ref: r.get(16)?,
    })
}

fn to_json<T: serde::Serialize>(v: &T) -> String {
    serde_json::to_string(v).unwrap_or_else(|_| "null".into())
}

impl SqliteKeys {
    /// Opens or creates the key store at `path`.
    pub fn open(path: &Path) -> Result<Self, AccessError> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|e| {
                AccessError::Invalid(format!("cannot create {}: {e}", dir.display()))
            })?;
        }
        let conn = Connection::open(path)?;
        conn.busy_timeout(Duration::from_secs(5))?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.execute_batch(SCHEMA)?;
        let v: Option<String> = conn
            .query_row("SELECT v FROM meta WHERE k = 'schema_version'", [], |r| {
                r.get(0)
            })
            .optional()?;
        match v.as_deref() {
            None => {
                conn.execute(
                    "INSERT INTO meta (k, v) VALUES ('schema_version', ?1)",
                    [SCHEMA_VERSION],
                )?;
            }
            Some(SCHEMA_VERSION) => {}
            Some(other) => {
                return Err(AccessError::Invalid(format!(
                    "{}: key store schema version {other}, this build reads {SCHEMA_VERSION}",
                    path.display()
                )));
            }
        }
        Ok(Self { conn })
    }
}

/// A row's values in the order of `COLUMNS`, then its secret's hash:
/// `?1` … `?18` of both the insert and the guarded update.
fn values(row: &KeyRow) -> Vec<Value> {
    let k = &row.record;
    let text = |s: &Option<String>| s.clone().map_or(Value::Null, Value::Text);
    let ms = |t: Option<UnixMillis>| t.map_or(Value::Null, |t| Value::Integer(t.0));
    vec![
        Value::Text(k.id.0.clone()),
        Value::Text(k.team.clone()),
        text(&k.name),
        Value::Text(k.state.as_str().to_owned()),
        text(&k.contact),
        text(&k.justification),
        Value::Text(to_json(&k.purposes)),
        Value::Text(to_json(&k.models)),
        text(&k.default_purpose),
        Value::Text(to_json(&k.quotas)),
        ms(k.expires),
        ms(k.revoke_at),
        Value::Integer(k.created.0),
        Value::Integer(k.updated.0),
        text(&k.reason),
        text(&k.updated_by),
        text(&k.reason_ref),
        text(&row.secret_sha256),
    ]
}

impl KeyTable for SqliteKeys {
    fn insert(&mut self, row: &KeyRow) -> Result<(), AccessError> {
        self.conn.execute(
            &format!(
                "INSERT INTO keys ({COLUMNS}, secret_sha256) VALUES \
                 (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18)"
            ),
            params_from_iter(values(row)),
        )?;
        Ok(())
    }

    fn replace_if(
        &mut self,
        row: &KeyRow,
        state: &str,
        updated: UnixMillis,
    ) -> Result<bool, AccessError> {
        let mut v = values(row);
        v.push(Value::Text(state.to_owned()));
        v.push(Value::Integer(updated.0));
        // ?13 (created) is bound and not used: a key's creation time stays.
        self.conn.execute(
            "UPDATE keys SET team = ?2, name = ?3, state = ?4, contact = ?5, justification = ?6, \
             purposes = ?7, models = ?8, default_purpose = ?9, quotas = ?10, expires_ms = ?11, \
             revoke_at_ms = ?12, updated_ms = ?14, reason = ?15, updated_by = ?16, reason_ref = ?17, \
             secret_sha256 = COALESCE(?18, secret_sha256) \
             WHERE id = ?1 AND state = ?19 AND updated_ms = ?20 AND ?13 IS NOT NULL",
            params_from_iter(v),
        )?;
        Ok(self.conn.changes() == 1)
    }

    fn get(&self, id: &str) -> Result<Option<KeyRecord>, AccessError> {
        Ok(self
            .conn
            .query_row(
                &format!("SELECT {COLUMNS} FROM keys WHERE id = ?1"),
                [id],
                row_to_key,
            )
            .optional()?)
    }

    fn by_hash(&self, sha256_hex: &str) -> Result<Option<KeyRecord>, AccessError> {
        Ok(self
            .conn
            .query_row(
                &format!("SELECT {COLUMNS} FROM keys WHERE secret_sha256 = ?1"),
                [sha256_hex],
                row_to_key,
            )
            .optional()?)
    }

    fn all_with_hashes(&self) -> Result<Vec<(String, KeyRecord)>, AccessError> {
        let mut stmt = self.conn.prepare(&format!(
            "SELECT {COLUMNS}, secret_sha256 FROM keys WHERE secret_sha256 IS NOT NULL ORDER BY id"
        ))?;
        let rows = stmt.query_map([], |r| Ok((r.get::<_, String>(17)?, row_to_key(r)?)))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    fn list(&self) -> Result<Vec<KeyRecord>, AccessError> {
        let mut stmt = self.conn.prepare(&format!(
            "SELECT {COLUMNS} FROM keys ORDER BY created_ms, id"
        ))?;
        let rows = stmt.query_map([], row_to_key)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    fn due_for_revocation(&self, now: UnixMillis) -> Result<Vec<KeyRecord>, AccessError> {
        let mut stmt = self.conn.prepare(&format!(
            "SELECT {COLUMNS} FROM keys WHERE state = 'suspended' AND revoke_at_ms IS NOT NULL AND revoke_at_ms <= ?1"
        ))?;
        let rows = stmt.query_map([now.0], row_to_key)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// SQLite's `data_version`: it moves when another connection commits
    /// (not for this connection's own changes).
    fn version(&self) -> Result<i64, AccessError> {
        Ok(self
            .conn
            .query_row("PRAGMA data_version", [], |r| r.get(0))?)
    }

    fn begin(&mut self) -> Result<(), AccessError> {
        Ok(self.conn.execute_batch("BEGIN IMMEDIATE")?)
    }

    fn commit(&mut self) -> Result<(), AccessError> {
        Ok(self.conn.execute_batch("COMMIT")?)
    }

    fn rollback(&mut self) {
        let _ = self.conn.execute_batch("ROLLBACK");
    }
}
