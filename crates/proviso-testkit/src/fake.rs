//! A deterministic OpenAI-compatible server with fault injection.
//!
//! Answers are drawn from a corpus (a JSON array of objects with `output`,
//! like `alpaca_eval` files, or JSON lines with `output` or `text`), chosen by
//! an xxh3 hash of the prompt, so the same prompt always gets the same
//! answer. A prompt containing `ECHO:` is answered with the text after the last one.
//!
//! Faults are asked for in the request body (which a gateway passes through
//! unchanged), field `fake_fault`:
//!
//! | value | effect |
//! | --- | --- |
//! | `status:CODE` | answer `CODE` with an OpenAI error body |
//! | `status_plain:CODE` | answer `CODE` with a non-JSON body |
//! | `stall_ms:MS` | wait `MS` before the first byte |
//! | `disconnect_after:N` | stream `N` content chunks, then drop the connection |
//! | `stall_after:N:MS` | stream `N` chunks, then stall `MS` |
//! | `garbage` | answer 200 with a body that is not JSON |
//! | `chunk_bytes:N` | stream the answer in pieces of N bytes |
//!
//! A body's `fake_answer_tokens: N` cuts the answer to its first N pieces
//! (words), ending normally: a simulation's short answers.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::body::{Body, Bytes};
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::{Value, json};

/// How the fake behaves.
#[derive(Clone, Debug)]
pub struct FakeConfig {
    /// Delay before the first byte of every answer.
    pub latency: Duration,
    /// Streaming speed; 0 streams as fast as possible.
    pub tokens_per_s: f64,
    /// Answers to draw from.
    pub corpus: Vec<String>,
    /// If set, requests must carry this key (`Authorization: Bearer` or `api-key`).
    pub require_key: Option<String>,
    /// Models listed by `/v1/models`.
    pub models: Vec<String>,
    /// How long a batch runs before it completes (asked after).
    pub batch_delay: Duration,
}

impl Default for FakeConfig {
    fn default() -> Self {
        Self {
            latency: Duration::ZERO,
            tokens_per_s: 0.0,
            corpus: builtin_corpus(),
            require_key: None,
            models: vec!["gpt-4o-mini".into(), "text-embedding-3-small".into()],
            batch_delay: Duration::from_millis(300),
        }
    }
}

