//! The Responses API over an upstream that speaks only chat completions
//! (vLLM, Ollama, most OpenAI-compatible servers): the request translated
//! to a chat request, the answer (whole, or chunk by chunk) translated
//! back into a `response` object and the API's events. What translates,
//! feature by feature, is in docs/responses.md; what does not is refused
//! before anything leaves, with the field that cannot go.

use serde_json::{Map, Value, json};

/// Why a Responses request cannot be sent to a chat-completions upstream.
#[derive(Debug, PartialEq)]
pub struct Untranslatable {
    /// The field.
    pub param: String,
    /// What about it.
    pub message: String,
}

fn refuse(param: &str, message: impl Into<String>) -> Untranslatable {
    Untranslatable {
        param: param.into(),
        message: message.into(),
    }
}

/// A content part of a message item as a chat content part.
fn part(p: &Value) -> Result<Value, Untranslatable> {
    match p.get("type").and_then(Value::as_str) {
        Some("input_text" | "output_text" | "text") => {
            Ok(json!({"type": "text", "text": p.get("text").cloned().unwrap_or(json!(""))}))
        }
        Some("input_image") => {
            let url = p
                .get("image_url")
                .and_then(Value::as_str)
                .ok_or_else(|| refuse("input", "an input_image without image_url (file_id images cannot be sent to a chat-completions upstream)"))?;
            let mut image = json!({"url": url});
            if let Some(d) = p.get("detail") {
                image["detail"] = d.clone();
            }
            Ok(json!({"type": "image_url", "image_url": image}))
        }
        other => Err(refuse(
            "input",
            format!(
                "content part type {} cannot be sent to a chat-completions upstream",
                other.unwrap_or("(none)")
            ),
        )),
    }
}

/// The chat request for a Responses request `body` (streamed: usage asked
/// for, as the Responses API always reports it).
pub fn request(body: &Map<String, Value>) -> Result<Map<String, Value>, Untranslatable> {
    let mut out = Map::new();
    let mut messages = Vec::new();
    for (k, v) in body {
        match k.as_str() {
            "model"
            | "temperature"
            | "top_p"
            | "user"
            | "parallel_tool_calls"
            | "stream"
            | "seed"
            | "frequency_penalty"
            | "presence_penalty"
            | "stop"
            | "logit_bias" => {
                out.insert(k.clone(), v.clone());
            }
            "max_output_tokens" => {
                out.insert("max_tokens".into(), v.clone());
            }
            "instructions" | "input" | "tools" | "tool_choice" | "text" | "reasoning" => {}
            // Meaningless or harmless without a stored response.
            "store" | "metadata" | "truncation" | "include" | "service_tier" | "background" => {}
            "previous_response_id" | "conversation" => {
                return Err(refuse(
                    k,
                    "a chat-completions upstream keeps no conversation: send the earlier turns as input items",
                ));
            }
            // Proviso's own test hooks and anything unknown pass through,
            // as they do for chat.
            _ => {
                out.insert(k.clone(), v.clone());
            }
        }
    }
    if let Some(i) = body.get("instructions").and_then(Value::as_str) {
        messages.push(json!({"role": "system", "content": i}));
    }
    match body.get("input") {
        Some(Value::String(s)) => messages.push(json!({"role": "user", "content": s})),
        Some(Value::Array(items)) => {
            for item in items {
                messages.push(input_item(item)?);
            }
        }
        _ => {
            return Err(refuse(
                "input",
                "expected a string or a list of input items",
            ));
        }
    }
    // Consecutive function calls are one assistant message's tool calls.
    let mut merged: Vec<Value> = Vec::new();
    for m in messages {
        let calls = m.get("tool_calls").cloned();
        match (merged.last_mut(), calls) {
            (Some(last), Some(Value::Array(more)))
                if last.get("content").is_some_and(Value::is_null)
                    && last.get("tool_calls").is_some() =>
            {
                if let Some(Value::Array(c)) = last.get_mut("tool_calls") {
                    c.extend(more);
                }
            }
            _ => merged.push(m),
        }
    }
    out.insert("messages".into(), Value::Array(merged));
    if let Some(tools) = body.get("tools").and_then(Value::as_array) {
        let mut t = Vec::new();
        for tool in tools {
            if tool.get("type").and_then(Value::as_str) != Some("function") {
                return Err(refuse(
                    "tools",
                    format!(
                        "tool type {} is the provider's own and cannot be sent to a chat-completions upstream",
                        tool.get("type").and_then(Value::as_str).unwrap_or("(none)")
                    ),
                ));
            }
            let mut f = Map::new();
            for k in ["name", "description", "parameters", "strict"] {
                if let Some(v) = tool.get(k).filter(|v| !v.is_null()) {
                    f.insert(k.into(), v.clone());
                }
            }
            t.push(json!({"type": "function", "function": f}));
        }
        if !t.is_empty() {
            out.insert("tools".into(), Value::Array(t));
        }
    }
    match body.get("tool_choice") {
        Some(Value::String(s)) => {
            out.insert("tool_choice".into(), json!(s));
        }
        Some(c) if c.get("type").and_then(Value::as_str) == Some("function") => {
            out.insert(
                "tool_choice".into(),
                json!({"type": "function", "function": {"name": c.get("name")}}),
            );
        }
        Some(Value::Null) | None => {}
        Some(_) => {
            return Err(refuse(
                "tool_choice",
                "only auto, none, required or a function",
            ));
        }
    }
    if let Some(format) = body.get("text").and_then(|t| t.get("format")) {
        match format.get("type").and_then(Value::as_str) {
            Some("json_schema") => {
                let mut s = Map::new();
                for k in ["name", "schema", "strict", "description"] {
                    if let Some(v) = format.get(k) {
                        s.insert(k.into(), v.clone());
                    }
                }
                out.insert(
                    "response_format".into(),
                    json!({"type": "json_schema", "json_schema": s}),
                );
            }
            Some("json_object") => {
                out.insert("response_format".into(), json!({"type": "json_object"}));
            }
            _ => {}
        }
    }
    if let Some(e) = body.get("reasoning").and_then(|r| r.get("effort")) {
        out.insert("reasoning_effort".into(), e.clone());
    }
    if out.get("stream").and_then(Value::as_bool) == Some(true) {
        out.insert("stream_options".into(), json!({"include_usage": true}));
    }
    Ok(out)
}

