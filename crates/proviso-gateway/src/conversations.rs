//! Placeholders across the turns of a Responses API conversation.
//!
//! A chat client re-sends the whole conversation every turn, so masking
//! the turn numbers every value as before. A Responses API client sends
//! only the new input and names the earlier turn (`previous_response_id`):
//! the upstream holds the earlier turns, with their placeholders. So that
//! the same value keeps its placeholder and a placeholder of an earlier
//! turn is restored in a later answer, the placeholders of each response
//! are kept here, under its id and the key that created it (another key
//! naming the id gets nothing), for the most recent [`CAPACITY`]
//! responses, in memory only: after a restart, or past that, a
//! conversation's masking starts afresh (docs/responses.md).

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;

use proviso_redact::Session;

/// Responses whose placeholders are kept.
pub const CAPACITY: usize = 10_000;

/// The placeholders of recent responses.
#[derive(Default)]
pub struct Conversations {
    inner: Mutex<Inner>,
}

#[derive(Default)]
struct Inner {
    by_id: HashMap<String, (String, Session)>,
    order: VecDeque<String>,
}

impl Conversations {
    /// The placeholders of response `id`, if `key` created it.
    pub fn get(&self, id: &str, key: &str) -> Option<Session> {
        let g = self.inner.lock().ok()?;
        g.by_id
            .get(id)
            .filter(|(k, _)| k == key)
            .map(|(_, s)| s.clone())
    }

    /// Keeps the placeholders of response `id`, created by `key`, dropping
    /// the oldest beyond [`CAPACITY`].
    pub fn put(&self, id: &str, key: &str, session: Session) {
        let Ok(mut g) = self.inner.lock() else {
            return;
        };
        if g.by_id
            .insert(id.to_owned(), (key.to_owned(), session))
            .is_none()
        {
            g.order.push_back(id.to_owned());
        }
        while g.order.len() > CAPACITY {
            if let Some(old) = g.order.pop_front() {
                g.by_id.remove(&old);
            }
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
    }
}
