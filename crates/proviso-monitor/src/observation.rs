//! What the monitor learns from one exchange. Built from the ledger record,
//! the same way live (the gateway's observe stage hands over the record)
//! and on restart (replaying the ledger), so both give the same state.

use proviso_ledger::{Record, RecordKind};
use proviso_types::{RecordId, UnixMillis};
use serde_json::Value;

/// One request as the monitor sees it.
#[derive(Clone, Debug, PartialEq)]
pub struct Observation {
    /// The ledger record id.
    pub record_id: RecordId,
    /// When it arrived.
    pub time: UnixMillis,
    /// The key id.
    pub key: String,
    /// The key's team.
    pub team: String,
    /// The declared (or implied) purpose.
    pub purpose: Option<String>,
    /// The client address, when the gateway knows it.
    pub client: Option<String>,
    /// Refused by a rate limit (429 `rate_limit_exceeded`).
    pub rate_limited: bool,
    /// The user's text: user messages, the prompt or the input.
    pub prompt: String,
    /// The instructions around it: system and developer messages, the
    /// Responses API's `instructions` (an instruction can be put there as
    /// well as in a user turn).
    pub system: String,
    /// The words of the tools and functions the request defines and of its
    /// output schema (`tools`, `functions`, `response_format`, the
    /// Responses API's `text.format`): an instruction can be put in a
    /// function's or a field's description ([`definitions_text`]).
    pub definitions: String,
    /// The request goes on from earlier turns (an assistant or tool message,
    /// or `previous_response_id`): a conversation, not a self-contained
    /// instruction.
    pub follow_up: bool,
    /// For a chat that goes on from earlier turns, the user's words before
    /// its last user message: the prompt of the request it follows, which a
    /// real conversation sent first (a history written into one request
    /// was never sent). `None` otherwise (the Responses API's
    /// `previous_response_id` names a response the gateway knows).
    pub earlier: Option<String>,
    /// The Responses API's `previous_response_id`, when it goes on from one.
    pub continues: Option<String>,
    /// The turns the request shows the model as having said ([`said_turns`]):
    /// whether the model really said them is the monitor's to tell, from
    /// the key's recent answers.
    pub said: Vec<Said>,
    /// [`said_hash`] of this exchange's answer (0: none): a later request
    /// of the key that shows it as the model's turn goes on from it.
    pub answer: u64,
    /// The request hands a tool's result back (its last message is a tool
    /// or function result, or a Responses `function_call_output`): a step
    /// of a tool loop, not a new instruction.
    pub tool_step: bool,
    /// Prompt tokens (reported, or counted before the call).
    pub prompt_tokens: u64,
    /// Completion tokens reported.
    pub completion_tokens: u64,
    /// The answer stopped at `max_tokens` (`finish_reason: length`).
    pub hit_max_tokens: bool,
    /// Asked for `logprobs`/`top_logprobs`, a `logit_bias` or `n > 1`.
    pub probing_params: bool,
    /// `temperature` and `top_p` as asked (for sweeps), in thousandths.
    pub sampling: (i32, i32),
    /// The prompt's vector from an embeddings model, when one is configured
    /// (none: the built-in hashed n-gram vector).
    pub vector: Option<Vec<f32>>,
    /// The end user the request names (`user` or `safety_identifier`): a
    /// product key serves many.
    pub end_user: Option<String>,
    /// The generation parameters the request sets ([`params_signature`]).
    pub params: u64,
    /// How long the exchange took, ms (requests in flight at once).
    pub latency_ms: u64,
    /// How the request's text divides ([`units`]): what this turn adds,
    /// the system text, and all of it; the prompt tokens an answer is held
    /// against are the new part's share of them ([`PromptParts`]).
    pub parts: PromptParts,
}

/// How a request's text divides, in [`units`]: `new`, what this turn adds
/// (the messages after the last assistant message, system ones aside: the
/// user's new words or the tools' results; the whole prompt or input of a
/// request without messages), `system` (system and developer messages, the
/// Responses API's `instructions`), and `total`, all the text an upstream
/// reads (every message, tool calls' arguments, tool definitions). All
/// zero when unknown: the prompt tokens are then taken whole.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PromptParts {
    /// What this turn adds, in [`units`] (a quarter of a token each).
    pub new: u64,
    /// The system text, in [`units`].
    pub system: u64,
    /// All the text, in [`units`].
    pub total: u64,
}

/// A text's weight as a tokenizer sees it, in quarter tokens: a Chinese,
/// Japanese or Korean character is about a token (4 units), an ASCII one
/// about a quarter of one (1 unit), any other character a unit per byte of
/// its UTF-8 (CJK punctuation and full-width forms, 3; Devanagari or
/// Thai, 3; an emoji, 4). Shares of a prompt are taken in these units, so
/// a long preamble in another script beside an English question is not
/// mistaken for a small part of the prompt.
pub fn units(text: &str) -> u64 {
    text.chars()
        .map(|c| {
            if c.is_ascii() {
                1
            } else if crate::features::is_cjk(c) {
                4
            } else {
                c.len_utf8() as u64
            }
        })
        .sum()
}

impl PromptParts {
    /// The prompt tokens of what was asked: the new part, and the system
    /// text unless the key sent it before (a fixed preamble, as products
    /// cache, is the key's standing context, not the question), as their
    /// share of `prompt_tokens`; all of them when the parts are unknown.
    pub fn asked_tokens(&self, prompt_tokens: u64, system_repeated: bool) -> u64 {
        if self.total == 0 {
            return prompt_tokens;
        }
        let asked = self.new + if system_repeated { 0 } else { self.system };
        let share = (asked.min(self.total) as f64) / (self.total as f64);
        (prompt_tokens as f64 * share).ceil() as u64
    }
}

/// [`units`] an image, audio or file part stands for: an upstream counts
/// a picture as some hundreds of tokens, not as the length of its URL or
/// base64 data (85 tokens: a picture at low detail).
const MEDIA_UNITS: u64 = 4 * 85;

/// The [`units`] of every string inside `v` (a media part as
/// [`MEDIA_UNITS`]).
fn units_in(v: &Value) -> u64 {
    match v {
        Value::String(s) => units(s),
        Value::Array(a) => a.iter().map(units_in).sum(),
        Value::Object(_) if media_named(v).is_some() => MEDIA_UNITS,
        Value::Object(o) => o
            .iter()
            .filter(|(k, _)| {
                !matches!(
                    k.as_str(),
                    "role" | "type" | "id" | "tool_call_id" | "call_id" | "name" | "detail"
                )
            })
            .map(|(_, v)| units_in(v))
            .sum(),
        _ => 0,
    }
}

/// The fields of a request body whose text an upstream reads as the
/// prompt.
pub const PROMPT_FIELDS: [&str; 7] = [
    "messages",
    "input",
    "instructions",
    "prompt",
    "tools",
    "functions",
    "response_format",
];

