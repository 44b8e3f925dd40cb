//! A batch input file: JSON lines, each
//! `{"custom_id": …, "method": "POST", "url": "/v1/…", "body": {…}}`, read
//! and checked as OpenAI's Batch API reads it. Every problem is reported
//! with its line number (from 1), not only the first.

use serde_json::{Map, Value};
use thiserror::Error;

/// The endpoints a batch line may call.
pub const SUPPORTED_URLS: &[&str] = &[
    "/v1/chat/completions",
    "/v1/completions",
    "/v1/embeddings",
    "/v1/responses",
];

/// The endpoint a batch `url` names: one of [`SUPPORTED_URLS`], or Azure
/// OpenAI's form of it without `/v1` (`/chat/completions`).
pub fn canonical_url(url: &str) -> Option<&'static str> {
    SUPPORTED_URLS
        .iter()
        .copied()
        .find(|u| *u == url || u.strip_prefix("/v1") == Some(url))
}

/// Longest `custom_id`, characters.
pub const MAX_CUSTOM_ID: usize = 512;

/// Most problems listed before the rest are counted only.
pub const MAX_LISTED: usize = 100;

/// One request of a batch.
#[derive(Clone, Debug, PartialEq)]
pub struct Line {
    /// Its line number in the file (from 1; blank lines count).
    pub number: usize,
    /// The client's id for it, unique in the file.
    pub custom_id: String,
    /// The endpoint, one of [`SUPPORTED_URLS`].
    pub url: String,
    /// The request body.
    pub body: Map<String, Value>,
}

/// What is wrong with one line.
#[derive(Clone, Debug, PartialEq, Error)]
#[error("line {line}: {message}")]
pub struct LineError {
    /// Line number, from 1.
    pub line: usize,
    /// The line's `custom_id`, when it had one.
    pub custom_id: Option<String>,
    /// What is wrong.
    pub message: String,
}

/// Why a file is not a batch input.
#[derive(Clone, Debug, PartialEq, Error)]
pub enum InputError {
    /// Lines that are not batch requests (at most [`MAX_LISTED`]; `more`
    /// counts the rest).
    #[error("{} line(s) are not batch requests{}", .lines.len() + .more, first(.lines))]
    Lines {
        /// The problems, in line order.
        lines: Vec<LineError>,
        /// Problems beyond those listed.
        more: usize,
    },
    /// Not one request in the file.
    #[error("the file holds no requests")]
    Empty,
    /// More requests than allowed.
    #[error("the file holds more than {0} requests")]
    TooMany(usize),
    /// Not UTF-8.
    #[error("the file is not UTF-8 text (byte {0})")]
    NotUtf8(usize),
}

/// How much a file may hold.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    /// Most requests.
    pub max_lines: usize,
    /// Longest line, bytes (a line is one request: the gateway's body
    /// limit applies to it).
    pub max_line_bytes: usize,
}

fn first(lines: &[LineError]) -> String {
    lines.first().map_or(String::new(), |e| format!(" ({e})"))
}

/// Reads a batch input file within `limits`. Messages never repeat the
/// file's values (they are recorded with a refusal, and a value could be
/// personal data): they name the line, the field and what is expected.
pub fn parse(bytes: &[u8], limits: Limits) -> Result<Vec<Line>, InputError> {
    let max_lines = limits.max_lines;
    let text = std::str::from_utf8(bytes).map_err(|e| InputError::NotUtf8(e.valid_up_to()))?;
    let mut lines = Vec::new();
    let mut errors = Vec::new();
    let mut more = 0usize;
    let mut seen = std::collections::HashMap::new();
    for (i, raw) in text.split('\n').enumerate() {
        let raw = raw.strip_suffix('\r').unwrap_or(raw);
        if raw.trim().is_empty() {
            continue;
        }
        if lines.len() + errors.len() + more >= max_lines {
            return Err(InputError::TooMany(max_lines));
        }
        let parsed = if raw.len() > limits.max_line_bytes {
            Err(LineError {
                line: i + 1,
                custom_id: None,
                message: format!(
                    "the line is {} bytes; a request may be at most {}",
                    raw.len(),
                    limits.max_line_bytes
                ),
            })
        } else {
            line(i + 1, raw, &mut seen)
        };
        match parsed {
            Ok(l) => lines.push(l),
            Err(e) if errors.len() < MAX_LISTED => errors.push(e),
            Err(_) => more += 1,
        }
    }
    if !errors.is_empty() {
        return Err(InputError::Lines {
            lines: errors,
            more,
        });
    }
    if lines.is_empty() {
        return Err(InputError::Empty);
    }
    Ok(lines)
}

