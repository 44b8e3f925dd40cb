//! The fake's Batch API, enough for a gateway's batches to be tested
//! without a provider:
//!
//! - `POST /v1/files` (multipart `purpose`, `file`) keeps the file (and shows
//!   it in `/_fake/requests` as `{purpose, filename, content}`);
//!   `GET /v1/files/{id}/content` gives it back;
//! - `POST /v1/batches` starts a batch `in_progress`; asked after
//!   (`GET /v1/batches/{id}`) once `batch_delay` has passed, it runs every
//!   line through the fake's own handler (so a line's `fake_fault`, such as
//!   `status:500`, fails that line: it goes to the error file) and completes;
//! - `POST /v1/batches/{id}/cancel` makes it `cancelling`, and `cancelled`
//!   (with no results: no line ran) when next asked after.

use std::collections::HashMap;
use std::future::Future;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use axum::body::Bytes;
use axum::extract::{Multipart, Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::{Value, json};

/// What the batches need of the fake serving them.
pub(crate) trait Host: Clone + Send + Sync + 'static {
    /// Files and batches.
    fn batches(&self) -> &BatchState;
    /// How long a batch runs.
    fn delay(&self) -> Duration;
    /// The refusal of a request without the required key, if it is one.
    fn refuse(&self, h: &HeaderMap) -> Option<Response>;
    /// Keeps a request for `/_fake/requests`.
    fn remember(&self, h: &HeaderMap, path: String, body: Value);
    /// The fake's answer to one request (`url`, JSON `body`).
    fn answer(&self, url: String, body: Bytes) -> impl Future<Output = Response> + Send;
}

/// Files and batches.
#[derive(Default)]
pub(crate) struct BatchState {
    files: Mutex<HashMap<String, Vec<u8>>>,
    batches: Mutex<HashMap<String, FakeBatch>>,
    next: AtomicU64,
}

struct FakeBatch {
    object: Value,
    started: Instant,
    input: String,
}

impl BatchState {
    fn id(&self, prefix: &str) -> String {
        format!("{prefix}{}", self.next.fetch_add(1, Ordering::Relaxed) + 1)
    }
}

fn now_s() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

pub(crate) fn routes<S: Host>() -> Router<S> {
    Router::new()
        .route("/v1/files", post(upload::<S>))
        .route("/v1/files/{id}/content", get(content::<S>))
        .route("/v1/batches", post(create::<S>))
        .route("/v1/batches/{id}", get(read::<S>))
        .route("/v1/batches/{id}/cancel", post(cancel::<S>))
}

fn error(status: StatusCode, msg: &str, code: &str) -> Response {
    (
        status,
        Json(json!({"error": {"message": msg, "type": "invalid_request_error", "param": null, "code": code}})),
    )
        .into_response()
}

fn not_found(what: &str, id: &str) -> Response {
    error(
        StatusCode::NOT_FOUND,
        &format!("No {what} found with id '{id}'."),
        "not_found",
    )
}

async fn upload<S: Host>(State(s): State<S>, h: HeaderMap, mut mp: Multipart) -> Response {
    if let Some(r) = s.refuse(&h) {
        return r;
    }
    let (mut purpose, mut file) = (String::new(), None);
    while let Ok(Some(f)) = mp.next_field().await {
        match f.name() {
            Some("purpose") => purpose = f.text().await.unwrap_or_default(),
            Some("file") => {
                let name = f.file_name().unwrap_or("file").to_owned();
                file = f.bytes().await.ok().map(|b| (name, b.to_vec()));
            }
            _ => {}
        }
    }
    let Some((name, bytes)) = file else {
        return error(StatusCode::BAD_REQUEST, "no file", "missing_field");
    };
    let id = s.batches().id("file-fake");
    s.remember(
        &h,
        "/v1/files".into(),
        json!({"purpose": purpose, "filename": name, "content": String::from_utf8_lossy(&bytes)}),
    );
    let size = bytes.len();
    if let Ok(mut g) = s.batches().files.lock() {
        g.insert(id.clone(), bytes);
    }
    Json(json!({"id": id, "object": "file", "bytes": size, "created_at": now_s(), "filename": name, "purpose": purpose, "status": "processed"})).into_response()
}

async fn content<S: Host>(State(s): State<S>, h: HeaderMap, Path(id): Path<String>) -> Response {
    if let Some(r) = s.refuse(&h) {
        return r;
    }
    match s
        .batches()
        .files
        .lock()
        .ok()
        .and_then(|g| g.get(&id).cloned())
    {
        Some(b) => b.into_response(),
        None => not_found("file", &id),
    }
}

