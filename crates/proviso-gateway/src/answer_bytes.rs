//! A non-streamed chat or completions answer's output (its text, finish
//! reason and usage) read in one pass over its bytes, without building the
//! answer's tree of values: for a small answer that tree was the costliest
//! thing the gateway made of it. The reading is [`crate::sse::non_stream_output`]'s,
//! field for field: a field given twice counts as its last (as in the
//! tree), a value of another type than expected reads as absent (as
//! `as_str` and `as_array` do), and whatever this reader does not handle
//! (a Responses API answer, a body that is not a JSON object, a key the
//! tree reads in its own way) is left to the tree.

use std::fmt;

use proviso_types::Usage;
use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::Value;

/// The output of the answer in `bytes`, or `None` when it is not one this
/// reader takes (then read it as a tree of values).
pub fn output(bytes: &[u8]) -> Option<(String, Option<String>, Option<Usage>)> {
    let Shape::Object(answer) = serde_json::from_slice::<Shape<Answer>>(bytes).ok()? else {
        return None;
    };
    if answer.object.0.as_deref() == Some("response") {
        return None;
    }
    let mut texts = Vec::with_capacity(answer.choices.len());
    let mut finish = None;
    for (i, c) in answer.choices.into_iter().enumerate() {
        let Shape::Object(c) = c else {
            // A choice that is not an object gives no text.
            texts.push(String::new());
            continue;
        };
        let mut t = String::new();
        match c.message {
            Some(Shape::Object(m)) => {
                t.push_str(m.content.0.as_deref().unwrap_or_default());
                if let Some(calls) = &m.tool_calls {
                    crate::sse::append_calls(&mut t, calls);
                }
            }
            // `message: null` (or not an object) still stands in for `text`.
            Some(_) => {}
            None => t.push_str(c.text.0.as_deref().unwrap_or_default()),
        }
        if i == 0 {
            finish = c.finish_reason.0;
        }
        texts.push(t);
    }
    let usage = answer.usage.as_ref().and_then(crate::sse::parse_usage);
    Some((texts.join("\n\n"), finish, usage))
}

/// The text of a JSON string; nothing for any other value (skipped).
#[derive(Default)]
struct Text(Option<String>);

/// A value read as `T` when it is an object.
enum Shape<T> {
    Object(T),
    /// `null`, or a value of another type (skipped).
    Other,
}

#[derive(Default)]
struct Answer {
    object: Text,
    /// Empty when `choices` is absent or not an array.
    choices: Vec<Shape<Choice>>,
    usage: Option<Value>,
}

#[derive(Default)]
struct Choice {
    /// `Some` when present, whatever its value.
    message: Option<Shape<Message>>,
    text: Text,
    finish_reason: Text,
}

#[derive(Default)]
struct Message {
    content: Text,
    tool_calls: Option<Value>,
}

/// An object's fields, each read where it is named (a later one replaces
/// an earlier one of the same name); the others skipped.
trait Fields: Default {
    fn field<'de, A: MapAccess<'de>>(&mut self, name: &str, map: &mut A) -> Result<(), A::Error>;
}

impl Fields for Answer {
    fn field<'de, A: MapAccess<'de>>(&mut self, name: &str, map: &mut A) -> Result<(), A::Error> {
        match name {
            "object" => self.object = map.next_value()?,
            "choices" => self.choices = map.next_value::<List<Shape<Choice>>>()?.0,
            "usage" => self.usage = Some(map.next_value()?),
            _ => {
                map.next_value::<Skip>()?;
            }
        }
        Ok(())
    }
}

impl Fields for Choice {
    fn field<'de, A: MapAccess<'de>>(&mut self, name: &str, map: &mut A) -> Result<(), A::Error> {
        match name {
            "message" => self.message = Some(map.next_value()?),
            "text" => self.text = map.next_value()?,
            "finish_reason" => self.finish_reason = map.next_value()?,
            _ => {
                map.next_value::<Skip>()?;
            }
        }
        Ok(())
    }
}

impl Fields for Message {
    fn field<'de, A: MapAccess<'de>>(&mut self, name: &str, map: &mut A) -> Result<(), A::Error> {
        match name {
            "content" => self.content = map.next_value()?,
            "tool_calls" => self.tool_calls = Some(map.next_value()?),
            _ => {
                map.next_value::<Skip>()?;
            }
        }
        Ok(())
    }
}

