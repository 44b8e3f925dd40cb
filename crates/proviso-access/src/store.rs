//! The key store: the lifecycle of keys over a [`KeyTable`] (SQLite, or
//! PostgreSQL shared by every replica); every change guarded against a
//! concurrent writer.

use std::path::Path;
use std::time::Duration;

use proviso_types::{KeyId, UnixMillis};

use crate::keys::{Application, Approval, Change, KeyRecord, KeyState, NewKey};
use crate::table::{KeyRow, KeyTable};
use crate::{AccessError, SqliteKeys, generate_secret, hash_secret};

/// Keys and their lifecycle, shared by the gateway and the CLI.
pub struct KeyStore {
    table: Box<dyn KeyTable>,
}

fn check_subset(what: &str, granted: &[String], asked: &[String]) -> Result<(), AccessError> {
    match granted.iter().find(|g| !asked.contains(g)) {
        Some(g) => Err(AccessError::Invalid(format!(
            "cannot grant {what} {g:?}: the application asked only for [{}]",
            asked.join(", ")
        ))),
        None => Ok(()),
    }
}

impl KeyStore {
    /// Opens or creates the SQLite key store at `path`.
    pub fn open(path: &Path) -> Result<Self, AccessError> {
        Ok(Self::with_table(Box::new(SqliteKeys::open(path)?)))
    }

    /// A key store over any table (PostgreSQL's, a test's).
    pub fn with_table(table: Box<dyn KeyTable>) -> Self {
        Self { table }
    }

    fn require(&self, id: &KeyId) -> Result<KeyRecord, AccessError> {
        self.get(id)?
            .ok_or_else(|| AccessError::UnknownKey(id.0.clone()))
    }

    fn bad(key: &KeyRecord, action: &str, now: UnixMillis) -> AccessError {
        AccessError::BadTransition {
            id: key.id.0.clone(),
            state: key.effective_state(now).to_string(),
            action: action.into(),
        }
    }

    /// A new record stamped with `change`.
    fn fresh(id: String, team: &str, state: KeyState, change: &Change<'_>) -> KeyRecord {
        KeyRecord {
            id: KeyId(id),
            team: team.to_owned(),
            name: None,
            state,
            contact: None,
            justification: None,
            purposes: Vec::new(),
            models: Vec::new(),
            default_purpose: None,
            quotas: Default::default(),
            expires: None,
            revoke_at: None,
            created: change.now,
            updated: change.now,
            reason: Some(change.reason.to_owned()),
            updated_by: Some(change.by.to_owned()),
            reason_ref: Some(change.record_id.to_owned()),
        }
    }

    /// Issues an active key directly; returns it and its secret (shown once).
    pub fn create(
        &mut self,
        new: &NewKey,
        change: &Change<'_>,
    ) -> Result<(KeyRecord, String), AccessError> {
        let team = new.team.trim();
        if team.is_empty() {
            return Err(AccessError::Invalid("a key needs a team (--team)".into()));
        }
        let (id, secret) = generate_secret()?;
        let record = KeyRecord {
            name: new.name.clone(),
            purposes: new.purposes.clone(),
            models: new.models.clone(),
            default_purpose: new.default_purpose.clone(),
            quotas: new.quotas.clone(),
            expires: new.expires,
            ..Self::fresh(id.clone(), team, KeyState::Active, change)
        };
        self.table.insert(&KeyRow {
            record,
            secret_sha256: Some(hash_secret(&secret)),
        })?;
        Ok((self.require(&KeyId(id))?, secret))
    }

