//! The upstream's side of a batch: the masked file uploaded, the batch
//! created, asked after, cancelled, and its result files read. Errors are
//! short descriptions (for the log, the batch's `errors` and the record).

use proviso_batch::{Batch, BatchStatus};
use reqwest::Method;
use reqwest::multipart::{Form, Part};
use serde_json::{Value, json};

use crate::upstream::Upstream;

/// Whether an id from an upstream can go into a URL path as one segment.
fn plain(id: &str) -> Result<&str, String> {
    let ok = !id.is_empty()
        && id.len() <= 128
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    if ok {
        Ok(id)
    } else {
        Err(format!("the upstream gave an id that is not plain: {id:?}"))
    }
}

async fn send(up: &Upstream, rb: reqwest::RequestBuilder) -> Result<reqwest::Response, String> {
    let resp = tokio::time::timeout(up.total_timeout, rb.send())
        .await
        .map_err(|_| format!("upstream '{}': timed out", up.name))?
        .map_err(|e| format!("upstream '{}': {}", up.name, e.without_url()))?;
    let status = resp.status();
    if status.is_success() {
        return Ok(resp);
    }
    // An error body is read for its message only: a little of it, in time.
    let body = read_capped(up, resp, 64 * 1024)
        .await
        .map(|b| String::from_utf8_lossy(&b).into_owned())
        .unwrap_or_default();
    let msg = serde_json::from_str::<Value>(&body)
        .ok()
        .and_then(|v| {
            v.pointer("/error/message")
                .and_then(Value::as_str)
                .map(str::to_owned)
        })
        .unwrap_or_else(|| body.chars().take(200).collect());
    Err(format!(
        "upstream '{}' answered {}: {msg}",
        up.name,
        status.as_u16()
    ))
}

/// Reads a body of at most `max` bytes within the upstream's total time.
async fn read_capped(
    up: &Upstream,
    resp: reqwest::Response,
    max: usize,
) -> Result<Vec<u8>, String> {
    use futures_util::StreamExt as _;
    let read = async {
        let mut out = Vec::new();
        let mut body = resp.bytes_stream();
        while let Some(chunk) = body.next().await {
            let chunk =
                chunk.map_err(|e| format!("upstream '{}': {}", up.name, e.without_url()))?;
            if out.len() + chunk.len() > max {
                return Err(format!(
                    "upstream '{}': the answer is larger than {max} bytes",
                    up.name
                ));
            }
            out.extend_from_slice(&chunk);
        }
        Ok(out)
    };
    tokio::time::timeout(up.total_timeout, read)
        .await
        .map_err(|_| format!("upstream '{}': timed out reading", up.name))?
}

async fn json_of(up: &Upstream, rb: reqwest::RequestBuilder) -> Result<Value, String> {
    let resp = send(up, rb).await?;
    let bytes = read_capped(up, resp, 16 * 1024 * 1024).await?;
    serde_json::from_slice(&bytes).map_err(|_| format!("upstream '{}': not JSON", up.name))
}

/// Uploads the masked input file; gives the upstream's file id.
pub async fn upload(up: &Upstream, bytes: Vec<u8>, name: &str) -> Result<String, String> {
    let part = Part::bytes(bytes)
        .file_name(name.to_owned())
        .mime_str("application/jsonl")
        .map_err(|e| e.to_string())?;
    let form = Form::new().text("purpose", "batch").part("file", part);
    let v = json_of(up, up.api(Method::POST, "files").multipart(form)).await?;
    let id = v
        .get("id")
        .and_then(Value::as_str)
        .ok_or_else(|| format!("upstream '{}': the file has no id", up.name))?;
    Ok(plain(id)?.to_owned())
}

/// Creates the batch upstream; gives the upstream's batch object.
pub async fn create(
    up: &Upstream,
    file_id: &str,
    endpoint: &str,
    window: &str,
    proviso_id: &str,
) -> Result<Value, String> {
    // The client's metadata stays here: it could carry what masking
    // would have caught.
    let body = json!({
        "input_file_id": file_id,
        "endpoint": endpoint,
        "completion_window": window,
        "metadata": {"proviso_batch": proviso_id},
    });
    let rb = up
        .api(Method::POST, "batches")
        .header(reqwest::header::CONTENT_TYPE, "application/json")
        .body(body.to_string());
    let v = json_of(up, rb).await?;
    v.get("id")
        .and_then(Value::as_str)
        .map(plain)
        .transpose()?
        .ok_or_else(|| format!("upstream '{}': the batch has no id", up.name))?;
    Ok(v)
}

/// The upstream's batch object.
pub async fn get(up: &Upstream, id: &str) -> Result<Value, String> {
    json_of(up, up.api(Method::GET, &format!("batches/{}", plain(id)?))).await
}

/// Asks the upstream to cancel.
pub async fn cancel(up: &Upstream, id: &str) -> Result<Value, String> {
    json_of(
        up,
        up.api(Method::POST, &format!("batches/{}/cancel", plain(id)?)),
    )
    .await
}

/// A result file's bytes (at most `max`).
pub async fn content(up: &Upstream, file_id: &str, max: usize) -> Result<Vec<u8>, String> {
    let resp = send(
        up,
        up.api(Method::GET, &format!("files/{}/content", plain(file_id)?)),
    )
    .await?;
    read_capped(up, resp, max).await
}

/// The upstream's batch made for Proviso's batch `proviso_id` (its
/// metadata names it), among the upstream's most recent hundred.
pub async fn find(up: &Upstream, proviso_id: &str) -> Result<Option<Value>, String> {
    let v = json_of(up, up.api(Method::GET, "batches?limit=100")).await?;
    Ok(v.get("data")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .find(|b| b.pointer("/metadata/proviso_batch").and_then(Value::as_str) == Some(proviso_id))
        .filter(|b| {
            b.get("id")
                .and_then(Value::as_str)
                .is_some_and(|i| plain(i).is_ok())
        })
        .cloned())
}

/// Takes what the upstream's batch object says: its status (an ended batch
/// is shown `finalizing` until its lines are recorded), times, counts and
/// errors.
pub fn apply(b: &mut Batch, v: &Value) {
    let time = |f: &str| v.get(f).and_then(Value::as_i64);
    for (f, slot) in [
        ("in_progress_at", &mut b.in_progress_at),
        ("finalizing_at", &mut b.finalizing_at),
        ("completed_at", &mut b.completed_at),
        ("failed_at", &mut b.failed_at),
        ("expired_at", &mut b.expired_at),
        ("cancelled_at", &mut b.cancelled_at),
        ("expires_at", &mut b.expires_at),
    ] {
        if let Some(t) = time(f) {
            *slot = Some(t);
        }
    }
    if let Some(c) = v.get("request_counts") {
        let n = |f: &str| c.get(f).and_then(Value::as_u64);
        b.completed = n("completed").unwrap_or(b.completed);
        b.failed = n("failed").unwrap_or(b.failed);
    }
    if let Some(e) = v.get("errors").filter(|e| !e.is_null()) {
        b.errors = Some(e.clone());
    }
    let Some(up) = v
        .get("status")
        .and_then(Value::as_str)
        .and_then(BatchStatus::parse)
    else {
        return;
    };
    b.upstream_status = Some(up);
    b.status = if up.is_terminal() {
        BatchStatus::Finalizing
    } else if b.status == BatchStatus::Cancelling {
        // Asked to cancel: shown so until the upstream has.
        BatchStatus::Cancelling
    } else {
        up
    };
}
