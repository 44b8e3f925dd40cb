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

/// Restores every string under a `text` or `arguments` key, at any depth:
/// the Responses API's output items, content parts and done events, a
/// stored response and its input items, each whole.
pub fn texts(v: &mut Value, s: &Session) {
    match v {
        Value::Object(m) => {
            for (k, x) in m.iter_mut() {
                if matches!(k.as_str(), "text" | "arguments") && x.is_string() {
                    restore_str(x, s);
                } else {
                    texts(x, s);
                }
            }
        }
        Value::Array(a) => a.iter_mut().for_each(|x| texts(x, s)),
        _ => {}
    }
}

/// Restores a whole (non-streamed) response body, parsed, and serializes it.
pub fn value(mut v: Value, s: &Session) -> Bytes {
    in_place(&mut v, s);
    Bytes::from(v.to_string())
}

/// Restores a whole (non-streamed) response body where it lies.
pub fn in_place(v: &mut Value, s: &Session) {
    if v.get("object").and_then(Value::as_str) == Some("response") {
        if let Some(out) = v.get_mut("output") {
            texts(out, s);
        }
        return;
    }
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

    /// A Responses API event, rewritten in place: deltas through a
    /// restorer per output item and part, every whole text at once. When a
    /// part's text is done, what its restorer still held comes back as a
    /// delta event to send before this one.
    fn response_event(&mut self, kind: &str, ev: &mut Value) -> Option<Value> {
        let at = |k: &str| ev.get(k).and_then(Value::as_u64).unwrap_or(0);
        let (item, part) = (at("output_index"), at("content_index") as i64);
        match kind {
            "response.output_text.delta" => {
                if let Some(d) = ev.get_mut("delta") {
                    self.piece((item, part), d, false);
                }
                None
            }
            "response.function_call_arguments.delta" => {
                if let Some(d) = ev.get_mut("delta") {
                    self.piece((item, -1), d, false);
                }
                None
            }
            _ => {
                let key = match kind {
                    "response.output_text.done" => Some((item, part)),
                    "response.function_call_arguments.done" => Some((item, -1)),
                    _ => None,
                };
                let tail = key
                    .and_then(|k| self.restorers.remove(&k))
                    .map(|mut r| r.finish())
                    .filter(|t| !t.is_empty())
                    .map(|t| {
                        let delta_kind = if key.is_some_and(|k| k.1 == -1) {
                            "response.function_call_arguments.delta"
                        } else {
                            "response.output_text.delta"
                        };
                        serde_json::json!({
                            "type": delta_kind,
                            "item_id": ev.get("item_id"),
                            "output_index": item,
                            "content_index": part.max(0),
                            "delta": t,
                        })
                    });
                texts(ev, self.session);
                tail
            }
        }
    }

    /// Rewrites one chunk (parsed JSON) in place; gives an event to send
    /// before it, when one is due (the Responses API's held-back text).
    pub fn chunk(&mut self, chunk: &mut Value) -> Option<Value> {
        if let Some(kind) = chunk.get("type").and_then(Value::as_str).map(str::to_owned) {
            return self.response_event(&kind, chunk);
        }
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
        None
    }
}