fn builtin_corpus() -> Vec<String> {
    [
        "The capital of France is Paris. It has been the country's capital since the 10th century.",
        "Here are three tips for staying healthy: eat a balanced diet, exercise regularly, and get enough sleep.",
        "A haiku:\nAn old silent pond\nA frog jumps into the pond\nSplash! Silence again.",
        "Photosynthesis is the process by which green plants use sunlight to synthesize food from carbon dioxide and water.",
        "To reverse a list in Python, use `my_list[::-1]` or `my_list.reverse()` to do it in place.",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect()
}

/// Reads a corpus: a JSON array of strings or of objects with `output`
/// (or `text`), or JSON lines of the same.
pub fn load_corpus(path: &std::path::Path) -> anyhow::Result<Vec<String>> {
    let text =
        std::fs::read_to_string(path).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
    let pick = |v: &Value| -> Option<String> {
        match v {
            Value::String(s) => Some(s.clone()),
            Value::Object(o) => o
                .get("output")
                .or_else(|| o.get("text"))
                .and_then(Value::as_str)
                .map(str::to_owned),
            _ => None,
        }
    };
    let out: Vec<String> = if text.trim_start().starts_with('[') {
        let v: Vec<Value> =
            serde_json::from_str(&text).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
        v.iter()
            .filter_map(pick)
            .filter(|s| !s.is_empty())
            .collect()
    } else {
        let mut out = Vec::new();
        for (i, line) in text
            .lines()
            .enumerate()
            .filter(|(_, l)| !l.trim().is_empty())
        {
            let v: Value = serde_json::from_str(line)
                .map_err(|e| anyhow::anyhow!("{}:{}: {e}", path.display(), i + 1))?;
            out.extend(pick(&v).filter(|s| !s.is_empty()));
        }
        out
    };
    anyhow::ensure!(!out.is_empty(), "{}: no answers found", path.display());
    Ok(out)
}

/// One request as the fake received it, for tests to inspect.
#[derive(Clone, Debug, serde::Serialize)]
pub struct Seen {
    /// Path.
    pub path: String,
    /// Query string.
    pub query: String,
    /// `Authorization` header.
    pub authorization: Option<String>,
    /// `api-key` header.
    pub api_key: Option<String>,
    /// Body.
    pub body: Value,
}

#[derive(Clone)]
struct AppState {
    cfg: Arc<FakeConfig>,
    seen: Arc<Mutex<VecDeque<Seen>>>,
    /// Files and batches of the Batch API.
    batch: Arc<crate::fake_batch::BatchState>,
    /// Responses API answers by id, with their input items (as OpenAI
    /// stores them, `store` being true by default).
    stored: Arc<Mutex<std::collections::HashMap<String, (Value, Value)>>>,
}

impl crate::fake_batch::Host for AppState {
    fn batches(&self) -> &crate::fake_batch::BatchState {
        &self.batch
    }

    fn delay(&self) -> Duration {
        self.cfg.batch_delay
    }

    fn refuse(&self, h: &HeaderMap) -> Option<Response> {
        check_key(self, h)
    }

    fn remember(&self, h: &HeaderMap, path: String, body: Value) {
        remember(self, h, path, None, body);
    }

    async fn answer(&self, url: String, body: Bytes) -> Response {
        let kind = match url.as_str() {
            "/v1/chat/completions" => Kind::Chat,
            "/v1/completions" => Kind::Completion,
            "/v1/embeddings" => Kind::Embedding,
            _ => Kind::Response,
        };
        // The batch was let in with the key; its lines carry it too.
        let mut headers = HeaderMap::new();
        if let Some(k) = self
            .cfg
            .require_key
            .as_deref()
            .and_then(|k| axum::http::HeaderValue::from_str(&format!("Bearer {k}")).ok())
        {
            headers.insert("authorization", k);
        }
        handle(
            State(self.clone()),
            headers,
            url,
            RawQuery(None),
            body,
            kind,
        )
        .await
    }
}

/// The fake's router.
pub fn app(cfg: FakeConfig) -> Router {
    let state = AppState {
        cfg: Arc::new(cfg),
        seen: Arc::new(Mutex::new(VecDeque::new())),
        stored: Arc::new(Mutex::new(std::collections::HashMap::new())),
        batch: Arc::default(),
    };
    Router::new()
        .merge(crate::fake_batch::routes())
        .route("/healthz", get(|| async { "ok" }))
        .route("/v1/models", get(models))
        .route("/v1/chat/completions", post(chat))
        .route("/v1/completions", post(completions))
        .route("/v1/embeddings", post(embeddings))
        .route("/v1/responses", post(responses))
        .route("/openai/v1/responses", post(azure_responses))
        .route("/v1/responses/{id}", get(stored_get).delete(stored_delete))
        .route(
            "/openai/v1/responses/{id}",
            get(stored_get).delete(stored_delete),
        )
        .route("/v1/responses/{id}/input_items", get(stored_items))
        .route("/openai/v1/responses/{id}/input_items", get(stored_items))
        .route(
            "/openai/deployments/{dep}/chat/completions",
            post(azure_chat),
        )
        .route(
            "/openai/deployments/{dep}/completions",
            post(azure_completions),
        )
        .route(
            "/openai/deployments/{dep}/embeddings",
            post(azure_embeddings),
        )
        .route("/_fake/requests", get(seen))
        // Bodies as large as a gateway may forward (axum's default is 2 MB).
        .layer(axum::extract::DefaultBodyLimit::max(64 * 1024 * 1024))
        .with_state(state)
}

fn err(status: StatusCode, msg: &str, code: &str) -> Response {
    (
        status,
        Json(json!({"error": {"message": msg, "type": "invalid_request_error", "param": null, "code": code}})),
    )
        .into_response()
}

async fn models(State(s): State<AppState>) -> Json<Value> {
    let data: Vec<Value> = s
        .cfg
        .models
        .iter()
        .map(|m| json!({"id": m, "object": "model", "created": 1_700_000_000, "owned_by": "fake"}))
        .collect();
    Json(json!({"object": "list", "data": data}))
}

async fn seen(State(s): State<AppState>) -> Json<Value> {
    let v: Vec<Seen> = s
        .seen
        .lock()
        .map(|g| g.iter().cloned().collect())
        .unwrap_or_default();
    Json(json!(v))
}

#[derive(Clone, Copy, PartialEq)]
enum Kind {
    Chat,
    Completion,
    Embedding,
    Response,
}

async fn chat(s: State<AppState>, h: HeaderMap, q: RawQuery, b: Bytes) -> Response {
    handle(s, h, "/v1/chat/completions".into(), q, b, Kind::Chat).await
}
async fn completions(s: State<AppState>, h: HeaderMap, q: RawQuery, b: Bytes) -> Response {
    handle(s, h, "/v1/completions".into(), q, b, Kind::Completion).await
}
async fn embeddings(s: State<AppState>, h: HeaderMap, q: RawQuery, b: Bytes) -> Response {
    handle(s, h, "/v1/embeddings".into(), q, b, Kind::Embedding).await
}
async fn responses(s: State<AppState>, h: HeaderMap, q: RawQuery, b: Bytes) -> Response {
    handle(s, h, "/v1/responses".into(), q, b, Kind::Response).await
}
async fn azure_responses(s: State<AppState>, h: HeaderMap, q: RawQuery, b: Bytes) -> Response {
    handle(s, h, "/openai/v1/responses".into(), q, b, Kind::Response).await
}

fn no_response(id: &str) -> Response {
    err(
        StatusCode::NOT_FOUND,
        &format!("No response found with id '{id}'."),
        "not_found",
    )
}

async fn stored_get(State(s): State<AppState>, Path(id): Path<String>) -> Response {
    let found = s.stored.lock().ok().and_then(|g| g.get(&id).cloned());
    match found {
        Some((r, _)) => Json(r).into_response(),
        None => no_response(&id),
    }
}

async fn stored_items(State(s): State<AppState>, Path(id): Path<String>) -> Response {
    let found = s.stored.lock().ok().and_then(|g| g.get(&id).cloned());
    match found {
        Some((_, items)) => {
            Json(json!({"object": "list", "data": items, "has_more": false})).into_response()
        }
        None => no_response(&id),
    }
}

async fn stored_delete(State(s): State<AppState>, Path(id): Path<String>) -> Response {
    match s.stored.lock().ok().and_then(|mut g| g.remove(&id)) {
        Some(_) => {
            Json(json!({"id": id, "object": "response.deleted", "deleted": true})).into_response()
        }
        None => no_response(&id),
    }
}
async fn azure_chat(
    s: State<AppState>,
    Path(d): Path<String>,
    h: HeaderMap,
    q: RawQuery,
    b: Bytes,
) -> Response {
    handle(
        s,
        h,
        format!("/openai/deployments/{d}/chat/completions"),
        q,
        b,
        Kind::Chat,
    )
    .await
}
async fn azure_completions(
    s: State<AppState>,
    Path(d): Path<String>,
    h: HeaderMap,
    q: RawQuery,
    b: Bytes,
) -> Response {
    handle(
        s,
        h,
        format!("/openai/deployments/{d}/completions"),
        q,
        b,
        Kind::Completion,
    )
    .await
}
async fn azure_embeddings(
    s: State<AppState>,
    Path(d): Path<String>,
    h: HeaderMap,
    q: RawQuery,
    b: Bytes,
) -> Response {
    handle(
        s,
        h,
        format!("/openai/deployments/{d}/embeddings"),
        q,
        b,
        Kind::Embedding,
    )
    .await
}

/// Keeps a request for `/_fake/requests` (the last 1000).
fn remember(s: &AppState, headers: &HeaderMap, path: String, query: Option<String>, body: Value) {
    if let Ok(mut g) = s.seen.lock() {
        if g.len() >= 1000 {
            g.pop_front();
        }
        g.push_back(Seen {
            path,
            query: query.unwrap_or_default(),
            authorization: header_str(headers, "authorization"),
            api_key: header_str(headers, "api-key"),
            body,
        });
    }
}

/// With `require_key`, a request must carry it: the refusal if it does not.
fn check_key(s: &AppState, headers: &HeaderMap) -> Option<Response> {
    let want = s.cfg.require_key.as_ref()?;
    let authorization = header_str(headers, "authorization");
    let bearer = authorization
        .as_deref()
        .and_then(|a| a.strip_prefix("Bearer "));
    if bearer != Some(want.as_str())
        && header_str(headers, "api-key").as_deref() != Some(want.as_str())
    {
        return Some(err(
            StatusCode::UNAUTHORIZED,
            "Incorrect API key provided.",
            "invalid_api_key",
        ));
    }
    None
}

fn header_str(h: &HeaderMap, name: &str) -> Option<String> {
    h.get(name).and_then(|v| v.to_str().ok()).map(str::to_owned)
}

/// Splits text into the pieces the fake streams: words with their trailing
/// white space; each is one "token".
pub fn split_tokens(text: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut start = 0;
    let mut in_space = false;
    for (i, c) in text.char_indices() {
        if c.is_whitespace() {
            in_space = true;
        } else if in_space {
            out.push(&text[start..i]);
            start = i;
            in_space = false;
        }
    }
    if start < text.len() {
        out.push(&text[start..]);
    }
    out
}

/// A message's content as text: a string, or the text of its parts.
fn content_text(content: Option<&Value>, out: &mut String) {
    match content {
        Some(Value::String(s)) => out.push_str(s),
        Some(Value::Array(parts)) => {
            for t in parts
                .iter()
                .filter_map(|p| p.get("text").and_then(Value::as_str))
            {
                out.push_str(t);
            }
        }
        _ => {}
    }
}

fn prompt_text(kind: Kind, body: &Value) -> String {
    let mut out = String::new();
    match kind {
        Kind::Chat => {
            for m in body
                .get("messages")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                content_text(m.get("content"), &mut out);
                out.push('\n');
            }
        }
        Kind::Completion => match body.get("prompt") {
            Some(Value::String(s)) => out.push_str(s),
            Some(Value::Array(a)) => {
                for p in a.iter().filter_map(Value::as_str) {
                    out.push_str(p);
                }
            }
            _ => {}
        },
        Kind::Embedding => match body.get("input") {
            Some(Value::String(s)) => out.push_str(s),
            Some(v) => out.push_str(&v.to_string()),
            None => {}
        },
        Kind::Response => {
            if let Some(i) = body.get("instructions").and_then(Value::as_str) {
                out.push_str(i);
                out.push('\n');
            }
            match body.get("input") {
                Some(Value::String(s)) => out.push_str(s),
                Some(Value::Array(items)) => {
                    for it in items {
                        content_text(it.get("content").or_else(|| it.get("output")), &mut out);
                        out.push('\n');
                    }
                }
                _ => {}
            }
        }
    }
    out
}