/// The items of an array; none for any other value (skipped).
struct List<T>(Vec<T>);

/// Skips what a visitor does not take, for each kind of value.
macro_rules! skip_scalars {
    ($out:expr) => {
        fn visit_bool<E: de::Error>(self, _: bool) -> Result<Self::Value, E> {
            Ok($out)
        }
        fn visit_i64<E: de::Error>(self, _: i64) -> Result<Self::Value, E> {
            Ok($out)
        }
        fn visit_u64<E: de::Error>(self, _: u64) -> Result<Self::Value, E> {
            Ok($out)
        }
        fn visit_f64<E: de::Error>(self, _: f64) -> Result<Self::Value, E> {
            Ok($out)
        }
        fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok($out)
        }
    };
}

/// A value read and dropped. Unlike `serde::de::IgnoredAny` (which
/// serde_json skips without counting depth), it goes through the same
/// nesting limit as the tree, so an answer nested too deep for the tree is
/// too deep here too.
struct Skip;

impl<'de> Deserialize<'de> for Skip {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Skip;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("any JSON value")
            }
            fn visit_str<E: de::Error>(self, _: &str) -> Result<Skip, E> {
                Ok(Skip)
            }
            skip_scalars!(Skip);
            fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Skip, A::Error> {
                skip_seq(seq).map(|()| Skip)
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Skip, A::Error> {
                skip_map(map).map(|()| Skip)
            }
        }
        d.deserialize_any(V)
    }
}

/// Drains an unwanted array or object.
fn skip_seq<'de, A: SeqAccess<'de>>(mut seq: A) -> Result<(), A::Error> {
    while seq.next_element::<Skip>()?.is_some() {}
    Ok(())
}

fn skip_map<'de, A: MapAccess<'de>>(mut map: A) -> Result<(), A::Error> {
    while map.next_key::<Key>()?.is_some() {
        map.next_value::<Skip>()?;
    }
    Ok(())
}

/// An object's key, borrowed from the answer unless it holds escapes.
/// serde_json's tree of values reads an object keyed by its raw-value token
/// as something else entirely (a JSON text inside a string, or an error):
/// such an answer is refused here and left to the tree.
enum Key<'de> {
    Borrowed(&'de str),
    Owned(String),
}

impl Key<'_> {
    fn as_str(&self) -> &str {
        match self {
            Key::Borrowed(s) => s,
            Key::Owned(s) => s,
        }
    }
}

/// The key serde_json's raw values travel under (its `raw_value` feature).
const RAW_VALUE_TOKEN: &str = "$serde_json::private::RawValue";

/// Refuses the raw-value token as a key (see [`Key`]).
fn not_raw_token<E: de::Error>(s: &str) -> Result<(), E> {
    if s == RAW_VALUE_TOKEN {
        return Err(E::custom("a raw value's token as a key"));
    }
    Ok(())
}

impl<'de> Deserialize<'de> for Key<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Key<'de>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("an object key")
            }
            fn visit_borrowed_str<E: de::Error>(self, s: &'de str) -> Result<Key<'de>, E> {
                not_raw_token(s).map(|()| Key::Borrowed(s))
            }
            fn visit_str<E: de::Error>(self, s: &str) -> Result<Key<'de>, E> {
                not_raw_token(s).map(|()| Key::Owned(s.to_owned()))
            }
        }
        d.deserialize_str(V)
    }
}

impl<'de> Deserialize<'de> for Text {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Text;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("any JSON value")
            }
            fn visit_str<E: de::Error>(self, s: &str) -> Result<Text, E> {
                Ok(Text(Some(s.to_owned())))
            }
            fn visit_string<E: de::Error>(self, s: String) -> Result<Text, E> {
                Ok(Text(Some(s)))
            }
            skip_scalars!(Text(None));
            fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Text, A::Error> {
                skip_seq(seq).map(|()| Text(None))
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Text, A::Error> {
                skip_map(map).map(|()| Text(None))
            }
        }
        d.deserialize_any(V)
    }
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for List<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V<T>(std::marker::PhantomData<T>);
        impl<'de, T: Deserialize<'de>> Visitor<'de> for V<T> {
            type Value = List<T>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("any JSON value")
            }
            fn visit_str<E: de::Error>(self, _: &str) -> Result<List<T>, E> {
                Ok(List(Vec::new()))
            }
            skip_scalars!(List(Vec::new()));
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<List<T>, A::Error> {
                let mut items = Vec::new();
                while let Some(item) = seq.next_element()? {
                    items.push(item);
                }
                Ok(List(items))
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<List<T>, A::Error> {
                skip_map(map).map(|()| List(Vec::new()))
            }
        }
        d.deserialize_any(V(std::marker::PhantomData))
    }
}

