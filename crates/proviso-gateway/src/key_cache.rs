//! The gateway's view of client keys: a cache in front of the key store,
//! reloaded when `proviso keys …` changes it (checked every
//! `key_refresh_ms`), with a direct look-up on a miss so a new key works at
//! once. Revocations take effect within one refresh period.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, RwLock};

use proviso_access::{KeyRecord, KeyStore, hash_secret};

/// Cached keys by secret hash.
pub struct KeyCache {
    store: Mutex<KeyStore>,
    map: RwLock<HashMap<String, Arc<KeyRecord>>>,
    version: Mutex<i64>,
    /// When the store last answered a refresh.
    confirmed: Mutex<std::time::Instant>,
    /// Past this without an answer, no key is accepted from the cache
    /// (another replica may have revoked it meanwhile).
    trust_for: std::time::Duration,
    /// Secrets (by hash) the store did not know, and when it said so: for
    /// a second they are refused without asking it again, so a caller
    /// trying random keys does not reach the store (a database a network
    /// away) with every request.
    misses: Mutex<HashMap<String, std::time::Instant>>,
    /// Look-ups on a miss under way (each holds a blocking thread while it
    /// waits for the store).
    asking: std::sync::atomic::AtomicUsize,
}

/// Most look-ups on a miss under way at once; past it a request with a
/// key not in the cache gets 503 (keys in the cache are not affected).
pub const MAX_ASKING: usize = 64;

/// A look-up on a miss under way (see [`KeyCache::turn_to_ask`]).
pub struct AskTurn(Arc<KeyCache>);

impl Drop for AskTurn {
    fn drop(&mut self) {
        self.0
            .asking
            .fetch_sub(1, std::sync::atomic::Ordering::AcqRel);
    }
}

/// What the cache says of a secret without asking the store.
pub enum Cached {
    /// The key, or known not to exist (for the next second).
    Known(Option<Arc<KeyRecord>>),
    /// Not in the cache: the store must be asked for this secret hash.
    Ask(String),
}

/// How long an unknown secret is refused without asking the store.
const MISS_TTL: std::time::Duration = std::time::Duration::from_secs(1);
/// Most unknown secrets remembered at once.
const MAX_MISSES: usize = 10_000;

impl KeyCache {
    /// Loads every key.
    pub fn new(store: KeyStore) -> Result<Self, proviso_access::AccessError> {
        let cache = Self {
            store: Mutex::new(store),
            map: RwLock::new(HashMap::new()),
            version: Mutex::new(i64::MIN),
            confirmed: Mutex::new(std::time::Instant::now()),
            trust_for: std::time::Duration::from_secs(30),
            misses: Mutex::new(HashMap::new()),
            asking: std::sync::atomic::AtomicUsize::new(0),
        };
        cache.refresh()?;
        Ok(cache)
    }

    /// How long the cache is trusted without an answer from the store
    /// (at least 30 s).
    pub fn trust_for(mut self, d: std::time::Duration) -> Self {
        self.trust_for = d.max(std::time::Duration::from_secs(30));
        self
    }

    /// Reloads if the store changed since the last load.
    pub fn refresh(&self) -> Result<(), proviso_access::AccessError> {
        let store = self.store.lock().map_err(|_| poisoned())?;
        let v = store.data_version()?;
        *self.confirmed.lock().map_err(|_| poisoned())? = std::time::Instant::now();
        let mut ver = self.version.lock().map_err(|_| poisoned())?;
        if *ver == v {
            return Ok(());
        }
        let all: HashMap<String, Arc<KeyRecord>> = store
            .all_with_hashes()?
            .into_iter()
            .map(|(h, k)| (h, Arc::new(k)))
            .collect();
        *self.map.write().map_err(|_| poisoned())? = all;
        *ver = v;
        Ok(())
    }

    /// The key whose secret this is, in whatever state (shared with the
    /// cache: no copy per request), asking the store on a miss. Blocks on
    /// the store: async callers use [`KeyCache::cached`] and run
    /// [`KeyCache::fetch`] off their workers.
    pub fn lookup(
        &self,
        secret: &str,
    ) -> Result<Option<Arc<KeyRecord>>, proviso_access::AccessError> {
        match self.cached(secret)? {
            Cached::Known(k) => Ok(k),
            Cached::Ask(h) => self.fetch(&h),
        }
    }

