//! Stage: restore. Placeholders in the upstream's answer are replaced by
//! the original values before the client sees them: in message content, in
//! completion text, and in tool-call arguments; for streams, also when a
//! placeholder is split across chunks.

use std::collections::HashMap;

use bytes::Bytes;
use proviso_redact::{Session, StreamRestorer};
use serde_json::Value;

fn restore_str(v: &mut Value, s: &Session) {
    if let Value::String(t) = v {
        *t = s.restore(t);
    }
}

/// Restores a whole (non-streamed) response body, parsed, and serializes it.
pub fn value(mut v: Value, s: &Session) -> Bytes {
    for c in v
        .get_mut("choices")
        .and_then(Value::as_array_mut)
        .into_iter()
        .flatten()
    {
        if let Some(m) = c.get_mut("message") {
            if let Some(t) = m.get_mut("content") {
                restore_str(t, s);
            }
            for tc in m
                .get_mut("tool_calls")
                .and_then(Value::as_array_mut)
                .into_iter()
                .flatten()
            {
                if let Some(a) = tc.pointer_mut("/function/arguments") {
                    restore_str(a, s);
                }
            }
        }
        if let Some(t) = c.get_mut("text") {
            restore_str(t, s);
        }
    }
    Bytes::from(v.to_string())
}

/// Restores streamed chunks, one restorer per choice and field.
pub struct StreamState<'a> {
    session: &'a Session,
    restorers: HashMap<(u64, i64), StreamRestorer<'a>>,
}

impl<'a> StreamState<'a> {
    /// For `session`'s placeholders.
    pub fn new(session: &'a Session) -> Self {
        Self {
            session,
            restorers: HashMap::new(),
        }
    }

    fn piece(&mut self, key: (u64, i64), v: &mut Value, finish: bool) {
        let r = self
            .restorers
            .entry(key)
            .or_insert_with(|| StreamRestorer::new(self.session));
        let mut out = match v.as_str() {
            Some(t) => r.push(t),
            None => String::new(),
        };
        if finish {
            out.push_str(&r.finish());
        }
        if v.is_string() || !out.is_empty() {
            *v = Value::String(out);
        }
    }

    /// Rewrites one chunk (parsed JSON) in place.
    pub fn chunk(&mut self, chunk: &mut Value) {
        for c in chunk
            .get_mut("choices")
            .and_then(Value::as_array_mut)
            .into_iter()
            .flatten()
        {
            let idx = c.get("index").and_then(Value::as_u64).unwrap_or(0);
            let finish = c.get("finish_reason").is_some_and(|f| !f.is_null());
            if let Some(d) = c.get_mut("delta").and_then(Value::as_object_mut) {
                if d.contains_key("content") || finish {
                    let mut v = d.remove("content").unwrap_or(Value::Null);
                    self.piece((idx, -1), &mut v, finish);
                    if !v.is_null() {
                        d.insert("content".into(), v);
                    }
                }
                let calls = d.get_mut("tool_calls").and_then(Value::as_array_mut);
                for (ti, tc) in calls.into_iter().flatten().enumerate() {
                    let t = tc.get("index").and_then(Value::as_i64).unwrap_or(ti as i64);
                    if let Some(a) = tc.pointer_mut("/function/arguments") {
                        self.piece((idx, t), a, false);
                    }
                }
            } else if let Some(v) = c.get_mut("text") {
                self.piece((idx, -1), v, finish);
            }
        }
    }
}
