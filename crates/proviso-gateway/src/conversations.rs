//! What the gateway keeps of recent Responses API answers: their
//! placeholders, for the turns that name them, and where they are stored,
//! for reading them back.
//!
//! A chat client re-sends the whole conversation every turn, so masking
//! the turn numbers every value as before. A Responses API client sends
//! only the new input and names the earlier turn (`previous_response_id`):
//! the upstream holds the earlier turns, with their placeholders. So that
//! the same value keeps its placeholder and a placeholder of an earlier
//! turn is restored in a later answer, the placeholders of each response
//! are kept here. And a stored response (`GET /v1/responses/{id}`) is read
//! back from the upstream that stored it, by the key that created it: that
//! is kept here too. Each under the response's id and the key that created
//! it (another key naming the id gets nothing), for the most recent
//! [`CAPACITY`] responses, in memory only: after a restart, or past that,
//! a conversation's masking starts afresh and a stored response is not
//! found (docs/responses.md).

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};

use proviso_redact::Session;

use crate::upstream::Deployment;

/// Responses kept.
pub const CAPACITY: usize = 10_000;

/// Bytes of placeholders kept, over all responses (each counted by its
/// serialized size); the oldest go first past it.
pub const BUDGET_BYTES: usize = 64 << 20;

/// Where a response is stored: the deployment that answered, and the
/// model the client asked for.
#[derive(Clone)]
pub struct Stored {
    /// The deployment (upstream and its model).
    pub deployment: Deployment,
    /// The client's model name.
    pub model: String,
}

/// The most recent values by response id, each with the key that made it
/// and its size in bytes.
struct Recent<V> {
    by_id: HashMap<String, (String, Arc<V>, usize)>,
    order: VecDeque<String>,
    bytes: usize,
}

impl<V> Default for Recent<V> {
    fn default() -> Self {
        Self {
            by_id: HashMap::new(),
            order: VecDeque::new(),
            bytes: 0,
        }
    }
}

impl<V> Recent<V> {
    fn get(&self, id: &str, key: &str) -> Option<Arc<V>> {
        self.by_id
            .get(id)
            .filter(|(k, _, _)| k == key)
            .map(|(_, v, _)| Arc::clone(v))
    }

    /// Keeps `v` for `id` unless another key already owns that id (ids
    /// are the upstream's: a clash never hands one key's entry to
    /// another).
    fn put(&mut self, id: &str, key: &str, v: V, size: usize) {
        match self.by_id.get(id) {
            Some((owner, _, _)) if owner != key => return,
            Some(_) => self.remove(id),
            None => {}
        }
        self.by_id
            .insert(id.to_owned(), (key.to_owned(), Arc::new(v), size));
        self.order.push_back(id.to_owned());
        self.bytes += size;
        while self.order.len() > CAPACITY || self.bytes > BUDGET_BYTES {
            let Some(old) = self.order.pop_front() else {
                break;
            };
            if let Some((_, _, n)) = self.by_id.remove(&old) {
                self.bytes -= n;
            }
        }
    }

    fn remove(&mut self, id: &str) {
        if let Some((_, _, n)) = self.by_id.remove(id) {
            self.bytes -= n;
            self.order.retain(|o| o != id);
        }
    }
}

/// What is kept of recent responses.
#[derive(Default)]
pub struct Conversations {
    sessions: Mutex<Recent<Session>>,
    stored: Mutex<Recent<Stored>>,
}

impl Conversations {
    /// The placeholders of response `id`, if `key` created it.
    pub fn get(&self, id: &str, key: &str) -> Option<Arc<Session>> {
        self.sessions.lock().ok()?.get(id, key)
    }

    /// Keeps the placeholders of response `id`, created by `key`.
    pub fn put(&self, id: &str, key: &str, session: Session) {
        // Sized outside the lock.
        let size = serde_json::to_vec(&session).map_or(0, |v| v.len()) + id.len() + key.len();
        if let Ok(mut g) = self.sessions.lock() {
            g.put(id, key, session, size);
        }
    }

    /// Where response `id` is stored, if `key` created it.
    pub fn stored(&self, id: &str, key: &str) -> Option<Stored> {
        self.stored
            .lock()
            .ok()?
            .get(id, key)
            .map(|s| Stored::clone(&s))
    }

    /// Keeps where response `id`, created by `key`, is stored.
    pub fn put_stored(&self, id: &str, key: &str, s: Stored) {
        let size = id.len() + key.len() + s.model.len() + 64;
        if let Ok(mut g) = self.stored.lock() {
            g.put(id, key, s, size);
        }
    }

    /// Forgets response `id` (deleted upstream).
    pub fn forget(&self, id: &str) {
        if let Ok(mut g) = self.stored.lock() {
            g.remove(id);
        }
        if let Ok(mut g) = self.sessions.lock() {
            g.remove(id);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kept_per_key_bounded_and_never_handed_over() {
        let c = Conversations::default();
        let mut s = Session::default();
        let p = s.placeholder(proviso_redact::EntityKind::Email, "a@b.example");
        c.put("resp_1", "key_a", s);
        assert_eq!(
            c.get("resp_1", "key_a").map(|s| s.restore(&p)),
            Some("a@b.example".into())
        );
        assert!(
            c.get("resp_1", "key_b").is_none(),
            "another key gets nothing"
        );
        // The same id from another key does not take the entry over.
        c.put("resp_1", "key_b", Session::default());
        assert!(c.get("resp_1", "key_b").is_none());
        assert!(c.get("resp_1", "key_a").is_some());
        assert!(c.get("resp_2", "key_a").is_none());
        // Forgotten, then kept again: once in the order, so it is not
        // evicted early.
        c.forget("resp_1");
        assert!(c.get("resp_1", "key_a").is_none());
        c.put("resp_1", "key_a", Session::default());
        for i in 0..CAPACITY - 1 {
            c.put(&format!("r{i}"), "key_a", Session::default());
        }
        assert!(c.get("resp_1", "key_a").is_some(), "exactly CAPACITY kept");
        c.put("one_more", "key_a", Session::default());
        assert!(c.get("resp_1", "key_a").is_none(), "the oldest went");
        assert!(c.get("one_more", "key_a").is_some());
    }

    #[test]
    fn bounded_in_bytes() {
        let c = Conversations::default();
        // Sessions of ~2 MiB each (values kept both ways): the budget
        // holds about 32.
        let big = |n: usize| {
            let mut s = Session::default();
            for i in 0..n {
                s.placeholder(
                    proviso_redact::EntityKind::Email,
                    &format!("{i:0>1000}@x.example"),
                );
            }
            s
        };
        for i in 0..80 {
            c.put(&format!("r{i}"), "k", big(1000));
        }
        let kept = (0..80)
            .filter(|i| c.get(&format!("r{i}"), "k").is_some())
            .count();
        assert!((16..48).contains(&kept), "{kept}");
        assert!(c.get("r79", "k").is_some() && c.get("r0", "k").is_none());
    }
}
