//! The result lines of a batch, as OpenAI's Batch API writes its output and
//! error files: `{"id": …, "custom_id": …, "response": {"status_code": …,
//! "request_id": …, "body": {…}}, "error": null | {"code": …, "message": …}}`.

use serde_json::{Map, Value, json};

use crate::input::LineError;

/// One request's result.
#[derive(Clone, Debug, PartialEq)]
pub struct ResultLine {
    /// The request's `custom_id`.
    pub custom_id: String,
    /// The line as the upstream wrote it.
    pub raw: Map<String, Value>,
}

impl ResultLine {
    /// The HTTP status of the request's answer, when it got one.
    pub fn status(&self) -> Option<u16> {
        self.raw
            .get("response")
            .and_then(|r| r.get("status_code"))
            .and_then(Value::as_u64)
            .and_then(|s| u16::try_from(s).ok())
    }

    /// The answer's body, when it got one.
    pub fn body(&self) -> Option<&Value> {
        self.raw
            .get("response")
            .and_then(|r| r.get("body"))
            .filter(|b| !b.is_null())
    }

    /// Whether the request was answered with success.
    pub fn succeeded(&self) -> bool {
        self.status().is_some_and(|s| (200..300).contains(&s)) && self.body().is_some()
    }

    /// The error's code and message: the line's `error`, else the error
    /// body of a failed answer.
    pub fn error(&self) -> Option<(String, String)> {
        let from = |e: &Value| {
            let code = e
                .get("code")
                .and_then(Value::as_str)
                .or_else(|| e.get("type").and_then(Value::as_str))
                .unwrap_or("batch_line_failed")
                .to_owned();
            let message = e
                .get("message")
                .and_then(Value::as_str)
                .unwrap_or("the request failed")
                .to_owned();
            (code, message)
        };
        if let Some(e) = self.raw.get("error").filter(|e| e.is_object()) {
            return Some(from(e));
        }
        if self.succeeded() {
            return None;
        }
        match self.body().and_then(|b| b.get("error")) {
            Some(e) => Some(from(e)),
            None => Some((
                "batch_line_failed".into(),
                format!(
                    "the request was answered with status {}",
                    self.status()
                        .map_or_else(|| "none".to_owned(), |s| s.to_string())
                ),
            )),
        }
    }
}

/// Reads a result file: its lines, and the lines that are not results
/// (with their numbers).
pub fn parse(bytes: &[u8]) -> (Vec<ResultLine>, Vec<LineError>) {
    let text = String::from_utf8_lossy(bytes);
    let mut out = Vec::new();
    let mut bad = Vec::new();
    for (i, raw) in text.split('\n').enumerate() {
        if raw.trim().is_empty() {
            continue;
        }
        let parsed: Option<Map<String, Value>> = match serde_json::from_str(raw) {
            Ok(Value::Object(o)) => Some(o),
            _ => None,
        };
        match parsed {
            Some(raw) => match raw.get("custom_id").and_then(Value::as_str) {
                Some(id) => out.push(ResultLine {
                    custom_id: id.to_owned(),
                    raw,
                }),
                None => bad.push(LineError {
                    line: i + 1,
                    custom_id: None,
                    message: "a result without custom_id".into(),
                }),
            },
            None => bad.push(LineError {
                line: i + 1,
                custom_id: None,
                message: "a result that is not a JSON object".into(),
            }),
        }
    }
    (out, bad)
}

/// The error line of a request that has no result (the batch ended before
/// it ran, or the upstream left it out), as OpenAI writes one.
pub fn missing(custom_id: &str, code: &str, message: &str) -> ResultLine {
    let mut raw = Map::new();
    raw.insert("id".into(), Value::Null);
    raw.insert("custom_id".into(), Value::String(custom_id.to_owned()));
    raw.insert("response".into(), Value::Null);
    raw.insert("error".into(), json!({"code": code, "message": message}));
    ResultLine {
        custom_id: custom_id.to_owned(),
        raw,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn results_and_errors() {
        let text = concat!(
            r#"{"id":"r1","custom_id":"a","response":{"status_code":200,"request_id":"q","body":{"x":1}},"error":null}"#,
            "\n",
            r#"{"id":"r2","custom_id":"b","response":{"status_code":500,"body":{"error":{"message":"boom","type":"server_error"}}},"error":null}"#,
            "\n\nnot json\n",
            r#"{"custom_id":"c","response":null,"error":{"code":"batch_expired","message":"late"}}"#,
            "\n",
            r#"{"id":"r9"}"#,
        );
        let (lines, bad) = parse(text.as_bytes());
        assert_eq!(lines.len(), 3);
        assert!(lines[0].succeeded());
        assert_eq!(lines[0].error(), None);
        assert_eq!(lines[0].body().unwrap()["x"], 1);
        assert!(!lines[1].succeeded());
        assert_eq!(lines[1].status(), Some(500));
        assert_eq!(
            lines[1].error(),
            Some(("server_error".into(), "boom".into()))
        );
        assert_eq!(
            lines[2].error(),
            Some(("batch_expired".into(), "late".into()))
        );
        let numbers: Vec<usize> = bad.iter().map(|e| e.line).collect();
        assert_eq!(numbers, [4, 6]);
    }

    #[test]
    fn a_missing_result_is_an_error_line() {
        let m = missing("z", "batch_cancelled", "cancelled before it ran");
        assert!(!m.succeeded());
        assert_eq!(m.error().unwrap().0, "batch_cancelled");
        assert_eq!(m.custom_id, "z");
    }
}