async fn create<S: Host>(State(s): State<S>, h: HeaderMap, body: Bytes) -> Response {
    if let Some(r) = s.refuse(&h) {
        return r;
    }
    let Ok(v) = serde_json::from_slice::<Value>(&body) else {
        return error(StatusCode::BAD_REQUEST, "bad JSON", "invalid_json");
    };
    s.remember(&h, "/v1/batches".into(), v.clone());
    let file_id = v
        .get("input_file_id")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let Some(input) = s
        .batches()
        .files
        .lock()
        .ok()
        .and_then(|g| g.get(file_id).cloned())
    else {
        return not_found("file", file_id);
    };
    let id = s.batches().id("batch_fake");
    let n = String::from_utf8_lossy(&input)
        .lines()
        .filter(|l| !l.trim().is_empty())
        .count();
    let object = json!({
        "id": id, "object": "batch", "endpoint": v.get("endpoint"), "errors": null,
        "input_file_id": file_id, "completion_window": v.get("completion_window"),
        "status": "in_progress", "output_file_id": null, "error_file_id": null,
        "created_at": now_s(), "in_progress_at": now_s(), "expires_at": now_s() + 86_400,
        "request_counts": {"total": n, "completed": 0, "failed": 0},
        "metadata": v.get("metadata"),
    });
    if let Ok(mut g) = s.batches().batches.lock() {
        g.insert(
            id,
            FakeBatch {
                object: object.clone(),
                started: Instant::now(),
                input: String::from_utf8_lossy(&input).into_owned(),
            },
        );
    }
    Json(object).into_response()
}

async fn read<S: Host>(State(s): State<S>, h: HeaderMap, Path(id): Path<String>) -> Response {
    if let Some(r) = s.refuse(&h) {
        return r;
    }
    let Some((object, started, input)) = s.batches().batches.lock().ok().and_then(|g| {
        g.get(&id)
            .map(|b| (b.object.clone(), b.started, b.input.clone()))
    }) else {
        return not_found("batch", &id);
    };
    let status = object.get("status").and_then(Value::as_str).unwrap_or("");
    let object = match status {
        "cancelling" => {
            let mut o = object;
            o["status"] = json!("cancelled");
            o["cancelled_at"] = json!(now_s());
            o
        }
        "in_progress" if started.elapsed() >= s.delay() => run(&s, object, &input).await,
        _ => object,
    };
    if let Ok(mut g) = s.batches().batches.lock()
        && let Some(b) = g.get_mut(&id)
    {
        b.object = object.clone();
    }
    Json(object).into_response()
}

/// Answers every line with the fake's own handler and completes the batch.
async fn run<S: Host>(s: &S, mut object: Value, input: &str) -> Value {
    let (mut out, mut errs) = (String::new(), String::new());
    let (mut done, mut failed) = (0u64, 0u64);
    for (i, line) in input.lines().filter(|l| !l.trim().is_empty()).enumerate() {
        let Ok(v) = serde_json::from_str::<Value>(line) else {
            continue;
        };
        let custom_id = v.get("custom_id").cloned().unwrap_or(Value::Null);
        let url = v
            .get("url")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_owned();
        let body = v.get("body").cloned().unwrap_or(Value::Null).to_string();
        let resp = s.answer(url, Bytes::from(body)).await;
        let status = resp.status().as_u16();
        let bytes = axum::body::to_bytes(resp.into_body(), 64 * 1024 * 1024)
            .await
            .unwrap_or_default();
        let body: Value = serde_json::from_slice(&bytes)
            .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into_owned()));
        let result = json!({
            "id": format!("batch_req_{}", i + 1),
            "custom_id": custom_id,
            "response": {"status_code": status, "request_id": format!("req_{}", i + 1), "body": body},
            "error": null,
        });
        let target = if (200..300).contains(&status) {
            done += 1;
            &mut out
        } else {
            failed += 1;
            &mut errs
        };
        target.push_str(&result.to_string());
        target.push('\n');
    }
    let keep = |text: String| -> Option<String> {
        if text.is_empty() {
            return None;
        }
        let id = s.batches().id("file-fake");
        if let Ok(mut g) = s.batches().files.lock() {
            g.insert(id.clone(), text.into_bytes());
        }
        Some(id)
    };
    object["output_file_id"] = json!(keep(out));
    object["error_file_id"] = json!(keep(errs));
    object["status"] = json!("completed");
    object["finalizing_at"] = json!(now_s());
    object["completed_at"] = json!(now_s());
    object["request_counts"]["completed"] = json!(done);
    object["request_counts"]["failed"] = json!(failed);
    object
}

async fn cancel<S: Host>(State(s): State<S>, h: HeaderMap, Path(id): Path<String>) -> Response {
    if let Some(r) = s.refuse(&h) {
        return r;
    }
    s.remember(&h, format!("/v1/batches/{id}/cancel"), Value::Null);
    let Ok(mut g) = s.batches().batches.lock() else {
        return not_found("batch", &id);
    };
    let Some(b) = g.get_mut(&id) else {
        return not_found("batch", &id);
    };
    if b.object.get("status").and_then(Value::as_str) == Some("in_progress") {
        b.object["status"] = json!("cancelling");
        b.object["cancelling_at"] = json!(now_s());
    }
    Json(b.object.clone()).into_response()
}
