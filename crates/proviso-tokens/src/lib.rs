//! Counting tokens the way OpenAI counts them for billing, so a quota can
//! reserve a request's prompt before it leaves.
//!
//! The encoding follows the model name (`o200k_base` for the GPT-4o, GPT-4.1,
//! GPT-5 and o-series families, `cl100k_base` otherwise); a chat prompt costs
//! its messages' tokens plus 3 per message (4 with a `name`) plus 3 to prime
//! the reply, as in OpenAI's published counting recipe.
//!
//! ```
//! use serde_json::json;
//! let body = json!({"model": "gpt-4o", "messages": [{"role": "user", "content": "Hello there"}]});
//! let n = proviso_tokens::prompt_tokens("/v1/chat/completions", body.as_object().unwrap());
//! assert_eq!(n, 3 + 1 + 2 + 3); // overhead, "user", "Hello there", reply priming
//! ```
#![deny(missing_docs)]

use serde_json::{Map, Value};
use tiktoken_rs::CoreBPE;

/// The encoding OpenAI uses for `model`.
pub fn encoding(model: &str) -> &'static CoreBPE {
    let m = model.rsplit('/').next().unwrap_or(model);
    let o200k = [
        "gpt-4o",
        "chatgpt-4o",
        "gpt-4.1",
        "gpt-4.5",
        "gpt-5",
        "o1",
        "o3",
        "o4",
    ];
    if o200k.iter().any(|p| m.starts_with(p)) {
        tiktoken_rs::o200k_base_singleton()
    } else {
        tiktoken_rs::cl100k_base_singleton()
    }
}

/// Tokens in `text` for `model`.
pub fn count(model: &str, text: &str) -> u64 {
    encoding(model).count_ordinary(text) as u64
}

fn content_text(v: &Value, out: &mut String) {
    match v {
        Value::String(s) => out.push_str(s),
        Value::Array(parts) => {
            for p in parts {
                if let Some(t) = p.get("text").and_then(Value::as_str) {
                    out.push_str(t);
                }
            }
        }
        _ => {}
    }
}

fn input_tokens(v: &Value, n: &dyn Fn(&str) -> u64) -> u64 {
    match v {
        Value::String(s) => n(s),
        Value::Array(items) => items
            .iter()
            .map(|p| match p {
                Value::String(s) => n(s),
                Value::Array(ids) => ids.len() as u64,
                Value::Number(_) => 1,
                _ => 0,
            })
            .sum(),
        _ => 0,
    }
}

/// Prompt tokens of a request body for `path` (`/v1/chat/completions`,
/// `/v1/completions`, `/v1/embeddings` or `/v1/responses`).
pub fn prompt_tokens(path: &str, body: &Map<String, Value>) -> u64 {
    let model = body.get("model").and_then(Value::as_str).unwrap_or("");
    let enc = encoding(model);
    let n = |s: &str| enc.count_ordinary(s) as u64;
    match path {
        "/v1/chat/completions" => {
            let mut total = 3; // every reply is primed with <|start|>assistant<|message|>
            for m in body
                .get("messages")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                total += 3;
                if let Some(role) = m.get("role").and_then(Value::as_str) {
                    total += n(role);
                }
                if let Some(name) = m.get("name").and_then(Value::as_str) {
                    total += 1 + n(name);
                }
                let mut text = String::new();
                if let Some(c) = m.get("content") {
                    content_text(c, &mut text);
                }
                total += n(&text);
            }
            total
        }
        // A prompt or input is a string, a list of strings, a list of
        // token ids, or a list of such lists.
        "/v1/completions" => body.get("prompt").map_or(0, |v| input_tokens(v, &n)),
        "/v1/embeddings" => body.get("input").map_or(0, |v| input_tokens(v, &n)),
        // The Responses API: `instructions` and `input` (a string, or a
        // list of items: messages with text or parts, tool outputs), each
        // item counted as a chat message is.
        "/v1/responses" => {
            let mut total = 3;
            if let Some(i) = body.get("instructions").and_then(Value::as_str) {
                total += 4 + n(i);
            }
            match body.get("input") {
                Some(Value::String(s)) => total += 4 + n(s),
                Some(Value::Array(items)) => {
                    for item in items {
                        total += 3;
                        for k in ["role", "content", "output", "arguments", "name"] {
                            let mut text = String::new();
                            if let Some(v) = item.get(k) {
                                content_text(v, &mut text);
                            }
                            total += n(&text);
                        }
                    }
                }
                _ => {}
            }
            total
        }
        _ => 0,
    }
}

