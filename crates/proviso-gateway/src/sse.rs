//! Server-sent events: splitting the upstream's byte stream into events
//! and assembling the output text from OpenAI chunks.

use bytes::{Bytes, BytesMut};
use proviso_types::Usage;
use serde_json::Value;

/// One complete event: its raw bytes (forwarded as is) and its `data`.
#[derive(Debug, PartialEq)]
pub struct Event {
    /// The event's bytes including the blank line that ends it.
    pub raw: Bytes,
    /// The `data:` payload (lines joined with `\n`), if any.
    pub data: Option<String>,
}

/// The `event:` name of an event's raw bytes, if it has one.
pub fn event_name(raw: &[u8]) -> Option<&str> {
    std::str::from_utf8(raw)
        .ok()?
        .lines()
        .find_map(|l| l.strip_prefix("event:"))
        .map(str::trim)
        .filter(|n| !n.is_empty())
}

/// An event's bytes: its `event:` name when it had one, and `data`.
pub fn event_bytes(name: Option<&str>, data: &Value) -> Bytes {
    Bytes::from(match name {
        Some(n) => format!("event: {n}\ndata: {data}\n\n"),
        None => format!("data: {data}\n\n"),
    })
}

/// Splits a byte stream into events; events may span chunks.
#[derive(Default)]
pub struct SseSplitter {
    buf: BytesMut,
    /// Bytes of `buf` already searched for an event's end without one:
    /// the next search starts near there, so an event arriving in many
    /// small pieces costs its length once, not once per piece.
    searched: usize,
}

impl SseSplitter {
    /// Feeds bytes; returns the events completed by them.
    pub fn feed(&mut self, chunk: &[u8]) -> Vec<Event> {
        self.buf.extend_from_slice(chunk);
        let mut out = Vec::new();
        // A separator is at most 4 bytes: one may have begun just before.
        while let Some((end, sep)) = find_event_end(&self.buf, self.searched.saturating_sub(3)) {
            self.searched = 0;
            let raw = self.buf.split_to(end + sep).freeze();
            out.push(Event {
                data: data_of(&raw[..end]),
                raw,
            });
        }
        self.searched = self.buf.len();
        out
    }

    /// Whatever is left when the stream ends (an unterminated event).
    pub fn rest(&mut self) -> Option<Event> {
        if self.buf.iter().all(|b| b.is_ascii_whitespace()) {
            return None;
        }
        let raw = self.buf.split().freeze();
        self.searched = 0;
        Some(Event {
            data: data_of(&raw),
            raw,
        })
    }
}

fn find_event_end(b: &[u8], from: usize) -> Option<(usize, usize)> {
    let mut i = from;
    while i + 1 < b.len() {
        if b[i] == b'\n' && b[i + 1] == b'\n' {
            return Some((i, 2));
        }
        if b[i] == b'\r'
            && b.get(i + 1) == Some(&b'\n')
            && b.get(i + 2) == Some(&b'\r')
            && b.get(i + 3) == Some(&b'\n')
        {
            return Some((i, 4));
        }
        i += 1;
    }
    None
}

fn data_of(raw: &[u8]) -> Option<String> {
    let text = String::from_utf8_lossy(raw);
    let mut data: Option<String> = None;
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("data:") {
            let rest = rest.strip_prefix(' ').unwrap_or(rest);
            match &mut data {
                Some(d) => {
                    d.push('\n');
                    d.push_str(rest);
                }
                None => data = Some(rest.to_owned()),
            }
        }
    }
    data
}

/// Builds the output text, finish reason and usage from chunks.
#[derive(Default, Debug)]
pub struct Assembler {
    choices: Vec<String>,
    /// Finish reason of choice 0.
    pub finish_reason: Option<String>,
    /// Usage, if the upstream sent it.
    pub usage: Option<Usage>,
    /// The Responses API's response id, from its first or last event.
    pub response_id: Option<String>,
    /// The Responses API's whole response, from its last event.
    pub final_response: Option<Value>,
}

