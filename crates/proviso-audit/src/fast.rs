//! The text of a JSON line without building the whole document: when the
//! field the picker looks at first is a top-level string, only that value
//! is kept and the rest of the line is checked and skipped. Anything else
//! (the field missing or not a string, a line that is not an object,
//! invalid JSON) falls back to the full parse, which gives the same answer
//! and the same error as before.

use std::fmt;

use serde::de::{DeserializeSeed, Deserializer, IgnoredAny, MapAccess, Visitor};
use serde_json::Value;

use crate::read::Pick;

/// How the text of a record is taken: `first_key` is the top-level key
/// `pick` looks at first (when there is one), used for the fast path.
#[derive(Clone, Copy)]
pub(crate) struct Picker<'a> {
    pub first_key: Option<&'a str>,
    pub pick: Pick<'a>,
}

impl Picker<'_> {
    /// The text of one JSON line.
    pub fn text_of_line(&self, line: &str) -> Result<String, String> {
        if let Some(key) = self.first_key
            && let Some(s) = string_field(line, key)
        {
            return Ok(s);
        }
        serde_json::from_str::<Value>(line)
            .map_err(|e| format!("invalid JSON: {e}"))
            .and_then(|v| (self.pick)(&v))
    }
}

/// The top-level string field `key` of the object `line`, if the line is
/// valid JSON and that field is a string.
fn string_field(line: &str, key: &str) -> Option<String> {
    let mut de = serde_json::Deserializer::from_str(line);
    let found = Field(key).deserialize(&mut de).ok()?;
    de.end().ok()?;
    found
}

struct Field<'k>(&'k str);

impl<'de> DeserializeSeed<'de> for Field<'_> {
    type Value = Option<String>;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for Field<'_> {
    type Value = Option<String>;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON object")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut m: A) -> Result<Self::Value, A::Error> {
        // The last occurrence wins, as in a parsed object.
        let mut found = None;
        while let Some(is_key) = m.next_key_seed(KeyIs(self.0))? {
            if is_key {
                found = match m.next_value::<Value>()? {
                    Value::String(s) => Some(s),
                    _ => None,
                };
            } else {
                m.next_value::<IgnoredAny>()?;
            }
        }
        Ok(found)
    }
}

/// Whether a key equals the wanted one, without allocating.
struct KeyIs<'k>(&'k str);

impl<'de> DeserializeSeed<'de> for KeyIs<'_> {
    type Value = bool;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<bool, D::Error> {
        d.deserialize_str(self)
    }
}

impl<'de> Visitor<'de> for KeyIs<'_> {
    type Value = bool;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a key")
    }
    fn visit_str<E>(self, v: &str) -> Result<bool, E> {
        Ok(v == self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fast_path_agrees_with_the_full_parse() {
        let pick = |v: &Value| -> Result<String, String> {
            v.get("text")
                .and_then(Value::as_str)
                .map(str::to_owned)
                .ok_or_else(|| "no text".to_owned())
        };
        let p = Picker {
            first_key: Some("text"),
            pick: &pick,
        };
        for (line, want) in [
            (
                r#"{"id": 1, "text": "a \"quoted\" \u00e9 text", "meta": {"x": [1, 2]}}"#,
                Ok("a \"quoted\" é text"),
            ),
            (r#"{"te\u0078t": "escaped key"}"#, Ok("escaped key")),
            (r#"{"text": "first", "text": "last"}"#, Ok("last")),
            (r#"{"text": 5}"#, Err("no text")),
            (r#"{"other": "x"}"#, Err("no text")),
        ] {
            assert_eq!(
                p.text_of_line(line),
                want.map(str::to_owned).map_err(str::to_owned),
                "{line}"
            );
        }
        assert!(
            p.text_of_line(r#"{"text": "x"} trailing"#)
                .unwrap_err()
                .starts_with("invalid JSON")
        );
        assert!(
            p.text_of_line(r#"{"text": "x""#)
                .unwrap_err()
                .starts_with("invalid JSON")
        );
        assert_eq!(string_field(r#"["text"]"#, "text"), None);
    }
}