/// The completion tokens a request may produce: `max_completion_tokens`,
/// `max_tokens` or (the Responses API) `max_output_tokens` (else
/// `default`), times `n`.
pub fn completion_allowance(body: &Map<String, Value>, default: u64) -> u64 {
    let max = body
        .get("max_completion_tokens")
        .or_else(|| body.get("max_tokens"))
        .or_else(|| body.get("max_output_tokens"))
        .and_then(Value::as_u64)
        .unwrap_or(default);
    let choices = body.get("n").and_then(Value::as_u64).unwrap_or(1).max(1);
    max.saturating_mul(choices)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn encodings_by_model() {
        assert_eq!(count("gpt-4o-mini", "hello world"), 2);
        assert_eq!(count("gpt-3.5-turbo", "hello world"), 2);
        assert!(std::ptr::eq(encoding("azure/gpt-4o"), encoding("gpt-4o")));
        assert!(!std::ptr::eq(encoding("gpt-4"), encoding("gpt-4o")));
    }

    #[test]
    fn chat_overhead_and_parts() {
        let b = json!({"model": "gpt-4o", "messages": [
            {"role": "system", "content": "Be brief."},
            {"role": "user", "name": "ann", "content": [{"type": "text", "text": "Hi"}]}
        ]});
        let m = b.as_object().unwrap();
        let expected = 3 + (3 + 1 + count("gpt-4o", "Be brief.")) + (3 + 1 + 1 + 1 + 1);
        assert_eq!(prompt_tokens("/v1/chat/completions", m), expected);
    }

    #[test]
    fn responses_input_and_allowance() {
        let c = |t: &str| count("gpt-4o", t);
        let b = json!({"model": "gpt-4o", "instructions": "Be brief.", "input": "Hi there",
                       "max_output_tokens": 50});
        let m = b.as_object().unwrap();
        assert_eq!(
            prompt_tokens("/v1/responses", m),
            3 + 4 + c("Be brief.") + 4 + c("Hi there")
        );
        assert_eq!(completion_allowance(m, 1000), 50);
        let b = json!({"model": "gpt-4o", "input": [
            {"role": "user", "content": [{"type": "input_text", "text": "What is 2+2?"}]},
            {"type": "function_call_output", "call_id": "c1", "output": "4"}
        ]});
        assert_eq!(
            prompt_tokens("/v1/responses", b.as_object().unwrap()),
            3 + (3 + c("user") + c("What is 2+2?")) + (3 + c("4"))
        );
    }

    #[test]
    fn completions_and_embeddings() {
        let b = json!({"model": "gpt-3.5-turbo-instruct", "prompt": ["a b", [1, 2, 3]]});
        assert_eq!(
            prompt_tokens("/v1/completions", b.as_object().unwrap()),
            2 + 3
        );
        let e = json!({"model": "text-embedding-3-small", "input": "hello world"});
        assert_eq!(prompt_tokens("/v1/embeddings", e.as_object().unwrap()), 2);
    }

    #[test]
    fn allowance() {
        let b = json!({"max_tokens": 100, "n": 2});
        assert_eq!(completion_allowance(b.as_object().unwrap(), 4096), 200);
        assert_eq!(
            completion_allowance(json!({}).as_object().unwrap(), 4096),
            4096
        );
    }
}