/// One input item as a chat message.
fn input_item(item: &Value) -> Result<Value, Untranslatable> {
    let kind = item
        .get("type")
        .and_then(Value::as_str)
        .unwrap_or("message");
    match kind {
        "message" => {
            let role = match item.get("role").and_then(Value::as_str) {
                Some("developer" | "system") => "system",
                Some("assistant") => "assistant",
                _ => "user",
            };
            let content = match item.get("content") {
                Some(Value::String(s)) => json!(s),
                Some(Value::Array(parts)) => {
                    if role == "assistant" || role == "system" {
                        // Chat takes text only from these roles.
                        let text: String = parts
                            .iter()
                            .filter_map(|p| p.get("text").and_then(Value::as_str))
                            .collect();
                        json!(text)
                    } else {
                        Value::Array(parts.iter().map(part).collect::<Result<_, _>>()?)
                    }
                }
                _ => json!(""),
            };
            Ok(json!({"role": role, "content": content}))
        }
        "function_call" => Ok(
            json!({"role": "assistant", "content": null, "tool_calls": [{
            "id": item.get("call_id"), "type": "function",
            "function": {"name": item.get("name"), "arguments": item.get("arguments")}}]}),
        ),
        "function_call_output" => Ok(json!({"role": "tool", "tool_call_id": item.get("call_id"),
            "content": item.get("output")})),
        other => Err(refuse(
            "input",
            format!("input item type {other} cannot be sent to a chat-completions upstream"),
        )),
    }
}

/// The API's usage block, from a chat usage; none when the chat server
/// reported none (the quota is then settled with the gateway's estimate,
/// never with zero).
fn usage(u: Option<&Value>) -> Value {
    let Some(u) = u.filter(|u| u.get("prompt_tokens").is_some()) else {
        return Value::Null;
    };
    let g = |k: &str| u.get(k).and_then(Value::as_u64).unwrap_or(0);
    let (i, o) = (g("prompt_tokens"), g("completion_tokens"));
    json!({"input_tokens": i, "output_tokens": o, "total_tokens": i.saturating_add(o),
           "input_tokens_details": {"cached_tokens": 0}, "output_tokens_details": {"reasoning_tokens": 0}})
}

/// The parts of a `response` object that do not depend on the output.
fn shell(id: &str, created: Value, model: Value, status: &str) -> Value {
    json!({"id": id, "object": "response", "created_at": created, "status": status,
           "model": model, "output": [], "usage": null, "error": null,
           "incomplete_details": if status == "incomplete" { json!({"reason": "max_output_tokens"}) } else { Value::Null },
           "parallel_tool_calls": true, "tool_choice": "auto", "tools": [],
           "previous_response_id": null, "instructions": null, "metadata": {}})
}