impl<'de, T: Fields> Deserialize<'de> for Shape<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V<T>(std::marker::PhantomData<T>);
        impl<'de, T: Fields> Visitor<'de> for V<T> {
            type Value = Shape<T>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("any JSON value")
            }
            fn visit_str<E: de::Error>(self, _: &str) -> Result<Shape<T>, E> {
                Ok(Shape::Other)
            }
            skip_scalars!(Shape::Other);
            fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Shape<T>, A::Error> {
                skip_seq(seq).map(|()| Shape::Other)
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Shape<T>, A::Error> {
                let mut fields = T::default();
                while let Some(name) = map.next_key::<Key>()? {
                    fields.field(name.as_str(), &mut map)?;
                }
                Ok(Shape::Object(fields))
            }
        }
        d.deserialize_any(V(std::marker::PhantomData))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sse::non_stream_output;

    #[test]
    fn an_answer_read_from_its_bytes_reads_as_its_tree_of_values() {
        // (body, whether this reader takes it or leaves it to the tree)
        let cases: &[(&str, bool)] = &[
            (
                r#"{"id":"c","object":"chat.completion","choices":[{"index":0,"message":{"role":"assistant","content":"Hi \"there\" \u00e9\n","refusal":null},"logprobs":null,"finish_reason":"stop"}],"usage":{"prompt_tokens":14,"completion_tokens":3,"total_tokens":17,"prompt_tokens_details":{"cached_tokens":0}}}"#,
                true,
            ),
            (
                r#"{"choices":[{"message":{"content":null,"tool_calls":[{"id":"t","type":"function","function":{"name":"get_weather","arguments":"{\"city\":\"Oslo\"}"}},{"function":{"name":"two"}}]},"finish_reason":"tool_calls"}]}"#,
                true,
            ),
            (
                r#"{"choices":[{"message":{"content":"a"},"finish_reason":"length"},{"message":{"content":"b"},"finish_reason":"stop"}],"usage":{"prompt_tokens":1}}"#,
                true,
            ),
            (
                r#"{"choices":[{"message":null,"text":"ignored","finish_reason":"stop"}]}"#,
                true,
            ),
            (
                r#"{"object":"text_completion","choices":[{"text":"completed","finish_reason":null}],"usage":{"prompt_tokens":2,"completion_tokens":1}}"#,
                true,
            ),
            (
                r#"{"choices":{"message":{"content":"x"}},"usage":{"input_tokens":4,"output_tokens":5}}"#,
                true,
            ),
            (
                r#"{"choices":[7,[1],"s",null,{"message":{"content":"kept"}}]}"#,
                true,
            ),
            (
                r#"{"choices":[{"message":["content","x"],"text":"no"},{"message":"str"},{"message":{"content":{"text":"obj"}}}]}"#,
                true,
            ),
            (
                r#"{"choices":[{"message":{"content":[{"type":"text","text":"parts"}]},"finish_reason":3}]}"#,
                true,
            ),
            (
                r#"{"choices":[{"message":{"content":"a","tool_calls":{"not":"array"}}}],"usage":{"prompt_tokens":1.5}}"#,
                true,
            ),
            (r#"  {"choices":null,"usage":null,"object":7}"#, true),
            (r#"{"choices":[],"usage":"none"}"#, true),
            (r#"{"choices":"none","object":["response"]}"#, true),
            // A field given twice counts as its last, at every level.
            (
                r#"{"choices":[{"message":{"content":"first","content":"second"}}]}"#,
                true,
            ),
            (
                r#"{"choices":[{"text":"a"}],"choices":[{"text":"b","finish_reason":"x","finish_reason":"y"}]}"#,
                true,
            ),
            (
                r#"{"choices":[{"message":{"content":"m"},"message":null,"text":"t"}]}"#,
                true,
            ),
            (r#"{"\u0063hoices":[{"text":"escaped key"}]}"#, true),
            (
                r#"{"object":"response","output":[{"type":"message","content":[{"type":"output_text","text":"r"}]}]}"#,
                false,
            ),
            (r#"[{"choices":[]}]"#, false),
            (r#""text""#, false),
            (
                r#"{"choices":[{"message":{"content":"x"}}]} trailing"#,
                false,
            ),
            (r#"{"choices":[{"message":{"content":"x"}}]"#, false),
            (r#"not json"#, false),
            // serde_json's raw-value token as a key, anywhere, is the
            // tree's to read (it reads such an object as something else).
            (
                r#"{"$serde_json::private::RawValue":"{\"choices\":[{\"message\":{\"content\":\"hi\"}}]}"}"#,
                false,
            ),
            (
                r#"{"choices":[{"message":{"content":"x"}}],"id":{"$serde_json::private::RawValue":1}}"#,
                false,
            ),
            (
                r#"{"choices":[{"message":{"content":"x","\u0024serde_json::private::RawValue":"1"}}]}"#,
                false,
            ),
        ];
        for (body, lean) in cases {
            let read = output(body.as_bytes());
            assert_eq!(read.is_some(), *lean, "{body}");
            if let Some(read) = read {
                let tree: Value = serde_json::from_str(body).unwrap();
                assert_eq!(read, non_stream_output(&tree), "{body}");
            }
        }
    }

    /// Random answers shaped like real ones, with any field given twice,
    /// left out, or of another type than expected: whenever this reader
    /// takes one, it reads it as the tree does.
    #[test]
    fn random_answers_read_the_same_both_ways() {
        struct Gen(u64);
        impl Gen {
            fn below(&mut self, n: usize) -> usize {
                // xorshift64*
                self.0 ^= self.0 >> 12;
                self.0 ^= self.0 << 25;
                self.0 ^= self.0 >> 27;
                let x = self.0.wrapping_mul(0x2545_F491_4F6C_DD1D);
                usize::try_from(x >> 33).unwrap() % n
            }
            fn chance(&mut self, percent: usize) -> bool {
                self.below(100) < percent
            }
            fn string(&mut self) -> &'static str {
                const STRINGS: [&str; 8] = [
                    r#""stop""#,
                    r#""length""#,
                    r#""response""#,
                    r#""chat.completion""#,
                    r#""é \"q\" \u00e9\n""#,
                    r#""""#,
                    r#""get_weather""#,
                    r#""{\"a\":1}""#,
                ];
                STRINGS[self.below(STRINGS.len())]
            }
            /// Any value, of any type.
            fn any(&mut self, depth: usize) -> String {
                match self.below(if depth > 3 { 4 } else { 6 }) {
                    0 => self.string().to_owned(),
                    1 => ["0", "7", "-3", "1.5", "12345678901234567890"][self.below(5)].to_owned(),
                    2 => ["true", "false"][self.below(2)].to_owned(),
                    3 => "null".to_owned(),
                    4 => format!(
                        "[{}]",
                        (0..self.below(3))
                            .map(|_| self.any(depth + 1))
                            .collect::<Vec<_>>()
                            .join(",")
                    ),
                    _ => self.object(
                        &["a", "content", "text", "$serde_json::private::RawValue"],
                        depth + 1,
                        |g, _, d| g.any(d),
                    ),
                }
            }
            /// An object of 0 to 5 fields named from `keys` (repeats
            /// allowed), each valued by `value`.
            fn object(
                &mut self,
                keys: &[&str],
                depth: usize,
                value: impl Fn(&mut Gen, &str, usize) -> String,
            ) -> String {
                let fields: Vec<String> = (0..self.below(6))
                    .map(|_| {
                        let k = keys[self.below(keys.len())];
                        format!("\"{k}\":{}", value(self, k, depth + 1))
                    })
                    .collect();
                format!("{{{}}}", fields.join(","))
            }
            fn or_any(
                &mut self,
                percent: usize,
                depth: usize,
                make: impl FnOnce(&mut Gen) -> String,
            ) -> String {
                if self.chance(percent) {
                    make(self)
                } else {
                    self.any(depth)
                }
            }
            fn answer(&mut self) -> String {
                self.object(
                    &["choices", "usage", "object", "id", "choices"],
                    0,
                    |g, k, d| match k {
                        "choices" => g.or_any(85, d, |g| {
                            format!(
                                "[{}]",
                                (0..g.below(4))
                                    .map(|_| g.choice(d + 1))
                                    .collect::<Vec<_>>()
                                    .join(",")
                            )
                        }),
                        "usage" => g.or_any(80, d, |g| {
                            g.object(
                                &[
                                    "prompt_tokens",
                                    "completion_tokens",
                                    "total_tokens",
                                    "input_tokens",
                                    "output_tokens",
                                ],
                                d,
                                |g, _, _| {
                                    [
                                        "3",
                                        "0",
                                        "1.5",
                                        "-2",
                                        "\"4\"",
                                        "null",
                                        "18446744073709551615",
                                    ][g.below(7)]
                                    .to_owned()
                                },
                            )
                        }),
                        _ => g.or_any(70, d, |g| g.string().to_owned()),
                    },
                )
            }
            fn choice(&mut self, depth: usize) -> String {
                self.or_any(85, depth, |g| {
                    g.object(
                        &["message", "text", "finish_reason", "index", "message"],
                        depth,
                        |g, k, d| match k {
                            "message" => g.or_any(80, d, |g| g.message(d)),
                            _ => g.or_any(75, d, |g| g.string().to_owned()),
                        },
                    )
                })
            }
            fn message(&mut self, depth: usize) -> String {
                self.object(
                    &["content", "tool_calls", "role", "content"],
                    depth,
                    |g, k, d| match k {
                        "tool_calls" => g.or_any(70, d, |g| {
                            let call = |g: &mut Gen| {
                                g.object(
                                    &["function", "id", "function"],
                                    d + 1,
                                    |g, k, d| match k {
                                        "function" => g.object(
                                            &["name", "arguments", "name"],
                                            d,
                                            |g, _, d| g.or_any(80, d, |g| g.string().to_owned()),
                                        ),
                                        _ => g.any(d),
                                    },
                                )
                            };
                            format!(
                                "[{}]",
                                (0..g.below(3))
                                    .map(|_| call(g))
                                    .collect::<Vec<_>>()
                                    .join(",")
                            )
                        }),
                        _ => g.or_any(75, d, |g| g.string().to_owned()),
                    },
                )
            }
        }
        let mut g = Gen(0x9E37_79B9_7F4A_7C15);
        let (mut taken, mut with_text, mut with_finish) = (0, 0, 0);
        for _ in 0..20_000 {
            let body = g.answer();
            let Some(read) = output(body.as_bytes()) else {
                continue;
            };
            let tree: Value = serde_json::from_str(&body).unwrap();
            assert_eq!(read, non_stream_output(&tree), "{body}");
            taken += 1;
            with_text += usize::from(!read.0.is_empty());
            with_finish += usize::from(read.1.is_some());
        }
        // Not vacuous: most are taken, and many have a text and a finish.
        // (With this seed: 17,258 taken, 4,677 with text, 1,530 with a
        // finish reason.)
        assert!(taken > 15_000, "{taken} taken");
        assert!(with_text > 3_000, "{with_text} with text");
        assert!(with_finish > 1_000, "{with_finish} with a finish reason");
    }

    #[test]
    fn nesting_too_deep_for_the_tree_is_too_deep_here() {
        // The tree refuses an answer nested past its limit ("not JSON"):
        // this reader must not take it instead.
        let deep = format!(
            r#"{{"choices":[{{"message":{{"content":"x"}},"extra":{}1{}}}]}}"#,
            "[".repeat(200),
            "]".repeat(200)
        );
        assert!(serde_json::from_str::<Value>(&deep).is_err());
        assert!(output(deep.as_bytes()).is_none());
        for (open, close) in [("[", "]"), (r#"{"a":"#, "}")] {
            for depth in [100, 126, 127, 128, 129, 200] {
                for at in ["content", "unknown", "finish_reason"] {
                    let body = format!(
                        r#"{{"choices":[{{"message":{{"{at}":{}1{}}}}}]}}"#,
                        open.repeat(depth),
                        close.repeat(depth)
                    );
                    let tree = serde_json::from_str::<Value>(&body);
                    match output(body.as_bytes()) {
                        Some(read) => {
                            assert_eq!(read, non_stream_output(&tree.unwrap()), "{depth} {at}")
                        }
                        None => {
                            assert!(tree.is_err(), "refused at {depth} in {at}, taken as a tree")
                        }
                    }
                }
            }
        }
    }
}