/// The answer the fake gives to a prompt.
pub fn answer_for(corpus: &[String], prompt: &str) -> String {
    if let Some(i) = prompt.rfind("ECHO:") {
        return prompt[i + 5..].trim().to_string();
    }
    let h = xxhash_rust::xxh3::xxh3_64_with_seed(prompt.as_bytes(), 0x5eed);
    let n = corpus.len().max(1) as u64;
    corpus
        .get(usize::try_from(h % n).unwrap_or(0))
        .cloned()
        .unwrap_or_default()
}

async fn handle(
    State(s): State<AppState>,
    headers: HeaderMap,
    path: String,
    RawQuery(q): RawQuery,
    body: Bytes,
    kind: Kind,
) -> Response {
    let parsed: Value = match serde_json::from_slice(&body) {
        Ok(v) => v,
        Err(e) => {
            return err(
                StatusCode::BAD_REQUEST,
                &format!("bad JSON: {e}"),
                "invalid_json",
            );
        }
    };
    remember(&s, &headers, path, q.clone(), parsed.clone());
    if let Some(resp) = check_key(&s, &headers) {
        return resp;
    }
    let fault = parsed
        .get("fake_fault")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string();
    let mut parts = fault.split(':');
    let (fname, a1, a2) = (parts.next().unwrap_or(""), parts.next(), parts.next());
    let num = |x: Option<&str>| x.and_then(|v| v.parse::<u64>().ok()).unwrap_or(0);
    tokio::time::sleep(s.cfg.latency).await;
    match fname {
        "status" => {
            let code = StatusCode::from_u16(u16::try_from(num(a1)).unwrap_or(500))
                .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            return (
                code,
                Json(json!({"error": {"message": format!("fake upstream fault {code}"), "type": "server_error", "param": null, "code": "fake_fault"}})),
            )
                .into_response();
        }
        "status_plain" => {
            let code = StatusCode::from_u16(u16::try_from(num(a1)).unwrap_or(500))
                .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            return (code, "<html>upstream exploded</html>").into_response();
        }
        "stall_ms" => tokio::time::sleep(Duration::from_millis(num(a1))).await,
        "garbage" => return (StatusCode::OK, "this is not json").into_response(),
        _ => {}
    }
    let model = parsed
        .get("model")
        .and_then(Value::as_str)
        .unwrap_or("fake")
        .to_string();
    let prompt = prompt_text(kind, &parsed);
    // Usage is counted as OpenAI bills it (tiktoken), so a gateway's own
    // count can be checked against it.
    let api_path = match kind {
        Kind::Chat => "/v1/chat/completions",
        Kind::Completion => "/v1/completions",
        Kind::Embedding => "/v1/embeddings",
        Kind::Response => "/v1/responses",
    };
    let prompt_tokens = parsed
        .as_object()
        .map_or(0, |m| proviso_tokens::prompt_tokens(api_path, m));
    if kind == Kind::Embedding {
        return embed(&parsed, &model, prompt_tokens);
    }
    let answer = answer_for(&s.cfg.corpus, &prompt);
    let n = parsed
        .get("n")
        .and_then(Value::as_u64)
        .unwrap_or(1)
        .clamp(1, 8);
    let max_tokens = parsed
        .get("max_completion_tokens")
        .or_else(|| parsed.get("max_tokens"))
        .or_else(|| parsed.get("max_output_tokens"))
        .and_then(Value::as_u64);
    let mut tokens = split_tokens(&answer);
    // A simulation may say how long its answer should be
    // (`fake_answer_tokens`): the answer ends there, naturally.
    if let Some(n) = parsed.get("fake_answer_tokens").and_then(Value::as_u64) {
        tokens.truncate(usize::try_from(n).unwrap_or(usize::MAX).max(1));
    }
    let answer: String = tokens.concat();
    let mut finish = "stop";
    if let Some(m) = max_tokens.filter(|m| proviso_tokens::count(&model, &answer) > *m) {
        // Keep whole words while the billed count stays within the limit.
        let mut keep = 0;
        let mut prefix = String::new();
        for t in &tokens {
            prefix.push_str(t);
            if proviso_tokens::count(&model, &prefix) > m {
                break;
            }
            keep += 1;
        }
        tokens.truncate(keep);
        finish = "length";
    }
    let text: String = tokens.concat();
    let completion_tokens = proviso_tokens::count(&model, &text) * n;
    let usage = json!({"prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens, "total_tokens": prompt_tokens + completion_tokens});
    let created = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let id = format!(
        "fake-{:016x}",
        xxhash_rust::xxh3::xxh3_64(prompt.as_bytes())
    );
    let stream = parsed
        .get("stream")
        .and_then(Value::as_bool)
        .unwrap_or(false);
    // The Responses API: one output (no `n`), its own usage and events.
    let response = (kind == Kind::Response).then(|| ResponseParts {
        id: format!("resp_{}", id.trim_start_matches("fake-")),
        created,
        model: model.clone(),
        previous: parsed
            .get("previous_response_id")
            .cloned()
            .unwrap_or(Value::Null),
        usage: json!({"input_tokens": prompt_tokens, "output_tokens": completion_tokens / n, "total_tokens": prompt_tokens + completion_tokens / n}),
        status: if finish == "length" {
            "incomplete"
        } else {
            "completed"
        },
    });
    if let Some(r) = &response {
        // Stored as OpenAI does, with the input as items.
        let items = match parsed.get("input") {
            Some(Value::String(t)) => {
                json!([{"type": "message", "role": "user", "content": [{"type": "input_text", "text": t}]}])
            }
            Some(v) => v.clone(),
            None => json!([]),
        };
        if let Ok(mut g) = s.stored.lock() {
            g.insert(r.id.clone(), (r.object(&text), items));
        }
    }
    if let Some(r) = response.as_ref().filter(|_| !stream) {
        return Json(r.object(&text)).into_response();
    }
    if !stream {
        let choices: Vec<Value> = (0..n)
            .map(|i| match kind {
                Kind::Chat => json!({"index": i, "message": {"role": "assistant", "content": text}, "logprobs": null, "finish_reason": finish}),
                _ => json!({"index": i, "text": text, "logprobs": null, "finish_reason": finish}),
            })
            .collect();
        let object = if kind == Kind::Chat {
            "chat.completion"
        } else {
            "text_completion"
        };
        return Json(json!({"id": id, "object": object, "created": created, "model": model, "choices": choices, "usage": usage})).into_response();
    }
    let include_usage = parsed
        .pointer("/stream_options/include_usage")
        .and_then(Value::as_bool)
        .unwrap_or(false);
    // `chunk_bytes:N` streams the answer in pieces of N bytes (on character
    // boundaries) instead of words, to split placeholders anywhere.
    let pieces: Option<Vec<String>> = (fname == "chunk_bytes").then(|| {
        let n = usize::try_from(num(a1)).unwrap_or(1).max(1);
        let mut out = Vec::new();
        let mut cur = String::new();
        for c in text.chars() {
            if cur.len() + c.len_utf8() > n && !cur.is_empty() {
                out.push(std::mem::take(&mut cur));
            }
            cur.push(c);
        }
        if !cur.is_empty() {
            out.push(cur);
        }
        out
    });
    let (stop_after, stall, disconnect) = match fname {
        "disconnect_after" => (Some(num(a1)), Duration::ZERO, true),
        "stall_after" => (Some(num(a1)), Duration::from_millis(num(a2)), false),
        _ => (None, Duration::ZERO, false),
    };
    let pacing = Pacing {
        stop_after,
        stall,
        disconnect,
        gap: if s.cfg.tokens_per_s > 0.0 {
            Duration::from_secs_f64(1.0 / s.cfg.tokens_per_s)
        } else {
            Duration::ZERO
        },
    };
    let owned: Vec<String> =
        pieces.unwrap_or_else(|| tokens.iter().map(|t| t.to_string()).collect());
    let (tx, rx) = tokio::sync::mpsc::channel::<Result<Bytes, std::io::Error>>(16);
    if let Some(r) = response {
        tokio::spawn(async move {
            let mut seq = 0u64;
            let mut send = async |name: &str, mut ev: Value| -> bool {
                ev["type"] = json!(name);
                ev["sequence_number"] = json!(seq);
                seq += 1;
                tx.send(Ok(Bytes::from(format!("event: {name}\ndata: {ev}\n\n"))))
                    .await
                    .is_ok()
            };
            let item = r.item_id();
            let open = [
                (
                    "response.created",
                    json!({"response": r.object_in_progress()}),
                ),
                (
                    "response.in_progress",
                    json!({"response": r.object_in_progress()}),
                ),
                (
                    "response.output_item.added",
                    json!({"output_index": 0, "item": {"id": item, "type": "message", "status": "in_progress", "role": "assistant", "content": []}}),
                ),
                (
                    "response.content_part.added",
                    json!({"item_id": item, "output_index": 0, "content_index": 0, "part": {"type": "output_text", "text": "", "annotations": []}}),
                ),
            ];
            for (name, ev) in open {
                if !send(name, ev).await {
                    return;
                }
            }
            for (sent, t) in owned.iter().enumerate() {
                if !pacing.before(sent as u64, &tx).await {
                    return;
                }
                let ev =
                    json!({"item_id": item, "output_index": 0, "content_index": 0, "delta": t});
                if !send("response.output_text.delta", ev).await {
                    return;
                }
            }
            let part = json!({"type": "output_text", "text": text, "annotations": []});
            let done = [
                (
                    "response.output_text.done",
                    json!({"item_id": item, "output_index": 0, "content_index": 0, "text": text}),
                ),
                (
                    "response.content_part.done",
                    json!({"item_id": item, "output_index": 0, "content_index": 0, "part": part}),
                ),
                (
                    "response.output_item.done",
                    json!({"output_index": 0, "item": r.message(&text)}),
                ),
                (
                    if r.status == "completed" {
                        "response.completed"
                    } else {
                        "response.incomplete"
                    },
                    json!({"response": r.object(&text)}),
                ),
            ];
            for (name, ev) in done {
                if !send(name, ev).await {
                    return;
                }
            }
        });
        let body = Body::from_stream(futures_util::stream::unfold(rx, |mut rx| async move {
            rx.recv().await.map(|item| (item, rx))
        }));
        return Response::builder()
            .header(header::CONTENT_TYPE, "text/event-stream")
            .header(header::CACHE_CONTROL, "no-cache")
            .body(body)
            .unwrap_or_else(|_| StatusCode::INTERNAL_SERVER_ERROR.into_response());
    }
    tokio::spawn(async move {
        let chunk = |i: u64, delta: Value, fin: Value| -> Bytes {
            let obj = if kind == Kind::Chat {
                json!({"id": id, "object": "chat.completion.chunk", "created": created, "model": model, "choices": [{"index": i, "delta": delta, "logprobs": null, "finish_reason": fin}]})
            } else {
                json!({"id": id, "object": "text_completion", "created": created, "model": model, "choices": [{"index": i, "text": delta.get("content").cloned().unwrap_or(json!("")), "logprobs": null, "finish_reason": fin}]})
            };
            Bytes::from(format!("data: {obj}\n\n"))
        };
        let mut sent = 0u64;
        for i in 0..n {
            if kind == Kind::Chat
                && tx
                    .send(Ok(chunk(
                        i,
                        json!({"role": "assistant", "content": ""}),
                        Value::Null,
                    )))
                    .await
                    .is_err()
            {
                return;
            }
            for t in &owned {
                if !pacing.before(sent, &tx).await {
                    return;
                }
                if tx
                    .send(Ok(chunk(i, json!({"content": t}), Value::Null)))
                    .await
                    .is_err()
                {
                    return;
                }
                sent += 1;
            }
            if tx
                .send(Ok(chunk(i, json!({}), json!(finish))))
                .await
                .is_err()
            {
                return;
            }
        }
        if include_usage {
            let obj = json!({"id": id, "object": "chat.completion.chunk", "created": created, "model": model, "choices": [], "usage": usage});
            if tx
                .send(Ok(Bytes::from(format!("data: {obj}\n\n"))))
                .await
                .is_err()
            {
                return;
            }
        }
        let _ = tx.send(Ok(Bytes::from_static(b"data: [DONE]\n\n"))).await;
    });
    let body = Body::from_stream(futures_util::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|item| (item, rx))
    }));
    Response::builder()
        .header(header::CONTENT_TYPE, "text/event-stream")
        .header(header::CACHE_CONTROL, "no-cache")
        .body(body)
        .unwrap_or_else(|_| StatusCode::INTERNAL_SERVER_ERROR.into_response())
}