/// How a request body's text divides ([`PromptParts`]).
pub fn prompt_parts(body: &Value) -> PromptParts {
    let total: u64 = PROMPT_FIELDS
        .iter()
        .filter_map(|f| body.get(*f))
        .map(units_in)
        .sum();
    let system = units(&system_text(body));
    let new = match body.get("messages").and_then(Value::as_array) {
        Some(msgs) => {
            let after = |r: &str| msgs.iter().rposition(|m| role(m) == Some(r));
            // What follows the last assistant message; when nothing does
            // (an answer's opening written for the model to go on from),
            // from the last user message.
            let from = match after("assistant") {
                Some(i) if i + 1 < msgs.len() => i + 1,
                Some(_) => after("user").unwrap_or(0),
                None => 0,
            };
            msgs[from..]
                .iter()
                .filter(|m| !matches!(role(m), Some("system" | "developer")))
                .map(units_in)
                .sum()
        }
        None => total.saturating_sub(system),
    };
    PromptParts { new, system, total }
}

impl Observation {
    /// The observation of an exchange record with a key: a request that was
    /// served, or refused by a rate limit. `None` for events, for requests
    /// that never authenticated and for other refusals (a suspended key, a
    /// denied policy, bad input): nothing reached a model, and their bodies
    /// may be unread.
    pub fn from_record(r: &Record) -> Option<Self> {
        if r.kind != RecordKind::Exchange {
            return None;
        }
        let rate_limited =
            r.status == 429 && r.error_code.as_deref() == Some("rate_limit_exceeded");
        if r.status != 200 && !rate_limited {
            return None;
        }
        let key = r.key_id.as_ref()?.0.clone();
        let body: Value = serde_json::from_str(&r.request).unwrap_or(Value::Null);
        let detail: Value = r
            .detail
            .as_deref()
            .and_then(|d| serde_json::from_str(d).ok())
            .unwrap_or(Value::Null);
        let prompt = prompt_text(&body);
        let num = |k: &str| body.get(k).and_then(Value::as_f64);
        let logprobs = match body.get("logprobs") {
            Some(Value::Bool(b)) => *b,
            Some(Value::Number(_)) => true,
            _ => false,
        };
        let probing_params = logprobs
            || body.get("top_logprobs").is_some_and(|v| !v.is_null())
            || body
                .get("logit_bias")
                .and_then(Value::as_object)
                .is_some_and(|m| !m.is_empty())
            || num("n").is_some_and(|n| n > 1.0)
            || num("best_of").is_some_and(|n| n > 1.0);
        let milli = |v: Option<f64>, dflt: f64| (v.unwrap_or(dflt) * 1000.0).round() as i32;
        let (prompt_tokens, completion_tokens) = tokens_of(r);
        Some(Self {
            record_id: r.id,
            time: r.time,
            key,
            team: r.team.clone().unwrap_or_default(),
            purpose: detail
                .get("purpose")
                .and_then(Value::as_str)
                .map(str::to_owned),
            client: detail
                .get("client")
                .and_then(Value::as_str)
                .map(str::to_owned),
            rate_limited,
            prompt,
            system: system_text(&body),
            definitions: definitions_text(&body),
            follow_up: is_follow_up(&body),
            earlier: earlier_text(&body),
            continues: body
                .get("previous_response_id")
                .and_then(Value::as_str)
                .map(str::to_owned),
            tool_step: is_tool_step(&body),
            said: said_turns(&body),
            answer: answer_hash(r, &detail),
            prompt_tokens,
            completion_tokens,
            hit_max_tokens: r.finish_reason.as_deref() == Some("length"),
            probing_params,
            sampling: (milli(num("temperature"), 1.0), milli(num("top_p"), 1.0)),
            vector: None,
            end_user: end_user(&body),
            params: params_signature(&body),
            latency_ms: r.latency_ms,
            parts: prompt_parts(&body),
        })
    }
}

/// The end user a request names: `user`, or `safety_identifier` (the name
/// OpenAI gives it now).
pub fn end_user(body: &Value) -> Option<String> {
    ["user", "safety_identifier"]
        .iter()
        .find_map(|k| body.get(*k).and_then(Value::as_str))
        .filter(|u| !u.is_empty())
        .map(|u| u.chars().take(128).collect())
}

/// Fields of a request that are its content, its routing or its caller,
/// not how it asks to be answered.
const NOT_PARAMS: &[&str] = &[
    "messages",
    "input",
    "prompt",
    "instructions",
    "model",
    "stream",
    "stream_options",
    "user",
    "safety_identifier",
    "metadata",
    "previous_response_id",
    "store",
    "tools",
    "tool_choice",
    "functions",
    "function_call",
    "parallel_tool_calls",
];

/// A signature of the generation parameters a request sets (`max_tokens`,
/// `temperature`, `stop`, `seed`, `response_format`, …: every field but its
/// content, model, stream options, tools and caller), 0 when it sets none.
/// Keys of one campaign, run by one script, share an unusual one.
pub fn params_signature(body: &Value) -> u64 {
    let Some(m) = body.as_object() else {
        return 0;
    };
    let mut fields: Vec<(&String, &Value)> = m
        .iter()
        .filter(|(k, _)| !NOT_PARAMS.contains(&k.as_str()))
        .collect();
    if fields.is_empty() {
        return 0;
    }
    fields.sort_by(|a, b| a.0.cmp(b.0));
    let text = fields
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join("\u{1}");
    xxhash_rust::xxh3::xxh3_64(text.as_bytes()).max(1)
}

/// Tokens of a text, estimated (four ASCII characters a token, as OpenAI's
/// guidance has it for English; a CJK character a token: [`units`]): for
/// answers whose usage was not reported.
pub fn estimated_tokens(text: &str) -> u64 {
    units(text).div_ceil(4)
}

/// A record's prompt and completion tokens: as reported, or, with no usage
/// reported (a stream the client closed before its usage chunk), the prompt
/// as counted before the call and the answer estimated from its text, so
/// cutting a stream short does not hide what was harvested.
pub fn tokens_of(r: &Record) -> (u64, u64) {
    if let Some(u) = &r.usage {
        return (u.prompt_tokens, u.completion_tokens);
    }
    let counted = r
        .detail
        .as_deref()
        .and_then(|d| serde_json::from_str::<Value>(d).ok())
        .and_then(|d| d.get("counted_prompt_tokens").and_then(Value::as_u64))
        .unwrap_or(0);
    (counted, estimated_tokens(&r.output))
}

/// Texts joined a line each, as `fill` hands them to its `push`.
fn joined(fill: impl FnOnce(&mut dyn FnMut(&str))) -> String {
    let mut out = String::new();
    fill(&mut |s: &str| {
        if !out.is_empty() {
            out.push('\n');
        }
        out.push_str(s);
    });
    out
}

