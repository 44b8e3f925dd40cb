//! Which part of a record is the text: a named field or JSON pointer, or
//! the first of the usual ones; chat messages joined.

use serde_json::Value;

/// Which part of a record is the text.
#[derive(Clone, Debug, Default)]
pub enum FieldSpec {
    /// `text`; else OpenAI chat `messages`; else ShareGPT `conversations`;
    /// else Alpaca `instruction`/`input`/`output`; else `output`/`content`.
    #[default]
    Auto,
    /// A JSON pointer (`/a/b`) or a top-level key.
    Named(String),
}

pub(crate) fn join_messages(arr: &[Value], content_key: &str) -> String {
    arr.iter()
        .filter_map(|m| match m.get(content_key) {
            Some(Value::String(s)) => Some(s.clone()),
            Some(Value::Array(parts)) => Some(
                parts
                    .iter()
                    .filter_map(|p| p.get("text").and_then(Value::as_str))
                    .collect::<Vec<_>>()
                    .join("\n"),
            ),
            _ => None,
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// The text of a JSON record, or why there is none.
pub fn extract(v: &Value, spec: &FieldSpec) -> Result<String, String> {
    match spec {
        FieldSpec::Named(f) => {
            let found = if f.starts_with('/') {
                v.pointer(f)
            } else {
                v.get(f)
            };
            match found {
                Some(Value::String(s)) => Ok(s.clone()),
                Some(Value::Array(a)) => Ok(join_messages(a, "content")),
                Some(other) => Err(format!("field {f} is {}, not text", kind(other))),
                None => Err(format!("missing field {f}")),
            }
        }
        FieldSpec::Auto => {
            if let Value::String(s) = v {
                return Ok(s.clone());
            }
            if let Some(s) = v.get("text").and_then(Value::as_str) {
                return Ok(s.to_owned());
            }
            if let Some(a) = v.get("messages").and_then(Value::as_array) {
                return Ok(join_messages(a, "content"));
            }
            if let Some(a) = v.get("conversations").and_then(Value::as_array) {
                return Ok(join_messages(a, "value"));
            }
            if v.get("instruction").is_some() || v.get("output").is_some() {
                let parts: Vec<&str> = ["instruction", "input", "output"]
                    .iter()
                    .filter_map(|k| v.get(*k).and_then(Value::as_str))
                    .filter(|s| !s.is_empty())
                    .collect();
                return Ok(parts.join("\n"));
            }
            if let Some(s) = v.get("content").and_then(Value::as_str) {
                return Ok(s.to_owned());
            }
            Err("no text field (looked for text, messages, conversations, instruction/input/output, content; use --field)".into())
        }
    }
}

pub(crate) fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

impl FieldSpec {
    /// The top-level key whose string value is the text when present: the
    /// fast path of [`Picker`]. `references`: the reader of reference
    /// outputs, which looks at `output` first.
    pub(crate) fn first_key(&self, references: bool) -> Option<&str> {
        match self {
            FieldSpec::Auto if references => Some("output"),
            FieldSpec::Auto => Some("text"),
            FieldSpec::Named(f) => match f.strip_prefix('/') {
                None => Some(f),
                Some(k) if !k.contains(['/', '~']) => Some(k),
                Some(_) => None,
            },
        }
    }
}