/// What a Responses API answer of the fake is made of.
struct ResponseParts {
    id: String,
    created: u64,
    model: String,
    previous: Value,
    usage: Value,
    status: &'static str,
}

impl ResponseParts {
    fn item_id(&self) -> String {
        format!("msg_{}", self.id.trim_start_matches("resp_"))
    }

    fn message(&self, text: &str) -> Value {
        json!({"id": self.item_id(), "type": "message", "status": "completed", "role": "assistant",
               "content": [{"type": "output_text", "text": text, "annotations": []}]})
    }

    fn base(&self, status: &str, output: Value, usage: Value) -> Value {
        json!({"id": self.id, "object": "response", "created_at": self.created, "status": status,
               "model": self.model, "output": output, "usage": usage,
               "previous_response_id": self.previous, "parallel_tool_calls": true,
               "tool_choice": "auto", "tools": [], "error": null, "incomplete_details": null,
               "instructions": null, "metadata": {}, "temperature": 1.0, "top_p": 1.0})
    }

    fn object_in_progress(&self) -> Value {
        self.base("in_progress", json!([]), Value::Null)
    }

    fn object(&self, text: &str) -> Value {
        self.base(self.status, json!([self.message(text)]), self.usage.clone())
    }
}

fn embed(body: &Value, model: &str, prompt_tokens: u64) -> Response {
    let inputs: Vec<String> = match body.get("input") {
        Some(Value::String(s)) => vec![s.clone()],
        Some(Value::Array(a)) => a
            .iter()
            .map(|v| v.as_str().map_or_else(|| v.to_string(), str::to_owned))
            .collect(),
        _ => {
            return err(
                StatusCode::BAD_REQUEST,
                "'input' is required",
                "missing_input",
            );
        }
    };
    let dims = body
        .get("dimensions")
        .and_then(Value::as_u64)
        .unwrap_or(8)
        .clamp(1, 4096);
    let data: Vec<Value> = inputs
        .iter()
        .enumerate()
        .map(|(i, s)| {
            let v: Vec<f32> = (0..dims)
                .map(|d| {
                    let h = xxhash_rust::xxh3::xxh3_64_with_seed(s.as_bytes(), d);
                    (h % 2000) as f32 / 1000.0 - 1.0
                })
                .collect();
            json!({"object": "embedding", "index": i, "embedding": v})
        })
        .collect();
    Json(json!({"object": "list", "data": data, "model": model, "usage": {"prompt_tokens": prompt_tokens, "total_tokens": prompt_tokens}})).into_response()
}