fn line(
    number: usize,
    raw: &str,
    seen: &mut std::collections::HashMap<String, usize>,
) -> Result<Line, LineError> {
    let err = |custom_id: Option<&str>, message: String| LineError {
        line: number,
        custom_id: custom_id.map(str::to_owned),
        message,
    };
    let v: Value = serde_json::from_str(raw).map_err(|e| {
        err(
            None,
            format!("not JSON (column {}: {:?})", e.column(), e.classify()),
        )
    })?;
    let Value::Object(mut o) = v else {
        return Err(err(None, "expected a JSON object".into()));
    };
    let custom_id = match o.get("custom_id") {
        Some(Value::String(s)) if !s.is_empty() && s.chars().count() <= MAX_CUSTOM_ID => s.clone(),
        Some(Value::String(_)) => {
            return Err(err(
                None,
                format!("custom_id must be 1 to {MAX_CUSTOM_ID} characters"),
            ));
        }
        None | Some(Value::Null) => return Err(err(None, "custom_id is missing".into())),
        Some(_) => return Err(err(None, "custom_id must be a string".into())),
    };
    let id = Some(custom_id.as_str());
    match o.get("method").and_then(Value::as_str) {
        Some("POST") => {}
        _ => return Err(err(id, "method must be \"POST\"".into())),
    }
    let url = match o.get("url").and_then(Value::as_str).and_then(canonical_url) {
        Some(u) => u.to_owned(),
        None => {
            return Err(err(
                id,
                format!("url must be one of {}", SUPPORTED_URLS.join(", ")),
            ));
        }
    };
    let body = match o.remove("body") {
        Some(Value::Object(b)) => b,
        _ => return Err(err(id, "body must be a JSON object".into())),
    };
    if o.keys()
        .any(|k| !matches!(k.as_str(), "custom_id" | "method" | "url"))
    {
        return Err(err(
            id,
            "only custom_id, method, url and body are allowed".into(),
        ));
    }
    if let Some(first) = seen.get(&custom_id) {
        return Err(err(
            id,
            format!("custom_id is used before, on line {first}"),
        ));
    }
    seen.insert(custom_id.clone(), number);
    Ok(Line {
        number,
        custom_id,
        url,
        body,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const L: Limits = Limits {
        max_lines: 100,
        max_line_bytes: 10_000,
    };

    fn lim(max_lines: usize) -> Limits {
        Limits { max_lines, ..L }
    }

    fn ok(id: &str) -> String {
        format!(
            r#"{{"custom_id":"{id}","method":"POST","url":"/v1/chat/completions","body":{{"model":"m","messages":[]}}}}"#
        )
    }

    #[test]
    fn reads_good_lines_with_their_numbers() {
        let text = format!("{}\n\n{}\r\n", ok("a"), ok("b"));
        let lines = parse(text.as_bytes(), lim(10)).unwrap();
        assert_eq!(lines.len(), 2);
        // Azure's form of a url is the same endpoint.
        let azure = ok("c").replace("/v1/chat/completions", "/chat/completions");
        assert_eq!(
            parse(azure.as_bytes(), lim(10)).unwrap()[0].url,
            "/v1/chat/completions"
        );
        assert_eq!(canonical_url("/embeddings"), Some("/v1/embeddings"));
        assert_eq!(canonical_url("/v1/images"), None);
        assert_eq!((lines[0].number, lines[1].number), (1, 3));
        assert_eq!(lines[1].custom_id, "b");
        assert_eq!(lines[0].body["model"], "m");
    }

    #[test]
    fn every_bad_line_is_named() {
        let text = [
            ok("a"),
            "{not json".into(),
            r#"{"custom_id":"c","method":"GET","url":"/v1/chat/completions","body":{}}"#.into(),
            r#"{"custom_id":"d","method":"POST","url":"/v1/images/generations","body":{}}"#.into(),
            r#"{"custom_id":"e","method":"POST","url":"/v1/embeddings","body":[]}"#.into(),
            ok("a"),
            r#"{"method":"POST","url":"/v1/embeddings","body":{}}"#.into(),
            r#"{"custom_id":"h","method":"POST","url":"/v1/embeddings","body":{},"x":1}"#.into(),
            "[1]".into(),
        ]
        .join("\n");
        let Err(InputError::Lines { lines, more }) = parse(text.as_bytes(), lim(100)) else {
            panic!("accepted")
        };
        assert_eq!(more, 0);
        let numbers: Vec<usize> = lines.iter().map(|e| e.line).collect();
        assert_eq!(numbers, [2, 3, 4, 5, 6, 7, 8, 9]);
        assert!(lines[1].message.contains("POST"), "{}", lines[1]);
        assert!(lines[2].message.contains("url must be"), "{}", lines[2]);
        assert!(
            lines[4].message.contains("before, on line 1"),
            "{}",
            lines[4]
        );
        assert_eq!(lines[4].custom_id.as_deref(), Some("a"));
        assert!(lines[5].message.contains("custom_id is missing"));
        assert!(lines[6].message.contains("only custom_id"));
        // No message repeats a value of the file.
        assert!(
            lines
                .iter()
                .all(|l| !l.message.contains("GET") && !l.message.contains("images"))
        );
    }

    #[test]
    fn limits_and_empty_files() {
        assert_eq!(parse(b"\n \n", lim(10)), Err(InputError::Empty));
        let text = [ok("a"), ok("b"), ok("c")].join("\n");
        assert_eq!(parse(text.as_bytes(), lim(2)), Err(InputError::TooMany(2)));
        assert!(matches!(
            parse(b"{\"a\":\xff}", lim(2)),
            Err(InputError::NotUtf8(5))
        ));
        let long = "x".repeat(MAX_CUSTOM_ID + 1);
        assert!(parse(ok(&long).as_bytes(), lim(2)).is_err());
        let small = Limits {
            max_lines: 10,
            max_line_bytes: 40,
        };
        let Err(InputError::Lines { lines, .. }) = parse(ok("a").as_bytes(), small) else {
            panic!("a line over the limit was taken")
        };
        assert!(lines[0].message.contains("at most 40"));
    }

    #[test]
    fn many_problems_are_counted_beyond_those_listed() {
        let text = "x\n".repeat(MAX_LISTED + 7);
        let Err(InputError::Lines { lines, more }) = parse(text.as_bytes(), lim(1000)) else {
            panic!("accepted")
        };
        assert_eq!((lines.len(), more), (MAX_LISTED, 7));
    }
}