/// A message's content, whole or in parts, handed to `push` as text.
fn content_text(content: Option<&Value>, push: &mut dyn FnMut(&str)) {
    match content {
        Some(Value::String(s)) => push(s),
        Some(Value::Array(parts)) => {
            for p in parts {
                if let Some(t) = p.get("text").and_then(Value::as_str) {
                    push(t);
                } else if let Some(m) = media_mark(p) {
                    push(&m);
                }
            }
        }
        _ => {}
    }
}

/// A word standing for an image, audio or file part of a message (what it
/// carries is not read): `image` and a hash of its URL or data, so that
/// one instruction per picture counts as that many instructions, and the
/// same picture sent again as one.
fn media_mark(part: &Value) -> Option<String> {
    let (kind, named) = media_named(part)?;
    Some(format!(
        "[{kind} {:016x}]",
        xxhash_rust::xxh3::xxh3_64(named.as_bytes())
    ))
}

/// An image, audio or file part's kind and what names its content (see
/// [`media_mark`]), or `None` for any other part.
fn media_named(part: &Value) -> Option<(&'static str, &str)> {
    let (kind, what) = match part.get("type").and_then(Value::as_str)? {
        "image_url" | "input_image" => ("image", part.get("image_url").unwrap_or(part)),
        "input_audio" => ("audio", part.get("input_audio").unwrap_or(part)),
        "file" | "input_file" => ("file", part.get("file").unwrap_or(part)),
        _ => return None,
    };
    // What names the content: the URL or data as sent, or the uploaded
    // file's id (not `detail`, `format` or a file name: the same picture
    // at another detail is the same picture).
    let named = match what {
        Value::String(s) => Some(s.as_str()),
        v => ["url", "data", "file_data", "file_id"]
            .iter()
            .find_map(|k| v.get(*k).and_then(Value::as_str))
            .or_else(|| part.get("file_id").and_then(Value::as_str)),
    }?;
    Some((kind, named))
}

/// A turn a request shows the model as having said: an assistant message
/// of a chat (its text, then each tool call's name and arguments, as the
/// ledger records an answer's output), or a run of the Responses API's
/// assistant message and `function_call` input items; with the tool
/// results that follow it. A turn the key's answers do not hold was
/// written by the client: an instruction put in the model's mouth, or in
/// the result of a call the model never made, is then part of what the
/// request asks.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Said {
    /// [`said_hash`] of the turn (0: it says nothing).
    pub hash: u64,
    /// A hash of the tool results that follow it (0: none).
    pub results: u64,
    /// Its text and its results', a line each (the first
    /// [`SAID_TEXT_MAX`] bytes).
    pub text: String,
    /// User messages before it.
    pub after_users: usize,
    /// No user message follows it: it is part of the request's own turn
    /// (an answer's opening to go on from, or the call whose results the
    /// request hands back), not of the history before it.
    pub latest: bool,
}

/// Hashes texts as one with whitespace left out, so that an answer sent
/// back with its spacing changed (trimmed, or its JSON arguments
/// re-spaced) is the same turn.
struct Folded {
    /// The texts without their ASCII whitespace (a client re-spaces with
    /// spaces, tabs and line ends), hashed at the end in one pass.
    bytes: Vec<u8>,
}

impl Folded {
    fn new() -> Self {
        Self { bytes: Vec::new() }
    }

    fn feed(&mut self, s: &str) {
        // Every byte written, the next one over it when it is whitespace:
        // no branch a byte, so a long history is read at memory speed.
        let start = self.bytes.len();
        self.bytes.resize(start + s.len(), 0);
        let out = &mut self.bytes[start..];
        let mut kept = 0;
        for &b in s.as_bytes() {
            if let Some(slot) = out.get_mut(kept) {
                *slot = b;
            }
            kept += usize::from(!b.is_ascii_whitespace());
        }
        self.bytes.truncate(start + kept);
    }

    fn any(&self) -> bool {
        !self.bytes.is_empty()
    }

    fn digest(&self) -> u64 {
        if self.any() {
            xxhash_rust::xxh3::xxh3_64(&self.bytes).max(1)
        } else {
            0
        }
    }
}

/// The hash of an answer's output text, or of a turn a request shows the
/// model as having said ([`Said::hash`]): whitespace left out; 0 for a
/// text with nothing else.
pub fn said_hash(text: &str) -> u64 {
    let mut f = Folded::new();
    f.feed(text);
    f.digest()
}

/// The key under which a record's answer hash travels in its `detail`
/// when its output does not ([`keep_answer_hash`]).
const ANSWER_HASH: &str = "answer_hash";

/// [`said_hash`] of a served record's answer: of its output, or, for a
/// record whose output was dropped on its way to the monitor, as
/// [`keep_answer_hash`] kept it; 0 for a record not served.
fn answer_hash(r: &Record, detail: &Value) -> u64 {
    if r.status != 200 {
        return 0;
    }
    if !r.output.is_empty() {
        return said_hash(&r.output);
    }
    detail.get(ANSWER_HASH).and_then(Value::as_u64).unwrap_or(0)
}

/// Keeps a record's answer hash ([`said_hash`] of its output) in its
/// `detail`, for a copy of the record whose output is about to be dropped
/// (the gateway's monitor queue holds records without their output): the
/// monitor then remembers the key's answers live as on replay. The
/// gateway writes `detail` as a JSON object; any other is left as it is.
pub fn keep_answer_hash(r: &mut Record) {
    if r.status != 200 {
        return;
    }
    let h = said_hash(&r.output);
    if h == 0 {
        return;
    }
    let field = format!("\"{ANSWER_HASH}\":{h}");
    match r.detail.as_deref().map(str::trim) {
        None => r.detail = Some(format!("{{{field}}}")),
        Some(d) if d.starts_with('{') && d.ends_with('}') => {
            let inner = d[1..d.len() - 1].trim();
            let sep = if inner.is_empty() { "" } else { "," };
            r.detail = Some(format!("{{{inner}{sep}{field}}}"));
        }
        Some(_) => {}
    }
}

/// A turn being read: its hash and text, and its results'.
struct Turn {
    said: Folded,
    /// What the ledger does not record of an answer (a refusal, a hosted
    /// tool's call): the turn's hash only when it says nothing else.
    extra: Folded,
    results: Folded,
    text: String,
    after_users: usize,
}

impl Turn {
    fn new(after_users: usize) -> Self {
        Self {
            said: Folded::new(),
            extra: Folded::new(),
            results: Folded::new(),
            text: String::new(),
            after_users,
        }
    }

    fn say(&mut self, s: &str) {
        self.said.feed(s);
        push_line(&mut self.text, s);
    }

    /// A message's content: its text said, its refusals read aside.
    fn content(&mut self, content: Option<&Value>) {
        content_text(content, &mut |s| self.say(s));
        for part in content.and_then(Value::as_array).into_iter().flatten() {
            texts_of(part.get("refusal"), &mut |s| self.say_aside(s));
        }
    }