impl Assembler {
    /// Takes one parsed chunk. Returns true if it carries only usage (no
    /// choices), i.e. the chunk `stream_options.include_usage` adds.
    pub fn observe(&mut self, chunk: &Value) -> bool {
        if let Some(kind) = chunk.get("type").and_then(Value::as_str) {
            self.observe_response_event(kind, chunk);
            return false;
        }
        if let Some(u) = chunk.get("usage").filter(|u| !u.is_null()) {
            self.usage = parse_usage(u);
        }
        let Some(choices) = chunk.get("choices").and_then(Value::as_array) else {
            return self.usage.is_some();
        };
        for c in choices {
            let idx = c.get("index").and_then(Value::as_u64).unwrap_or(0);
            let idx = usize::try_from(idx).unwrap_or(0).min(127);
            if self.choices.len() <= idx {
                self.choices.resize(idx + 1, String::new());
            }
            let text = &mut self.choices[idx];
            if let Some(d) = c.get("delta") {
                if let Some(s) = d.get("content").and_then(Value::as_str) {
                    text.push_str(s);
                }
                append_tool_calls(text, d);
            } else if let Some(s) = c.get("text").and_then(Value::as_str) {
                text.push_str(s);
            }
            if let Some(f) = c
                .get("finish_reason")
                .and_then(Value::as_str)
                .filter(|_| idx == 0)
            {
                self.finish_reason = Some(f.to_owned());
            }
        }
        choices.is_empty() && self.usage.is_some()
    }

    /// An event of the Responses API: text and function-call arguments
    /// as they come, and at the end the whole response (its output, status
    /// and usage, which replace what the deltas made).
    fn observe_response_event(&mut self, kind: &str, ev: &Value) {
        if let Some(id) = ev.pointer("/response/id").and_then(Value::as_str) {
            self.response_id = Some(id.to_owned());
        }
        match kind {
            "response.output_text.delta" | "response.function_call_arguments.delta" => {
                if self.choices.is_empty() {
                    self.choices.push(String::new());
                }
                if let Some(d) = ev.get("delta").and_then(Value::as_str) {
                    self.choices[0].push_str(d);
                }
            }
            "response.completed" | "response.incomplete" | "response.failed" => {
                if let Some(r) = ev.get("response") {
                    self.final_response = Some(r.clone());
                    let (output, status, usage) = response_output(r);
                    if !output.is_empty() || self.choices.is_empty() {
                        self.choices = vec![output];
                    }
                    self.finish_reason = status;
                    self.usage = usage.or(self.usage);
                }
            }
            _ => {}
        }
    }

    /// The assembled output: choices in index order, separated by a blank
    /// line when there are several.
    pub fn output(&self) -> String {
        self.choices.join("\n\n")
    }
}

/// Whether a Responses API event ends the stream (its last).
pub fn is_final_response_event(ev: &Value) -> bool {
    matches!(
        ev.get("type").and_then(Value::as_str),
        Some("response.completed" | "response.incomplete" | "response.failed")
    )
}

/// Output text, status and usage of a Responses API response object: the
/// text of its messages, then each function call's name and arguments.
pub fn response_output(r: &Value) -> (String, Option<String>, Option<Usage>) {
    let mut text = String::new();
    for item in r
        .get("output")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        match item.get("type").and_then(Value::as_str) {
            Some("message") => {
                for part in item
                    .get("content")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                {
                    if let Some(t) = part.get("text").and_then(Value::as_str) {
                        text.push_str(t);
                    }
                }
            }
            Some(kind @ ("function_call" | "custom_tool_call")) => {
                let args = if kind == "function_call" {
                    "arguments"
                } else {
                    "input"
                };
                for k in ["name", args] {
                    if let Some(t) = item.get(k).and_then(Value::as_str) {
                        text.push_str(t);
                    }
                }
            }
            _ => {}
        }
    }
    let status = r.get("status").and_then(Value::as_str).map(str::to_owned);
    (text, status, r.get("usage").and_then(parse_usage))
}