    /// Records an application; the key is `pending` and has no secret.
    pub fn apply(
        &mut self,
        app: &Application,
        change: &Change<'_>,
    ) -> Result<KeyRecord, AccessError> {
        if app.team.trim().is_empty() {
            return Err(AccessError::Invalid("an application needs a team".into()));
        }
        if app.purposes.is_empty() || app.models.is_empty() {
            return Err(AccessError::Invalid(
                "an application needs at least one purpose and one model".into(),
            ));
        }
        if app.justification.trim().is_empty() || app.contact.trim().is_empty() {
            return Err(AccessError::Invalid(
                "an application needs a contact and a justification".into(),
            ));
        }
        let (id, _) = generate_secret()?;
        let record = KeyRecord {
            name: app.name.clone(),
            contact: Some(app.contact.clone()),
            justification: Some(app.justification.clone()),
            purposes: app.purposes.clone(),
            models: app.models.clone(),
            quotas: app.quotas.clone(),
            ..Self::fresh(id.clone(), app.team.trim(), KeyState::Pending, change)
        };
        self.table.insert(&KeyRow {
            record,
            secret_sha256: None,
        })?;
        self.require(&KeyId(id))
    }

    /// Approves a pending application, possibly narrowing it; returns the
    /// key and its secret (shown once).
    pub fn approve(
        &mut self,
        id: &KeyId,
        a: &Approval,
        change: &Change<'_>,
    ) -> Result<(KeyRecord, String), AccessError> {
        let key = self.require(id)?;
        if key.state != KeyState::Pending {
            return Err(Self::bad(&key, "approve", change.now));
        }
        let purposes = a.purposes.clone().unwrap_or_else(|| key.purposes.clone());
        let models = a.models.clone().unwrap_or_else(|| key.models.clone());
        check_subset("purpose", &purposes, &key.purposes)?;
        check_subset("model", &models, &key.models)?;
        if let Some(d) = a.default_purpose.as_ref().filter(|d| !purposes.contains(d)) {
            return Err(AccessError::Invalid(format!(
                "default purpose {d:?} is not among the granted purposes"
            )));
        }
        let quotas = a.quotas.clone().unwrap_or_else(|| key.quotas.clone());
        let (_, secret) = generate_secret()?;
        let record = KeyRecord {
            state: KeyState::Active,
            purposes,
            models,
            quotas,
            expires: a.expires,
            default_purpose: a.default_purpose.clone(),
            updated: change.now,
            reason: Some(change.reason.to_owned()),
            updated_by: Some(change.by.to_owned()),
            reason_ref: Some(change.record_id.to_owned()),
            ..key.clone()
        };
        let row = KeyRow {
            record,
            secret_sha256: Some(hash_secret(&secret)),
        };
        if !self
            .table
            .replace_if(&row, KeyState::Pending.as_str(), key.updated)?
        {
            return Err(AccessError::Conflict(id.0.clone()));
        }
        Ok((self.require(id)?, secret))
    }

    fn transition(
        &mut self,
        id: &KeyId,
        from: &[KeyState],
        to: KeyState,
        revoke_at: Option<UnixMillis>,
        action: &str,
        change: &Change<'_>,
    ) -> Result<KeyRecord, AccessError> {
        let key = self.require(id)?;
        let now = change.now;
        let eff = key.effective_state(now);
        // A suspension whose notice has run out is already revoked in
        // effect; making it so in the store is what `revoke` is for.
        let notice_over = to == KeyState::Revoked && key.state == KeyState::Suspended;
        if !from.contains(&eff) && !notice_over {
            return Err(Self::bad(&key, action, now));
        }
        self.guarded_update(&key, to, revoke_at, change)
    }

    /// Sets `key`'s state, guarded: only if the key is still as it was read
    /// (`key`'s state and update time), since another writer (the CLI
    /// beside the gateway, the monitor, another replica) may have changed
    /// it meanwhile; else [`AccessError::Conflict`] and nothing changes.
    fn guarded_update(
        &mut self,
        key: &KeyRecord,
        to: KeyState,
        revoke_at: Option<UnixMillis>,
        change: &Change<'_>,
    ) -> Result<KeyRecord, AccessError> {
        let row = KeyRow {
            record: KeyRecord {
                state: to,
                revoke_at,
                updated: change.now,
                reason: Some(change.reason.to_owned()),
                updated_by: Some(change.by.to_owned()),
                reason_ref: Some(change.record_id.to_owned()),
                ..key.clone()
            },
            secret_sha256: None,
        };
        if !self
            .table
            .replace_if(&row, key.state.as_str(), key.updated)?
        {
            return Err(AccessError::Conflict(key.id.0.clone()));
        }
        self.require(&key.id)
    }
    /// Refuses a pending application.
    pub fn deny(&mut self, id: &KeyId, change: &Change<'_>) -> Result<KeyRecord, AccessError> {
        self.transition(
            id,
            &[KeyState::Pending],
            KeyState::Denied,
            None,
            "deny",
            change,
        )
    }