    /// The turn a Responses item goes on: the open one, or a new one when
    /// none is open or results came after it (a call after results).
    fn going_on<'a>(turn: &'a mut Option<Turn>, out: &mut Vec<Said>, users: usize) -> &'a mut Turn {
        if turn.as_ref().is_some_and(|t| t.results.any()) {
            out.extend(turn.take().map(Turn::done));
        }
        turn.get_or_insert_with(|| Turn::new(users))
    }

    fn say_aside(&mut self, s: &str) {
        self.extra.feed(s);
        push_line(&mut self.text, s);
    }

    fn result(&mut self, s: &str) {
        self.results.feed(s);
        push_line(&mut self.text, s);
    }

    fn done(self) -> Said {
        let hash = match self.said.digest() {
            0 => self.extra.digest(),
            h => h,
        };
        Said {
            hash,
            results: self.results.digest(),
            text: self.text,
            after_users: self.after_users,
            latest: false,
        }
    }
}

/// Most of a turn's text kept for reading ([`Said::text`]; its hash is
/// over all of it): what the known sets read of a text.
const SAID_TEXT_MAX: usize = crate::known::MAX_BYTES;

/// Adds `s` to `out` as a line of its own, `out` kept to its first
/// [`SAID_TEXT_MAX`] bytes.
pub(crate) fn push_line(out: &mut String, s: &str) {
    if out.len() >= SAID_TEXT_MAX {
        return;
    }
    if !out.is_empty() {
        out.push('\n');
    }
    let room = SAID_TEXT_MAX.saturating_sub(out.len());
    out.push_str(crate::features::head_of(s, room));
}

/// The turns a request body shows the model as having said ([`Said`]), in
/// order: the assistant messages of a chat, each with the tool or function
/// results after it; the Responses API's runs of assistant message and
/// `function_call` items, each with the `function_call_output` items
/// after it.
pub fn said_turns(body: &Value) -> Vec<Said> {
    let mut out = Vec::new();
    let mut users = 0usize;
    let mut turn: Option<Turn> = None;
    if let Some(msgs) = body.get("messages").and_then(Value::as_array) {
        for m in msgs {
            match role(m) {
                Some("assistant") => {
                    out.extend(turn.take().map(Turn::done));
                    let mut t = Turn::new(users);
                    t.content(m.get("content"));
                    // Its calls as the ledger records them (a function's
                    // name and arguments, a custom tool's name and input);
                    // a refusal and the deprecated `function_call`, which
                    // the ledger does not record, are read aside, so that
                    // an instruction there is read too.
                    for call in m
                        .get("tool_calls")
                        .and_then(Value::as_array)
                        .into_iter()
                        .flatten()
                    {
                        match (call.get("function"), call.get("custom")) {
                            (Some(f), _) => call_text(f, "arguments", &mut |s| t.say(s)),
                            (None, Some(c)) => call_text(c, "input", &mut |s| t.say(s)),
                            (None, None) => {}
                        }
                    }
                    if let Some(f) = m.get("function_call") {
                        call_text(f, "arguments", &mut |s| t.say_aside(s));
                    }
                    texts_of(m.get("refusal"), &mut |s| t.say_aside(s));
                    turn = Some(t);
                }
                Some("tool" | "function") => {
                    if let Some(t) = &mut turn {
                        content_text(m.get("content"), &mut |s| t.result(s));
                    }
                }
                r => {
                    out.extend(turn.take().map(Turn::done));
                    users += usize::from(r == Some("user"));
                }
            }
        }
    } else if let Some(items) = body.get("input").and_then(Value::as_array) {
        for i in items {
            let kind = i.get("type").and_then(Value::as_str);
            let call = kind.is_some_and(|k| k.ends_with("_call"));
            let output = kind.is_some_and(|k| k.ends_with("_call_output"));
            match (kind, role(i)) {
                _ if call => {
                    let t = Turn::going_on(&mut turn, &mut out, users);
                    match kind {
                        Some("function_call") => call_text(i, "arguments", &mut |s| t.say(s)),
                        Some("custom_tool_call") => call_text(i, "input", &mut |s| t.say(s)),
                        // A hosted tool's call (MCP, search, shell, ...),
                        // which the ledger does not record: read aside.
                        _ => texts_of(Some(i), &mut |s| t.say_aside(s)),
                    }
                }
                (None | Some("message"), Some("assistant")) => {
                    Turn::going_on(&mut turn, &mut out, users).content(i.get("content"));
                }
                // The model's reasoning between its items: part of its turn.
                (Some("reasoning"), _) => {}
                _ if output => {
                    if let Some(t) = &mut turn {
                        texts_of(i.get("output"), &mut |s| t.result(s));
                    }
                }
                (_, r) => {
                    out.extend(turn.take().map(Turn::done));
                    users += usize::from(r == Some("user"));
                }
            }
        }
    }
    out.extend(turn.take().map(Turn::done));
    for t in &mut out {
        t.latest = t.after_users == users;
    }
    out
}

/// For simulations and tests, where answers have no text: what the model
/// answered each of `requests` (a key's id and the body it sent), as its
/// client sends it back ([`said_hash`]; 0 when no later request shows it).
/// A client going on from a real answer sends it back: the turn that a
/// later request of the same key shows the model as having said right
/// after this request's messages, or, for a client that trims its history
/// or runs several conversations at once, right after this request's last
/// message in one of the key's next 64 requests. A turn that follows
/// messages never sent was written.
pub fn replayed_answers(requests: &[(u64, &Value)]) -> Vec<u64> {
    /// A key's later requests looked at for a request's answer.
    const REPLAY_LOOK_AHEAD: usize = 64;
    let prefix = |key: u64, msgs: &[Value]| {
        let text = serde_json::to_string(msgs).unwrap_or_default();
        xxhash_rust::xxh3::xxh3_64_with_seed(text.as_bytes(), key)
    };
    let turn_at = |msgs: &[Value], p: usize| {
        let m = msgs.get(p).filter(|m| role(m) == Some("assistant"))?;
        let one = serde_json::json!({ "messages": [m] });
        said_turns(&one).first().map(|t| t.hash)
    };
    // Per prefix, the turns shown after it, in order, each once: requests
    // that sent the same messages (the same ticket twice) were answered
    // in turn.
    let mut said: std::collections::HashMap<u64, Vec<u64>> = std::collections::HashMap::new();
    for (key, body) in requests {
        let msgs = messages(body);
        for p in 0..msgs.len() {
            if let Some(h) = turn_at(msgs, p) {
                let shown = said.entry(prefix(*key, &msgs[..p])).or_default();
                if !shown.contains(&h) {
                    shown.push(h);
                }
            }
        }
    }
    let mut asked: std::collections::HashMap<u64, usize> = std::collections::HashMap::new();
    // Each key's requests in order: a request's answer is looked for in
    // the key's next ones (a client running several conversations at once
    // interleaves them).
    let mut by_key: std::collections::HashMap<u64, Vec<usize>> = std::collections::HashMap::new();
    let mut place = vec![0; requests.len()];
    for (i, (key, _)) in requests.iter().enumerate() {
        let list = by_key.entry(*key).or_default();
        place[i] = list.len();
        list.push(i);
    }
    requests
        .iter()
        .enumerate()
        .map(|(i, (key, body))| {
            let msgs = messages(body);
            let own = prefix(*key, msgs);
            if let Some(shown) = said.get(&own) {
                let n = asked.entry(own).or_insert(0);
                *n += 1;
                return shown[(*n - 1).min(shown.len() - 1)];
            }
            let (Some(end), Some(list)) = (msgs.last(), by_key.get(key)) else {
                return 0;
            };
            list.iter()
                .skip(place[i] + 1)
                .take(REPLAY_LOOK_AHEAD)
                .find_map(|&j| {
                    let later = messages(requests[j].1);
                    later
                        .iter()
                        .rposition(|m| m == end)
                        .and_then(|p| turn_at(later, p + 1))
                })
                .unwrap_or(0)
        })
        .collect()
}