fn response_id(chat_id: Option<&Value>) -> String {
    format!(
        "resp_{}",
        chat_id
            .and_then(Value::as_str)
            .unwrap_or("proviso")
            .trim_start_matches("chatcmpl-")
    )
}

fn status_of(finish: Option<&str>) -> &'static str {
    if finish == Some("length") {
        "incomplete"
    } else {
        "completed"
    }
}

fn message_item(id: &str, text: &str) -> Value {
    json!({"id": format!("msg_{id}"), "type": "message", "status": "completed", "role": "assistant",
           "content": [{"type": "output_text", "text": text, "annotations": []}]})
}

fn call_item(id: &str, i: usize, call_id: &Value, name: &Value, arguments: &str) -> Value {
    json!({"id": format!("fc_{id}_{i}"), "type": "function_call", "status": "completed",
           "call_id": call_id, "name": name, "arguments": arguments})
}

/// A whole chat completion as a `response` object.
pub fn response(chat: &Value) -> Value {
    let id = response_id(chat.get("id"));
    let choice = chat.pointer("/choices/0");
    let finish = choice
        .and_then(|c| c.get("finish_reason"))
        .and_then(Value::as_str);
    let mut r = shell(
        &id,
        chat.get("created").cloned().unwrap_or(json!(0)),
        chat.get("model").cloned().unwrap_or(Value::Null),
        status_of(finish),
    );
    let short = id.trim_start_matches("resp_");
    let mut output = Vec::new();
    let message = choice.and_then(|c| c.get("message"));
    if let Some(text) = message
        .and_then(|m| m.get("content"))
        .and_then(Value::as_str)
    {
        output.push(message_item(short, text));
    }
    for (i, tc) in message
        .and_then(|m| m.get("tool_calls"))
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .enumerate()
    {
        let args = tc
            .pointer("/function/arguments")
            .and_then(Value::as_str)
            .unwrap_or("");
        output.push(call_item(
            short,
            i,
            tc.get("id").unwrap_or(&Value::Null),
            tc.pointer("/function/name").unwrap_or(&Value::Null),
            args,
        ));
    }
    r["output"] = Value::Array(output);
    r["usage"] = usage(chat.get("usage"));
    r
}

/// Chat chunks in, the Responses API's events out (each `(name, data)`).
#[derive(Default)]
pub struct StreamTranslator {
    id: String,
    created: Value,
    model: Value,
    started: bool,
    text: Option<String>,
    /// Function calls by their chat index: call id, name, arguments.
    calls: Vec<(Value, Value, String)>,
    finish: Option<String>,
    usage: Option<Value>,
    seq: u64,
}

impl StreamTranslator {
    fn ev(&mut self, name: &str, mut data: Value) -> (String, Value) {
        data["type"] = json!(name);
        data["sequence_number"] = json!(self.seq);
        self.seq += 1;
        (name.to_owned(), data)
    }

    fn short(&self) -> String {
        self.id.trim_start_matches("resp_").to_owned()
    }