    /// What the cache alone says of a secret, without asking the store.
    pub fn cached(&self, secret: &str) -> Result<Cached, proviso_access::AccessError> {
        let h = hash_secret(secret);
        let silent = self.confirmed.lock().map_err(|_| poisoned())?.elapsed();
        if silent > self.trust_for {
            return Err(proviso_access::AccessError::Unavailable(format!(
                "the key store has not answered for {} s",
                silent.as_secs()
            )));
        }
        Ok(match self.remembered(&h)? {
            Some(k) => Cached::Known(k),
            None => Cached::Ask(h),
        })
    }

    /// The cache's answer for a secret hash: the key, known to be unknown
    /// (`Some(None)`), or not known either way (`None`).
    #[allow(clippy::option_option)]
    fn remembered(
        &self,
        h: &str,
    ) -> Result<Option<Option<Arc<KeyRecord>>>, proviso_access::AccessError> {
        if let Some(k) = self.map.read().map_err(|_| poisoned())?.get(h) {
            return Ok(Some(Some(Arc::clone(k))));
        }
        let missed = self
            .misses
            .lock()
            .map_err(|_| poisoned())?
            .get(h)
            .is_some_and(|t| t.elapsed() < MISS_TTL);
        Ok(missed.then_some(None))
    }

    /// A turn to ask the store on a miss, if fewer than [`MAX_ASKING`] are
    /// under way; given back when dropped.
    pub fn turn_to_ask(self: &Arc<Self>) -> Result<AskTurn, proviso_access::AccessError> {
        use std::sync::atomic::Ordering;
        if self.asking.fetch_add(1, Ordering::AcqRel) >= MAX_ASKING {
            self.asking.fetch_sub(1, Ordering::AcqRel);
            return Err(proviso_access::AccessError::Unavailable(format!(
                "{MAX_ASKING} keys not in the cache are being looked up already"
            )));
        }
        Ok(AskTurn(Arc::clone(self)))
    }

    /// Asks the store for the key whose secret hashes to `h` (blocking: a
    /// database a network away) and caches the answer. Another request may
    /// have asked for the same secret meanwhile: its answer is used.
    pub fn fetch(&self, h: &str) -> Result<Option<Arc<KeyRecord>>, proviso_access::AccessError> {
        // The store stays locked until the key is in the map: a refresh
        // (which holds the same lock while it reloads) cannot come between
        // and be overwritten by what was read before it.
        let store = self.store.lock().map_err(|_| poisoned())?;
        if let Some(k) = self.remembered(h)? {
            return Ok(k);
        }
        let h = h.to_owned();
        let found = store.by_hash(&h)?.map(Arc::new);
        match &found {
            Some(k) => {
                self.map
                    .write()
                    .map_err(|_| poisoned())?
                    .insert(h, Arc::clone(k));
            }
            None => {
                let mut m = self.misses.lock().map_err(|_| poisoned())?;
                if m.len() >= MAX_MISSES {
                    m.retain(|_, t| t.elapsed() < MISS_TTL);
                    if m.len() >= MAX_MISSES {
                        m.clear();
                    }
                }
                m.insert(h, std::time::Instant::now());
            }
        }
        drop(store);
        Ok(found)
    }
}

impl KeyCache {
    /// The stored state of the key with id `id`, from the cache (a scan:
    /// for rare checks, not the request path).
    pub fn state_of(&self, id: &str) -> Option<proviso_access::KeyState> {
        self.map
            .read()
            .ok()?
            .values()
            .find(|k| k.id.0 == id)
            .map(|k| k.state)
    }

    /// Runs `f` with the key store (for administrative changes), then
    /// reloads the cache: SQLite's `data_version` does not move for changes
    /// made on this very connection.
    pub fn with_store<T>(
        &self,
        f: impl FnOnce(&mut KeyStore) -> Result<T, proviso_access::AccessError>,
    ) -> Result<T, proviso_access::AccessError> {
        let out = {
            let mut store = self.store.lock().map_err(|_| poisoned())?;
            f(&mut store)?
        };
        *self.version.lock().map_err(|_| poisoned())? = i64::MIN;
        self.refresh()?;
        Ok(out)
    }