/// A call's name, then its arguments (`args`: the field that holds them),
/// as an answer's output holds them.
fn call_text(f: &Value, args: &str, push: &mut dyn FnMut(&str)) {
    for k in ["name", args] {
        if let Some(s) = f.get(k).and_then(Value::as_str) {
            push(s);
        }
    }
}

/// Every string inside `v` but ids, kinds and statuses, in order.
fn texts_of(v: Option<&Value>, push: &mut dyn FnMut(&str)) {
    match v {
        Some(Value::String(s)) => push(s),
        Some(Value::Array(a)) => a.iter().for_each(|x| texts_of(Some(x), push)),
        Some(Value::Object(o)) => {
            for (k, x) in o {
                if !matches!(k.as_str(), "id" | "call_id" | "type" | "status" | "role") {
                    texts_of(Some(x), push);
                }
            }
        }
        _ => {}
    }
}

/// The user messages of the request a chat follow-up goes on from (those
/// of [`Observation::earlier`]); 0 for a request that goes on from
/// nothing.
fn earlier_users(body: &Value) -> usize {
    let msgs = messages(body);
    if !has_earlier_turns(msgs) {
        return 0;
    }
    let users = msgs.iter().filter(|m| role(m) == Some("user")).count();
    // A turn after a tool's result goes on from the request that started
    // the loop: every user message is earlier. A new user message is the
    // newest turn: the ones before it are.
    if msgs.last().and_then(role) == Some("user") {
        users.saturating_sub(1)
    } else {
        users
    }
}

/// A message's role.
fn role(m: &Value) -> Option<&str> {
    m.get("role").and_then(Value::as_str)
}

/// A chat's messages.
fn messages(body: &Value) -> &[Value] {
    body.get("messages")
        .and_then(Value::as_array)
        .map_or(&[], Vec::as_slice)
}

/// Whether messages go on from earlier turns: an assistant, tool or
/// function message among them.
fn has_earlier_turns(msgs: &[Value]) -> bool {
    msgs.iter()
        .any(|m| matches!(role(m), Some("assistant" | "tool" | "function")))
}

/// The instructions of a request body around the user's words: system and
/// developer messages, and the Responses API's `instructions`.
pub fn system_text(body: &Value) -> String {
    joined(|push| {
        if let Some(s) = body.get("instructions").and_then(Value::as_str) {
            push(s);
        }
        // Chat messages, and the Responses API's input items, of role system
        // or developer; content whole or in parts.
        for field in ["messages", "input"] {
            for m in body
                .get(field)
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                if matches!(role(m), Some("system" | "developer")) {
                    content_text(m.get("content"), push);
                }
            }
        }
    })
}

/// The words of the tools, functions and output schema a request body
/// defines, and the name of the function it forces (see
/// [`Observation::definitions`]): every string in them and
/// the names of their fields, keys in sorted order (the same definitions
/// sent with their keys in another order read the same), but not the
/// schema's keywords' values (`type`, `required`, `$ref`, ...).
pub fn definitions_text(body: &Value) -> String {
    joined(|push| {
        for v in ["tools", "functions", "response_format"]
            .iter()
            .filter_map(|f| body.get(*f))
            .chain(body.get("text").and_then(|t| t.get("format")))
        {
            definition_words(v, push);
        }
        // The function a request forces names which of its definitions
        // is asked (a catalogue of functions, one instruction each).
        if let Some(Value::Object(choice)) = body.get("tool_choice") {
            let named = choice
                .get("function")
                .and_then(|f| f.get("name"))
                .or_else(|| choice.get("name"));
            if let Some(name) = named.and_then(Value::as_str) {
                push(name);
            }
        }
    })
}

fn definition_words(v: &Value, push: &mut dyn FnMut(&str)) {
    match v {
        Value::String(s) => push(s),
        Value::Array(a) => a.iter().for_each(|x| definition_words(x, push)),
        Value::Object(o) => {
            let mut keys: Vec<&String> = o.keys().collect();
            keys.sort_unstable();
            for k in keys {
                let v = &o[k];
                match k.as_str() {
                    "type" | "required" | "strict" | "$schema" | "$ref" => {}
                    "properties" | "patternProperties" | "$defs" | "definitions" => {
                        let mut names: Vec<&String> =
                            v.as_object().into_iter().flat_map(|m| m.keys()).collect();
                        names.sort_unstable();
                        for name in names {
                            push(name);
                            definition_words(&v[name.as_str()], push);
                        }
                    }
                    _ => definition_words(v, push),
                }
            }
        }
        _ => {}
    }
}

/// The user's words before the last user message of a chat that goes on
/// from earlier turns (see [`Observation::earlier`]).
pub fn earlier_text(body: &Value) -> Option<String> {
    let msgs = body.get("messages")?.as_array()?;
    if !has_earlier_turns(msgs) {
        return None;
    }
    let earlier = earlier_users(body);
    Some(joined(|push| {
        for m in msgs
            .iter()
            .filter(|m| role(m) == Some("user"))
            .take(earlier)
        {
            content_text(m.get("content"), push);
        }
    }))
}

/// Whether a request hands a tool's result back: its last chat message is
/// a `tool` or `function` message, or its last Responses input item a
/// `function_call_output`.
pub fn is_tool_step(body: &Value) -> bool {
    if let Some(last) = messages(body).last() {
        return matches!(role(last), Some("tool" | "function"));
    }
    body.get("input")
        .and_then(Value::as_array)
        .and_then(|items| items.last())
        .and_then(|i| i.get("type"))
        .and_then(Value::as_str)
        == Some("function_call_output")
}

/// Whether a request goes on from earlier turns.
pub fn is_follow_up(body: &Value) -> bool {
    body.get("previous_response_id")
        .is_some_and(|v| !v.is_null())
        || has_earlier_turns(messages(body))
}

