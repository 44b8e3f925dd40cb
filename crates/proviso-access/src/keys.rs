use std::path::Path;
use std::time::Duration;

use proviso_types::{KeyId, UnixMillis};
use rusqlite::{Connection, OptionalExtension, Row, params};
use serde::Serialize;

use crate::{AccessError, generate_secret, hash_secret};

/// Where a key stands in its lifecycle. (Applied, approved and suspended
/// states arrive with the approval workflow.)
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum KeyState {
    /// Usable.
    Active,
    /// Permanently unusable.
    Revoked,
}

impl KeyState {
    /// Whether requests with this key may proceed.
    pub fn is_usable(self) -> bool {
        matches!(self, KeyState::Active)
    }

    fn as_str(self) -> &'static str {
        match self {
            KeyState::Active => "active",
            KeyState::Revoked => "revoked",
        }
    }

    fn parse(s: &str) -> Self {
        match s {
            "active" => KeyState::Active,
            // Anything unknown is treated as unusable: fail closed.
            _ => KeyState::Revoked,
        }
    }
}

impl std::fmt::Display for KeyState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A client key as stored (never with its secret).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct KeyRecord {
    /// Public id, `key_…`.
    pub id: KeyId,
    /// The team it belongs to.
    pub team: String,
    /// A label.
    pub name: Option<String>,
    /// Lifecycle state.
    pub state: KeyState,
    /// When it was created.
    pub created: UnixMillis,
    /// When its state last changed.
    pub updated: UnixMillis,
    /// Why its state last changed (e.g. the revocation reason).
    pub reason: Option<String>,
}

/// What `create` needs.
#[derive(Clone, Debug)]
pub struct NewKey {
    /// The team the key belongs to.
    pub team: String,
    /// An optional label.
    pub name: Option<String>,
}

/// Keys in a SQLite file, shared by the gateway and the CLI (WAL mode, so
/// `proviso keys …` works while the gateway runs).
pub struct KeyStore {
    conn: Connection,
}

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS keys (
  id TEXT PRIMARY KEY,
  secret_sha256 TEXT NOT NULL UNIQUE,
  team TEXT NOT NULL,
  name TEXT,
  state TEXT NOT NULL,
  created_ms INTEGER NOT NULL,
  updated_ms INTEGER NOT NULL,
  reason TEXT,
  -- Room for the usage specification (purposes, models, quotas) as JSON.
  spec TEXT
);
";

const COLUMNS: &str = "id, team, name, state, created_ms, updated_ms, reason";

fn row_to_key(r: &Row<'_>) -> rusqlite::Result<KeyRecord> {
    Ok(KeyRecord {
        id: KeyId(r.get(0)?),
        team: r.get(1)?,
        name: r.get(2)?,
        state: KeyState::parse(&r.get::<_, String>(3)?),
        created: UnixMillis(r.get(4)?),
        updated: UnixMillis(r.get(5)?),
        reason: r.get(6)?,
    })
}

