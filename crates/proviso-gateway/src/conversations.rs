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
use std::sync::Mutex;

use proviso_redact::Session;

use crate::upstream::Deployment;

/// Responses kept.
pub const CAPACITY: usize = 10_000;

/// Where a response is stored: the deployment that answered, and the
/// model the client asked for.
#[derive(Clone)]
pub struct Stored {
    /// The deployment (upstream and its model).
    pub deployment: Deployment,
    /// The client's model name.
    pub model: String,
}

/// The most recent values by response id, each with the key that made it.
struct Recent<V> {
    by_id: HashMap<String, (String, V)>,
    order: VecDeque<String>,
}

impl<V> Default for Recent<V> {
    fn default() -> Self {
        Self {
            by_id: HashMap::new(),
            order: VecDeque::new(),
        }
    }
}

impl<V: Clone> Recent<V> {
    fn get(&self, id: &str, key: &str) -> Option<V> {
        self.by_id
            .get(id)
            .filter(|(k, _)| k == key)
            .map(|(_, v)| v.clone())
    }

    fn put(&mut self, id: &str, key: &str, v: V) {
        if self
            .by_id
            .insert(id.to_owned(), (key.to_owned(), v))
            .is_none()
        {
            self.order.push_back(id.to_owned());
        }
        while self.order.len() > CAPACITY {
            if let Some(old) = self.order.pop_front() {
                self.by_id.remove(&old);
            }
        }
    }

    fn remove(&mut self, id: &str) {
        self.by_id.remove(id);
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
    pub fn get(&self, id: &str, key: &str) -> Option<Session> {
        self.sessions.lock().ok()?.get(id, key)
    }

    /// Keeps the placeholders of response `id`, created by `key`.
    pub fn put(&self, id: &str, key: &str, session: Session) {
        if let Ok(mut g) = self.sessions.lock() {
            g.put(id, key, session);
        }
    }

    /// Where response `id` is stored, if `key` created it.
    pub fn stored(&self, id: &str, key: &str) -> Option<Stored> {
        self.stored.lock().ok()?.get(id, key)
    }

    /// Keeps where response `id`, created by `key`, is stored.
    pub fn put_stored(&self, id: &str, key: &str, s: Stored) {
        if let Ok(mut g) = self.stored.lock() {
            g.put(id, key, s);
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
    fn kept_per_key_and_bounded() {
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
        assert!(c.get("resp_2", "key_a").is_none());
        for i in 0..CAPACITY {
            c.put(&format!("r{i}"), "key_a", Session::default());
        }
        assert!(c.get("resp_1", "key_a").is_none(), "the oldest went");
        assert!(c.get(&format!("r{}", CAPACITY - 1), "key_a").is_some());
        c.forget("r5000");
        assert!(c.get("r5000", "key_a").is_none());
    }
}