    /// Suspends an active key, optionally revoking it after `notice` unless
    /// it is reinstated first.
    pub fn suspend(
        &mut self,
        id: &KeyId,
        notice: Option<Duration>,
        change: &Change<'_>,
    ) -> Result<KeyRecord, AccessError> {
        let revoke_at = notice.map(|n| {
            UnixMillis(
                change
                    .now
                    .0
                    .saturating_add(i64::try_from(n.as_millis()).unwrap_or(i64::MAX)),
            )
        });
        self.suspend_until(id, revoke_at, change)
    }

    /// Suspends an active key, to be revoked at `revoke_at` (if given)
    /// unless reinstated first. For callers with their own clock (the
    /// monitor under simulated time).
    pub fn suspend_until(
        &mut self,
        id: &KeyId,
        revoke_at: Option<UnixMillis>,
        change: &Change<'_>,
    ) -> Result<KeyRecord, AccessError> {
        self.transition(
            id,
            &[KeyState::Active],
            KeyState::Suspended,
            revoke_at,
            "suspend",
            change,
        )
    }

    /// Gives a suspended key a notice period: it is revoked at `revoke_at`
    /// unless reinstated first.
    pub fn schedule_revocation(
        &mut self,
        id: &KeyId,
        revoke_at: UnixMillis,
        change: &Change<'_>,
    ) -> Result<KeyRecord, AccessError> {
        self.transition(
            id,
            &[KeyState::Suspended],
            KeyState::Suspended,
            Some(revoke_at),
            "schedule the revocation of",
            change,
        )
    }

    /// Reinstates a suspended key (within its notice period).
    pub fn reinstate(&mut self, id: &KeyId, change: &Change<'_>) -> Result<KeyRecord, AccessError> {
        self.transition(
            id,
            &[KeyState::Suspended],
            KeyState::Active,
            None,
            "reinstate",
            change,
        )
    }

    /// Revokes a key for good.
    pub fn revoke(&mut self, id: &KeyId, change: &Change<'_>) -> Result<KeyRecord, AccessError> {
        self.transition(
            id,
            &[KeyState::Active, KeyState::Suspended, KeyState::Expired],
            KeyState::Revoked,
            None,
            "revoke",
            change,
        )
    }

    /// Runs `change` (any of the store's changes) and then `record` (the
    /// ledger append of its event) in one store transaction: the change is
    /// committed only once its event is recorded, and undone when recording
    /// fails, so the key store never holds a change the ledger does not.
    /// (A commit failing after the record was written is the one case left:
    /// the ledger then holds an event for a change that did not stand.)
    pub fn recorded<T>(
        &mut self,
        change: impl FnOnce(&mut Self) -> Result<T, AccessError>,
        record: impl FnOnce(&T) -> Result<(), String>,
    ) -> Result<T, AccessError> {
        self.table.begin()?;
        let result = change(self).and_then(|t| match record(&t) {
            Ok(()) => Ok(t),
            Err(e) => Err(AccessError::NotRecorded(e)),
        });
        match result {
            Ok(t) => match self.table.commit() {
                Ok(()) => Ok(t),
                Err(e) => {
                    self.table.rollback();
                    Err(e)
                }
            },
            Err(e) => {
                self.table.rollback();
                Err(e)
            }
        }
    }

    /// Suspended keys whose notice period has ended at `now`, which the
    /// caller should revoke (and record).
    pub fn due_for_revocation(&self, now: UnixMillis) -> Result<Vec<KeyRecord>, AccessError> {
        self.table.due_for_revocation(now)
    }

    /// The key with this id.
    pub fn get(&self, id: &KeyId) -> Result<Option<KeyRecord>, AccessError> {
        self.table.get(&id.0)
    }