/// How a stream's content pieces are paced, and the fault it was asked
/// for (`disconnect_after`, `stall_after`).
struct Pacing {
    stop_after: Option<u64>,
    stall: Duration,
    disconnect: bool,
    gap: Duration,
}

impl Pacing {
    /// Waits before content piece `sent` as asked; `false` when the stream
    /// ends here (a disconnect, sent down `tx`).
    async fn before(
        &self,
        sent: u64,
        tx: &tokio::sync::mpsc::Sender<Result<Bytes, std::io::Error>>,
    ) -> bool {
        if self.stop_after == Some(sent) {
            if self.disconnect {
                // Let what was sent reach the socket before the abort.
                tokio::time::sleep(Duration::from_millis(50)).await;
                let _ = tx.send(Err(std::io::Error::other("fake disconnect"))).await;
                return false;
            }
            tokio::time::sleep(self.stall).await;
        }
        if !self.gap.is_zero() {
            tokio::time::sleep(self.gap).await;
        }
        true
    }
}

/// Serves the fake on `listener` until `shutdown` resolves.
pub async fn serve(
    listener: tokio::net::TcpListener,
    cfg: FakeConfig,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(listener, app(cfg))
        .with_graceful_shutdown(shutdown)
        .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_keep_all_text() {
        let t = "Hello,  world!\nNew line";
        assert_eq!(split_tokens(t).concat(), t);
        assert_eq!(
            split_tokens(t),
            vec!["Hello,  ", "world!\n", "New ", "line"]
        );
        assert!(split_tokens("").is_empty());
    }

    #[test]
    fn answers_are_deterministic_and_echo_works() {
        let c = builtin_corpus();
        assert_eq!(answer_for(&c, "abc"), answer_for(&c, "abc"));
        assert_eq!(answer_for(&c, "say ECHO: hi there"), "hi there");
    }
}