impl KeyStore {
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
        Ok(Self { conn })
    }

    /// Creates an active key; returns it and its secret (shown once).
    pub fn create(&mut self, new: &NewKey) -> Result<(KeyRecord, String), AccessError> {
        let team = new.team.trim();
        if team.is_empty() {
            return Err(AccessError::Invalid("a key needs a team (--team)".into()));
        }
        let (id, secret) = generate_secret()?;
        let now = UnixMillis::now();
        self.conn.execute(
            "INSERT INTO keys (id, secret_sha256, team, name, state, created_ms, updated_ms) \
             VALUES (?1, ?2, ?3, ?4, 'active', ?5, ?5)",
            params![id, hash_secret(&secret), team, new.name, now.0],
        )?;
        let key = self
            .get(&KeyId(id.clone()))?
            .ok_or(AccessError::UnknownKey(id))?;
        Ok((key, secret))
    }

    /// The key with this id.
    pub fn get(&self, id: &KeyId) -> Result<Option<KeyRecord>, AccessError> {
        Ok(self
            .conn
            .query_row(
                &format!("SELECT {COLUMNS} FROM keys WHERE id = ?1"),
                [&id.0],
                row_to_key,
            )
            .optional()?)
    }

    /// The key whose secret this is, in whatever state.
    pub fn authenticate(&self, secret: &str) -> Result<Option<KeyRecord>, AccessError> {
        self.by_hash(&hash_secret(secret))
    }

    /// The key whose secret hashes to `sha256_hex`.
    pub fn by_hash(&self, sha256_hex: &str) -> Result<Option<KeyRecord>, AccessError> {
        Ok(self
            .conn
            .query_row(
                &format!("SELECT {COLUMNS} FROM keys WHERE secret_sha256 = ?1"),
                [sha256_hex],
                row_to_key,
            )
            .optional()?)
    }

    /// Every key with its secret hash, for the gateway's cache.
    pub fn all_with_hashes(&self) -> Result<Vec<(String, KeyRecord)>, AccessError> {
        let mut stmt = self.conn.prepare(&format!(
            "SELECT {COLUMNS}, secret_sha256 FROM keys ORDER BY id"
        ))?;
        let rows = stmt.query_map([], |r| Ok((r.get::<_, String>(7)?, row_to_key(r)?)))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Every key, oldest first.
    pub fn list(&self) -> Result<Vec<KeyRecord>, AccessError> {
        let mut stmt = self.conn.prepare(&format!(
            "SELECT {COLUMNS} FROM keys ORDER BY created_ms, id"
        ))?;
        let rows = stmt.query_map([], row_to_key)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Revokes a key for good.
    pub fn revoke(&mut self, id: &KeyId, reason: &str) -> Result<KeyRecord, AccessError> {
        let key = self
            .get(id)?
            .ok_or_else(|| AccessError::UnknownKey(id.0.clone()))?;
        if key.state == KeyState::Revoked {
            return Err(AccessError::BadTransition {
                id: id.0.clone(),
                state: key.state.to_string(),
                action: "revoke".into(),
            });
        }
        self.conn.execute(
            "UPDATE keys SET state = 'revoked', updated_ms = ?2, reason = ?3 WHERE id = ?1",
            params![id.0, UnixMillis::now().0, reason],
        )?;
        self.get(id)?
            .ok_or_else(|| AccessError::UnknownKey(id.0.clone()))
    }

    /// Changes whenever any connection commits a change to the store, so a
    /// cache can tell cheaply whether to reload.
    pub fn data_version(&self) -> Result<i64, AccessError> {
        Ok(self
            .conn
            .query_row("PRAGMA data_version", [], |r| r.get(0))?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lifecycle_and_listing() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("k.db");
        let mut s = KeyStore::open(&path).unwrap();
        let (k1, sec1) = s
            .create(&NewKey {
                team: "a".into(),
                name: Some("x".into()),
            })
            .unwrap();
        let (_k2, _) = s
            .create(&NewKey {
                team: "b".into(),
                name: None,
            })
            .unwrap();
        assert_eq!(s.list().unwrap().len(), 2);
        assert!(s.authenticate("pvk-wrong").unwrap().is_none());
        let other = KeyStore::open(&path).unwrap();
        let v0 = other.data_version().unwrap();
        let r = s.revoke(&k1.id, "rotated").unwrap();
        assert_eq!(r.state, KeyState::Revoked);
        assert_eq!(r.reason.as_deref(), Some("rotated"));
        assert_ne!(
            other.data_version().unwrap(),
            v0,
            "other connections see a change"
        );
        assert!(
            !other
                .authenticate(&sec1)
                .unwrap()
                .unwrap()
                .state
                .is_usable()
        );
        assert!(matches!(
            s.revoke(&k1.id, "again"),
            Err(AccessError::BadTransition { .. })
        ));
        assert!(matches!(
            s.revoke(&KeyId("key_nope".into()), "x"),
            Err(AccessError::UnknownKey(_))
        ));
        assert!(
            s.create(&NewKey {
                team: " ".into(),
                name: None
            })
            .is_err()
        );
    }
}