    /// The events a chat chunk makes.
    pub fn chunk(&mut self, c: &Value) -> Vec<(String, Value)> {
        let mut out = Vec::new();
        if !self.started {
            self.started = true;
            self.id = response_id(c.get("id"));
            self.created = c.get("created").cloned().unwrap_or(json!(0));
            self.model = c.get("model").cloned().unwrap_or(Value::Null);
            let r = shell(
                &self.id,
                self.created.clone(),
                self.model.clone(),
                "in_progress",
            );
            out.push(self.ev("response.created", json!({"response": r})));
            out.push(self.ev("response.in_progress", json!({"response": r})));
        }
        if let Some(u) = c.get("usage").filter(|u| !u.is_null()) {
            self.usage = Some(u.clone());
        }
        let Some(choice) = c.pointer("/choices/0") else {
            return out;
        };
        if let Some(f) = choice.get("finish_reason").and_then(Value::as_str) {
            self.finish = Some(f.to_owned());
        }
        let short = self.short();
        if let Some(t) = choice
            .pointer("/delta/content")
            .and_then(Value::as_str)
            .filter(|t| !t.is_empty())
        {
            if self.text.is_none() {
                self.text = Some(String::new());
                out.push(self.ev("response.output_item.added", json!({"output_index": 0,
                    "item": {"id": format!("msg_{short}"), "type": "message", "status": "in_progress", "role": "assistant", "content": []}})));
                out.push(self.ev("response.content_part.added", json!({"item_id": format!("msg_{short}"),
                    "output_index": 0, "content_index": 0, "part": {"type": "output_text", "text": "", "annotations": []}})));
            }
            if let Some(text) = self.text.as_mut() {
                text.push_str(t);
            }
            out.push(self.ev(
                "response.output_text.delta",
                json!({"item_id": format!("msg_{short}"),
                "output_index": 0, "content_index": 0, "delta": t}),
            ));
        }
        for tc in choice
            .pointer("/delta/tool_calls")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let i = tc
                .get("index")
                .and_then(Value::as_u64)
                .and_then(|i| usize::try_from(i).ok())
                .unwrap_or(0)
                .min(63);
            // After the message, when there is one (as in the final
            // output).
            let output_index = i + usize::from(self.text.is_some());
            while self.calls.len() <= i {
                self.calls.push((Value::Null, Value::Null, String::new()));
            }
            if let Some(name) = tc
                .pointer("/function/name")
                .filter(|n| !n.is_null() && self.calls[i].1.is_null())
            {
                self.calls[i].0 = tc.get("id").cloned().unwrap_or(Value::Null);
                self.calls[i].1 = name.clone();
                let item = json!({"id": format!("fc_{short}_{i}"), "type": "function_call", "status": "in_progress",
                    "call_id": self.calls[i].0, "name": name, "arguments": ""});
                out.push(self.ev(
                    "response.output_item.added",
                    json!({"output_index": output_index, "item": item}),
                ));
            }
            if let Some(a) = tc
                .pointer("/function/arguments")
                .and_then(Value::as_str)
                .filter(|a| !a.is_empty())
            {
                self.calls[i].2.push_str(a);
                out.push(self.ev("response.function_call_arguments.delta", json!({
                    "item_id": format!("fc_{short}_{i}"), "output_index": output_index, "delta": a})));
            }
        }
        out
    }

    /// The events that end the stream, once the chat stream ended
    /// (`[DONE]`): each item done, then `response.completed` (or
    /// `response.incomplete` when the output was cut by its length).
    pub fn finish(&mut self) -> Vec<(String, Value)> {
        let mut out = Vec::new();
        let short = self.short();
        let mut items = Vec::new();
        if let Some(text) = self.text.clone() {
            let id = format!("msg_{short}");
            out.push(self.ev(
                "response.output_text.done",
                json!({"item_id": id, "output_index": 0, "content_index": 0, "text": text}),
            ));
            out.push(self.ev(
                "response.content_part.done",
                json!({"item_id": id, "output_index": 0, "content_index": 0,
                "part": {"type": "output_text", "text": text, "annotations": []}}),
            ));
            let item = message_item(&short, &text);
            out.push(self.ev(
                "response.output_item.done",
                json!({"output_index": 0, "item": item}),
            ));
            items.push(item);
        }
        let first = usize::from(self.text.is_some());
        for (i, (call_id, name, args)) in self.calls.clone().into_iter().enumerate() {
            let id = format!("fc_{short}_{i}");
            out.push(self.ev(
                "response.function_call_arguments.done",
                json!({"item_id": id, "output_index": first + i, "arguments": args}),
            ));
            let item = call_item(&short, i, &call_id, &name, &args);
            out.push(self.ev(
                "response.output_item.done",
                json!({"output_index": first + i, "item": item}),
            ));
            items.push(item);
        }
        let status = status_of(self.finish.as_deref());
        let mut r = shell(&self.id, self.created.clone(), self.model.clone(), status);
        r["output"] = Value::Array(items);
        r["usage"] = usage(self.usage.as_ref());
        let name = if status == "completed" {
            "response.completed"
        } else {
            "response.incomplete"
        };
        out.push(self.ev(name, json!({"response": r})));
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(v: Value) -> Result<Map<String, Value>, Untranslatable> {
        request(v.as_object().unwrap())
    }

    #[test]
    fn requests_translate_feature_by_feature() {
        let r = req(json!({"model": "m", "instructions": "Be brief.", "input": "Hi", "max_output_tokens": 9,
            "temperature": 0.2, "store": true, "metadata": {"a": "b"}, "stream": true,
            "text": {"format": {"type": "json_schema", "name": "x", "schema": {"type": "object"}, "strict": true}},
            "tools": [{"type": "function", "name": "f", "description": "d", "parameters": {"type": "object"}}],
            "tool_choice": {"type": "function", "name": "f"}, "reasoning": {"effort": "low"}}))
        .unwrap();
        assert_eq!(
            r["messages"],
            json!([{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi"}])
        );
        assert_eq!(
            (r["max_tokens"].clone(), r["temperature"].clone()),
            (json!(9), json!(0.2))
        );
        assert!(
            !r.contains_key("store") && !r.contains_key("metadata") && !r.contains_key("input")
        );
        assert_eq!(
            r["response_format"],
            json!({"type": "json_schema", "json_schema": {"name": "x", "schema": {"type": "object"}, "strict": true}})
        );
        assert_eq!(
            r["tools"],
            json!([{"type": "function", "function": {"name": "f", "description": "d", "parameters": {"type": "object"}}}])
        );
        assert_eq!(
            r["tool_choice"],
            json!({"type": "function", "function": {"name": "f"}})
        );
        assert_eq!(r["reasoning_effort"], json!("low"));
        assert_eq!(r["stream_options"], json!({"include_usage": true}));
    }

    #[test]
    fn input_items_become_messages_and_tool_calls() {
        let r = req(json!({"model": "m", "input": [
            {"role": "developer", "content": "rules"},
            {"role": "user", "content": [{"type": "input_text", "text": "look"}, {"type": "input_image", "image_url": "https://x/y.png"}]},
            {"type": "function_call", "call_id": "c1", "name": "f", "arguments": "{}"},
            {"type": "function_call", "call_id": "c2", "name": "g", "arguments": "{\"a\":1}"},
            {"type": "function_call_output", "call_id": "c1", "output": "42"},
            {"role": "assistant", "content": [{"type": "output_text", "text": "ok"}]}
        ]}))
        .unwrap();
        assert_eq!(
            r["messages"],
            json!([
                {"role": "system", "content": "rules"},
                {"role": "user", "content": [{"type": "text", "text": "look"}, {"type": "image_url", "image_url": {"url": "https://x/y.png"}}]},
                {"role": "assistant", "content": null, "tool_calls": [
                    {"id": "c1", "type": "function", "function": {"name": "f", "arguments": "{}"}},
                    {"id": "c2", "type": "function", "function": {"name": "g", "arguments": "{\"a\":1}"}}]},
                {"role": "tool", "tool_call_id": "c1", "content": "42"},
                {"role": "assistant", "content": "ok"}
            ])
        );
    }

    #[test]
    fn what_cannot_go_is_refused_by_field() {
        let e =
            req(json!({"model": "m", "input": "x", "previous_response_id": "resp_1"})).unwrap_err();
        assert_eq!(e.param, "previous_response_id");
        let e = req(json!({"model": "m", "input": "x", "tools": [{"type": "web_search"}]}))
            .unwrap_err();
        assert!(e.param == "tools" && e.message.contains("web_search"));
        let e = req(json!({"model": "m", "input": [{"type": "reasoning", "summary": []}]}))
            .unwrap_err();
        assert_eq!(e.param, "input");
        assert_eq!(
            req(json!({"model": "m", "input": 3})).unwrap_err().param,
            "input"
        );
    }

    #[test]
    fn answers_translate_back() {
        let chat = json!({"id": "chatcmpl-abc", "created": 5, "model": "m", "choices": [{"index": 0,
            "message": {"role": "assistant", "content": "Hi", "tool_calls": [{"id": "c1", "type": "function",
            "function": {"name": "f", "arguments": "{}"}}]}, "finish_reason": "length"}],
            "usage": {"prompt_tokens": 4, "completion_tokens": 2, "total_tokens": 6}});
        let r = response(&chat);
        assert_eq!(
            (r["id"].clone(), r["status"].clone()),
            (json!("resp_abc"), json!("incomplete"))
        );
        assert_eq!(r["output"][0]["content"][0]["text"], json!("Hi"));
        assert_eq!(
            (
                r["output"][1]["call_id"].clone(),
                r["output"][1]["name"].clone()
            ),
            (json!("c1"), json!("f"))
        );
        assert_eq!(
            (
                r["usage"]["input_tokens"].clone(),
                r["usage"]["output_tokens"].clone()
            ),
            (json!(4), json!(2))
        );
        let (text, status, usage) = crate::sse::non_stream_output(&r);
        assert_eq!(
            (text.as_str(), status.as_deref()),
            ("Hif{}", Some("incomplete"))
        );
        assert_eq!(usage.unwrap().total_tokens, 6);
    }

    #[test]
    fn tool_calls_alone_and_no_usage() {
        let mut t = StreamTranslator::default();
        let mut evs = Vec::new();
        for c in [
            json!({"id": "chatcmpl-t", "choices": [{"index": 0, "delta": {"tool_calls": [{"index": 0, "id": "c1", "function": {"name": "f", "arguments": "{}"}}]}}]}),
            // A server repeating the name in a later chunk adds no item.
            json!({"id": "chatcmpl-t", "choices": [{"index": 0, "delta": {"tool_calls": [{"index": 0, "function": {"name": "f"}}]}, "finish_reason": "tool_calls"}]}),
        ] {
            evs.extend(t.chunk(&c));
        }
        evs.extend(t.finish());
        let added: Vec<&Value> = evs
            .iter()
            .filter(|e| e.0 == "response.output_item.added")
            .map(|e| &e.1)
            .collect();
        assert_eq!(added.len(), 1);
        assert_eq!(
            added[0]["output_index"],
            json!(0),
            "the only item is output 0, as in the final output"
        );
        let done = &evs.last().unwrap().1["response"];
        assert_eq!(done["output"][0]["type"], json!("function_call"));
        assert!(done["usage"].is_null(), "no usage reported: none made up");
        let chat = json!({"id": "x", "choices": [{"index": 0, "message": {"content": "a"}, "finish_reason": "stop"}]});
        assert!(response(&chat)["usage"].is_null());
    }

    #[test]
    fn a_chat_stream_becomes_the_apis_events() {
        let mut t = StreamTranslator::default();
        let mut evs = Vec::new();
        for c in [
            json!({"id": "chatcmpl-z", "created": 1, "model": "m", "choices": [{"index": 0, "delta": {"role": "assistant", "content": ""}}]}),
            json!({"id": "chatcmpl-z", "choices": [{"index": 0, "delta": {"content": "Hel"}}]}),
            json!({"id": "chatcmpl-z", "choices": [{"index": 0, "delta": {"content": "lo"}}]}),
            json!({"id": "chatcmpl-z", "choices": [{"index": 0, "delta": {"tool_calls": [{"index": 0, "id": "c1", "function": {"name": "f", "arguments": ""}}]}}]}),
            json!({"id": "chatcmpl-z", "choices": [{"index": 0, "delta": {"tool_calls": [{"index": 0, "function": {"arguments": "{\"a\":"}}]}}]}),
            json!({"id": "chatcmpl-z", "choices": [{"index": 0, "delta": {"tool_calls": [{"index": 0, "function": {"arguments": "1}"}}]}}]}),
            json!({"id": "chatcmpl-z", "choices": [{"index": 0, "delta": {}, "finish_reason": "tool_calls"}]}),
            json!({"id": "chatcmpl-z", "choices": [], "usage": {"prompt_tokens": 3, "completion_tokens": 5}}),
        ] {
            evs.extend(t.chunk(&c));
        }
        evs.extend(t.finish());
        let names: Vec<&str> = evs.iter().map(|e| e.0.as_str()).collect();
        assert_eq!(
            names,
            [
                "response.created",
                "response.in_progress",
                "response.output_item.added",
                "response.content_part.added",
                "response.output_text.delta",
                "response.output_text.delta",
                "response.output_item.added",
                "response.function_call_arguments.delta",
                "response.function_call_arguments.delta",
                "response.output_text.done",
                "response.content_part.done",
                "response.output_item.done",
                "response.function_call_arguments.done",
                "response.output_item.done",
                "response.completed"
            ]
        );
        assert!(
            evs.iter()
                .enumerate()
                .all(|(i, e)| e.1["sequence_number"] == json!(i) && e.1["type"] == json!(e.0))
        );
        let done = &evs.last().unwrap().1["response"];
        let (text, status, usage) = crate::sse::non_stream_output(done);
        assert_eq!(
            (text.as_str(), status.as_deref()),
            ("Hellof{\"a\":1}", Some("completed"))
        );
        assert_eq!(usage.unwrap().total_tokens, 8);
        let mut a = crate::sse::Assembler::default();
        for e in &evs {
            a.observe(&e.1);
        }
        assert_eq!(a.output(), "Hellof{\"a\":1}");
    }
}