fn append_tool_calls(text: &mut String, delta: &Value) {
    if let Some(calls) = delta.get("tool_calls") {
        append_calls(text, calls);
    }
}

/// The names and arguments of a `tool_calls` array, in order.
pub(crate) fn append_calls(text: &mut String, calls: &Value) {
    for tc in calls.as_array().into_iter().flatten() {
        // A function's name and arguments; a custom tool's name and input.
        let (call, args) = match (tc.get("function"), tc.get("custom")) {
            (Some(f), _) => (f, "arguments"),
            (None, Some(c)) => (c, "input"),
            (None, None) => continue,
        };
        for k in ["name", args] {
            if let Some(t) = call.get(k).and_then(Value::as_str) {
                text.push_str(t);
            }
        }
    }
}

/// Reads OpenAI's `usage` object (the Responses API's `input_tokens` and
/// `output_tokens` too).
pub fn parse_usage(u: &Value) -> Option<Usage> {
    let g = |k: &str| u.get(k).and_then(Value::as_u64);
    let prompt = g("prompt_tokens").or_else(|| g("input_tokens"))?;
    let completion = g("completion_tokens")
        .or_else(|| g("output_tokens"))
        .unwrap_or(0);
    Some(Usage {
        prompt_tokens: prompt,
        completion_tokens: completion,
        total_tokens: g("total_tokens").unwrap_or(prompt.saturating_add(completion)),
    })
}

