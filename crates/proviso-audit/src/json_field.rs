//! The text of a JSON line without building the whole document: when the
//! field the picker looks at first is a top-level string, only that value
//! is kept (unescaped here into one buffer of its size) and the rest of
//! the line is checked and skipped. Anything else
//! (the field missing or not a string, a line that is not an object,
//! invalid JSON) falls back to the full parse, which gives the same answer
//! and the same error as before.

use std::fmt;

use serde::de::{DeserializeSeed, Deserializer, IgnoredAny, MapAccess, Visitor};
use serde_json::Value;

/// The function that takes a record's text.
pub(crate) type Pick<'a> = &'a (dyn Fn(&Value) -> Result<String, String> + Sync);

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
                // The value as it lies in the line (checked by the
                // parser), its string read here into one buffer of the
                // right size: serde_json would grow a scratch buffer from
                // empty for every line and copy it into a string after.
                let raw = m.next_value::<&serde_json::value::RawValue>()?;
                found = unescape(raw.get());
            } else {
                m.next_value::<IgnoredAny>()?;
            }
        }
        Ok(found)
    }
}

/// The text of a JSON string literal (quotes included, checked by the
/// parser); `None` when `raw` is not a string, or holds a `\u` escape of
/// half a surrogate pair alone (which the full parse reports as an error).
fn unescape(raw: &str) -> Option<String> {
    let body = raw.strip_prefix('"')?.strip_suffix('"')?;
    let b = body.as_bytes();
    let mut out = String::with_capacity(body.len());
    let mut at = 0;
    while let Some(k) = memchr::memchr(b'\\', &b[at..]) {
        out.push_str(body.get(at..at + k)?);
        let esc = at + k + 1;
        at = esc + 1;
        out.push(match b.get(esc)? {
            b'"' => '"',
            b'\\' => '\\',
            b'/' => '/',
            b'b' => '\u{8}',
            b'f' => '\u{c}',
            b'n' => '\n',
            b'r' => '\r',
            b't' => '\t',
            b'u' => {
                let hex = |i: usize| {
                    let h = body
                        .get(i..i + 4)
                        .filter(|h| h.bytes().all(|c| c.is_ascii_hexdigit()));
                    u32::from_str_radix(h?, 16).ok()
                };
                let hi = hex(at)?;
                at += 4;
                if (0xD800..0xDC00).contains(&hi) {
                    let lo = body
                        .get(at..at + 2)
                        .filter(|s| *s == "\\u")
                        .and(hex(at + 2))?;
                    if !(0xDC00..0xE000).contains(&lo) {
                        return None;
                    }
                    at += 6;
                    char::from_u32(0x10000 + ((hi - 0xD800) << 10) + (lo - 0xDC00))?
                } else {
                    char::from_u32(hi)?
                }
            }
            _ => return None,
        });
    }
    out.push_str(body.get(at..)?);
    Some(out)
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

    #[test]
    fn strings_are_read_as_the_parser_reads_them() {
        let mut literals: Vec<String> = [
            r#""""#,
            r#""plain""#,
            r#""a\nb\tc\r\"q\" \\ \/ \b\f""#,
            r#""\u00e9\u00E9 \u4e2d\u6587 \u0000""#,
            r#""\ud83d\ude00 smile""#,
            r#""\uD83D\uDE00""#,
            r#""lone \ud83d here""#,
            r#""lone \ude00 low""#,
            r#""reversed \ude00\ud83d""#,
            r#""high then other \ud83d\u0041""#,
            r#""ends with escape \n""#,
            r#""\n""#,
            r#""中文 and é as they are""#,
        ]
        .map(str::to_owned)
        .to_vec();
        // Every character class the serialiser escapes or keeps, mixed.
        let pieces = [
            "a", "\"", "\\", "\n", "\u{1}", "\u{1f}", "é", "中", "😀", " ", "/",
        ];
        let mut state = 7u64;
        for _ in 0..500 {
            let mut s = String::new();
            for _ in 0..(state % 23) {
                state = state
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                s.push_str(pieces[(state >> 33) as usize % pieces.len()]);
            }
            state = state.wrapping_mul(6364136223846793005).wrapping_add(1);
            literals.push(serde_json::to_string(&s).unwrap());
        }
        for lit in &literals {
            let want = serde_json::from_str::<String>(lit).ok();
            assert_eq!(unescape(lit), want, "{lit}");
            // And through the fast path of a whole line.
            let line = format!(r#"{{"id": 1, "text": {lit}, "x": [1]}}"#);
            assert_eq!(string_field(&line, "text"), want, "{line}");
        }
        assert_eq!(unescape("5"), None);
    }
}