    /// The key whose secret this is, in whatever state.
    pub fn authenticate(&self, secret: &str) -> Result<Option<KeyRecord>, AccessError> {
        self.by_hash(&hash_secret(secret))
    }

    /// The key whose secret hashes to `sha256_hex`.
    pub fn by_hash(&self, sha256_hex: &str) -> Result<Option<KeyRecord>, AccessError> {
        self.table.by_hash(sha256_hex)
    }

    /// Every key that has a secret, with its hash, for the gateway's cache.
    pub fn all_with_hashes(&self) -> Result<Vec<(String, KeyRecord)>, AccessError> {
        self.table.all_with_hashes()
    }

    /// Every key and application, oldest first.
    pub fn list(&self) -> Result<Vec<KeyRecord>, AccessError> {
        self.table.list()
    }

    /// Changes whenever another writer commits a change to the store, so a
    /// cache can tell cheaply whether to reload.
    pub fn data_version(&self) -> Result<i64, AccessError> {
        self.table.version()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ch(reason: &str) -> Change<'_> {
        Change {
            by: "admin",
            reason,
            record_id: "01TEST",
            now: UnixMillis::now(),
        }
    }

    #[test]
    fn a_change_made_meanwhile_by_another_writer_is_not_overwritten() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("keys.db");
        let mut a = KeyStore::open(&path).unwrap();
        let mut b = KeyStore::open(&path).unwrap();
        let new = NewKey {
            team: "ml".into(),
            ..NewKey::default()
        };
        let (key, _) = a.create(&new, &ch("new")).unwrap();
        // `b` suspends the key between `a` reading it and `a` updating it:
        // `a`'s update is guarded by what it read, so it changes nothing.
        let read_by_a = a.require(&key.id).unwrap();
        b.suspend(&key.id, None, &ch("incident")).unwrap();
        let err = a
            .guarded_update(&read_by_a, KeyState::Revoked, None, &ch("late revoke"))
            .unwrap_err();
        assert!(matches!(err, AccessError::Conflict(_)), "{err}");
        assert_eq!(a.require(&key.id).unwrap().state, KeyState::Suspended);
    }

    #[test]
    fn a_change_whose_event_cannot_be_recorded_is_undone() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = KeyStore::open(&dir.path().join("keys.db")).unwrap();
        let new = NewKey {
            team: "ml".into(),
            ..NewKey::default()
        };
        let (key, _) = s.create(&new, &ch("new")).unwrap();
        let err = s
            .recorded(
                |st| st.revoke(&key.id, &ch("leaked")),
                |_| Err("ledger down".into()),
            )
            .unwrap_err();
        assert!(matches!(err, AccessError::NotRecorded(_)), "{err}");
        assert_eq!(
            s.require(&key.id).unwrap().state,
            KeyState::Active,
            "undone"
        );
        let done = s
            .recorded(
                |st| st.revoke(&key.id, &ch("leaked")),
                |k| {
                    assert_eq!(k.state, KeyState::Revoked, "the event sees the change");
                    Ok(())
                },
            )
            .unwrap();
        assert_eq!(done.state, KeyState::Revoked);
        assert_eq!(s.require(&key.id).unwrap().state, KeyState::Revoked);
    }

    fn app() -> Application {
        Application {
            team: "research".into(),
            contact: "lead@example.com".into(),
            purposes: vec!["research".into(), "evaluation".into()],
            models: vec!["gpt-4o*".into(), "o3".into()],
            justification: "benchmarking".into(),
            ..Application::default()
        }
    }

    #[test]
    fn apply_approve_narrowed() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = KeyStore::open(&dir.path().join("k.db")).unwrap();
        let k = s.apply(&app(), &ch("applied")).unwrap();
        assert_eq!(k.state, KeyState::Pending);
        assert!(
            s.all_with_hashes().unwrap().is_empty(),
            "no secret before approval"
        );
        let wide = Approval {
            purposes: Some(vec!["model-training".into()]),
            ..Approval::default()
        };
        let e = s.approve(&k.id, &wide, &ch("x")).unwrap_err();
        assert!(e.to_string().contains("cannot grant purpose"), "{e}");
        let narrow = Approval {
            purposes: Some(vec!["evaluation".into()]),
            ..Approval::default()
        };
        let (k, secret) = s.approve(&k.id, &narrow, &ch("ok for eval")).unwrap();
        assert_eq!(
            (k.state, k.purposes.clone()),
            (KeyState::Active, vec!["evaluation".to_string()])
        );
        assert_eq!(k.implied_purpose(), Some("evaluation"));
        assert_eq!(k.models, vec!["gpt-4o*".to_string(), "o3".to_string()]);
        assert_eq!(s.authenticate(&secret).unwrap().unwrap().id, k.id);
        assert!(matches!(
            s.approve(&k.id, &Approval::default(), &ch("again")),
            Err(AccessError::BadTransition { .. })
        ));
    }

    #[test]
    fn deny_suspend_reinstate_revoke() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = KeyStore::open(&dir.path().join("k.db")).unwrap();
        let d = s.apply(&app(), &ch("applied")).unwrap();
        assert_eq!(
            s.deny(&d.id, &ch("no budget")).unwrap().state,
            KeyState::Denied
        );
        assert!(s.approve(&d.id, &Approval::default(), &ch("x")).is_err());
        let (k, _) = s
            .create(
                &NewKey {
                    team: "a".into(),
                    ..NewKey::default()
                },
                &ch("direct"),
            )
            .unwrap();
        let k = s.suspend(&k.id, None, &ch("investigation")).unwrap();
        assert_eq!(
            (k.state, k.reason.as_deref(), k.updated_by.as_deref()),
            (KeyState::Suspended, Some("investigation"), Some("admin"))
        );
        assert!(s.suspend(&k.id, None, &ch("twice")).is_err());
        let k = s.reinstate(&k.id, &ch("cleared")).unwrap();
        assert_eq!(k.state, KeyState::Active);
        let k = s.revoke(&k.id, &ch("rotated")).unwrap();
        assert_eq!(k.state, KeyState::Revoked);
        assert!(s.reinstate(&k.id, &ch("no")).is_err());
        assert!(matches!(
            s.revoke(&KeyId("key_nope".into()), &ch("x")),
            Err(AccessError::UnknownKey(_))
        ));
    }

    #[test]
    fn notice_period_and_expiry_are_derived() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = KeyStore::open(&dir.path().join("k.db")).unwrap();
        let past = UnixMillis(UnixMillis::now().0 - 1000);
        let (k, _) = s
            .create(
                &NewKey {
                    team: "a".into(),
                    expires: Some(past),
                    ..NewKey::default()
                },
                &ch("c"),
            )
            .unwrap();
        assert_eq!(k.effective_state(UnixMillis::now()), KeyState::Expired);
        let (k2, _) = s
            .create(
                &NewKey {
                    team: "a".into(),
                    ..NewKey::default()
                },
                &ch("c"),
            )
            .unwrap();
        let k2 = s
            .suspend(&k2.id, Some(Duration::from_millis(0)), &ch("notice"))
            .unwrap();
        let now = UnixMillis(UnixMillis::now().0 + 1);
        assert_eq!(k2.effective_state(now), KeyState::Revoked);
        assert_eq!(s.due_for_revocation(now).unwrap().len(), 1);
        assert!(s.reinstate(&k2.id, &ch("too late")).is_err());
        assert_eq!(
            s.revoke(&k2.id, &ch("notice over")).unwrap().state,
            KeyState::Revoked
        );
        assert!(s.due_for_revocation(now).unwrap().is_empty());
    }

    #[test]
    fn other_connections_see_changes() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("k.db");
        let mut s = KeyStore::open(&path).unwrap();
        let other = KeyStore::open(&path).unwrap();
        let v0 = other.data_version().unwrap();
        s.create(
            &NewKey {
                team: "a".into(),
                ..NewKey::default()
            },
            &ch("c"),
        )
        .unwrap();
        assert_ne!(other.data_version().unwrap(), v0);
        assert!(
            s.create(
                &NewKey {
                    team: " ".into(),
                    ..NewKey::default()
                },
                &ch("c")
            )
            .is_err()
        );
    }
}