/// Output text, finish reason and usage of a non-streamed response.
pub fn non_stream_output(v: &Value) -> (String, Option<String>, Option<Usage>) {
    if v.get("object").and_then(Value::as_str) == Some("response") {
        return response_output(v);
    }
    let mut texts = Vec::new();
    let mut finish = None;
    for (i, c) in v
        .get("choices")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .enumerate()
    {
        let mut t = String::new();
        if let Some(m) = c.get("message") {
            if let Some(s) = m.get("content").and_then(Value::as_str) {
                t.push_str(s);
            }
            append_tool_calls(&mut t, m);
        } else if let Some(s) = c.get("text").and_then(Value::as_str) {
            t.push_str(s);
        }
        if i == 0 {
            finish = c
                .get("finish_reason")
                .and_then(Value::as_str)
                .map(str::to_owned);
        }
        texts.push(t);
    }
    (
        texts.join("\n\n"),
        finish,
        v.get("usage").and_then(parse_usage),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_custom_tools_call_is_recorded_by_its_name_and_input() {
        let v = json!({"choices": [{"message": {"content": null, "tool_calls": [
            {"id": "c", "type": "custom", "custom": {"name": "brief", "input": "owls"}},
            {"id": "f", "type": "function", "function": {"name": "f", "arguments": "{}"}}]}}]});
        assert_eq!(non_stream_output(&v).0, "briefowlsf{}");
        let r = json!({"output": [{"type": "custom_tool_call", "name": "brief", "input": "owls"}]});
        assert_eq!(response_output(&r).0, "briefowls");
    }

    #[test]
    fn events_split_across_chunks_at_every_boundary() {
        let stream = b"data: {\"a\":1}\n\ndata: [DONE]\n\n";
        for cut in 0..stream.len() {
            let mut s = SseSplitter::default();
            let mut evs = s.feed(&stream[..cut]);
            evs.extend(s.feed(&stream[cut..]));
            let datas: Vec<_> = evs.iter().map(|e| e.data.clone().unwrap()).collect();
            assert_eq!(datas, vec!["{\"a\":1}", "[DONE]"], "cut at {cut}");
            let raw: Vec<u8> = evs.iter().flat_map(|e| e.raw.to_vec()).collect();
            assert_eq!(raw, stream.to_vec());
        }
    }

    #[test]
    fn events_fed_a_byte_at_a_time() {
        // Every separator split over pieces, LF and CRLF, and a long event:
        // the search resumes where it stopped and still finds each end.
        let long = "x".repeat(5000);
        let stream = format!("event: a\r\ndata: {long}\r\n\r\ndata: b\n\ndata: [DONE]\n\n");
        let mut s = SseSplitter::default();
        let mut evs = Vec::new();
        for b in stream.as_bytes() {
            evs.extend(s.feed(std::slice::from_ref(b)));
        }
        let datas: Vec<_> = evs.iter().map(|e| e.data.clone().unwrap()).collect();
        assert_eq!(datas, vec![long.as_str(), "b", "[DONE]"]);
        assert!(s.rest().is_none());
    }

    #[test]
    fn crlf_and_multiline_data() {
        let mut s = SseSplitter::default();
        let evs = s.feed(b"event: x\r\ndata: a\r\ndata: b\r\n\r\n");
        assert_eq!(evs[0].data.as_deref(), Some("a\nb"));
        assert!(s.rest().is_none());
    }

    #[test]
    fn assembles_chat_and_usage() {
        let mut a = Assembler::default();
        assert!(
            !a.observe(&json!({"choices":[{"index":0,"delta":{"role":"assistant","content":""}}]}))
        );
        a.observe(&json!({"choices":[{"index":0,"delta":{"content":"Hel"}}]}));
        a.observe(
            &json!({"choices":[{"index":0,"delta":{"content":"lo"},"finish_reason":"stop"}]}),
        );
        assert!(a.observe(&json!({"choices":[],"usage":{"prompt_tokens":3,"completion_tokens":2,"total_tokens":5}})));
        assert_eq!(a.output(), "Hello");
        assert_eq!(a.finish_reason.as_deref(), Some("stop"));
        assert_eq!(a.usage.unwrap().total_tokens, 5);
    }

    #[test]
    fn assembles_responses_events() {
        let mut a = Assembler::default();
        assert!(!a.observe(&json!({"type": "response.created", "response": {"id": "resp_1"}})));
        a.observe(&json!({"type": "response.output_text.delta", "delta": "Hel"}));
        a.observe(&json!({"type": "response.output_text.delta", "delta": "lo"}));
        assert_eq!(a.output(), "Hello");
        let done = json!({"type": "response.completed", "response": {"id": "resp_1", "object": "response",
            "status": "completed", "output": [
                {"type": "message", "role": "assistant", "content": [{"type": "output_text", "text": "Hello"}]},
                {"type": "function_call", "name": "f", "arguments": "{\"x\":1}"}],
            "usage": {"input_tokens": 7, "output_tokens": 3, "total_tokens": 10}}});
        assert!(is_final_response_event(&done));
        assert!(!a.observe(&done));
        assert_eq!(a.output(), "Hellof{\"x\":1}");
        assert_eq!(a.finish_reason.as_deref(), Some("completed"));
        let u = a.usage.unwrap();
        assert_eq!(
            (u.prompt_tokens, u.completion_tokens, u.total_tokens),
            (7, 3, 10)
        );
        let (text, status, usage) = non_stream_output(&done["response"]);
        assert_eq!(
            (text.as_str(), status.as_deref()),
            ("Hellof{\"x\":1}", Some("completed"))
        );
        assert_eq!(usage.unwrap().total_tokens, 10);
    }

    #[test]
    fn non_stream_reads_choices() {
        let v = json!({"choices":[{"message":{"content":"hi"},"finish_reason":"length"}],"usage":{"prompt_tokens":1,"completion_tokens":1}});
        let (t, f, u) = non_stream_output(&v);
        assert_eq!(
            (t.as_str(), f.as_deref(), u.unwrap().total_tokens),
            ("hi", Some("length"), 2)
        );
    }
}