    /// Revokes suspended keys whose notice period has ended, recording each
    /// revocation in the ledger first.
    pub fn revoke_due(
        &self,
        ledger: &proviso_ledger::LedgerHandle,
        now: proviso_types::UnixMillis,
    ) -> Result<usize, proviso_access::AccessError> {
        let mut store = self.store.lock().map_err(|_| poisoned())?;
        let due = store.due_for_revocation(now)?;
        let actor = crate::lifecycle::Actor {
            by: "system",
            reason: "the suspension's notice period ended without reinstatement",
            now,
        };
        for key in &due {
            let done = crate::lifecycle::change_key(
                &mut store,
                crate::lifecycle::to_ledger(ledger),
                proviso_access::KeyEvent::Revoked,
                &actor,
                |k: &proviso_access::KeyRecord| Some(k),
                |st, c| st.revoke(&key.id, c),
            );
            match done {
                Ok(_) => {
                    tracing::info!(key = %key.id, "key revoked at the end of its notice period")
                }
                // Another replica (or the CLI) changed it first: its sweep
                // did this one.
                Err(
                    proviso_access::AccessError::Conflict(_)
                    | proviso_access::AccessError::BadTransition { .. },
                ) => {}
                Err(e) => return Err(e),
            }
        }
        drop(store);
        if !due.is_empty() {
            *self.version.lock().map_err(|_| poisoned())? = i64::MIN;
            self.refresh()?;
        }
        Ok(due.len())
    }
}

fn poisoned() -> proviso_access::AccessError {
    proviso_access::AccessError::Invalid("key cache lock poisoned".into())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use proviso_access::{Change, NewKey};

    fn change() -> Change<'static> {
        Change {
            by: "test",
            reason: "test",
            record_id: "01TEST",
            now: proviso_types::UnixMillis::now(),
        }
    }

    #[test]
    fn unknown_secrets_are_remembered_briefly_and_known_ones_found() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("keys.db");
        let cache = KeyCache::new(KeyStore::open(&path).unwrap()).unwrap();
        assert!(cache.lookup("pvk-unknown").unwrap().is_none());
        assert_eq!(cache.misses.lock().unwrap().len(), 1);
        // A key made elsewhere (the CLI) is found at once on a miss.
        let mut other = KeyStore::open(&path).unwrap();
        let new = NewKey {
            team: "ml".into(),
            ..NewKey::default()
        };
        let (key, secret) = other.create(&new, &change()).unwrap();
        assert_eq!(cache.lookup(&secret).unwrap().unwrap().id, key.id);
        // The remembered miss does not grow without bound.
        for i in 0..(MAX_MISSES + 5) {
            let _ = cache.lookup(&format!("pvk-random-{i}")).unwrap();
        }
        assert!(cache.misses.lock().unwrap().len() <= MAX_MISSES);
    }

    #[test]
    fn look_ups_on_a_miss_are_bounded() {
        let dir = tempfile::tempdir().unwrap();
        let cache =
            Arc::new(KeyCache::new(KeyStore::open(&dir.path().join("k.db")).unwrap()).unwrap());
        let mut turns: Vec<AskTurn> = (0..MAX_ASKING)
            .map(|_| cache.turn_to_ask().unwrap())
            .collect();
        assert!(matches!(
            cache.turn_to_ask(),
            Err(proviso_access::AccessError::Unavailable(_))
        ));
        turns.pop();
        assert!(
            cache.turn_to_ask().is_ok(),
            "a turn given back is free again"
        );
    }

    #[test]
    fn a_cache_not_confirmed_for_too_long_refuses_every_key() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = KeyStore::open(&dir.path().join("keys.db")).unwrap();
        let new = NewKey {
            team: "ml".into(),
            ..NewKey::default()
        };
        let (_, secret) = store.create(&new, &change()).unwrap();
        let cache = KeyCache::new(store).unwrap();
        assert!(cache.lookup(&secret).unwrap().is_some());
        let long_ago = std::time::Instant::now()
            .checked_sub(std::time::Duration::from_secs(31))
            .unwrap();
        *cache.confirmed.lock().unwrap() = long_ago;
        assert!(matches!(
            cache.lookup(&secret),
            Err(proviso_access::AccessError::Unavailable(_))
        ));
        cache.refresh().unwrap();
        assert!(cache.lookup(&secret).unwrap().is_some(), "confirmed again");
    }
}