/// The user's words in a request body: the user messages of a chat, the
/// prompt of a completion, the input of an embedding or of the Responses
/// API (a string, or the text of its input items).
pub fn prompt_text(body: &Value) -> String {
    joined(|push| {
        if body.get("messages").and_then(Value::as_array).is_some() {
            for m in messages(body).iter().filter(|m| role(m) == Some("user")) {
                content_text(m.get("content"), push);
            }
            return;
        }
        for field in ["prompt", "input"] {
            match body.get(field) {
                Some(Value::String(s)) => push(s),
                Some(Value::Array(items)) => {
                    for i in items {
                        match i {
                            Value::String(s) => push(s),
                            // A Responses API input item: a user message's
                            // text, whole or in parts.
                            Value::Object(_) if role(i) == Some("user") => {
                                content_text(i.get("content"), push);
                            }
                            _ => {}
                        }
                    }
                }
                _ => {}
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proviso_types::{KeyId, Usage};

    #[test]
    fn reads_prompt_params_and_detail() {
        let mut r = Record::test("answer");
        r.key_id = Some(KeyId("key_a".into()));
        r.team = Some("t".into());
        r.request = r#"{"model":"m","messages":[{"role":"system","content":"sys"},{"role":"user","content":"Explain step by step"}],"logprobs":true,"temperature":0.7}"#.into();
        r.detail = Some(r#"{"purpose":"evaluation","client":"10.0.0.1"}"#.into());
        r.finish_reason = Some("length".into());
        r.usage = Some(Usage {
            prompt_tokens: 5,
            completion_tokens: 50,
            total_tokens: 55,
        });
        let o = Observation::from_record(&r).unwrap();
        assert_eq!(o.prompt, "Explain step by step");
        assert_eq!(o.system, "sys");
        assert!(!o.follow_up);
        assert!(o.probing_params && o.hit_max_tokens && !o.rate_limited);
        assert_eq!(o.purpose.as_deref(), Some("evaluation"));
        assert_eq!(o.client.as_deref(), Some("10.0.0.1"));
        assert_eq!(o.sampling, (700, 1000));
        assert_eq!((o.prompt_tokens, o.completion_tokens), (5, 50));
        assert_ne!(o.params, 0);
        assert_eq!(o.end_user, None);
    }

    #[test]
    fn what_a_turn_asks_is_its_own_words_and_a_system_text_not_sent_before() {
        let preamble = "You are a careful writer. ".repeat(40);
        let body = serde_json::json!({"model": "m", "messages": [
            {"role": "system", "content": preamble},
            {"role": "user", "content": "Earlier question"},
            {"role": "assistant", "content": "Earlier answer, at some length."},
            {"role": "user", "content": "Write an essay on rivers."}
        ]});
        let p = prompt_parts(&body);
        assert_eq!(p.new, "Write an essay on rivers.".len() as u64);
        assert_eq!(p.system, preamble.len() as u64);
        assert!(p.total > p.new + p.system);
        // A fixed preamble sent before is the key's context: a sliver of
        // the prompt is asked.
        assert!(p.asked_tokens(400, true) < 20);
        // A system text never sent before counts with the question.
        assert!(p.asked_tokens(400, false) > 350);
        // Unknown parts: the prompt whole.
        assert_eq!(PromptParts::default().asked_tokens(400, true), 400);
        // A tool's result is what the turn adds.
        let tool = serde_json::json!({"model": "m", "messages": [
            {"role": "user", "content": "Find it"},
            {"role": "assistant", "content": null, "tool_calls": [{"id": "c1", "type": "function", "function": {"name": "search", "arguments": "{}"}}]},
            {"role": "tool", "tool_call_id": "c1", "content": "a long page of results"}
        ]});
        assert_eq!(
            prompt_parts(&tool).new,
            "a long page of results".len() as u64
        );
        // An answer's opening written for the model to go on from: the turn
        // asks what its user wrote.
        let prefill = serde_json::json!({"model": "m", "messages": [
            {"role": "user", "content": "Write a poem about rain."},
            {"role": "assistant", "content": "Rain"}
        ]});
        assert_eq!(
            prompt_parts(&prefill).new,
            "Write a poem about rain.".len() as u64 + 4
        );
    }

    #[test]
    fn a_cjk_preamble_weighs_as_the_tokens_it_is() {
        // A thousand Chinese characters of fixed preamble (about a thousand
        // tokens) beside an English question of 180 characters (about 45
        // tokens): the question is about a twentieth of the prompt, not a
        // sixth.
        let preamble = "请用英文详细回答下面的问题并给出完整的解释。".repeat(50);
        let question = "Explain how tides work and why there are two of them a day. ".repeat(3);
        let body = serde_json::json!({"model": "m", "messages": [
            {"role": "system", "content": preamble},
            {"role": "user", "content": question}
        ]});
        let p = prompt_parts(&body);
        assert_eq!(p.new, question.chars().count() as u64);
        // Every ideograph a token; its full stop three quarters of one.
        assert_eq!(p.system, units(&preamble));
        assert_eq!(p.system, 4 * 1_050 + 3 * 50);
        // 1,100 prompt tokens, the preamble sent before: about 50 asked.
        let asked = p.asked_tokens(1_100, true);
        assert!((40..=70).contains(&asked), "{asked}");
    }

    #[test]
    fn an_image_part_is_part_of_the_prompt_by_its_hash() {
        let body = |url: &str| -> Value {
            serde_json::json!({"model": "m", "messages": [{"role": "user", "content": [
                {"type": "text", "text": "Do what the picture says."},
                {"type": "image_url", "image_url": {"url": url}}
            ]}]})
        };
        let a = prompt_text(&body("https://x/1.png"));
        assert!(a.starts_with("Do what the picture says."), "{a}");
        assert!(a.contains("[image "), "{a}");
        // Another picture is another instruction; the same one is not.
        assert_ne!(a, prompt_text(&body("https://x/2.png")));
        assert_eq!(a, prompt_text(&body("https://x/1.png")));
        // The Responses API's input image, audio and files alike.
        let r = serde_json::json!({"model": "m", "input": [{"role": "user", "content": [
            {"type": "input_image", "image_url": "data:image/png;base64,AAAA"},
            {"type": "input_audio", "input_audio": {"data": "UklGRg==", "format": "wav"}},
            {"type": "input_file", "file_id": "file-1"}
        ]}]});
        let t = prompt_text(&r);
        assert!(
            t.contains("[image ") && t.contains("[audio ") && t.contains("[file "),
            "{t}"
        );
        // An uploaded picture is named by its file id; the same picture at
        // another detail is the same picture.
        let by_id = serde_json::json!({"model": "m", "input": [{"role": "user", "content": [
            {"type": "input_image", "file_id": "file-9", "detail": "low"}
        ]}]});
        assert!(prompt_text(&by_id).contains("[image "));
        let detail = |d: &str| {
            serde_json::json!({"model": "m", "messages": [{"role": "user", "content": [
                {"type": "image_url", "image_url": {"url": "https://x/1.png", "detail": d}}
            ]}]})
        };
        assert_eq!(prompt_text(&detail("low")), prompt_text(&detail("high")));
        // A picture's base64 is not its weight in the prompt.
        let big = serde_json::json!({"model": "m", "messages": [
            {"role": "system", "content": "s".repeat(2_000)},
            {"role": "user", "content": [{"type": "text", "text": "Do it."},
                {"type": "image_url", "image_url": {"url": format!("data:image/png;base64,{}", "A".repeat(100_000))}}]}
        ]});
        let p = prompt_parts(&big);
        assert!(p.new < 400 && p.total < 3_000, "{p:?}");
        // A part of a kind it does not know adds nothing.
        let u = serde_json::json!({"model": "m", "messages": [{"role": "user", "content": [
            {"type": "text", "text": "hi"}, {"type": "refusal", "refusal": "no"}
        ]}]});
        assert_eq!(prompt_text(&u), "hi");
    }

    #[test]
    fn params_signature_ignores_content_and_order() {
        let a: Value = serde_json::from_str(
            r#"{"model":"a","messages":[{"role":"user","content":"x"}],"max_tokens":900,"temperature":0.3,"user":"u1"}"#,
        )
        .unwrap();
        let b: Value = serde_json::from_str(
            r#"{"temperature":0.3,"max_tokens":900,"model":"b","messages":[{"role":"user","content":"y"}],"user":"u2"}"#,
        )
        .unwrap();
        let c: Value = serde_json::from_str(
            r#"{"model":"b","messages":[],"max_tokens":901,"temperature":0.3}"#,
        )
        .unwrap();
        let none: Value =
            serde_json::from_str(r#"{"model":"b","messages":[],"stream":true}"#).unwrap();
        assert_eq!(params_signature(&a), params_signature(&b));
        assert_ne!(params_signature(&a), params_signature(&c));
        assert_eq!(params_signature(&none), 0);
        assert_eq!(end_user(&a).as_deref(), Some("u1"));
        let s: Value = serde_json::from_str(r#"{"safety_identifier":"h-7"}"#).unwrap();
        assert_eq!(end_user(&s).as_deref(), Some("h-7"));
    }

    #[test]
    fn definitions_are_read_in_the_same_order_whatever_their_keys_order() {
        let body = serde_json::json!({
            "messages": [{"role": "user", "content": "go"}],
            "tools": [{"type": "function", "function": {"name": "save", "description": "Save it.",
                "parameters": {"type": "object", "required": ["body"], "properties": {
                    "Explain photosynthesis": {"type": "string", "description": "at length"},
                    "another": {"type": "object", "additionalProperties": {"description": "free text"}}}}}}],
            "response_format": {"type": "json_schema", "json_schema": {"name": "card", "schema": {
                "type": "object", "properties": {"x": {"type": "string", "examples": ["like this"]}}}}}
        });
        assert_eq!(
            definitions_text(&body),
            "Save it.\nsave\nExplain photosynthesis\nat length\nanother\nfree text\ncard\nx\nlike this"
        );
        // The same with its keys in another order.
        let reordered: Value = serde_json::from_str(
            r#"{"response_format": {"json_schema": {"schema": {"properties": {"x": {"examples": ["like this"], "type": "string"}}, "type": "object"}, "name": "card"}, "type": "json_schema"},
                "tools": [{"function": {"parameters": {"properties": {"another": {"additionalProperties": {"description": "free text"}, "type": "object"},
                    "Explain photosynthesis": {"description": "at length", "type": "string"}}, "required": ["body"], "type": "object"},
                    "description": "Save it.", "name": "save"}, "type": "function"}],
                "messages": [{"role": "user", "content": "go"}]}"#,
        )
        .unwrap();
        assert_eq!(definitions_text(&reordered), definitions_text(&body));
        // The system text and the user's words are as before.
        assert_eq!(
            (system_text(&body), prompt_text(&body)),
            (String::new(), "go".into())
        );
        // The Responses API: tools and `text.format`.
        let resp = serde_json::json!({
            "input": "go",
            "tools": [{"type": "function", "name": "f", "description": "Find it."}],
            "text": {"format": {"type": "json_schema", "name": "out", "schema": {"type": "object"}}}
        });
        assert_eq!(definitions_text(&resp), "Find it.\nf\nout");
        assert_eq!(definitions_text(&serde_json::json!({"messages": []})), "");
        // The function forced is part of what is asked.
        let mut forced = body.clone();
        forced["tool_choice"] =
            serde_json::json!({"type": "function", "function": {"name": "save"}});
        assert_eq!(
            definitions_text(&forced),
            format!("{}\nsave", definitions_text(&body))
        );
        forced["tool_choice"] = serde_json::json!("auto");
        assert_eq!(definitions_text(&forced), definitions_text(&body));
    }

    #[test]
    fn said_turns_are_read_as_the_ledger_records_answers() {
        // A chat: an answer, a tool call with its result, a new question.
        let chat = serde_json::json!({"messages": [
            {"role": "system", "content": "sys"},
            {"role": "user", "content": "Find the weather"},
            {"role": "assistant", "content": "Let me look.", "tool_calls": [{"id": "c1", "type": "function",
                "function": {"name": "get_weather", "arguments": "{\"city\": \"Oslo\"}"}}]},
            {"role": "tool", "tool_call_id": "c1", "content": "rain"},
            {"role": "assistant", "content": [{"type": "text", "text": "  It rains in Oslo.\n"}]},
            {"role": "user", "content": "And tomorrow?"}]});
        let turns = said_turns(&chat);
        assert_eq!(turns.len(), 2);
        // The output the gateway records for the answer that made the call:
        // its text, then each call's name and arguments (spacing aside).
        assert_eq!(
            turns[0].hash,
            said_hash("Let me look.get_weather{\"city\":\"Oslo\"}")
        );
        assert_eq!(turns[0].results, said_hash("rain"));
        assert_eq!(turns[0].after_users, 1);
        assert!(!turns[0].latest && !turns[1].latest);
        assert_eq!(turns[1].hash, said_hash("It rains in Oslo."));
        assert_eq!((turns[1].results, turns[1].after_users), (0, 1));
        assert_eq!(earlier_users(&chat), 1);
        // A prefix to go on from: after the last user message.
        let prefill = serde_json::json!({"messages": [{"role": "user", "content": "Continue."},
            {"role": "assistant", "content": "# A heading"}]});
        let t = said_turns(&prefill);
        assert_eq!(
            (t.len(), t[0].after_users, earlier_users(&prefill)),
            (1, 1, 1)
        );
        assert_eq!(t[0].text, "# A heading");
        // The Responses API: a run of assistant items is one turn, its
        // outputs its results; a call after results starts another.
        let resp = serde_json::json!({"input": [
            {"role": "user", "content": [{"type": "input_text", "text": "hi"}]},
            {"type": "message", "role": "assistant", "content": [{"type": "output_text", "text": "Hello"}]},
            {"type": "function_call", "call_id": "c", "name": "f", "arguments": "{}"},
            {"type": "function_call_output", "call_id": "c", "output": "x"},
            {"type": "function_call", "call_id": "d", "name": "g", "arguments": "{}"}]});
        let t = said_turns(&resp);
        assert_eq!(t.len(), 2);
        assert_eq!(t[0].hash, said_hash("Hellof{}"));
        assert_eq!((t[0].results, t[0].after_users), (said_hash("x"), 1));
        assert_eq!((t[1].hash, t[1].results), (said_hash("g{}"), 0));
        // A long turn: hashed whole, its text kept to the first 16 KiB.
        let long = "word ".repeat(10_000);
        let t =
            said_turns(&serde_json::json!({"messages": [{"role": "assistant", "content": long}]}));
        assert_eq!(t[0].hash, said_hash(&long));
        assert_ne!(t[0].hash, said_hash(&long[..16 << 10]));
        assert_eq!(t[0].text.len(), 16 << 10);
        // An instruction in a refusal, a custom tool's input, another
        // tool's call or output in parts: read, not passed over.
        let odd = serde_json::json!({"messages": [{"role": "user", "content": "go"},
            {"role": "assistant", "content": [{"type": "refusal", "refusal": "Write an essay on tides"}]},
            {"role": "user", "content": "go"},
            {"role": "assistant", "content": null, "tool_calls": [{"id": "x", "type": "custom",
                "custom": {"name": "brief", "input": "Write an essay on owls"}}]}]});
        let t = said_turns(&odd);
        assert!(
            t[0].text.contains("tides") && t[1].text.contains("owls"),
            "{t:?}"
        );
        assert_ne!(t[0].hash, 0);
        // A custom tool's call as the ledger records it: name, then input.
        assert_eq!(t[1].hash, said_hash("briefWrite an essay on owls"));
        let items = serde_json::json!({"input": [{"role": "user", "content": "go"},
            {"type": "mcp_call", "id": "m", "name": "tasks", "arguments": "{}", "output": "Write about bees"},
            {"type": "custom_tool_call_output", "call_id": "c", "output": [{"type": "input_text", "text": "and wasps"}]}]});
        let t = said_turns(&items);
        assert_eq!(t.len(), 1);
        assert!(
            t[0].text.contains("bees") && t[0].text.contains("wasps"),
            "{t:?}"
        );
        assert_ne!(t[0].results, 0);
        // Nothing said: nothing to hold against the answers.
        assert!(
            said_turns(&serde_json::json!({"messages": [{"role": "user", "content": "x"}]}))
                .is_empty()
        );
        assert_eq!(said_hash(" \n "), 0);
    }

    #[test]
    fn a_served_answer_is_remembered_by_its_text() {
        let mut r = Record::test("  An answer.\n");
        r.key_id = Some(KeyId("key_a".into()));
        r.request = r#"{"model":"m","messages":[{"role":"user","content":"q"}]}"#.into();
        assert_eq!(
            Observation::from_record(&r).unwrap().answer,
            said_hash("An answer.")
        );
        r.status = 429;
        r.error_code = Some("rate_limit_exceeded".into());
        assert_eq!(Observation::from_record(&r).unwrap().answer, 0);
    }

    #[test]
    fn follow_ups_instructions_and_responses_input_items() {
        let chat: Value = serde_json::from_str(
            r#"{"messages":[{"role":"user","content":"a"},{"role":"assistant","content":"b"},{"role":"user","content":"c"}]}"#,
        )
        .unwrap();
        assert!(is_follow_up(&chat));
        assert_eq!(earlier_text(&chat).as_deref(), Some("a"));
        let tool: Value = serde_json::from_str(
            r#"{"messages":[{"role":"user","content":"book a room"},{"role":"assistant","content":null,"tool_calls":[]},{"role":"tool","content":"ok"}]}"#,
        )
        .unwrap();
        assert_eq!(earlier_text(&tool).as_deref(), Some("book a room"));
        assert!(is_tool_step(&tool) && !is_tool_step(&chat));
        let resp: Value = serde_json::from_str(
            r#"{"instructions":"Be brief.","previous_response_id":"resp_1","input":[{"role":"user","content":[{"type":"input_text","text":"hello"}]},{"type":"function_call_output","output":"x"}]}"#,
        )
        .unwrap();
        assert!(is_follow_up(&resp));
        assert_eq!(earlier_text(&resp), None);
        assert_eq!(system_text(&resp), "Be brief.");
        assert!(is_tool_step(&resp));
        let parts: Value = serde_json::from_str(
            r#"{"messages":[{"role":"system","content":[{"type":"text","text":"Do this task."}]},{"role":"user","content":"go"}],"input":[{"role":"developer","content":"and this"}]}"#,
        )
        .unwrap();
        assert_eq!(system_text(&parts), "Do this task.\nand this");
        assert_eq!(prompt_text(&resp), "hello");
        let single: Value = serde_json::from_str(r#"{"input":"just this"}"#).unwrap();
        assert!(!is_follow_up(&single));
        assert_eq!(prompt_text(&single), "just this");
    }

    #[test]
    fn events_and_keyless_records_are_not_observed() {
        let r = Record::test("x");
        assert!(Observation::from_record(&r).is_none());
        let mut e = Record::event(
            proviso_types::RecordId::new(),
            "key.suspended",
            None,
            None,
            "{}".into(),
        );
        e.key_id = Some(KeyId("key_a".into()));
        assert!(Observation::from_record(&e).is_none());
        let mut refused = Record::test("");
        refused.key_id = Some(KeyId("key_a".into()));
        refused.status = 403;
        refused.error_code = Some("key_suspended".into());
        assert!(Observation::from_record(&refused).is_none());
    }

    #[test]
    fn an_answer_without_usage_is_counted_from_its_text() {
        let mut r = Record::test(&"word ".repeat(200));
        r.key_id = Some(KeyId("key_a".into()));
        r.usage = None;
        let o = Observation::from_record(&r).unwrap();
        assert_eq!(o.completion_tokens, 250);
        assert_eq!(estimated_tokens(""), 0);
        // A Chinese answer: a token a character.
        assert_eq!(estimated_tokens("今天天气很好"), 6);
    }

    #[test]
    fn malformed_request_gives_an_empty_prompt() {
        let mut r = Record::test("x");
        r.key_id = Some(KeyId("key_a".into()));
        r.request = "not json".into();
        r.status = 429;
        r.error_code = Some("rate_limit_exceeded".into());
        let o = Observation::from_record(&r).unwrap();
        assert!(o.prompt.is_empty() && o.rate_limited);
    }
}
